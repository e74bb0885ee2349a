"""Time passing for a run that died: its jobs' and its claim's timestamps moved back, as if the
next run came STALE_AFTER (and a minute) later. Only the clock moves; what the product does
with a silent claim or job is its own logic (couplings_app/locks.py)."""

from datetime import timedelta

from django.db.models import F

from couplings_app import locks
from couplings_app.models import MappingLock, SyncJob

LATER = locks.STALE_AFTER + timedelta(minutes=1)


def time_passes(mapping, by=LATER) -> None:
    """Everything the mapping's runs wrote so far is `by` older."""
    jobs = SyncJob.objects.filter(mapping=mapping)
    for name in ("created_at", "started_at", "heartbeat_at", "finished_at"):
        jobs.filter(**{f"{name}__isnull": False}).update(**{name: F(name) - by})
    MappingLock.objects.filter(mapping=mapping, claimed_at__isnull=False).update(
        claimed_at=F("claimed_at") - by)
