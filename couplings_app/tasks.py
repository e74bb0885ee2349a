"""django-q2 entry points and the functions that enqueue them.

Every trigger — a button, a schedule, a record change, a command — creates its SyncJob rows at
once (so the job log shows them "Queued") and enqueues a task after the transaction commits; the
task calls the one engine function. Nothing syncs inside a web request.
"""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

from couplings_app import locks
from couplings_app.choices import JobStatus, JobTrigger, JobType
from couplings_app.models import SyncJob
from mappings_app.connection import crm_client
from mappings_app.models import TableMapping

SCHEDULE_PREFIX = "sync:"
STATISTICS_SCHEDULE = "Customer Statistics"
EVENT_DELAY = timedelta(seconds=30)
EVENT_MIN_GAP = timedelta(minutes=1)


def _user(user_id):
    return get_user_model().objects.filter(pk=user_id).first() if user_id else None


# --- tasks (run by the cluster) ------------------------------------------------------------------
def run_mapping_task(mapping_id, job_ids, direction=None, full=False, trigger=JobTrigger.USER,
                     user_id=None):
    from couplings_app.sync.runner import synchronize

    mapping = TableMapping.objects.get(pk=mapping_id)
    jobs = list(SyncJob.objects.filter(pk__in=job_ids).order_by("pk"))
    with crm_client() as client:
        done = synchronize(mapping, direction=direction, full=full,
                           only_coupled=False if full else None, trigger=trigger,
                           user=_user(user_id), client=client, jobs=jobs)
    return [job.pk for job in done]


def run_all_task(full=False, trigger=JobTrigger.USER, user_id=None):
    from couplings_app.sync.full import synchronize_all

    with crm_client() as client:
        jobs = synchronize_all(client=client, full=full, user=_user(user_id), trigger=trigger)
    return [job.pk for job in jobs]


def scheduled_sync(mapping_id, trigger=JobTrigger.SCHEDULE):
    """A job queue entry's run: modified records of one mapping. A run brought forward by a
    record change says so once; the entry then goes back to plain scheduled runs."""
    # Jobs of every mapping whose worker died are failed here too: a mapping that never runs
    # again (on hold, disabled) would otherwise show its dead job "In Process" forever.
    locks.fail_dead_jobs()
    mapping = TableMapping.objects.filter(pk=mapping_id, is_enabled=True).first()
    if mapping is None:
        return []
    if trigger != JobTrigger.SCHEDULE:
        Schedule.objects.filter(name=f"{SCHEDULE_PREFIX}{mapping.name}").update(kwargs="")
    jobs = _queued_jobs(mapping, None, False, trigger, None)
    return run_mapping_task(mapping.pk, [j.pk for j in jobs], trigger=trigger)


def statistics_task(trigger=JobTrigger.SCHEDULE, user_id=None, job_id=None):
    from couplings_app.sync.statistics import push_customer_statistics

    job = SyncJob.objects.filter(pk=job_id).first() if job_id else None
    with crm_client() as client:
        return push_customer_statistics(client=client, trigger=trigger, user=_user(user_id),
                                        job=job).pk


# --- enqueueing (called by views, commands, signals) ---------------------------------------------
def _queued_jobs(mapping, direction, full, trigger, user):
    runs = [direction] if direction else mapping.runs
    return [SyncJob.objects.create(mapping=mapping, mapping_name=mapping.name, direction=run,
                                   full=full, trigger=trigger, triggered_by=user)
            for run in runs]


def enqueue_mapping(mapping, *, direction=None, full=False, trigger=JobTrigger.USER,
                    user=None) -> list[SyncJob]:
    jobs = _queued_jobs(mapping, direction, full, trigger, user)
    job_ids = [job.pk for job in jobs]
    transaction.on_commit(lambda: async_task(
        "couplings_app.tasks.run_mapping_task", mapping.pk, job_ids, direction=direction,
        full=full, trigger=trigger, user_id=getattr(user, "pk", None),
        task_name=f"{mapping.name} synchronization"))
    return jobs


def enqueue_all(*, full=False, trigger=JobTrigger.USER, user=None):
    transaction.on_commit(lambda: async_task(
        "couplings_app.tasks.run_all_task", full=full, trigger=trigger,
        user_id=getattr(user, "pk", None),
        task_name="Full synchronization" if full else "Synchronize modified records"))


def enqueue_statistics(*, trigger=JobTrigger.USER, user=None) -> SyncJob:
    mapping = TableMapping.objects.filter(local_model="erp_app.customer",
                                          remote_entity="account").first()
    job = SyncJob.objects.create(mapping=mapping, mapping_name="CUSTOMER STATISTICS",
                                 type=JobType.STATISTICS, direction="to_crm", trigger=trigger,
                                 triggered_by=user, status=JobStatus.QUEUED)
    transaction.on_commit(lambda: async_task(
        "couplings_app.tasks.statistics_task", trigger=trigger,
        user_id=getattr(user, "pk", None), job_id=job.pk, task_name="Customer statistics"))
    return job


# --- job queue entries ------------------------------------------------------------------------
def ensure_schedule(mapping) -> None:
    """The mapping's job queue entry: every `schedule_minutes` while enabled; idempotent."""
    name = f"{SCHEDULE_PREFIX}{mapping.name}"
    if not mapping.is_enabled:
        Schedule.objects.filter(name=name).delete()
        return
    existing = Schedule.objects.filter(name=name).first()
    wanted = {"func": "couplings_app.tasks.scheduled_sync", "args": repr((mapping.pk,)),
              "schedule_type": Schedule.MINUTES, "minutes": mapping.schedule_minutes,
              "repeats": -1}
    if existing is None:
        Schedule.objects.create(name=name, **wanted)
    elif any(getattr(existing, k) != v for k, v in wanted.items()):
        Schedule.objects.filter(pk=existing.pk).update(**wanted)


def ensure_statistics_schedule() -> None:
    """The Customer Statistics job queue entry (every 30 minutes)."""
    Schedule.objects.get_or_create(name=STATISTICS_SCHEDULE, defaults={
        "func": "couplings_app.tasks.statistics_task", "schedule_type": Schedule.MINUTES,
        "minutes": 30, "repeats": -1})


def ensure_schedules() -> int:
    """Every mapping's job queue entry, and Customer Statistics'."""
    for mapping in TableMapping.objects.all():
        ensure_schedule(mapping)
    ensure_statistics_schedule()
    return Schedule.objects.filter(name__startswith=SCHEDULE_PREFIX).count() + 1


def bring_forward(mapping) -> bool:
    """A coupled table changed: run its mapping in ~30 s, but not more than once a minute."""
    if mapping.disable_event_rescheduling or not mapping.is_enabled:
        return False
    now = timezone.now()
    # Conditional UPDATE: only a next run more than a minute away moves (to ~30 s from now), so
    # a burst of changes brings it forward once, and it runs at most about once a minute.
    moved = Schedule.objects.filter(name=f"{SCHEDULE_PREFIX}{mapping.name}",
                                    next_run__gt=now + EVENT_MIN_GAP) \
        .update(next_run=now + EVENT_DELAY,
                kwargs=repr({"trigger": JobTrigger.RECORD_CHANGE.value}))
    return bool(moved)


def delete_remote_task(records):
    """Deletes CRM records whose ERP records were deleted (mappings that ask for it)."""
    from dataverse import BatchOperation

    with crm_client() as client:
        results = client.batch([BatchOperation("DELETE", entity_set, id=remote_id)
                                for entity_set, remote_id in records])
    return sum(result.ok for result in results)
