"""django-q2 entry points and the functions that enqueue them.

Every trigger — a button, a schedule, a record change, a command — creates its SyncJob rows at
once (so the job log shows them "Queued") and enqueues a task after the transaction commits; the
task calls the one engine function. Nothing syncs inside a web request.
"""

import ast
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

from couplings_app import locks
from couplings_app.choices import JobTrigger, JobType
from couplings_app.models import JobQueueHold, SyncJob
from mappings_app.connection import crm_client
from mappings_app.models import TableMapping

SCHEDULE_PREFIX = "sync:"  # a mapping's entry is named "sync:<mapping name>": a label only
SCHEDULE_FUNC = "couplings_app.tasks.scheduled_sync"
SCHEDULE_HOOK = "couplings_app.jobqueue.after_scheduled_run"
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
        mapping_schedules(mapping.pk).update(kwargs="")
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
    return [SyncJob.plan(mapping, run, full=full, trigger=trigger, user=user) for run in runs]


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
    job = SyncJob.plan(mapping, "to_crm", type=JobType.STATISTICS, trigger=trigger, user=user,
                       mapping_name="CUSTOMER STATISTICS")
    transaction.on_commit(lambda: async_task(
        "couplings_app.tasks.statistics_task", trigger=trigger,
        user_id=getattr(user, "pk", None), job_id=job.pk, task_name="Customer statistics"))
    return job


# --- job queue entries ------------------------------------------------------------------------
# A mapping's entry follows it by key — the mapping's pk, the one argument the schedule runs
# scheduled_sync with — never by name: a renamed mapping keeps its entry (and its hold), and two
# entries never run one mapping. Every change of a mapping (save, QuerySet.update of the fields
# below, delete) reaches ensure_schedule / remove_schedule through couplings_app.signals.
def schedule_key(mapping_pk) -> str:
    return repr((int(mapping_pk),))


def schedule_name(mapping) -> str:
    return f"{SCHEDULE_PREFIX}{mapping.name}"


def mapping_schedules(mapping_pk):
    """The job queue entries of the mapping with this pk (one, or none while it is disabled)."""
    return Schedule.objects.filter(func=SCHEDULE_FUNC, args=schedule_key(mapping_pk))


def mapping_pk_of(schedule) -> int | None:
    """The pk of the mapping a schedule runs, or None (not a mapping's entry, unreadable)."""
    if schedule.func != SCHEDULE_FUNC or not schedule.args:
        return None
    try:
        args = ast.literal_eval(schedule.args)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    if isinstance(args, tuple) and len(args) == 1 and isinstance(args[0], int):
        return args[0]
    return None


def remove_schedule(mapping_pk) -> None:
    """A mapping disabled or deleted: its entry goes, and a hold of it."""
    found = mapping_schedules(mapping_pk)
    names = list(found.values_list("name", flat=True))
    found.delete()
    JobQueueHold.objects.filter(schedule_name__in=names).delete()


def ensure_schedule(mapping) -> None:
    """The mapping's job queue entry: every `schedule_minutes` while enabled, named after it, with
    the hook that notices inactivity; a manual hold kept. Idempotent."""
    if not mapping.is_enabled:
        remove_schedule(mapping.pk)
        return
    name = schedule_name(mapping)
    found = list(mapping_schedules(mapping.pk).order_by("pk"))
    existing = next((s for s in found if s.name == name), found[0] if found else None)
    extra = [s for s in found if s is not existing]
    if extra:  # entries of one mapping made before they were keyed: they would collide
        Schedule.objects.filter(pk__in=[s.pk for s in extra]).delete()
        JobQueueHold.objects.filter(schedule_name__in=[s.name for s in extra]) \
            .exclude(schedule_name=getattr(existing, "name", None)).delete()
    if existing is not None and existing.name != name:  # renamed: the hold goes along
        JobQueueHold.objects.filter(schedule_name=name).delete()
        JobQueueHold.objects.filter(schedule_name=existing.name).update(schedule_name=name)
    hold = JobQueueHold.objects.filter(schedule_name=name).first()
    minutes = max(1, mapping.schedule_minutes or 1)
    wanted = {"name": name, "func": SCHEDULE_FUNC, "args": schedule_key(mapping.pk),
              "schedule_type": Schedule.MINUTES, "minutes": minutes,
              "repeats": 0 if hold and hold.reason == JobQueueHold.MANUAL else -1,
              "hook": SCHEDULE_HOOK}
    if existing is None:
        Schedule.objects.create(**wanted)
        return
    if existing.minutes != minutes and hold is None and existing.next_run:
        # A shorter interval takes effect now, not after the run the longer one planned.
        wanted["next_run"] = min(existing.next_run, timezone.now() + timedelta(minutes=minutes))
    if any(getattr(existing, k) != v for k, v in wanted.items()):
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
    return Schedule.objects.filter(func=SCHEDULE_FUNC).count() + 1


def bring_forward(mapping) -> bool:
    """A coupled table changed: run its mapping in ~30 s, but not more than once a minute."""
    if mapping.disable_event_rescheduling or not mapping.is_enabled:
        return False
    now = timezone.now()
    # Conditional UPDATE: only a next run more than a minute away moves (to ~30 s from now), so
    # a burst of changes brings it forward once, and it runs at most about once a minute.
    moved = mapping_schedules(mapping.pk).filter(next_run__gt=now + EVENT_MIN_GAP) \
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
