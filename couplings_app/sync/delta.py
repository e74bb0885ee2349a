"""CRM → ERP by Dataverse change tracking: what changed in the CRM since the last run, and what
was deleted there, without reading the modified-on window again.

A run from the CRM reads its candidates (`runner.remote_pages`) one of two ways:

- **by the mapping's delta link** (`TableMapping.remote_delta_link`), when it has one and the run
  is not a full one: the link says only WHICH rows changed or were deleted (it selects the key
  alone, so it does not depend on the field mappings); the changed rows are then read by id with
  the same clauses as the watermark read (the mapping's Integration Table Filter, and not last
  modified by the integration user), in pages of the run's page size. Deleted rows of coupled
  records go to the mapping's deletion-conflict resolution (`crm_deleted`).
- **by the watermark**, as before change tracking, when there is no link yet, the link was
  refused (an expired token, 0x80044352, or any error), the table has no change tracking
  (0x80072491), or the run is a full one. Such a run first establishes a new link (`establish`:
  the key of every row, pages of 5,000, only the last page's delta link kept; the first page,
  which fixes the link's version, before the run's read, the others in a thread beside it), so
  changes made while it runs are read again by the next run (the engine takes a row twice
  without harm).

The link to keep is saved only at the end of the direction, next to the watermark (`keep`): a
run that dies before reads the same changes again next time, and the engine's decisions are
idempotent. The watermark keeps moving too, so a fall back to it reads from where the link was.
A fall back does not compare every row: the watermark read takes the changes, and a CRM deletion
made while an expired link was unread is found as before change tracking (when its ERP record is
next sent to the CRM, or by a full run). Reading every id of a large table to find a few
deletions would make a run's cost and memory follow the table's size, not the change.
"""

import logging
from concurrent.futures import Future, ThreadPoolExecutor

from couplings_app.choices import SyncResult
from couplings_app.models import Coupling
from couplings_app.sync import deletions
from couplings_app.sync.decision import Action, Facts, Policy, deleted_counterpart
from couplings_app.sync.pipeline import done
from dataverse.errors import DataverseError
from mappings_app.choices import DeletionConflictResolution, Direction
from mappings_app.models import TableMapping

logger = logging.getLogger(__name__)
ESTABLISH_PAGE_SIZE = 5000  # Dataverse's largest page


def establish(run) -> Future:
    """A new delta link for the run's table ("" when the CRM does not track it, or refused), as
    a future: `keep` takes its result at the end of the direction.

    The first page of the change-tracking read fixes the link's version (Dataverse answers every
    change made after that request with the link), so it is read here, before the run's own
    read; the other pages (only keys, 5,000 a page) are read in a thread of their own while the
    run reads and writes: waiting for every key of a large table first was the largest wait of
    a full run from the CRM."""
    try:
        changes = run.client.iter_changes(run.entity_set, select=[run.key],
                                          page_size=ESTABLISH_PAGE_SIZE)
        pages = iter(changes)
        next(pages, None)
    except DataverseError as exc:
        return done(_untracked(run, exc))

    def rest():
        try:
            for _ in pages:
                pass  # only the link of the last page is wanted
        except DataverseError as exc:
            return _untracked(run, exc)
        return changes.delta_link or ""

    pool = ThreadPoolExecutor(1, thread_name_prefix="crm-establish")
    future = pool.submit(rest)
    pool.shutdown(wait=False)
    return future


def _untracked(run, exc) -> str:
    logger.info("no change tracking for %s: %s", run.entity_set, exc)
    return ""


def open_link(run):
    """The changes behind the mapping's delta link, as (first page, the rest, the pages), or
    None if the CRM refused the link (expired, or the table no longer tracked)."""
    changes = run.client.iter_changes(run.entity_set, delta_link=run.mapping.remote_delta_link,
                                      page_size=run.page_size)
    pages = iter(changes)
    try:
        first = next(pages, [])
    except DataverseError as exc:
        logger.info("the delta link of %s was refused (%s): read by the watermark",
                    run.mapping.name, exc)
        return None
    return first, pages, changes


def changed_pages(run, opened, skip: set, clauses: list[str]):
    """Pages of the CRM rows the delta link names, read by id with the watermark read's
    `clauses`; the rows in `skip` (read already as retries) are left out. Deletions go to
    `crm_deleted`. Sets `run.delta_link` to the link after these changes."""
    first, rest, changes = opened
    run.read_by_link = True
    select = run.remote_select()
    where = " and ".join(clauses) or None
    for page in _chain(first, rest):
        changed, deleted = [], []
        for row in page:
            if _deleted(row):
                deleted.append(str(row.get("id", "")).lower())
            elif (remote_id := str(row.get(run.key, "")).lower()) and remote_id not in skip:
                changed.append(remote_id)
        if deleted:
            crm_deleted(run, deleted)
        for start in range(0, len(changed), run.page_size):
            rows = run.client.get_many(run.entity_set, run.key,
                                       changed[start:start + run.page_size],
                                       select=select, filter=where)
            if rows:
                yield list(rows.values())
    run.delta_link = changes.delta_link or ""


def _chain(first, rest):
    if first:
        yield first
    yield from rest


def _deleted(row) -> bool:
    return str(row.get("@odata.context", "")).endswith("$deletedEntity") or \
        row.get("reason") == "deleted"


def crm_deleted(run, remote_ids) -> None:
    """Coupled records whose CRM row was deleted: the same decision as ToCrm's for a coupled
    record whose CRM row is gone (`decision.deleted_counterpart`, the mapping's deletion-conflict
    resolution). Restore Records needs the run to the CRM: the coupling is marked failed there,
    so the next run to the CRM reads the record and creates its row again."""
    mapping = run.mapping
    couplings = list(Coupling.objects.filter(
        local_model=mapping.local_model, remote_entity=run.entity, remote_id__in=remote_ids,
        pending_create=False))
    if not couplings:
        return
    records = run.model._default_manager.in_bulk([c.local_id for c in couplings])
    policy = Policy.of(run)
    restorable = mapping.direction != Direction.FROM_CRM
    if policy.deletion_conflict == DeletionConflictResolution.RESTORE and not restorable:
        # Nothing here writes to the CRM: reported, as the ERP side does for a mapping that
        # does not run from the CRM.
        policy = Policy(direction=policy.direction, update_conflict=policy.update_conflict)
    changed = []
    for coupling in couplings:
        record = records.get(coupling.local_id)
        if record is None:
            continue  # gone on both sides: nothing left to synchronize
        facts = Facts(Direction.TO_CRM, counterpart_exists=False,
                      deletion_reported=deletions.reported(coupling, deletions.REMOTE,
                                                           record.modified_at))
        action = deleted_counterpart(policy, facts).action
        if action is Action.REMOVE_COUPLING:
            deletions.uncouple(run, coupling)
        elif action is Action.RESTORE:
            coupling.last_result_to_crm = SyncResult.FAILURE
            coupling.skipped = False  # read by the next run to the CRM, which restores it
            coupling.last_error = (f"{run.local_label(record)}: its CRM {run.entity} was "
                                   "deleted; the next run to the CRM creates it again.")
            changed.append(coupling)
        elif action is Action.REPORT_DELETED:
            coupling.local_modified_at = record.modified_at  # reported as it is now
            text = deletions.report(coupling, deletions.REMOTE, label=run.local_label(record),
                                    mapping_name=mapping.name)
            run.fail(text, local_id=record.pk, local_label=run.local_label(record),
                     remote_id=str(coupling.remote_id))
            coupling.last_result_to_crm = SyncResult.FAILURE
            changed.append(coupling)
    Coupling.objects.bulk_update(changed, ["local_modified_at", "last_result_to_crm",
                                           "deleted_side", "skipped", "last_error"])


def keep(run, hold) -> None:
    """At the end of a run from the CRM, next to the watermark: the link to read from next time.

    A run that held the watermark back (a CRM row it could not create: no coupling retries it)
    keeps the link it read by, so the next run reads that row again with the changes since.
    A run that established its link has no older one to keep: the row is read again when it
    changes in the CRM, by Synchronize Now, or by a run that falls back to the (held)
    watermark."""
    link = getattr(run, "delta_link", None)
    if isinstance(link, Future):
        link = link.result()
    if link is None:
        return  # read neither by a link nor establishing one: the link stays as it is
    if hold is not None and getattr(run, "read_by_link", False):
        return
    TableMapping.objects.filter(pk=run.mapping.pk).update(remote_delta_link=link)
