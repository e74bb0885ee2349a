"""What the rules' steps after a page share: which couplings a step is owed, running it so that a
record it fails for is retried, and reading the units of unit groups.

A step is idempotent: doing one again costs a request; skipping one loses it for good. So a
record a step failed for is marked failed (an unchanged record is not read again otherwise) and
its error logged, and the next run does the step for it again.
"""

from django.db.models import Q

from couplings_app.choices import SyncResult
from couplings_app.models import Coupling


def needing_rules(run, page) -> list[Coupling]:
    """The page's couplings made by this job, those made since the last run that finished (a
    fault may have stopped that run before this step, or its create was confirmed only now), and
    those retried because a step failed for them."""
    couplings = Coupling.objects.filter(
        local_model=run.mapping.local_model, remote_entity=run.entity,
        local_id__in=[r.pk for r in page], pending_create=False)
    since = run.mapping.local_synced_until
    if since is not None:
        couplings = couplings.filter(Q(last_job_to_crm=run.job, created_at__gte=run.job.started_at)
                                     | Q(created_at__gt=since)
                                     | Q(local_id__in=_retried_of(run, page)))
    return list(couplings)


def _retried_of(run, page) -> list[int]:
    """The page's records that are retried: never the list of every failed record of the table
    (it may hold more ids than a query takes parameters)."""
    retrying = getattr(run, "retrying", ())
    return [r.pk for r in page if r.pk in retrying]


def each_or_retried(run, page, step, what) -> None:
    """Runs a rule's step for the page's couplings that need it; a record it fails for is marked
    failed, so that the next run retries it. If the CRM stops answering, every record of the
    step is marked so before the job stops."""
    couplings = needing_rules(run, page)
    if not couplings:
        return
    try:
        failed = step(run, couplings)
    except Exception as exc:
        problem = f"{what} stopped, as the CRM did not answer: {exc}."
        _mark_failed(run, page, [(c, problem) for c in couplings])
        raise
    _mark_failed(run, page, failed)


def _mark_failed(run, page, failed) -> None:
    records = {r.pk: r for r in page}
    for coupling, problem in failed:
        record = records.get(coupling.local_id)
        label = run.local_label(record) if record is not None else str(coupling.local_id)
        message = f"{label}: {problem} It is retried with the next run."
        Coupling.objects.filter(pk=coupling.pk).update(
            last_result_to_crm=SyncResult.FAILURE, last_error=message[:2000])
        run.fail(message, local_id=coupling.local_id, local_label=label,
                 remote_id=str(coupling.remote_id))


def units_of(run, group_ids) -> dict[str, list[dict]]:
    """The CRM units of each unit group, by the group's id (lower case), in one request."""
    units = {str(g).lower(): [] for g in group_ids}
    if not group_ids:
        return units
    values = ",".join(f"'{g}'" for g in group_ids)
    query = (f"Microsoft.Dynamics.CRM.In(PropertyName='_uomscheduleid_value',"
             f"PropertyValues=[{values}])")
    for page in run.client.iter_pages("uoms", select=["uomid", "name", "_uomscheduleid_value"],
                                      filter=query):
        for row in page:
            units.setdefault(str(row["_uomscheduleid_value"]).lower(), []).append(row)
    return units
