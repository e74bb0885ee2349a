"""CRM → ERP: one page of CRM rows becomes bulk creates and updates of ERP records.

Per page: the couplings in one query, the coupled ERP records in one query, references in one
query per lookup field, then `bulk_create` / `bulk_update` in a savepoint (a record the database
refuses is retried alone, so it fails alone) and the couplings saved in bulk.
"""

import logging
import re

from django.db import DatabaseError, transaction
from django.db.models import Max
from django.utils import timezone

from couplings_app.choices import SyncResult
from couplings_app.models import Coupling
from couplings_app.sync import deletions
from couplings_app.sync.bulk import bulk_insert, bulk_set
from couplings_app.sync.compare import remote_stamp, same, stamp
from couplings_app.sync.context import Run
from couplings_app.sync.lookups import FromCrmLookups
from couplings_app.sync.matching import describe, find_local_matches, match_fields
from dataverse import BatchOperation
from mappings_app.choices import DeletionConflictResolution, Direction, UpdateConflictResolution
from mappings_app.validation import resolve_local_field
from mappings_app.values import (
    Reference,
    ValueProblem,
    local_value,
    record_key,
    remote_value,
    to_local,
)

logger = logging.getLogger(__name__)
RESULT = "last_result_from_crm"
SERIES = re.compile(r"#+")


class FromCrm:
    def __init__(self, run: Run):
        self.run = run
        self.mapping = run.mapping
        self.model = run.model
        self.oldest_failed_create = None  # the watermark must not pass a record not created
        self.next_number = {}  # series prefix -> next free number, within this run
        # Couplings whose ERP record has changes not yet sent to the CRM: taking the CRM's
        # values must not stamp the record as synchronized, or those changes would never go.
        self.unsent = set()
        self.ambiguous = {}  # CRM id -> the ERP records its natural key finds (more than one)
        self.groups = match_fields(self.mapping)

    def process(self, rows: list[dict]) -> None:
        run = self.run
        run.created_ids = []  # the ERP records this page creates (rules act on them)
        ids = [str(row[run.key]).lower() for row in rows]
        couplings = {str(c.remote_id).lower(): c for c in Coupling.objects.filter(
            remote_entity=run.entity, local_model=self.mapping.local_model, remote_id__in=ids)}
        self.match(rows, couplings)
        records = self.model._default_manager.in_bulk(
            [c.local_id for c in couplings.values()])
        run.prefetch(list(records.values()))
        resolve = FromCrmLookups(run, rows)
        paths = PathTargets(run, rows, resolve)
        creates, updates, touched = [], [], []
        for row in rows:
            remote_id = str(row[run.key]).lower()
            coupling = couplings.get(remote_id)
            record = records.get(coupling.local_id) if coupling else None
            try:
                outcome = self.decide(row, remote_id, coupling, record, resolve, paths)
            except ValueProblem as problem:
                run.fail(f"{run.remote_label(row)}: {problem}", remote_id=remote_id,
                         remote_label=run.remote_label(row),
                         local_id=record.pk if record else None,
                         local_label=run.local_label(record) if record else "")
                if coupling is not None:
                    setattr(coupling, RESULT, SyncResult.FAILURE)
                    coupling.last_job_from_crm = run.job
                    coupling.last_error = str(problem)[:2000]
                    touched.append(coupling)
                else:
                    self.hold_watermark(row)
                continue
            if outcome is None:
                continue
            kind, new_record, fields = outcome
            if kind == "create":
                creates.append((row, new_record))
            elif kind == "update":
                updates.append((row, coupling, new_record, fields))
            if coupling is not None:
                touched.append(coupling)
        self.created_here = []
        self.write_creates(creates)
        self.write_updates(updates)
        self.save_couplings([c for c in touched if c.pk])
        self.send_erp_values(self.created_here)

    def match(self, rows, couplings) -> None:
        """Match before create: a row that would be created (no coupling, not the sync's own)
        is coupled instead to the one free ERP record its match fields find; `couplings` gets
        the new couplings."""
        run = self.run
        if not self.groups or run.only_coupled:
            return
        wanted = [row for row in rows if str(row[run.key]).lower() not in couplings
                  and not self.own(row)]
        if not wanted:
            return
        found = find_local_matches(run, wanted, self.groups)
        self.ambiguous.update({str(row[run.key]).lower(): pks for row, pks in found.ambiguous})
        new = [Coupling(mapping=self.mapping, local_model=self.mapping.local_model,
                        local_id=local_id, remote_entity=run.entity,
                        remote_id=str(row[run.key]).lower())
               for row, local_id in found.coupled]
        if not new:
            return
        Coupling.objects.bulk_create(new, ignore_conflicts=True, batch_size=1000)
        made = Coupling.objects.filter(remote_entity=run.entity,
                                       local_model=self.mapping.local_model,
                                       remote_id__in=[c.remote_id for c in new])
        for coupling in made:
            couplings[str(coupling.remote_id).lower()] = coupling
        run.counts["coupled"] += len(made)

    def own(self, row) -> bool:
        """Last changed by the sync's own CRM user."""
        user = self.run.integration_user
        return bool(user) and str(row.get("_modifiedby_value", "")).lower() == str(user).lower()

    def no_create_for_ambiguous(self, row, remote_id):
        pks = self.ambiguous.get(remote_id)
        if pks:
            records = self.model._default_manager.filter(pk__in=pks[:3])
            raise ValueProblem(
                f"{len(pks)} ERP {self.run.table_caption.lower()} records match it by "
                f"{describe(self.groups)} ({', '.join(self.run.local_label(r) for r in records)}"
                f"{', …' if len(pks) > 3 else ''}), so none was created. Couple the right one "
                "with Set Up Coupling, or make the ERP records' values unique.")

    # --- what to do with one row -------------------------------------------------------------
    def decide(self, row, remote_id, coupling, record, resolve, paths):
        run = self.run
        if run.integration_user and str(row.get("_modifiedby_value", "")).lower() == \
                str(run.integration_user).lower() and coupling is None:
            return None  # created by the sync's own user: not the CRM's change to take
        if coupling is None:
            if run.only_coupled:
                return None
            self.no_create_for_ambiguous(row, remote_id)
            return "create", self.new_record(row, resolve, paths), None
        if record is None:
            return self.deleted_counterpart(row, coupling, resolve, paths)
        if self.mapping.direction == Direction.BIDIRECTIONAL and \
                record.modified_at != coupling.local_modified_at:
            self.unsent.add(coupling.pk)
        modified = remote_stamp(row, run.modified_attr)
        failed_before = getattr(coupling, RESULT) == SyncResult.FAILURE
        own_change = run.integration_user and str(row.get("_modifiedby_value", "")).lower() == \
            str(run.integration_user).lower() and remote_id not in run.first_half.different \
            and not coupling.crm_values_pending
        if (modified == coupling.remote_modified_at or own_change) and not failed_before \
                and not run.full:
            run.counts["unchanged"] += 1
            return None  # nothing to write, not even the coupling
        if own_change and not failed_before and self.left_equal_by_this_run(coupling):
            run.counts["unchanged"] += 1
            self.mark_ok(coupling, record, row)
            return "unchanged", None, None
        values = self.values(row, resolve, paths, create=False, record=record)
        changed = {name: value for name, value in values.items()
                   if not same(getattr(record, name), value)}
        if not changed:
            run.counts["unchanged"] += 1
            self.mark_ok(coupling, record, row)
            return "unchanged", None, None
        # A coupling never synchronized (its first run failed) counts ERP changes made after it.
        local_changed = record.modified_at != coupling.local_modified_at \
            if coupling.local_modified_at else record.modified_at > coupling.created_at
        if self.mapping.direction == Direction.BIDIRECTIONAL and local_changed and not own_change:
            shared = {_attname(fm) for fm in run.bidirectional if fm.local_field}
            if shared & set(changed):
                policy = self.mapping.update_conflict_resolution
                if policy == UpdateConflictResolution.NONE:
                    self.skip(coupling, record, row, changed)
                    return "skipped", None, None
                if policy == UpdateConflictResolution.SEND:
                    run.counts["unchanged"] += 1  # the ERP's version was sent to the CRM
                    return "unchanged", None, None
        for name, value in changed.items():
            setattr(record, name, value)
        return "update", record, list(changed)

    def left_equal_by_this_run(self, coupling) -> bool:
        """The ERP → CRM half of this synchronization wrote (or compared equal) the row, no one
        changed it since (the caller checks that its last change is the sync's own), the ERP
        record did not move either, and every field read here is one that half sends: comparing
        again could only find it equal. The rows that half wrote are not even read (runner's
        remote_pages filters them out); this skips the ones it compared equal without a write."""
        half = self.run.first_half
        if half.job_id is None or coupling.last_job_to_crm_id != half.job_id \
                or coupling.last_result_to_crm != SyncResult.SUCCESS \
                or str(coupling.remote_id).lower() in half.different \
                or coupling.pk in self.unsent:
            return False
        if not hasattr(self, "_reads_only_sent_fields"):
            self._reads_only_sent_fields = self.run.reads_only_sent_fields()
        return self._reads_only_sent_fields

    def values(self, row, resolve, paths, create: bool, record=None) -> dict:
        """{attname: value} of the ERP record from the row's mapped attributes."""
        run = self.run
        result = {}
        for fm, field in self.local_fields():
            source = remote_value(row, fm.remote_attribute) if fm.remote_attribute else None
            attribute = run.attributes.get(fm.remote_attribute)
            value = to_local(fm, source, field, resolve=resolve, attribute=attribute)
            if isinstance(value, Reference):
                raise ValueProblem(f"{fm.local_field}: {value} could not be resolved.")
            if "." in fm.local_field:
                head = fm.local_field.split(".", 1)[0]
                if record is not None and value is None and \
                        local_value(record, fm.local_field) is None:
                    continue  # both empty: keep the ERP's link (a company with no customer)
                target = paths.find(fm, value)
                if value is not None and target is None and not fm.clear_value_on_failed_sync:
                    raise ValueProblem(
                        f"{fm.local_field}: no {head} refers to {record_key(value)}. "
                        f"Set {fm.local_field} on the {head} first.")
                result[f"{head}_id"] = target.pk if target else None
            elif field.is_relation:
                result[field.attname] = value.pk if value is not None else None
            elif create and value in (None, "") and field.name in result:
                continue
            elif value in (None, "") and field == run.local_key:
                continue  # an empty CRM value never clears the No. (the series gave it one)
            else:
                result[field.attname] = value
        return result

    def local_fields(self) -> list:
        """(field mapping, ERP model field) of the direction, resolved once per run."""
        if not hasattr(self, "_local_fields"):
            self._local_fields = [(fm, resolve_local_field(self.model, fm.local_field)[0])
                                  for fm in self.run.fields if fm.local_field]
        return self._local_fields

    def new_record(self, row, resolve, paths):
        record = self.model()
        for name, value in (self.mapping.local_template or {}).items():
            field, _ = resolve_local_field(self.model, name)
            if field is not None and field.is_relation:
                related = field.related_model._default_manager.filter(
                    **{"code" if hasattr(field.related_model, "code") else "no": value}).first()
                setattr(record, field.attname, related.pk if related else None)
            elif field is not None:
                setattr(record, field.attname, value)
        for name, value in self.values(row, resolve, paths, create=True).items():
            if value in (None, "") and getattr(record, name, None) not in (None, ""):
                continue  # an empty CRM value never overwrites the template's default
            setattr(record, name, value)
        self.number(record)
        record.modified_at = timezone.now()
        return record

    def number(self, record):
        """A number from the template's series (CRM####) when the mapped key is empty."""
        key = self.run.local_key
        if key is None or getattr(record, key.attname):
            return
        pattern = (self.mapping.local_template or {}).get(key.name) or f"CRM{'#' * 6}"
        match = SERIES.search(pattern)
        if not match:
            return
        prefix = pattern[: match.start()]
        if prefix not in self.next_number:
            last = self.model._default_manager.filter(**{f"{key.name}__startswith": prefix}) \
                .aggregate(last=Max(key.name))["last"]
            tail = last[len(prefix):] if last else ""
            self.next_number[prefix] = int(tail) + 1 if tail.isdigit() else 1
        following = self.next_number[prefix]
        self.next_number[prefix] += 1
        setattr(record, key.attname, f"{prefix}{following:0{len(match.group())}d}")

    # --- deleted counterparts ---------------------------------------------------------------
    def deleted_counterpart(self, row, coupling, resolve, paths):
        run = self.run
        policy = self.mapping.deletion_conflict_resolution
        if policy == DeletionConflictResolution.REMOVE_COUPLING:
            coupling.delete()
            run.counts["uncoupled"] += 1
            return None
        if policy == DeletionConflictResolution.RESTORE:
            coupling.delete()
            return "create", self.new_record(row, resolve, paths), None
        text = deletions.message(coupling, label=f"{run.table_caption} (record "
                                 f"{coupling.local_id})", side=deletions.LOCAL,
                                 mapping_name=self.mapping.name)
        if deletions.reported(coupling, deletions.LOCAL, remote_stamp(row, run.modified_attr)):
            return None  # listed with the skipped records until the CRM record changes again
        deletions.mark(coupling, deletions.LOCAL, text)
        coupling.remote_modified_at = remote_stamp(row, run.modified_attr)  # reported as it is
        raise ValueProblem(text)

    # --- writing -------------------------------------------------------------------------------
    def write_creates(self, creates):
        if not creates:
            return
        # The new records and their couplings commit together: a worker that dies in between
        # leaves neither, and the next run creates each record once (not a second copy).
        with transaction.atomic():
            self._write_creates(creates)

    def _write_creates(self, creates):
        run = self.run
        written = _bulk_or_one_by_one(
            [r for _, r in creates],
            lambda objs: bulk_insert(self.model, objs),
            lambda obj: obj.save(force_insert=True))
        couplings = []
        for (row, record), error in zip(creates, written, strict=True):
            if error is not None:
                run.fail(f"{run.remote_label(row)}: the ERP refused the new "
                         f"{run.table_caption.lower()}: {refusal(record, error)}",
                         remote_id=str(row[run.key]), remote_label=run.remote_label(row))
                self.hold_watermark(row)
                continue
            run.counts["inserted"] += 1
            run.counts["coupled"] += 1
            run.created_ids.append(record.pk)
            coupling = Coupling(mapping=self.mapping, local_model=self.mapping.local_model,
                                local_id=record.pk, remote_entity=run.entity,
                                remote_id=row[run.key])
            self.mark_ok(coupling, record, row)
            if self.mapping.direction == Direction.BIDIRECTIONAL:
                # What the ERP gave the new record itself (its No. from the series, defaults of
                # the template) is the ERP's to send: until it is sent, the next run to the CRM
                # compares the record (send_erp_values sends it at the end of the page).
                coupling.local_modified_at = None
                self.created_here.append((record, row))
            couplings.append(coupling)
        bulk_insert(Coupling, couplings, keys=False)

    def send_erp_values(self, created) -> None:
        """The values the ERP gave the records this page created (a No. from the number series,
        a template's defaults, ERP-only fields) go to their CRM rows now, in one `$batch`, so
        the sides agree when the run ends. A record whose values cannot be sent keeps its
        coupling unstamped: the next run to the CRM sends them, or reports why not."""
        if not created:
            return
        from couplings_app.sync.lookups import ToCrmLookups
        from couplings_app.sync.to_crm import ToCrm

        run = self.run
        sender = ToCrm(Run(mapping=self.mapping, job=run.job, client=run.client,
                           direction=Direction.TO_CRM, integration_user=run.integration_user))
        resolve = ToCrmLookups(sender.run, [record for record, _ in created])
        operations, sent = [], []
        for record, row in created:
            try:
                changes = sender.changes(sender.payload(record, resolve, create=False), row)
            except ValueProblem:
                continue  # the next run to the CRM reports it, with the record and the field
            if changes:
                operations.append(BatchOperation("PATCH", run.entity_set, id=str(row[run.key]),
                                                 data=changes,
                                                 etag=row.get("@odata.etag") or "*"))
            sent.append(record)
        results = run.client.batch(operations, continue_on_error=True) if operations else []
        refused = {str(op.id).lower() for op, result in zip(operations, results, strict=True)
                   if not result.ok}
        done = {r.pk: r.modified_at for r, row in created if r in sent
                and str(row[run.key]).lower() not in refused}
        couplings = list(Coupling.objects.filter(local_model=self.mapping.local_model,
                                                 remote_entity=run.entity,
                                                 local_id__in=list(done)))
        for coupling in couplings:
            coupling.local_modified_at = done[coupling.local_id]
        bulk_set(Coupling, couplings, ["local_modified_at"])

    def write_updates(self, updates):
        if not updates:
            return
        with transaction.atomic():
            self._write_updates(self.still_as_read(updates))

    def still_as_read(self, updates):
        """The updates whose ERP record nobody saved since the page read it (locked until the
        write commits). The others fail and are compared again next run: a person's edit made
        meanwhile is never stamped as synchronized."""
        if not any(f.name == "modified_at" for f in self.model._meta.concrete_fields):
            return updates
        run = self.run
        current = dict(self.model._default_manager.select_for_update().filter(
            pk__in=[record.pk for _, _, record, _ in updates]).values_list("pk", "modified_at"))
        kept = []
        for update in updates:
            row, coupling, record, _ = update
            if current.get(record.pk) == record.modified_at:
                kept.append(update)
                continue
            message = (f"{run.local_label(record)} was changed in the ERP while the CRM's change "
                       "was being written; it is compared again on the next run.")
            run.fail(message, local_id=record.pk, local_label=run.local_label(record),
                     remote_id=str(row[run.key]), remote_label=run.remote_label(row))
            setattr(coupling, RESULT, SyncResult.FAILURE)
            coupling.last_job_from_crm = run.job
            coupling.last_error = message
        return kept

    def _write_updates(self, updates):
        if not updates:
            return
        run = self.run
        fields = sorted({name for *_, names in updates for name in names})
        written = _bulk_or_one_by_one(
            [r for _, _, r, _ in updates],
            lambda objs: bulk_set(self.model, objs, fields),
            lambda obj: obj.save())
        for (row, coupling, record, _), error in zip(updates, written, strict=True):
            if error is not None:
                why = refusal(record, error)
                run.fail(f"{run.local_label(record)}: the ERP refused the change: {why}",
                         local_id=record.pk, local_label=run.local_label(record),
                         remote_id=str(row[run.key]), remote_label=run.remote_label(row))
                setattr(coupling, RESULT, SyncResult.FAILURE)
                coupling.last_error = why[:2000]
                continue
            run.counts["modified"] += 1
            coupling.skipped = False
            coupling.conflict_local = coupling.conflict_remote = None
            self.mark_ok(coupling, record, row)

    def mark_ok(self, coupling, record, row):
        if coupling.pk is None or coupling.pk not in self.unsent:
            coupling.local_modified_at = record.modified_at
        coupling.remote_modified_at = remote_stamp(row, self.run.modified_attr)
        setattr(coupling, RESULT, SyncResult.SUCCESS)
        coupling.last_job_from_crm = self.run.job
        coupling.last_synced_at = timezone.now()
        coupling.last_error = ""
        coupling.crm_values_pending = False
        _settled(coupling)

    def skip(self, coupling, record, row, changed):
        self.run.counts["skipped"] += 1
        coupling.skipped = True
        coupling.conflict_remote = {k: _plain(v) for k, v in changed.items()}
        coupling.conflict_local = {k: _plain(getattr(record, k)) for k in changed}
        coupling.last_error = (f"{self.run.local_label(record)} was changed in both the ERP and "
                               "the CRM since the last synchronization.")

    def hold_watermark(self, row):
        modified = stamp(row.get(self.run.modified_attr))
        if modified and (self.oldest_failed_create is None or modified < self.oldest_failed_create):
            self.oldest_failed_create = modified

    def save_couplings(self, couplings):
        fields = ["local_modified_at", "remote_modified_at", RESULT, "last_job_from_crm",
                  "last_synced_at", "skipped", "conflict_local", "conflict_remote", "last_error",
                  "deleted_side", "crm_values_pending"]
        bulk_set(Coupling, couplings, fields)


class PathTargets:
    """For `company.customer`: the company contacts that refer to each customer, per page."""

    def __init__(self, run, rows, resolve):
        self.by_path = {}
        for fm in run.fields:
            if "." not in fm.local_field:
                continue
            head, rest = fm.local_field.split(".", 1)
            head_field = run.model._meta.get_field(head)
            wanted = [resolve(fm.lookup_mapping, remote_value(row, fm.remote_attribute))
                      for row in rows if fm.lookup_mapping and
                      remote_value(row, fm.remote_attribute)]
            pks = {w.pk for w in wanted if w is not None}
            found = {}
            query = head_field.related_model._default_manager.filter(
                **{f"{rest.replace('.', '__')}__in": pks}).order_by("pk")
            for candidate in query:
                found.setdefault(getattr(candidate, rest.replace(".", "_") + "_id", None),
                                 candidate)
            self.by_path[fm.pk] = found

    def find(self, fm, value):
        if value is None:
            return None
        return self.by_path.get(fm.pk, {}).get(value.pk)


def _bulk_or_one_by_one(objs, bulk, one):
    """Writes in bulk; if the database refuses the batch, each alone: one bad record fails alone.

    Returns an error (or None) per object.
    """
    try:
        with transaction.atomic():
            bulk(objs)
        return [None] * len(objs)
    except (DatabaseError, ValueError):
        pass  # find the refused ones below
    errors = []
    for obj in objs:
        try:
            with transaction.atomic():
                one(obj)
            errors.append(None)
        except (DatabaseError, ValueError) as exc:
            errors.append(exc)
    return errors


def _settled(coupling):
    """Both sides agree now: a conflict listed earlier is over (a deleted side is not)."""
    if coupling.skipped and not coupling.deleted_side:
        coupling.skipped = False
        coupling.conflict_local = coupling.conflict_remote = None


def refusal(record, error) -> str:
    """Why the ERP's database refused a record, as a person reads it: which unique value is
    taken and what to do; never the database's own text (that goes to the server log)."""
    logger.warning("the ERP refused %s %s: %s", record._meta.label, record.pk, error)
    model = type(record)
    for field in model._meta.concrete_fields:
        if not field.unique or field.primary_key:
            continue
        value = getattr(record, field.attname)
        if value in (None, ""):
            continue
        taken = model._default_manager.filter(**{field.attname: value})
        if record.pk is not None:
            taken = taken.exclude(pk=record.pk)
        other = taken.first()
        if other is not None:
            return (f"{field.verbose_name} {value!r} is already used by "
                    f"{model._meta.verbose_name} {record_key(other)}. If they are the same, "
                    "couple them (Set Up Coupling or Match-Based Coupling); otherwise change "
                    "the value on one side.")
    if isinstance(error, ValueError):
        return f"a value does not fit the ERP's {model._meta.verbose_name}: {error}."
    return ("the ERP's database refused it (a required value is missing, or a value is too "
            "long or out of range). Check the record's values in the CRM; the server log has "
            "the details.")


def _attname(fm):
    name = fm.local_field.split(".", 1)[0]
    field = fm.table_mapping.local_model_class._meta.get_field(name)
    return field.attname


def _plain(value):
    return value if value is None or isinstance(value, (str, int, bool)) else str(value)
