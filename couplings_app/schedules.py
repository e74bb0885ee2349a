"""The job queue entries' schedules: every write to a django-q2 Schedule row, in one module.

A mapping's entry follows it by key — the mapping's pk, the one argument the schedule runs
scheduled_sync with — never by name: a renamed mapping keeps its entry (and its hold), and two
entries never run one mapping. Every change of a mapping (save, QuerySet.update of its schedule
fields, delete) reaches ensure_schedule / remove_schedule through couplings_app.signals; a record
change reaches bring_forward; a person's Set On Hold / Set Status to Ready reach hold / release.

The task and hook paths below are stored in Schedule rows (and in migration 0006): they name
functions that must stay where they are.
"""

import ast
from datetime import timedelta

from django.utils import timezone
from django_q.models import Schedule

from couplings_app.choices import JobTrigger
from couplings_app.models import JobQueueHold
from mappings_app.models import TableMapping

SCHEDULE_PREFIX = "sync:"  # a mapping's entry is named "sync:<mapping name>": a label only
SCHEDULE_FUNC = "couplings_app.tasks.scheduled_sync"
SCHEDULE_HOOK = "couplings_app.jobqueue.after_scheduled_run"
STATISTICS_FUNC = "couplings_app.tasks.statistics_task"
STATISTICS_SCHEDULE = "Customer Statistics"
EVENT_DELAY = timedelta(seconds=30)
EVENT_MIN_GAP = timedelta(minutes=1)
FAR_AHEAD = timedelta(days=3650)


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
    held = JobQueueHold.objects.filter(schedule_name=name).first()
    minutes = max(1, mapping.schedule_minutes or 1)
    wanted = {"name": name, "func": SCHEDULE_FUNC, "args": schedule_key(mapping.pk),
              "schedule_type": Schedule.MINUTES, "minutes": minutes,
              "repeats": 0 if held and held.reason == JobQueueHold.MANUAL else -1,
              "hook": SCHEDULE_HOOK}
    if existing is None:
        Schedule.objects.create(**wanted)
        return
    if existing.minutes != minutes and held is None and existing.next_run:
        # A shorter interval takes effect now, not after the run the longer one planned.
        wanted["next_run"] = min(existing.next_run, timezone.now() + timedelta(minutes=minutes))
    if any(getattr(existing, k) != v for k, v in wanted.items()):
        Schedule.objects.filter(pk=existing.pk).update(**wanted)


def ensure_statistics_schedule() -> None:
    """The Customer Statistics job queue entry (every 30 minutes)."""
    Schedule.objects.get_or_create(name=STATISTICS_SCHEDULE, defaults={
        "func": STATISTICS_FUNC, "schedule_type": Schedule.MINUTES, "minutes": 30,
        "repeats": -1})


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


def back_to_schedule(mapping) -> None:
    """A run brought forward by a record change has said so: the entry's later runs are plain
    scheduled ones again."""
    mapping_schedules(mapping.pk).update(kwargs="")


def hold(schedule: Schedule, *, user=None, reason=JobQueueHold.MANUAL) -> None:
    """Set On Hold (by a person), or On Hold with Inactivity Timeout (see JobQueueHold)."""
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


def set_statistics_minutes(schedule: Schedule, minutes: int) -> None:
    """No. of Minutes between Runs of the Customer Statistics entry (it has no mapping)."""
    Schedule.objects.filter(pk=schedule.pk).update(minutes=minutes)
