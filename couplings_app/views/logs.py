"""The job log (Integration Synchronization Jobs: list with its chart, a job's card, its live
status, Cancel, Delete Entries) and the error log (Integration Synchronization Errors: Synchronize,
Retry All, Delete Coupling, Delete Entries)."""

from django.contrib import messages
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from couplings_app import page_tasks, services
from couplings_app.choices import JobStatus
from couplings_app.filtersets import SyncErrorFilterSet, SyncJobFilterSet
from couplings_app.forms import selected_ids
from couplings_app.models import SyncError, SyncJob
from couplings_app.sync.coupling import uncouple
from couplings_app.tables import SyncErrorTable, SyncJobTable
from couplings_app.views.base import COUPLE, SYNC, ListPage, records
from syncadmin.toolkit import back, permission


class SyncJobList(ListPage):
    permission_required = "couplings_app.view_syncjob"
    title = "Integration Synchronization Jobs"
    table_class = SyncJobTable
    filterset_class = SyncJobFilterSet
    template_name = "couplings_app/syncjob_list.html"

    def get_queryset(self):
        return SyncJob.objects.all()

    def show_checkboxes(self):
        return False

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["chart"] = job_chart()
        return context


def job_chart(days=14):
    """Synchronized and failed records per day over the last `days` days: one query."""
    since = (timezone.now() - timezone.timedelta(days=days - 1)).replace(
        hour=0, minute=0, second=0, microsecond=0)
    rows = {r["day"]: r for r in SyncJob.objects.filter(created_at__gte=since)
            .annotate(day=TruncDate("created_at")).values("day")
            .annotate(inserted=Sum("inserted"), modified=Sum("modified"), deleted=Sum("deleted"),
                      coupled=Sum("coupled"), failed=Sum("failed"), jobs=Count("pk"))}
    bars = []
    for n in range(days):
        day = (since + timezone.timedelta(days=n)).date()
        row = rows.get(day) or {}
        synced = sum(row.get(k) or 0 for k in ("inserted", "modified", "deleted"))
        bars.append({"day": day, "synced": synced, "failed": row.get("failed") or 0,
                     "jobs": row.get("jobs") or 0})
    top = max([b["synced"] + b["failed"] for b in bars] + [1])
    width, height = 28, 120
    for i, bar in enumerate(bars):
        bar["x"] = i * (width + 6) + 4
        bar["h_synced"] = round(bar["synced"] / top * height, 1)
        bar["h_failed"] = round(bar["failed"] / top * height, 1)
        bar["y_synced"] = height + 10 - bar["h_synced"]
        bar["y_failed"] = bar["y_synced"] - bar["h_failed"]
    return {"bars": bars, "top": top, "width": width, "height": height,
            "svg_width": days * (width + 6) + 8,
            "total_synced": sum(b["synced"] for b in bars),
            "total_failed": sum(b["failed"] for b in bars)}


@require_GET
@permission("couplings_app.view_syncjob")
def syncjob_detail(request, pk):
    job = get_object_or_404(SyncJob.objects.select_related("mapping", "triggered_by"), pk=pk)
    errors = job.errors.all()[:50]
    return render(request, "couplings_app/syncjob_detail.html", {
        "job": job, "errors": errors, "error_count": job.errors.count(),
        "can_cancel": request.user.has_perm(SYNC),
    })


@require_GET
@permission("couplings_app.view_syncjob")
def syncjob_progress(request, pk):
    """The live status of a running job (htmx polls it; answers 286 when the job is done, which
    stops the polling)."""
    job = get_object_or_404(SyncJob, pk=pk)
    response = render(request, "couplings_app/_job_status.html", {"record": job, "live": True})
    if job.status in JobStatus.finished():
        response.status_code = 286
    return response


@require_POST
@permission(SYNC)
def syncjob_cancel(request, pk):
    job = get_object_or_404(SyncJob, pk=pk)
    if not job.cancel():
        messages.warning(request, f"Job #{pk} is not running.")
    elif job.status == JobStatus.CANCELLED:
        messages.success(request, f"Cancelled job #{pk}.")
    else:
        messages.success(request, f"Asked job #{pk} to stop after its current page.")
    return back(request, reverse("couplings:syncjob_detail", kwargs={"pk": pk}))


def _delete_log(request, model, days, what):
    count = services.delete_log(model, days)
    scope = f"older than {days} days" if days else "all"
    messages.success(request, f"Deleted {count} {what} ({scope}).")
    return back(request)


@require_POST
@permission("couplings_app.delete_syncjob")
def syncjob_delete_old(request):
    return _delete_log(request, SyncJob, services.LOG_KEEP_DAYS, "job log entries")


@require_POST
@permission("couplings_app.delete_syncjob")
def syncjob_delete_all(request):
    return _delete_log(request, SyncJob, None, "job log entries")


class SyncErrorList(ListPage):
    permission_required = "couplings_app.view_syncerror"
    title = "Integration Synchronization Errors"
    table_class = SyncErrorTable
    filterset_class = SyncErrorFilterSet
    template_name = "couplings_app/syncerror_list.html"

    def get_queryset(self):
        return SyncError.objects.select_related("mapping")

    def show_checkboxes(self):
        user = self.request.user
        return user.has_perm(SYNC) or user.has_perm(COUPLE)


def _selected_errors(request):
    errors = list(SyncError.objects.filter(pk__in=selected_ids(request)).select_related("mapping"))
    if not errors:
        messages.warning(request, "Select one or more errors first.")
    return errors


@require_POST
@permission(SYNC)
def syncerror_retry(request):
    """Synchronize: the records of the selected errors again; those that succeed leave the log."""
    errors = _selected_errors(request)
    if errors:
        page_tasks.enqueue("retry_errors", [e.pk for e in errors], user=request.user,
                           name="Retry synchronization errors")
        names = sorted({e.mapping.name for e in errors if e.mapping})
        messages.success(request, f"Queued synchronization of the records of {len(errors)} "
                                  f"error{'s' if len(errors) != 1 else ''} ({', '.join(names)}).")
    return back(request, "couplings:syncerror_list")


@require_POST
@permission(SYNC)
def syncerror_retry_all(request):
    """Retry All: the records of every error the list shows (its filters travel in the address)
    are synchronized again, each in the direction it failed; those that succeed leave the log."""
    listed = SyncErrorFilterSet(request.GET, queryset=SyncError.objects.all()).qs
    ids, found, names = services.retriable_errors(listed)
    left = listed.count() - len(ids)
    if ids:
        page_tasks.enqueue("retry_errors", ids, user=request.user,
                           name="Retry All synchronization errors")
        text = (f"Retry All: queued synchronization of {records(found)} "
                f"({len(ids)} error{'s' if len(ids) != 1 else ''}; {', '.join(names)}). Those "
                "that succeed leave the error log; those that fail again are listed anew.")
    else:
        text = "Retry All: no error listed names a record to synchronize again."
    if left:
        text += (f" {left} error{'s' if left != 1 else ''} name{'s' if left == 1 else ''} no "
                 "record or table mapping (deleted since) and cannot be retried: delete "
                 f"{'them' if left != 1 else 'it'} when read.")
    (messages.success if ids else messages.info)(request, text)
    return back(request, "couplings:syncerror_list")


@require_POST
@permission(COUPLE)
def syncerror_uncouple(request):
    errors = _selected_errors(request)
    by_mapping = {}
    for error in errors:
        if error.mapping and error.local_id is not None:
            by_mapping.setdefault(error.mapping, set()).add(error.local_id)
    for mapping, ids in by_mapping.items():
        job = uncouple(mapping, ids, user=request.user)
        messages.success(request, f"{mapping.name}: {job.message} (job #{job.pk})")
    return back(request, "couplings:syncerror_list")


@require_POST
@permission("couplings_app.delete_syncerror")
def syncerror_delete_old(request):
    return _delete_log(request, SyncError, services.LOG_KEEP_DAYS, "errors")


@require_POST
@permission("couplings_app.delete_syncerror")
def syncerror_delete_all(request):
    return _delete_log(request, SyncError, None, "errors")
