"""The error log and the job log: retry the records of errors, delete old entries, and tell a
CRM's failure from a bug."""

from collections import defaultdict
from datetime import timedelta

from django.utils import timezone

from couplings_app.choices import JobStatus
from couplings_app.models import Coupling, SyncError, SyncJob
from couplings_app.sync.runner import synchronize_records
from mappings_app.choices import Direction
from mappings_app.models import TableMapping

LOG_KEEP_DAYS = 7


def retry_errors(errors, *, client, user=None) -> list[SyncJob]:
    """Synchronizes the records of these errors again, each in the direction it failed. The
    retried errors leave the log (the new job logs those that fail again), and so do the older
    errors of the records that now succeed."""
    groups = defaultdict(list)
    for error in errors:
        if error.mapping_id:
            groups[(error.mapping_id, error.direction)].append(error)
    mappings = TableMapping.objects.in_bulk([m for m, _ in groups])
    jobs = []
    for (mapping_id, direction), group in groups.items():
        mapping = mappings[mapping_id]
        older = SyncError.objects.filter(mapping=mapping, direction=direction)
        if direction == Direction.FROM_CRM:
            ids = sorted({str(e.remote_id) for e in group if e.remote_id})
            job = synchronize_records(mapping, direction, client=client, remote_ids=ids,
                                      only_coupled=False, user=user)
            again = {str(i) for i in job.errors.values_list("remote_id", flat=True)}
            older = older.filter(remote_id__in=[i for i in ids if i not in again])
        else:
            ids = sorted({e.local_id for e in group if e.local_id is not None})
            job = synchronize_records(mapping, Direction.TO_CRM, client=client, local_ids=ids,
                                      only_coupled=False, user=user)
            again = set(job.errors.values_list("local_id", flat=True))
            older = older.filter(local_id__in=[i for i in ids if i not in again])
        if job.status == JobStatus.SUCCEEDED:
            SyncError.objects.filter(pk__in=[e.pk for e in group]).delete()
            older.exclude(job=job).delete()
        jobs.append(job)
    return jobs


def delete_log(model, older_than_days: int | None = None) -> int:
    """Deletes job log or error log entries (all, or those older than N days). Running and queued
    jobs stay: their pages still show what they do."""
    query = model.objects.all()
    if older_than_days is not None:
        query = query.filter(created_at__lt=timezone.now() - timedelta(days=older_than_days))
    if model is SyncJob:
        query = query.filter(status__in=JobStatus.finished())
        # The couplings' "last job" links are cleared in one UPDATE each, not per row.
        ids = query.values("pk")
        Coupling.objects.filter(last_job_to_crm__in=ids).update(last_job_to_crm=None)
        Coupling.objects.filter(last_job_from_crm__in=ids).update(last_job_from_crm=None)
        SyncError.objects.filter(job__in=ids).delete()
    count = query.count()
    query.delete()
    return count


def retriable_errors(errors) -> tuple[list[int], int, list[str]]:
    """Of these errors (a queryset), the ones whose record can be synchronized again (a mapping
    and the record's id on the side it failed from): their ids, how many distinct records they
    name, and the mappings' names."""
    rows = errors.filter(mapping__isnull=False).values_list(
        "pk", "mapping__name", "direction", "local_id", "remote_id")
    ids, records, names = [], set(), set()
    for pk, name, direction, local_id, remote_id in rows:
        record = remote_id if direction == Direction.FROM_CRM else local_id
        if record is None:
            continue
        ids.append(pk)
        records.add((name, direction, str(record)))
        names.add(name)
    return ids, len(records), sorted(names)

