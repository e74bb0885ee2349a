"""ERP → CRM: one page of ERP records becomes one `$batch` of CRM creates and updates.

Per page: the couplings in one query, the coupled CRM rows in one request (`get_many`), the
references in one query per lookup field, the writes in one `$batch`, the couplings saved in
bulk. A create gets its CRM id here and its coupling is saved *before* the batch is sent
(pending), so a run that dies in between finds the id next time and creates nothing twice.
"""

import uuid
from dataclasses import replace

from django.utils import timezone

from couplings_app.choices import SyncResult
from couplings_app.models import Coupling
from couplings_app.sync import deletions, rules
from couplings_app.sync.bulk import bulk_insert, bulk_set, new_instance
from couplings_app.sync.compare import remote_stamp, stamp
from couplings_app.sync.context import Run
from couplings_app.sync.convert import ToCrmPayload
from couplings_app.sync.decision import (
    Action,
    Facts,
    Policy,
    compared,
    decide,
    erp_changed,
    own_crm_change,
)
from couplings_app.sync.lookups import ToCrmLookups
from couplings_app.sync.matching import describe, find_remote_matches, match_fields
from couplings_app.sync.pipeline import done
from dataverse import BatchOperation
from dataverse.errors import PreconditionFailed
from mappings_app.choices import Direction
from mappings_app.values import ValueProblem

RESULT = "last_result_to_crm"


class ToCrm:
    def __init__(self, run: Run):
        self.run = run
        self.mapping = run.mapping
        self.convert = ToCrmPayload(run)
        self.partial = self.convert.partial  # records whose CRM row keeps values the ERP's not
        self.policy = Policy.of(run)
        self.ambiguous = {}  # record pk -> the CRM ids its natural key finds (more than one)
        self.groups = match_fields(self.mapping)
        run.first_half.job_id, run.first_half.started = run.job.pk, run.job.started_at

    # --- one page --------------------------------------------------------------------------
    def process(self, records: list) -> None:
        self.finish(self.start(records))

    def start(self, records: list, send=None):
        """Decides every record of the page, saves the couplings of new CRM ids, and hands the
        page's `$batch` to `send` (a pipeline.Sender: the next page is prepared while the CRM
        writes this one). Returns what `finish` needs."""
        run = self.run
        couplings = {c.local_id: c for c in Coupling.objects.filter(
            local_model=self.mapping.local_model, remote_entity=run.entity,
            local_id__in=[r.pk for r in records])}
        # The CRM rows are read only for the records a comparison needs: one unchanged since
        # its last synchronization (by its stamp) is decided without the CRM.
        coupled_ids = [str(c.remote_id) for r in records
                       if (c := couplings.get(r.pk)) is not None and not self.unchanged(r, c)]
        rows = run.client.get_many(run.entity_set, run.key, coupled_ids,
                                   select=run.remote_select()) if coupled_ids else {}
        rows = {str(k).lower(): v for k, v in rows.items()}
        rows.update(self.match(records, couplings, rows))
        resolve = ToCrmLookups(run, records)
        operations, pending, touched, new_couplings = [], [], [], []
        for record in records:
            coupling = couplings.get(record.pk)
            try:
                outcome = self.decide(record, coupling, rows, resolve)
            except ValueProblem as problem:
                touched.append(self.failed(record, coupling, str(problem), new_couplings))
                continue
            if outcome is None:
                continue
            kind, payload = outcome
            if kind == "create":
                coupling = coupling or self.new_coupling(record, new_couplings)
                coupling.pending_create = True
                operations.append(BatchOperation("POST", run.entity_set, id=str(coupling.remote_id),
                                                 data=payload, key=run.key))
                pending.append((record, coupling, "create", payload))
            elif kind == "update":
                # If-Match the version compared: a CRM edit made since fails this update (and is
                # compared again next run) instead of hiding behind the sync's own change.
                row = rows.get(str(coupling.remote_id).lower()) or {}
                operations.append(BatchOperation("PATCH", run.entity_set,
                                                 id=str(coupling.remote_id), data=payload,
                                                 etag=row.get("@odata.etag") or "*"))
                pending.append((record, coupling, "update", payload))
            else:  # unchanged, coupled, skipped, deleted, uncoupled: decided without a write
                touched.append(coupling)
        # Remember every id chosen for a create before the CRM sees it.
        bulk_insert(Coupling, new_couplings)
        self.save_couplings([c for c in touched if c is not None and c.pk])
        if not operations:
            return pending, done([])
        if send is None:
            return pending, done(run.client.write(operations))
        return pending, send.submit(run.client.write, operations)

    def finish(self, started) -> None:
        """The page's `$batch` results: couplings confirmed, or the record's failure kept."""
        pending, results = started
        results = results.result()
        written = self.written_before_the_answer_was_lost(pending, results)
        for (record, coupling, kind, _), result in zip(pending, results, strict=True):
            if result.ok or coupling.pk in written:
                self.succeeded(record, coupling, kind)
            else:
                self.failed(record, coupling, self.crm_message(record, result.error), [],
                            detail=str(result.error))
        # Their CRM ids were saved before the write (crash safety): the confirmation leaves
        # that uniquely indexed column alone, which halves the cost of each row's UPDATE.
        self.save_couplings([c for _, c, _, _ in pending], confirm=True)

    def written_before_the_answer_was_lost(self, pending, results) -> set:
        """Updates the client resent after the CRM's answer was lost, refused now because the
        first attempt changed the row's version: those whose row holds what was sent, last
        changed by the sync's own user, were written. (The coupling pks.) Any other refusal is
        a person's change made meanwhile: compared again next run."""
        run = self.run
        resent = {str(coupling.remote_id).lower(): (coupling, payload)
                  for (_, coupling, kind, payload), result in zip(pending, results, strict=True)
                  if kind == "update" and isinstance(result.error, PreconditionFailed)
                  and getattr(result.error, "retried", False)}
        if not resent or not run.integration_user:
            return set()
        rows = run.client.get_many(run.entity_set, run.key, list(resent),
                                   select=run.remote_select())
        written = set()
        for remote_id, row in rows.items():
            coupling, payload = resent[str(remote_id).lower()]
            if own_crm_change(run, row) and not self.convert.changes(payload, row):
                written.add(coupling.pk)
        return written

    def match(self, records, couplings, rows) -> dict:
        """Match before create: a record that would be created (no coupling, or a pending one
        whose CRM row does not exist) is coupled instead to the one free CRM row its match
        fields find. Returns the matched rows, by id; `couplings` gets their couplings."""
        run = self.run
        if not self.groups:
            return {}
        wanted = [r for r in records if self.would_create(couplings.get(r.pk), rows)]
        if not wanted:
            return {}
        found = find_remote_matches(run, wanted, self.groups)
        self.ambiguous.update({record.pk: ids for record, ids in found.ambiguous})
        if not found.coupled:
            return {}
        new, repointed = [], []
        for record, remote_id in found.coupled:
            coupling = couplings.get(record.pk)
            if coupling is None:
                new.append(Coupling(mapping=self.mapping, local_model=self.mapping.local_model,
                                    local_id=record.pk, remote_entity=run.entity,
                                    remote_id=remote_id))
            else:  # its create never reached the CRM: the existing row is the record's
                coupling.remote_id, coupling.pending_create = remote_id, False
                coupling.created_at = timezone.now()
                repointed.append(coupling)
        Coupling.objects.bulk_create(new, ignore_conflicts=True, batch_size=1000)
        bulk_set(Coupling, repointed, ["remote_id", "pending_create", "created_at"])
        for coupling in Coupling.objects.filter(
                local_model=self.mapping.local_model, remote_entity=run.entity,
                local_id__in=[c.local_id for c in new]):
            couplings[coupling.local_id] = coupling
        chosen = {remote_id for _, remote_id in found.coupled}
        matched = sorted(i for c in couplings.values() if (i := str(c.remote_id).lower()) in chosen)
        run.counts["coupled"] += len(matched)
        fetched = run.client.get_many(run.entity_set, run.key, matched,
                                      select=run.remote_select())
        return {str(k).lower(): v for k, v in fetched.items()}

    def would_create(self, coupling, rows) -> bool:
        if coupling is None:
            return not self.run.only_coupled
        return coupling.pending_create and str(coupling.remote_id).lower() not in rows

    def several_matches(self, record) -> str:
        ids = self.ambiguous[record.pk]
        return (f"{self.run.local_label(record)}: {len(ids)} CRM {self.run.entity} records match "
                f"it by {describe(self.groups)} ({', '.join(ids[:3])}"
                f"{', …' if len(ids) > 3 else ''}), so none was created. Couple it to the right "
                "one with Set Up Coupling, or make the CRM records' values unique.")

    # --- what to do with one record ----------------------------------------------------------
    def unchanged(self, record, coupling) -> bool:
        """Unchanged since its last successful synchronization, by the stamps alone (its CRM row
        is not even read)."""
        return decide(self.policy, self.facts(record, coupling, None)).action is Action.UNCHANGED

    def facts(self, record, coupling, row) -> Facts:
        """The record as `decide` reads it: its coupling, its CRM row (None: gone, or not read
        because the stamps say unchanged), the run."""
        run = self.run
        if coupling is None:
            return Facts(Direction.TO_CRM, coupled=False, only_coupled=run.only_coupled,
                         several_matches=bool(self.ambiguous.get(record.pk)))
        stamp_unchanged = record.modified_at == coupling.local_modified_at
        failed_before = getattr(coupling, RESULT) == SyncResult.FAILURE
        known = row is not None or coupling.pending_create or not stamp_unchanged \
            or failed_before or run.full
        facts = Facts(Direction.TO_CRM, pending_create=coupling.pending_create,
                      counterpart_exists=(row is not None) if known else None,
                      stamp_unchanged=stamp_unchanged,
                      erp_changed=erp_changed(coupling, record.modified_at),
                      failed_before=failed_before, full=run.full, only_coupled=run.only_coupled,
                      several_matches=bool(self.ambiguous.get(record.pk)),
                      deletion_reported=deletions.reported(coupling, deletions.REMOTE,
                                                           record.modified_at))
        if row is None:
            return facts
        if coupling.local_modified_at is None:
            # Never synchronized since it was coupled (its first run failed): a CRM change made
            # after the coupling is a change, not to be overwritten unseen.
            modified = stamp(row.get(run.modified_attr))
            crm_changed = modified is not None and modified > coupling.created_at
        else:
            crm_changed = remote_stamp(row, run.modified_attr) != coupling.remote_modified_at
        return replace(facts, crm_changed=crm_changed, own_crm_change=own_crm_change(run, row))

    def decide(self, record, coupling, rows, resolve):
        """What to write for the record (None, or (kind, payload)); counts and marks the
        coupling for what needs no write."""
        run = self.run
        rules.check_local(run, record)
        row = rows.get(str(coupling.remote_id).lower()) if coupling is not None else None
        facts = self.facts(record, coupling, row)
        decision = decide(self.policy, facts)
        payload, changes = None, {}
        if decision.action is Action.COMPARE:
            payload = self.convert.payload(record, resolve, create=False)
            changes = self.convert.changes(payload, row)
            decision = decide(self.policy, compared(facts, changes, self.convert.shared()))
        return self.act(decision, record, coupling, row, resolve, payload, changes)

    def act(self, decision, record, coupling, row, resolve, payload, changes):
        run, action = self.run, decision.action
        if decision.crm_version_comes_back:
            self.partial.add(record.pk)
        if action is Action.IGNORE:
            return None
        if action is Action.FAIL:
            raise ValueProblem(self.several_matches(record))
        if action is Action.CREATE:
            return "create", self.convert.payload(record, resolve, create=True)
        if action is Action.CONFIRM:  # an earlier run's create reached the CRM: confirm it
            self.partial.add(record.pk)  # as it was then, not compared with the ERP now
            run.counts["inserted"] += 1
            run.counts["coupled"] += 1
            self.mark_ok(record, coupling, confirm=True)
            return "done", None
        if action in (Action.UNCHANGED, Action.IN_SYNC, Action.OTHER_SIDE_WINS):
            run.counts["unchanged"] += 1
            if action is Action.UNCHANGED:
                return None  # nothing to write, not even the coupling
            if action is Action.IN_SYNC:
                self.mark_ok(record, coupling)
            return "unchanged", None
        if action is Action.SKIP:
            self.skip(record, coupling, row, payload)
            return "skipped", None
        if action is Action.UPDATE_ONE_WAY:
            shared = self.convert.shared()
            return "update", {k: v for k, v in changes.items() if k not in shared}
        if action is Action.UPDATE:
            return "update", changes
        return self.deleted_counterpart(action, record, coupling, resolve)

    def deleted_counterpart(self, action, record, coupling, resolve):
        if action is Action.REMOVE_COUPLING:
            deletions.uncouple(self.run, coupling)
            return None
        if action is Action.RESTORE:
            coupling.remote_id = uuid.uuid4()
            coupling.save(update_fields=["remote_id"])
            return "create", self.convert.payload(record, resolve, create=True)
        coupling.local_modified_at = record.modified_at  # reported as it is now
        raise ValueProblem(deletions.report(coupling, deletions.REMOTE,
                                            label=self.run.local_label(record),
                                            mapping_name=self.mapping.name))

    # --- outcomes ------------------------------------------------------------------------------
    def new_coupling(self, record, new_couplings):
        coupling = new_instance(Coupling, mapping=self.mapping, local_id=record.pk,
                                local_model=self.mapping.local_model,
                                remote_entity=self.run.entity, remote_id=uuid.uuid4(),
                                pending_create=True)
        new_couplings.append(coupling)
        return coupling

    def mark_ok(self, record, coupling, confirm=False):
        if record.pk in self.partial:
            self.run.first_half.different.add(str(coupling.remote_id).lower())
            coupling.crm_values_pending = True  # taken by the next run from the CRM
        coupling.local_modified_at = record.modified_at
        setattr(coupling, RESULT, SyncResult.SUCCESS)
        coupling.last_job_to_crm = self.run.job
        coupling.last_synced_at = timezone.now()
        coupling.last_error = ""
        if coupling.skipped and not coupling.deleted_side:  # both sides agree: no conflict now
            coupling.skipped = False
            coupling.conflict_local = coupling.conflict_remote = None
        if confirm:
            coupling.pending_create = False

    def succeeded(self, record, coupling, kind):
        counts = self.run.counts
        if kind == "create":
            counts["inserted"] += 1
            counts["coupled"] += 1
        else:
            counts["modified"] += 1
        coupling.skipped = False
        coupling.conflict_local = coupling.conflict_remote = None
        self.mark_ok(record, coupling, confirm=True)

    def skip(self, record, coupling, row, payload):
        self.run.counts["skipped"] += 1
        coupling.skipped = True
        coupling.conflict_local = _jsonable(payload)
        coupling.conflict_remote = _jsonable(row)
        coupling.last_error = (f"{self.run.local_label(record)} was changed in both the ERP and "
                               "the CRM since the last synchronization.")

    def failed(self, record, coupling, message, new_couplings, detail=""):
        run = self.run
        run.fail(message, detail=detail, local_id=record.pk, local_label=run.local_label(record),
                 remote_id=str(coupling.remote_id) if coupling else None)
        if coupling is None:
            # Remember the failure on a pending coupling so the record is retried first.
            coupling = self.new_coupling(record, new_couplings)
        setattr(coupling, RESULT, SyncResult.FAILURE)
        coupling.last_job_to_crm = run.job
        coupling.last_error = message[:2000]
        return coupling

    def crm_message(self, record, error) -> str:
        return f"{self.run.local_label(record)}: the CRM refused the record: {error}"

    def save_couplings(self, couplings, confirm=False):
        fields = ["local_modified_at", RESULT, "last_job_to_crm", "last_synced_at",
                  "pending_create", "skipped", "conflict_local", "conflict_remote", "last_error",
                  "deleted_side", "crm_values_pending"]
        bulk_set(Coupling, couplings, fields if confirm else ["remote_id", *fields])


def _jsonable(values: dict) -> dict:
    return {k: (str(v) if v is not None and not isinstance(v, (str, int, float, bool)) else v)
            for k, v in values.items()}
