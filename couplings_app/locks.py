"""Claiming a mapping for one run (see MappingLock), and noticing runs whose worker died."""

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from couplings_app.choices import JobStatus
from couplings_app.models import MappingLock, SyncJob

# A running job writes a heartbeat after every page; silence this long means its worker died.
STALE_AFTER = timedelta(minutes=10)


def claim(mapping, job) -> bool:
    """True for exactly one caller until release(); takes over a claim whose job went silent."""
    MappingLock.objects.get_or_create(mapping=mapping)
    now = timezone.now()
    free = (Q(job__isnull=True) | Q(job__status__in=JobStatus.finished())
            | Q(job__heartbeat_at__lt=now - STALE_AFTER))
    holders = list(MappingLock.objects.filter(mapping=mapping).filter(free)
                   .values_list("job_id", flat=True))
    if not holders:
        return False
    # Compare-and-swap: only the caller that still sees the same holder gets the row.
    claimed = MappingLock.objects.filter(mapping=mapping, job_id=holders[0]).update(
        job=job, claimed_at=now)
    if claimed:
        fail_dead_jobs(mapping, except_job=job)
    return bool(claimed)


def hand_over(mapping, job, to) -> bool:
    """The claim passes from `job` to `to` (the next direction of the same run); False if
    another run took it meanwhile."""
    return bool(MappingLock.objects.filter(mapping=mapping, job=job).update(job=to))


def release(mapping, *jobs) -> None:
    """Frees the claim if one of `jobs` (the run's) still holds it."""
    MappingLock.objects.filter(mapping=mapping, job__in=jobs).update(job=None, claimed_at=None)


def fail_dead_jobs(mapping=None, except_job=None) -> int:
    """Jobs left "In Process" by a dead worker are marked failed, not left running forever."""
    dead = SyncJob.objects.filter(status=JobStatus.RUNNING,
                                  heartbeat_at__lt=timezone.now() - STALE_AFTER)
    if mapping is not None:
        dead = dead.filter(mapping=mapping)
    if except_job is not None:
        dead = dead.exclude(pk=except_job.pk)
    return dead.update(status=JobStatus.FAILED, finished_at=timezone.now(),
                       message="The worker running this job stopped (no sign of life for "
                               f"{int(STALE_AFTER.total_seconds() // 60)} minutes). The work done "
                               "is kept; the next run goes on from there.")
