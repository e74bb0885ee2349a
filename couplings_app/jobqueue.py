"""BC's Job Queue Entries: the django-q2 schedules of the mappings (and Customer Statistics),
with a status, the last and next run, and Set On Hold / Set Status to Ready / Run Now.

Status, as BC shows it:
- On Hold: put on hold by a person (JobQueueHold "manual"; the schedule's `repeats` is 0, so
  django-q2's scheduler skips it);
- On Hold with Inactivity Timeout: its runs found nothing for the mapping's Inactivity Timeout
  Period (JobQueueHold "inactivity"; the next run is pushed far ahead, and the first change of a
  record brings it forward again — see schedules.bring_forward);
- In Process: a job of its mapping is running; Error: the last job failed, or the entry's table
  mapping no longer exists; else Ready.

An entry follows its mapping by the mapping's pk (couplings_app.schedules.mapping_schedules), never
by name; every write to a schedule is in couplings_app.schedules. What a person reads is BC's
caption ("CUSTOMER - Dynamics 365 Sales synchronization job"), never the schedule's internal name.
The page's views are in couplings_app.views.jobqueue.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Max, Q
from django.utils import timezone
from django_q.models import Schedule

from couplings_app.choices import JobStatus, JobTrigger, JobType
from couplings_app.models import JobQueueHold, MappingLock, SyncJob
from couplings_app.schedules import (
    SCHEDULE_FUNC,
    SCHEDULE_HOOK,
    SCHEDULE_PREFIX,
    STATISTICS_SCHEDULE,
    hold,
    mapping_pk_of,
    mapping_schedules,
    set_statistics_minutes,
)
from couplings_app.sync.statistics import STATISTICS_NAME
from mappings_app.models import TableMapping

HOOK = SCHEDULE_HOOK
PRODUCT = "Dynamics 365 Sales"


class Status:
    READY = "Ready"
    ON_HOLD = "On Hold"
    INACTIVE = "On Hold with Inactivity Timeout"
    IN_PROCESS = "In Process"
    ERROR = "Error"
    COLORS = {READY: "success", ON_HOLD: "secondary", INACTIVE: "info", IN_PROCESS: "primary",
              ERROR: "danger"}


class MappingGone(Exception):
    """The entry's table mapping no longer exists: there is nothing to run."""


def is_statistics(schedule) -> bool:
    return schedule.name == STATISTICS_SCHEDULE


def caption(schedule, mapping=None) -> str:
    """BC's Description of a job queue entry, e.g. "CUSTOMER - Dynamics 365 Sales
    synchronization job"; the internal name ("sync:CUSTOMER") is never shown."""
    if is_statistics(schedule):
        return f"Customer Statistics - {PRODUCT} synchronization"
    if mapping is None:
        pk = mapping_pk_of(schedule)
        mapping = TableMapping.objects.filter(pk=pk).first() if pk else None
    name = mapping.name if mapping else (schedule.name or "").removeprefix(SCHEDULE_PREFIX)
    return f"{name or f'Entry {schedule.pk}'} - {PRODUCT} synchronization job"


@dataclass
class Entry:
    schedule: Schedule
    mapping: TableMapping | None
    status: str
    last_job: SyncJob | None
    hold: JobQueueHold | None

    @property
    def name(self) -> str:
        return self.schedule.name

    @property
    def caption(self) -> str:
        return caption(self.schedule, self.mapping)

    @property
    def orphaned(self) -> bool:
        """A mapping's entry whose mapping no longer exists (never run)."""
        return self.mapping is None and not is_statistics(self.schedule)

    @property
    def status_color(self) -> str:
        return Status.COLORS.get(self.status, "secondary")

    @property
    def next_run(self) -> datetime | None:
        if self.status in (Status.ON_HOLD, Status.INACTIVE) or self.orphaned:
            return None
        return self.schedule.next_run

    @property
    def held(self) -> bool:
        return self.hold is not None


def _schedules():
    return (Schedule.objects.filter(func=SCHEDULE_FUNC)
            | Schedule.objects.filter(name__startswith=SCHEDULE_PREFIX)
            | Schedule.objects.filter(name=STATISTICS_SCHEDULE))


def entries() -> list[Entry]:
    """Every job queue entry, in a constant number of queries (however long the job log)."""
    schedules = list(_schedules())
    mappings = {m.pk: m for m in TableMapping.objects.all()}
    holds = {h.schedule_name: h for h in JobQueueHold.objects.all()}
    # In Process: a claim held by a run that shows signs of life (the same rule that frees it).
    running = {lock.mapping_id for lock in MappingLock.objects.filter(job__isnull=False)
               .select_related("job") if lock.is_held()}
    # The newest job of each mapping (by its pk: a renamed mapping keeps its history) and of
    # statistics: grouped subqueries, one fetch.
    per_mapping = SyncJob.objects.exclude(type=JobType.STATISTICS).filter(mapping__isnull=False) \
        .values("mapping").annotate(last=Max("pk")).values("last")
    statistics = SyncJob.objects.filter(type=JobType.STATISTICS).order_by("-pk").values("pk")[:1]
    last = {}
    for job in SyncJob.objects.filter(Q(pk__in=per_mapping) | Q(pk__in=statistics)):
        last[STATISTICS_NAME if job.type == JobType.STATISTICS else job.mapping_id] = job
    result = []
    for schedule in schedules:
        pk = mapping_pk_of(schedule)
        mapping = mappings.get(pk) if pk else None
        job = last.get(STATISTICS_NAME) if is_statistics(schedule) else last.get(pk)
        hold = holds.get(schedule.name)
        if hold and hold.reason == JobQueueHold.MANUAL:
            status = Status.ON_HOLD
        elif hold and schedule.next_run and schedule.next_run > timezone.now() + timedelta(days=1):
            status = Status.INACTIVE
        elif mapping is None and not is_statistics(schedule):
            status = Status.ERROR
        elif (mapping and mapping.pk in running) or (job and job.status == JobStatus.RUNNING):
            status = Status.IN_PROCESS
        elif job and job.status == JobStatus.FAILED:
            status = Status.ERROR
        else:
            status = Status.READY
        result.append(Entry(schedule, mapping, status, job, hold))
    result.sort(key=lambda e: (e.mapping is None, e.mapping.priority if e.mapping else 0,
                               e.caption))
    return result


def mapping_of(schedule: Schedule) -> TableMapping | None:
    pk = mapping_pk_of(schedule)
    return TableMapping.objects.filter(pk=pk).first() if pk else None


def run_now(schedule: Schedule, *, user=None) -> list[SyncJob]:
    """Run Now: the entry's job, queued at once (its schedule stays as it is). Raises
    MappingGone for an entry whose table mapping no longer exists."""
    from couplings_app import tasks

    if is_statistics(schedule):
        return [tasks.enqueue_statistics(trigger=JobTrigger.USER, user=user)]
    mapping = mapping_of(schedule)
    if mapping is None:
        raise MappingGone(caption(schedule))
    return tasks.enqueue_mapping(mapping, trigger=JobTrigger.USER, user=user)


def set_minutes(schedule: Schedule, minutes: int) -> None:
    """No. of Minutes between Runs. A mapping's entry takes it from its mapping, so the mapping
    changes (and its entry follows); the Customer Statistics entry has no mapping."""
    if is_statistics(schedule):
        set_statistics_minutes(schedule, minutes)
        return
    mapping = mapping_of(schedule)
    if mapping is None:
        raise MappingGone(caption(schedule))
    mapping.set_schedule_minutes(minutes)


def _did_something(job) -> bool:
    return any(getattr(job, n) for n in ("inserted", "modified", "deleted", "failed", "skipped",
                                         "coupled", "uncoupled"))


def after_scheduled_run(task) -> None:
    """django-q2 hook of a mapping's schedule: a run that found something ends an inactivity
    hold; runs that found nothing for the Inactivity Timeout Period start one."""
    if not task.success or not task.result or not isinstance(task.result, list):
        return
    jobs = list(SyncJob.objects.filter(pk__in=task.result).select_related("mapping"))
    mapping = next((j.mapping for j in jobs if j.mapping), None)
    if mapping is None:
        return
    schedule = mapping_schedules(mapping.pk).first()
    if schedule is None:
        return
    if any(_did_something(j) for j in jobs):
        JobQueueHold.objects.filter(schedule_name=schedule.name,
                                    reason=JobQueueHold.INACTIVITY).delete()
        return
    if not mapping.inactivity_timeout_minutes:
        return
    since = timezone.now() - timedelta(minutes=mapping.inactivity_timeout_minutes)
    recent = SyncJob.objects.filter(mapping=mapping, type=JobType.SYNCHRONIZATION,
                                    created_at__gte=since)
    busy = [j for j in recent.only(*SyncJob.COUNTERS) if _did_something(j)]
    older = SyncJob.objects.filter(mapping=mapping, created_at__lt=since).exists()
    if not busy and older:
        hold(schedule, reason=JobQueueHold.INACTIVITY)
