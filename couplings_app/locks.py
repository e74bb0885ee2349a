"""Claiming a mapping for one run (see MappingLock), and ending the jobs of runs whose worker died.

One rule frees a claim, whatever state its job was left in (queued, running, cancel asked):
its holder showed no sign of life for STALE_AFTER (MappingLock.is_held). A worker killed
between the claim and the job's start, right after handing the claim to the run's second
direction, or in the middle of a page leaves a claim the next run takes over; that takeover
ends every job the dead run had taken up, so none stays "Queued" or "In Process".
"""

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from couplings_app.choices import JobStatus, JobType
from couplings_app.models import MappingLock, SyncJob

STALE_AFTER = SyncJob.STALE_AFTER
UNFINISHED = [JobStatus.QUEUED, JobStatus.RUNNING]


def claim(mapping, job, *others) -> bool:
    """True for exactly one caller until release(); `others` are the run's later jobs (its
    second direction). Takes over a claim whose holder went silent, and ends that run's jobs."""
    MappingLock.objects.get_or_create(mapping=mapping)
    lock = MappingLock.objects.select_related("job").get(mapping=mapping)
    now = timezone.now()
    if lock.is_held(now):
        return False
    with transaction.atomic():
        # Compare-and-swap: only the caller that still sees the same claim gets the row.
        claimed = MappingLock.objects.filter(
            mapping=mapping, job_id=lock.job_id, claimed_at=lock.claimed_at,
        ).update(job=job, claimed_at=now)
        if claimed:
            ours = [job, *others]
            SyncJob.take_up(ours, now)
            # The run that held the mapping before is over: a job it took up and did not end
            # (and the holder itself, however it was left) never will.
            SyncJob.fail_dead(_synchronizations(mapping)
                              .filter(Q(heartbeat_at__isnull=False) | Q(pk=lock.job_id))
                              .exclude(pk__in=[j.pk for j in ours]))
    return bool(claimed)


def hand_over(mapping, job, to) -> bool:
    """The claim passes from `job` to `to` (the next direction of the same run), with a fresh
    sign of life; False if another run took it meanwhile."""
    now = timezone.now()
    with transaction.atomic():
        handed = MappingLock.objects.filter(mapping=mapping, job=job).update(
            job=to, claimed_at=now)
        if handed:
            to.wait(now)
    return bool(handed)


def release(mapping, *jobs) -> None:
    """Frees the claim if one of `jobs` (the run's) still holds it."""
    MappingLock.objects.filter(mapping=mapping, job__in=jobs).update(job=None, claimed_at=None)


def fail_dead_jobs(mapping=None, except_job=None) -> int:
    """Ends the jobs left "Queued" or "In Process" by a dead worker, also of a mapping that
    never runs again (on hold, disabled): a job taken up by a run, silent for STALE_AFTER, whose
    mapping no live run holds (a live run's second direction waits, silent, for its first)."""
    now = timezone.now()
    locks = MappingLock.objects.select_related("job").filter(job__status__in=UNFINISHED)
    if mapping is not None:
        locks = locks.filter(mapping=mapping)
    held, stale_holders = [], []
    for lock in locks:
        (held if lock.is_held(now) else stale_holders).append(lock)
    dead = SyncJob.objects.filter(
        Q(heartbeat_at__lt=now - STALE_AFTER) | Q(pk__in=[lock.job_id for lock in stale_holders]))
    dead = dead.exclude(type=JobType.SYNCHRONIZATION,
                        mapping_id__in=[lock.mapping_id for lock in held])
    if mapping is not None:
        dead = dead.filter(mapping=mapping)
    if except_job is not None:
        dead = dead.exclude(pk=except_job.pk)
    return SyncJob.fail_dead(dead)


def _synchronizations(mapping):
    return SyncJob.objects.filter(mapping=mapping, type=JobType.SYNCHRONIZATION,
                                  status__in=UNFINISHED)
