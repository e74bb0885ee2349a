"""BC's Job Queue Entries: the django-q2 schedules of the mappings (and Customer Statistics),
with a status, the last and next run, and Set On Hold / Set Status to Ready / Run Now.

Status, as BC shows it:
- On Hold: put on hold by a person (JobQueueHold "manual"; the schedule's `repeats` is 0, so
  django-q2's scheduler skips it);
- On Hold with Inactivity Timeout: its runs found nothing for the mapping's Inactivity Timeout
  Period (JobQueueHold "inactivity"; the next run is pushed far ahead, and the first change of a
  record brings it forward again — see tasks.bring_forward);
- In Process: a job of its mapping is running; Error: the last job failed; else Ready.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Max
from django.utils import timezone
from django_q.models import Schedule

from couplings_app.choices import JobStatus, JobTrigger, JobType
from couplings_app.models import JobQueueHold, MappingLock, SyncJob
from couplings_app.tasks import SCHEDULE_PREFIX, STATISTICS_SCHEDULE
from mappings_app.models import TableMapping

HOOK = "couplings_app.jobqueue.after_scheduled_run"
FAR_AHEAD = timedelta(days=3650)
STATISTICS_NAME = "CUSTOMER STATISTICS"  # the mapping_name of statistics jobs


class Status:
    READY = "Ready"
    ON_HOLD = "On Hold"
    INACTIVE = "On Hold with Inactivity Timeout"
    IN_PROCESS = "In Process"
    ERROR = "Error"
    COLORS = {READY: "success", ON_HOLD: "secondary", INACTIVE: "info", IN_PROCESS: "primary",
              ERROR: "danger"}


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
        what = self.mapping.name if self.mapping else self.schedule.name
        return f"{what} - Dynamics 365 Sales synchronization job"

    @property
    def status_color(self) -> str:
        return Status.COLORS.get(self.status, "secondary")

    @property
    def next_run(self) -> datetime | None:
        if self.status in (Status.ON_HOLD, Status.INACTIVE):
            return None
        return self.schedule.next_run

    @property
    def held(self) -> bool:
        return self.hold is not None


def _mapping_name(schedule_name: str) -> str | None:
    if schedule_name.startswith(SCHEDULE_PREFIX):
        return schedule_name[len(SCHEDULE_PREFIX):]
    return None


def entries() -> list[Entry]:
    """Every job queue entry, in a constant number of queries (however long the job log)."""
    schedules = list(Schedule.objects.filter(name__startswith=SCHEDULE_PREFIX)
                     | Schedule.objects.filter(name=STATISTICS_SCHEDULE))
    mappings = {m.name: m for m in TableMapping.objects.all()}
    holds = {h.schedule_name: h for h in JobQueueHold.objects.all()}
    running = set(MappingLock.objects.filter(job__status=JobStatus.RUNNING)
                  .values_list("mapping_id", flat=True))
    # The newest job of each mapping (and of statistics): one grouped query, one fetch.
    last_ids = SyncJob.objects.values("mapping_name").annotate(last=Max("pk")) \
        .filter(mapping_name__in=[*mappings, STATISTICS_NAME]).values_list("last", flat=True)
    last = {j.mapping_name: j for j in SyncJob.objects.filter(pk__in=list(last_ids))}
    result = []
    for schedule in schedules:
        name = _mapping_name(schedule.name)
        mapping = mappings.get(name) if name else None
        job = last.get(name if name else STATISTICS_NAME)
        hold = holds.get(schedule.name)
        if hold and hold.reason == JobQueueHold.MANUAL:
            status = Status.ON_HOLD
        elif hold and schedule.next_run and schedule.next_run > timezone.now() + timedelta(days=1):
            status = Status.INACTIVE
        elif (mapping and mapping.pk in running) or (job and job.status == JobStatus.RUNNING):
            status = Status.IN_PROCESS
        elif job and job.status == JobStatus.FAILED:
            status = Status.ERROR
        else:
            status = Status.READY
        result.append(Entry(schedule, mapping, status, job, hold))
    result.sort(key=lambda e: (e.mapping is None, e.mapping.priority if e.mapping else 0, e.name))
    return result


def hold(schedule: Schedule, *, user=None, reason=JobQueueHold.MANUAL) -> None:
    """Set On Hold."""
    JobQueueHold.objects.update_or_create(schedule_name=schedule.name,
                                          defaults={"reason": reason, "held_by": user,
                                                    "held_at": timezone.now()})
    if reason == JobQueueHold.MANUAL:
        Schedule.objects.filter(pk=schedule.pk).update(repeats=0)
    else:
        Schedule.objects.filter(pk=schedule.pk).update(next_run=timezone.now() + FAR_AHEAD)


def release(schedule: Schedule) -> None:
    """Set Status to Ready: runs again from now on, the next run within a minute."""
    JobQueueHold.objects.filter(schedule_name=schedule.name).delete()
    Schedule.objects.filter(pk=schedule.pk).update(
        repeats=-1, next_run=timezone.now() + timedelta(seconds=30))


def run_now(schedule: Schedule, *, user=None) -> list[SyncJob]:
    """Run Now: the entry's job, queued at once (its schedule stays as it is)."""
    from couplings_app import tasks

    name = _mapping_name(schedule.name)
    if name is None:
        return [tasks.enqueue_statistics(trigger=JobTrigger.USER, user=user)]
    mapping = TableMapping.objects.get(name=name)
    return tasks.enqueue_mapping(mapping, trigger=JobTrigger.USER, user=user)


def follow_mapping(mapping) -> None:
    """After tasks.ensure_schedule: the hook that notices inactivity, and a manual hold kept
    (ensure_schedule resets `repeats` when the mapping is saved)."""
    name = f"{SCHEDULE_PREFIX}{mapping.name}"
    Schedule.objects.filter(name=name).exclude(hook=HOOK).update(hook=HOOK)
    if JobQueueHold.objects.filter(schedule_name=name, reason=JobQueueHold.MANUAL).exists():
        Schedule.objects.filter(name=name).update(repeats=0)


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
    name = f"{SCHEDULE_PREFIX}{mapping.name}"
    schedule = Schedule.objects.filter(name=name).first()
    if schedule is None:
        return
    if any(_did_something(j) for j in jobs):
        JobQueueHold.objects.filter(schedule_name=name, reason=JobQueueHold.INACTIVITY).delete()
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
