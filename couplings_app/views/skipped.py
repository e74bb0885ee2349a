"""Couplings and the Coupled Data Synchronization Errors: the records skipped or failed, a
skipped record's two versions side by side (take the ERP's, the CRM's, or per field), and Retry,
Retry All, Synchronize, Restore Records, Delete Records, Delete Couplings, Find for Deleted."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from couplings_app import conflicts, page_tasks, services
from couplings_app.filtersets import CouplingFilterSet, SkippedFilterSet
from couplings_app.forms import selected_ids
from couplings_app.models import Coupling
from couplings_app.tables import CouplingTable, SkippedTable
from couplings_app.views.base import RESOLVE, ListPage, queued, records
from mappings_app.models import EntityMetadata
from syncadmin.toolkit import back, crm_action, permission


class CouplingList(ListPage):
    permission_required = "couplings_app.view_coupling"
    title = "Couplings"
    table_class = CouplingTable
    filterset_class = CouplingFilterSet

    def get_queryset(self):
        return Coupling.objects.select_related("mapping").order_by("-pk")

    def show_checkboxes(self):
        return False


class SkippedList(ListPage):
    permission_required = "couplings_app.view_coupling"
    title = "Coupled Data Synchronization Errors"
    table_class = SkippedTable
    filterset_class = SkippedFilterSet
    template_name = "couplings_app/skipped_list.html"

    def get_queryset(self):
        return services.problem_couplings().select_related("mapping").order_by("-pk")

    def show_checkboxes(self):
        return self.request.user.has_perm(RESOLVE)


@require_GET
@permission("couplings_app.view_coupling")
def skipped_detail(request, pk):
    """A skipped coupling: both versions side by side, the differing fields marked, and buttons
    to take the ERP's or the CRM's value per field or for the whole record."""
    coupling = get_object_or_404(Coupling.objects.select_related("mapping"), pk=pk)
    if coupling.mapping is None:
        raise Http404("The coupling's mapping was deleted.")
    record, row, versions = None, None, []
    with crm_action(problem="The CRM's version could not be read") as crm:
        record, row, versions = conflicts.compare(coupling, client=crm.client)
    mapping = coupling.mapping
    primary = getattr(EntityMetadata.objects.filter(logical_name=mapping.remote_entity).first(),
                      "primary_name", "")
    remote_name = (row or {}).get(primary) or str(coupling.remote_id)[:8]
    return render(request, "couplings_app/skipped_detail.html", {
        "coupling": coupling, "mapping": mapping, "record": record, "row": row,
        "local_label": services.label(record) if record else f"Record {coupling.local_id}",
        "remote_label": f"{mapping.remote_entity} {remote_name}",
        "versions": versions, "problem": crm.problem,
        "differing": sum(v.differs for v in versions),
        "local_url": services.local_url(coupling.local_model, coupling.local_id),
        "crm_url": services.crm_url(coupling.mapping.remote_entity_set, coupling.remote_id),
        "can_resolve": request.user.has_perm(RESOLVE),
    })


@require_POST
@permission(RESOLVE)
def skipped_resolve(request, pk):
    coupling = get_object_or_404(Coupling.objects.select_related("mapping"), pk=pk)
    side = request.POST.get("side")
    if side == "fields":
        # Per field: the fields ticked "CRM" take the CRM's value, the others the ERP's.
        fields = {k[len("take_"):] for k, v in request.POST.items()
                  if k.startswith("take_") and v == "remote"}
        side_taken, chosen = "remote", fields
    elif side in ("local", "remote"):
        side_taken, chosen = side, None
    else:
        raise Http404
    with crm_action(request, "Resolving the conflict", refused=(ValueError,)) as crm:
        job = conflicts.resolve_conflict(coupling, side_taken, chosen, client=crm.client,
                                        user=request.user)
    if crm.failed:
        return redirect("couplings:skipped_detail", pk=pk)
    what = {"local": "the ERP's version", "remote": "the CRM's version"}.get(
        side, "the chosen values")
    if job is not None and job.failed:
        messages.warning(request, f"Took {what}, but the synchronization failed: {job.message} "
                                  f"(job #{job.pk}).")
        return redirect("couplings:skipped_detail", pk=pk)
    messages.success(request, f"Conflict resolved with {what}"
                              + (f" (job #{job.pk})." if job else "."))
    return redirect("couplings:skipped_list")


def _selected_couplings(request):
    couplings = list(Coupling.objects.filter(pk__in=selected_ids(request))
                     .select_related("mapping"))
    if not couplings:
        messages.warning(request, "Select one or more records first.")
    return couplings


SKIPPED_ACTIONS = {"retry", "retry_all", "sync", "restore", "delete_records", "uncouple",
                   "find_deleted"}



def _retry_all_skipped(request):
    """Retry All: every record the list shows (its filters travel in the address), skipped or
    failed; what was done, counted truthfully."""
    listed = SkippedFilterSet(request.GET, queryset=services.problem_couplings()).qs
    outcome = services.retry_all(listed)
    said = []
    if outcome.skipped:
        said.append(f"{records(outcome.skipped)} no longer skipped: the next run of their "
                    "mapping synchronizes them again")
    if outcome.failed:
        page_tasks.enqueue("synchronize_couplings", outcome.failed, user=request.user,
                           name="Retry All: synchronize failed records")
        said.append(f"queued synchronization of {records(len(outcome.failed))} that failed")
    if said:
        text = "Retry All: " + "; ".join(said) + "."
    else:
        text = "Retry All: no skipped or failed record to retry."
    if outcome.deleted:
        text += (f" {records(outcome.deleted)} whose coupled record was deleted "
                 f"{'are' if outcome.deleted != 1 else 'is'} left as "
                 f"{'they are' if outcome.deleted != 1 else 'it is'}: use Restore Records or "
                 "Delete Records.")
    (messages.success if outcome.retried else messages.info)(request, text)


@require_POST
@permission(RESOLVE)
def skipped_action(request, action):
    """Retry, Retry All, Synchronize, Restore Records, Delete Records, Delete Couplings, Find for
    Deleted on the Coupled Data Synchronization Errors page."""
    if action not in SKIPPED_ACTIONS:
        raise Http404
    if action == "retry_all":
        _retry_all_skipped(request)
        return back(request, "couplings:skipped_list")
    if action == "find_deleted":
        page_tasks.enqueue("find_deleted", user=request.user, name="Find for deleted")
        messages.success(request, "Queued Find for Deleted: couplings whose ERP or CRM record "
                                  "was deleted will show here.")
        return back(request, "couplings:skipped_list")
    couplings = _selected_couplings(request)
    if not couplings:
        return back(request, "couplings:skipped_list")
    n = records(len(couplings))
    if action == "retry":
        services.retry_couplings(couplings)
        messages.success(request, f"{n} will be synchronized again by the next run.")
    elif action == "sync":
        page_tasks.enqueue("synchronize_couplings", [c.pk for c in couplings],
                           user=request.user, name="Synchronize skipped records")
        messages.success(request, f"Queued synchronization of {n}.")
    elif action == "uncouple":
        jobs = services.delete_couplings(couplings, user=request.user)
        messages.success(request, f"Deleted the couplings of {n} ({queued(jobs)}).")
    else:
        with crm_action(request, "The action") as crm:
            if action == "restore":
                jobs = services.restore_records(couplings, client=crm.client, user=request.user)
                messages.success(request, f"Restored the deleted records of {n} "
                                          f"({queued(jobs) if jobs else 'nothing deleted'}).")
            else:
                count, kept = services.delete_records(couplings, client=crm.client,
                                                      user=request.user)
                messages.success(request, f"Deleted {count} record{'s' if count != 1 else ''}"
                                          " whose coupled record was deleted.")
                for problem in kept:
                    messages.error(request, problem)
    return back(request, "couplings:skipped_list")
