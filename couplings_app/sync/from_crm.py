"""CRM → ERP: one page of CRM rows becomes bulk creates and updates of ERP records.

Per page: the couplings in one query, the coupled ERP records in one query, references in one
query per lookup field, then `bulk_create` / `bulk_update` in a savepoint (a record the database
refuses is retried alone, so it fails alone) and the couplings saved in bulk.
"""

import logging

from django.db import DatabaseError, transaction
from django.utils import timezone

from couplings_app.choices import SyncResult
from couplings_app.models import Coupling
from couplings_app.sync import deletions
from couplings_app.sync.bulk import bulk_insert, bulk_set, new_instance
from couplings_app.sync.compare import remote_stamp, stamp
from couplings_app.sync.context import Run, in_chunks
from couplings_app.sync.convert import FromCrmValues, PathTargets, differing
from couplings_app.sync.decision import (
    Action,
    Facts,
    Policy,
    compared,
    decide,
    erp_changed,
    own_crm_change,
)
from couplings_app.sync.erp_values import ErpValues
from couplings_app.sync.lookups import FromCrmLookups
from couplings_app.sync.matching import describe, find_local_matches, match_fields
from mappings_app.choices import Direction
from mappings_app.values import ValueProblem, record_key

logger = logging.getLogger(__name__)
RESULT = "last_result_from_crm"
_GONE = object()  # the modified-on of an ERP record that no longer exists


class FromCrm:
    def __init__(self, run: Run):
        self.run = run
        self.mapping = run.mapping
        self.model = run.model
        self.oldest_failed_create = None  # the watermark must not pass a record not created
        self.convert = FromCrmValues(run)
        self.policy = Policy.of(run)
        # Couplings whose ERP record has changes not yet sent to the CRM: taking the CRM's
        # values must not stamp the record as synchronized, or those changes would never go.
        self.unsent = set()
        self.ambiguous = {}  # CRM id -> the ERP records its natural key finds (more than one)
        self.groups = match_fields(self.mapping)
        self.erp_values = ErpValues(run)

    def process(self, rows: list[dict]) -> None:
        run = self.run
        run.created_ids = []  # the ERP records this page creates (rules act on them)
        ids = [str(row[run.key]).lower() for row in rows]
        couplings = {str(c.remote_id).lower(): c for c in Coupling.objects.filter(
            remote_entity=run.entity, local_model=self.mapping.local_model, remote_id__in=ids)}
        self.match(rows, couplings)
        # The coupled ERP records are first read as (pk, modified-on) only: a row `decide`
        # finds unchanged by the stamps needs nothing more, and only the others are loaded.
        stamps = self.local_stamps([c.local_id for c in couplings.values()])
        settled = {}  # CRM id -> its decision, when `decide` needs no ERP record for it
        for row in rows:
            remote_id = str(row[run.key]).lower()
            coupling = couplings.get(remote_id)
            if coupling is not None and (decision := self.unchanged(row, remote_id, coupling,
                                                                    stamps)):
                settled[remote_id] = decision
        records = self.model._default_manager.in_bulk(
            [c.local_id for remote_id, c in couplings.items() if remote_id not in settled])
        run.prefetch(list(records.values()))
        wanted = [row for row in rows if str(row[run.key]).lower() not in settled]
        resolve = FromCrmLookups(run, wanted)
        paths = PathTargets(run, wanted, resolve)
        creates, updates, touched = [], [], []
        for row in rows:
            remote_id = str(row[run.key]).lower()
            coupling = couplings.get(remote_id)
            record = records.get(coupling.local_id) if coupling else None
            try:
                if remote_id in settled:
                    outcome = self.act(settled[remote_id], row, remote_id, coupling, None,
                                       resolve, paths, {})
                else:
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
        self.send_erp_values(self.created_here)  # in flight while the page's updates are written
        self.write_updates(updates)
        self.save_couplings([c for c in touched if c.pk])

    def match(self, rows, couplings) -> None:
        """Match before create: a row that would be created (no coupling, not the sync's own)
        is coupled instead to the one free ERP record its match fields find; `couplings` gets
        the new couplings."""
        run = self.run
        if not self.groups or run.only_coupled:
            return
        wanted = [row for row in rows if str(row[run.key]).lower() not in couplings
                  and not own_crm_change(run, row)]
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

    def several_matches(self, remote_id) -> str:
        pks = self.ambiguous[remote_id]
        records = self.model._default_manager.filter(pk__in=pks[:3])
        return (f"{len(pks)} ERP {self.run.table_caption.lower()} records match it by "
                f"{describe(self.groups)} ({', '.join(self.run.local_label(r) for r in records)}"
                f"{', …' if len(pks) > 3 else ''}), so none was created. Couple the right one "
                "with Set Up Coupling, or make the ERP records' values unique.")

    # --- what to do with one row -------------------------------------------------------------
    def local_stamps(self, pks) -> dict:
        """{pk: modified_at} of the ERP records, in IN lists of a bounded size."""
        stamps = {}
        manager = self.model._default_manager
        for chunk in in_chunks(pks):
            stamps.update(manager.filter(pk__in=chunk).values_list("pk", "modified_at"))
        return stamps

    def unchanged(self, row, remote_id, coupling, stamps):
        """The decision (UNCHANGED) for a row unchanged since its last synchronization by the
        stamps alone, else None: its ERP record is not even loaded (in a full run: unchanged
        on both sides, with the same field mappings)."""
        stamp_ = stamps.get(coupling.local_id, _GONE)
        if stamp_ is not _GONE and self.mapping.direction == Direction.BIDIRECTIONAL and \
                erp_changed(coupling, stamp_):
            self.unsent.add(coupling.pk)
        decision = decide(self.policy, self.facts(row, remote_id, coupling, stamp_))
        return decision if decision.action is Action.UNCHANGED else None

    def facts(self, row, remote_id, coupling, local_stamp) -> Facts:
        """The row as `decide` reads it: its coupling, its ERP record's modified-on
        (`local_stamp`; _GONE: the record is gone), the run."""
        run = self.run
        exists = local_stamp is not _GONE
        own = own_crm_change(run, row)
        if coupling is None:
            return Facts(Direction.FROM_CRM, coupled=False, own_crm_change=own,
                         only_coupled=run.only_coupled,
                         several_matches=bool(self.ambiguous.get(remote_id)))
        modified = remote_stamp(row, run.modified_attr)
        # The sync's own write is an echo unless it left the row different from the ERP record
        # (a field left as the CRM has it, a person's change next to an ERP-only restore).
        echo = own and remote_id not in run.first_half.different \
            and not coupling.crm_values_pending
        changed_in_erp = exists and erp_changed(coupling, local_stamp)
        return Facts(Direction.FROM_CRM, counterpart_exists=exists,
                     stamp_unchanged=modified == coupling.remote_modified_at,
                     erp_changed=changed_in_erp,
                     crm_changed=modified != coupling.remote_modified_at, own_crm_change=echo,
                     left_equal_by_first_half=exists and self.left_equal_by_this_run(coupling),
                     failed_before=getattr(coupling, RESULT) == SyncResult.FAILURE,
                     full=run.full, only_coupled=run.only_coupled,
                     deletion_reported=deletions.reported(coupling, deletions.LOCAL, modified))

    def decide(self, row, remote_id, coupling, record, resolve, paths):
        """What to write for the row (None, or (kind, record, fields)); counts and marks the
        coupling for what needs no write."""
        local_stamp = record.modified_at if record is not None else _GONE
        if local_stamp is not _GONE and coupling is not None and \
                self.mapping.direction == Direction.BIDIRECTIONAL and \
                erp_changed(coupling, local_stamp):
            self.unsent.add(coupling.pk)
        facts = self.facts(row, remote_id, coupling, local_stamp)
        decision = decide(self.policy, facts)
        changed = {}
        if decision.action is Action.COMPARE:
            changed = differing(self.values(row, resolve, paths, create=False, record=record),
                                record)
            decision = decide(self.policy, compared(facts, changed, self.convert.shared()))
        return self.act(decision, row, remote_id, coupling, record, resolve, paths, changed)

    def act(self, decision, row, remote_id, coupling, record, resolve, paths, changed):
        run, action = self.run, decision.action
        if action is Action.IGNORE:
            return None
        if action is Action.FAIL:
            raise ValueProblem(self.several_matches(remote_id))
        if action is Action.CREATE:
            return "create", self.new_record(row, resolve, paths), None
        if action in (Action.UNCHANGED, Action.IN_SYNC, Action.OTHER_SIDE_WINS):
            run.counts["unchanged"] += 1
            if action is Action.UNCHANGED:
                return None  # nothing to write, not even the coupling
            if action is Action.IN_SYNC:
                self.mark_ok(coupling, record, row)
            return "unchanged", None, None
        if action is Action.SKIP:
            self.skip(coupling, record, row, changed)
            return "skipped", None, None
        if action in (Action.UPDATE, Action.UPDATE_ONE_WAY):
            if action is Action.UPDATE_ONE_WAY:
                shared = self.convert.shared()
                changed = {k: v for k, v in changed.items() if k not in shared}
            for name, value in changed.items():
                setattr(record, name, value)
            return "update", record, list(changed)
        return self.deleted_counterpart(action, row, coupling, resolve, paths)

    def left_equal_by_this_run(self, coupling) -> bool:
        """The ERP → CRM half of this synchronization wrote (or compared equal) the row, no one
        changed it since (`decide` checks that its last change is the sync's own), the ERP
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
        return self.convert.values(row, resolve, paths, create=create, record=record)

    def new_record(self, row, resolve, paths):
        return self.convert.new_record(self.values(row, resolve, paths, create=True))

    # --- deleted counterparts ---------------------------------------------------------------
    def deleted_counterpart(self, action, row, coupling, resolve, paths):
        run = self.run
        if action is Action.REMOVE_COUPLING:
            deletions.uncouple(run, coupling)
            return None
        if action is Action.RESTORE:
            coupling.delete()
            return "create", self.new_record(row, resolve, paths), None
        coupling.remote_modified_at = remote_stamp(row, run.modified_attr)  # reported as it is
        raise ValueProblem(deletions.report(
            coupling, deletions.LOCAL, label=f"{run.table_caption} (record {coupling.local_id})",
            mapping_name=self.mapping.name))

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
            coupling = new_instance(Coupling, mapping=self.mapping, local_id=record.pk,
                                    local_model=self.mapping.local_model,
                                    remote_entity=run.entity, remote_id=row[run.key])
            self.mark_ok(coupling, record, row)
            if self.mapping.direction == Direction.BIDIRECTIONAL:
                # What the ERP gave the new record itself (its No. from the series, defaults of
                # the template) is the ERP's to send: until it is sent, the next run to the CRM
                # compares the record (send_erp_values sends it at the end of the page).
                coupling.local_modified_at = None
                self.created_here.append((record, row, coupling))
            couplings.append(coupling)
        bulk_insert(Coupling, couplings, keys=bool(self.created_here))  # (their pks: below)

    def send_erp_values(self, created) -> None:
        """The ERP's values of the records this page created go to their CRM rows, sent while
        the rest of the page is done (`erp_values.ErpValues`); `finish` takes the answers."""
        self.erp_values.send(created)

    def finish(self) -> None:
        """At the end of a page (its rules done): the answers of its ERP values."""
        self.erp_values.collect()

    def close(self) -> None:
        self.erp_values.close()

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


def _plain(value):
    return value if value is None or isinstance(value, (str, int, bool)) else str(value)
