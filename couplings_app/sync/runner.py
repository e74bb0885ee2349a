"""Running a mapping: the job's life, the candidate pages, the watermarks.

`synchronize()` is the one function every entry point calls (views, django-q2 tasks, schedules,
`manage.py sync`). Per direction it opens a SyncJob, reads candidate pages — first the records
whose last synchronization failed (not skipped), then those modified since the watermark, each
matching the mapping's filter — hands each page to ToCrm / FromCrm, and at the end moves the
watermark to the run's start (never backwards; never past a CRM record not yet created here).
From the CRM, a mapping with a delta link reads by Dataverse change tracking instead
(`sync/delta.py`); the link is saved with the watermark.
"""

import logging
import uuid
from collections import deque
from contextlib import contextmanager
from datetime import timedelta

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from couplings_app import locks
from couplings_app.choices import JobStatus, JobTrigger, SyncResult
from couplings_app.models import Coupling, MappingLock, SyncJob
from couplings_app.sync import delta, pipeline, rules
from couplings_app.sync.context import PAGE_SIZE, FirstHalf, Run, in_chunks
from couplings_app.sync.from_crm import FromCrm
from couplings_app.sync.to_crm import ToCrm
from dataverse import format_datetime
from dataverse.errors import DataverseError
from mappings_app import local_filter
from mappings_app.choices import Direction
from mappings_app.connection import crm_client, scrub
from mappings_app.models import Connection, TableMapping

logger = logging.getLogger(__name__)
# Clocks of the ERP's processes and the CRM differ a little: read a bit before the watermark.
LOCAL_OVERLAP = timedelta(seconds=5)
REMOTE_OVERLAP = timedelta(minutes=2)


class Cancelled(Exception):
    pass


def synchronize(mapping: TableMapping, *, direction: str | None = None, full: bool = False,
                only_coupled: bool | None = None, trigger: str = JobTrigger.USER, user=None,
                client=None, page_size: int = PAGE_SIZE, jobs: list | None = None) -> list[SyncJob]:
    """Runs the mapping (both directions of a bidirectional one: to the CRM first)."""
    runs = [direction] if direction else mapping.runs
    if client is None:
        with crm_client() as opened:
            return synchronize(mapping, direction=direction, full=full,
                               only_coupled=only_coupled, trigger=trigger, user=user,
                               client=opened, page_size=page_size, jobs=jobs)
    planned = [jobs[i] if jobs and i < len(jobs) else SyncJob.plan(
        mapping, run_direction, full=full, trigger=trigger, user=user)
        for i, run_direction in enumerate(runs)]
    integration_user = _who_am_i(client)
    if integration_user is None:
        # Without it the run would take its own earlier writes for a person's (conflicts,
        # changes brought back): nothing is written.
        for job in planned:
            job.fail(WHO_AM_I_FAILED)
        return planned
    with claimed(mapping, planned) as ok:
        if not ok:
            return planned
        done, first_half = [], FirstHalf()
        for job, run_direction in zip(planned, runs, strict=True):
            # The claim passes to the direction that runs now: a finished job's claim is free,
            # and the running job's heartbeat is what keeps it.
            if done and not locks.hand_over(mapping, done[-1], job):
                return done + not_run(mapping, planned[len(done):])
            done.append(run_one(mapping, job, run_direction, client=client, full=full,
                                only_coupled=mapping.sync_only_coupled if only_coupled is None
                                else only_coupled, integration_user=integration_user,
                                page_size=page_size, first_half=first_half))
        return done


@contextmanager
def claimed(mapping, jobs):
    """Runs under the mapping's claim; jobs that cannot get it are reported, not run."""
    if locks.claim(mapping, *jobs):
        try:
            yield True
        finally:
            locks.release(mapping, *jobs)
        return
    not_run(mapping, jobs)
    yield False


def not_run(mapping, jobs):
    """Jobs that did not get the mapping's claim: cancelled, saying which job holds it."""
    holder = getattr(MappingLock.objects.filter(mapping=mapping).first(), "job_id", None)
    message = (f"Not run: job #{holder} of {mapping.name} is still running. It was not started "
               "twice; the next run picks up the changes.")
    for job in jobs:
        job.finish(JobStatus.CANCELLED, message)
    return jobs


def synchronize_records(mapping, direction, *, client, local_ids=(), remote_ids=(),
                        only_coupled=True, user=None, trigger=JobTrigger.USER) -> SyncJob:
    """BC's Synchronize Now: these records only, in one direction, whatever their stamps."""
    job = SyncJob.plan(mapping, direction, trigger=trigger, user=user)
    integration_user = _who_am_i(client)
    if integration_user is None:
        job.fail(WHO_AM_I_FAILED)
        return job

    def pages(run):
        if direction == Direction.TO_CRM:
            base = mapping.local_model_class._default_manager
            ids = list(local_ids)
            for start in range(0, len(ids), run.page_size):
                page = [record for chunk in in_chunks(ids[start:start + run.page_size])
                        for record in base.filter(pk__in=chunk)]
                yield run.prefetch(page)
        else:
            ids = [str(i) for i in remote_ids]
            for start in range(0, len(ids), run.page_size):
                rows = client.get_many(run.entity_set, run.key,
                                       ids[start:start + run.page_size],
                                       select=run.remote_select())
                yield list(rows.values())

    with claimed(mapping, [job]) as ok:
        if not ok:
            return job
        return run_one(mapping, job, direction, client=client, full=True,
                       only_coupled=only_coupled, integration_user=integration_user,
                       pages=pages, move=False)


WHO_AM_I_FAILED = (
    "Could not find out which CRM user the synchronization runs as (WhoAmI did not answer with "
    "a user id), so nothing was synchronized: without it the run would take its own earlier "
    "writes for a person's changes. Check the connection (Test Connection) and run again.")


def _who_am_i(client) -> str | None:
    """The CRM user the synchronization writes as: the Connection's, else WhoAmI's answer
    (then kept on the Connection, so later runs and `manage.py sync` need no Test Connection).
    None when it cannot be found out: an error, or an answer that is no user id."""
    connection = Connection.get()
    if connection.integration_user_id:
        return str(connection.integration_user_id)
    try:
        answer = client.who_am_i()
    except (DataverseError, OSError):
        logger.warning("WhoAmI failed; the synchronization does not run")
        return None
    try:
        user_id = uuid.UUID(str(answer))
    except ValueError:
        logger.warning("WhoAmI answered no user id; the synchronization does not run")
        return None
    Connection.objects.filter(pk=connection.pk).update(integration_user_id=user_id)
    return str(user_id)


def run_one(mapping, job, direction, *, client, full, only_coupled, integration_user,
            page_size=PAGE_SIZE, pages=None, move=True, first_half=None) -> SyncJob:
    """Runs one direction of a mapping as `job`; `pages` overrides the candidates (and then the
    watermark stays where it is). Both directions of one synchronization share `first_half`."""
    started = timezone.now()
    # The watermarks as they are now: the caller's copy of the mapping may predate a run.
    mapping.refresh_from_db(fields=["local_synced_until", "remote_synced_until",
                                    "remote_delta_link"])
    if not job.start(direction, now=started):
        return job  # a person cancelled it, or its run was given up as dead: it stays ended
    status, message = JobStatus.SUCCEEDED, ""
    run = None
    try:
        run = Run(mapping=mapping, job=job, client=client, direction=direction, full=full,
                  only_coupled=only_coupled if pages else only_coupled and not full,
                  page_size=page_size,
                  integration_user=str(integration_user) if integration_user else None,
                  first_half=first_half or FirstHalf())
        engine = ToCrm(run) if direction == Direction.TO_CRM else FromCrm(run)
        if pages is not None:
            candidates = pages(run)
        else:
            candidates = local_pages(run) if direction == Direction.TO_CRM else remote_pages(run)
        rules.before_run(run)
        if isinstance(engine, ToCrm) and pipelined(run):
            write_pages(run, engine, candidates)
        else:
            process_pages(run, engine, candidates)
        if move:
            hold = getattr(engine, "oldest_failed_create", None)
            move_watermark(mapping, direction, started, hold)
            if direction == Direction.FROM_CRM:
                delta.keep(run, hold)
    except Cancelled:
        status, message = JobStatus.CANCELLED, "Cancelled by a user; the pages done are kept."
    except (DataverseError, OSError) as exc:
        status = JobStatus.FAILED
        message = scrub(f"The CRM did not answer as expected, so the job stopped: {exc}. "
                        "Records done so far are kept; the next run goes on from there.")
        logger.warning("sync job %s failed: %s", job.pk, message)
    except rules.RuleStopped as exc:
        status, message = JobStatus.FAILED, scrub(str(exc))
        logger.warning("sync job %s stopped: %s", job.pk, message)
    except Exception:  # noqa: BLE001 - a job never dies silently
        status = JobStatus.FAILED
        # What a person reads names no exception: the server log has it, under the job's number.
        message = (f"The job stopped on an unexpected problem (logged on the server as sync job "
                   f"{job.pk}). Records done so far are kept; the next run goes on from there. If "
                   "it happens again, check the mapping's field mappings and filters, and the "
                   "server log.")
        logger.exception("sync job %s failed", job.pk)
    # Also when a page was cut short: its failed records' couplings already say "failed", so
    # their errors must be in the log.
    if run is not None and (run.counts or run.failures):
        run.flush(0)
    job.finish(status, message)
    return job


def process_pages(run, engine, candidates):
    """Page by page; CRM → ERP sends a page's ERP values back while the page's updates and
    rules are done, and takes their answers at the end of the page (a write still in flight
    when the job stops is waited for, its records left for the next run to send)."""
    try:
        for page in candidates:
            if run.cancelled():
                raise Cancelled
            engine.process(page)
            rules.after_page(run, page)
            if isinstance(engine, FromCrm):
                engine.finish()
            run.flush(len(page))
    finally:
        if isinstance(engine, FromCrm):
            engine.close()


def pipelined(run) -> bool:
    """A page's `$batch` may still be in flight while the next page is decided, unless a field
    of the mapping refers to the mapping's own records (page 2 may need page 1's ids)."""
    return not any(fm.lookup_mapping_id == run.mapping.pk for fm in run.fields)


def write_pages(run, engine, candidates):
    """ERP → CRM with the CRM's writes of the pages in flight overlapping the decisions of the
    next page; pages are finished in order, the oldest once `in_flight(run)` pages are sent."""
    depth = in_flight(run)
    sender = pipeline.Sender(depth)
    waiting = deque()  # (page, what engine.finish needs) of the pages whose writes are sent
    try:
        for page in candidates:
            if run.cancelled():
                raise Cancelled
            waiting.append((page, engine.start(page, send=sender)))
            if len(waiting) >= depth:
                finish_page(run, engine, *waiting.popleft())
        while waiting:
            finish_page(run, engine, *waiting.popleft())
    except Cancelled:
        while waiting:  # their writes were sent: keep what they did
            finish_page(run, engine, *waiting.popleft())
        raise
    finally:
        sender.close()  # a write in flight completes; if its page was not finished, its
        # couplings stay pending and the next run confirms each create it finds in the CRM


def in_flight(run) -> int:
    """Pages whose writes may be in flight at once: enough that the client's parallel requests
    (up to `max_parallel` chunks of `batch_size`) never wait for the next page to be decided,
    so the slots a page's last chunks leave free are taken by the next page's first chunks; at
    least 2 (one written while the next is decided), at most 4 (pages held in memory)."""
    chunks_per_page = max(1, run.page_size // max(1, run.client.batch_size))
    return min(4, 1 + -(-run.client.max_parallel // chunks_per_page))


def finish_page(run, engine, page, started):
    engine.finish(started)
    rules.after_page(run, page)
    run.flush(len(page))


def _summary(job) -> str:
    return job.summary()


def move_watermark(mapping, direction, started, hold_before=None):
    """Forward to the run's start, never backwards, for both directions."""
    name = "local_synced_until" if direction == Direction.TO_CRM else "remote_synced_until"
    until = started
    if hold_before is not None and hold_before <= until:
        until = hold_before - timedelta(microseconds=1)
    TableMapping.objects.filter(pk=mapping.pk).filter(
        Q(**{f"{name}__isnull": True}) | Q(**{f"{name}__lt": until})).update(**{name: until})


# --- candidates ----------------------------------------------------------------------------------
def _retry_couplings(run, result_field):
    again = Q(**{result_field: SyncResult.FAILURE}) | Q(pending_create=True)
    if result_field == "last_result_from_crm":
        again |= Q(crm_values_pending=True)  # rows a run to the CRM left with values to take
    return Coupling.objects.filter(
        local_model=run.mapping.local_model, remote_entity=run.entity, skipped=False
    ).filter(again)


def _synchronized_as_is(run):
    """The coupling of a record that was not changed since its last successful synchronization
    (what ToCrm.unchanged says record by record): not a candidate, so the records read again
    in the overlap window cost nothing."""
    return Coupling.objects.filter(
        local_model=run.mapping.local_model, remote_entity=run.entity, local_id=OuterRef("pk"),
        local_modified_at=OuterRef("modified_at"), pending_create=False,
    ).exclude(last_result_to_crm=SyncResult.FAILURE)


def local_pages(run):
    from couplings_app.sync.context import in_chunks

    model, mapping = run.model, run.mapping
    where = local_filter.parse(model, mapping.local_filter)
    # Related records are loaded per page by run.prefetch (Django's prefetch_related makes one
    # OR per related record on SQLite, which refuses past ~1,000 of them).
    base = model._default_manager.filter(where)
    retrying = _retry_couplings(run, "last_result_to_crm").values("local_id")
    retry_ids = [row["local_id"] for row in retrying]
    run.retrying = set(retry_ids)  # a rule's step failed for some: rules.after_page redoes it
    for start in range(0, len(retry_ids), run.page_size):
        page = []
        for chunk in in_chunks(retry_ids[start:start + run.page_size]):
            page += base.filter(pk__in=chunk)
        if page:
            yield run.prefetch(page)
    since = None if run.full else mapping.local_synced_until
    # A subquery, not the list: the failed records may be many more than a query's parameters.
    query = base.exclude(pk__in=retrying) if retry_ids else base
    if since is not None:
        query = query.filter(modified_at__gt=since - LOCAL_OVERLAP).exclude(
            Exists(_synchronized_as_is(run)))
    # One COUNT, so the job log can show a progress bar with a percentage.
    run.job.expect(query.count() + len(retry_ids))
    # Keyset paging on (modified_at, pk): memory stays flat, whatever the table's size.
    last = None
    while True:
        page_query = query.order_by("modified_at", "pk")
        if last is not None:
            page_query = page_query.filter(Q(modified_at__gt=last[0]) |
                                           Q(modified_at=last[0], pk__gt=last[1]))
        page = list(page_query[:run.page_size])
        if not page:
            return
        yield run.prefetch(page)
        last = (page[-1].modified_at, page[-1].pk)
        if len(page) < run.page_size:
            return


def _first_half_wrote(run) -> bool:
    half = run.first_half
    return bool(half.job_id and half.started and run.integration_user
                and run.reads_only_sent_fields())


def remote_pages(run):
    mapping, client = run.mapping, run.client
    select = run.remote_select()
    retry_ids = [str(i) for i in _retry_couplings(run, "last_result_from_crm")
                 .values_list("remote_id", flat=True)]
    # Rows the ERP → CRM half just stamped although they still hold a person's change (it only
    # restored fields the ERP alone sends): the sync is now their last editor, so the filter
    # below would not find them.
    retry_ids += sorted(run.first_half.different - {i.lower() for i in retry_ids})
    for start in range(0, len(retry_ids), run.page_size):
        rows = client.get_many(run.entity_set, run.key, retry_ids[start:start + run.page_size],
                               select=select)
        if rows:
            yield list(rows.values())
    clauses = []
    if mapping.remote_filter.strip():
        clauses.append(f"({mapping.remote_filter})")
    since = None if run.full else mapping.remote_synced_until
    retry = {i.lower() for i in retry_ids}
    if since is not None and mapping.remote_delta_link:
        # Change tracking: only the rows changed since the last run, and the deletions.
        opened = delta.open_link(run)
        if opened is not None:
            yield from delta.changed_pages(run, opened, retry, clauses + _not_own(run))
            return
    # No link yet, a refused one, or a full run: a new link first, then the watermark's read.
    run.delta_link = delta.establish(run)
    if since is not None:
        clauses.append(f"{run.modified_attr} gt {format_datetime(since - REMOTE_OVERLAP)}")
        clauses += _not_own(run)
    elif _first_half_wrote(run):
        # A full run reads every row but those its ERP → CRM half just wrote: they hold what
        # the ERP sends, and nothing else is read here (the ones it left different are above).
        clauses.append(f"(_modifiedby_value ne {run.integration_user} or {run.modified_attr} lt "
                       f"{format_datetime(run.first_half.started - REMOTE_OVERLAP)})")
    for page in pipeline.read_ahead(client.iter_pages(
            run.entity_set, select=select, filter=" and ".join(clauses) or None,
            page_size=run.page_size, key=run.key)):
        page = [row for row in page if str(row.get(run.key, "")).lower() not in retry]
        if page:
            yield page


def _not_own(run) -> list[str]:
    """Not the rows the sync itself wrote last: reading them would only find echoes."""
    return [f"_modifiedby_value ne {run.integration_user}"] if run.integration_user else []
