"""What the couplings pages share: the permissions their actions need, how a job's outcome is
said, the ERP record a page is about, and the list page every log is built on."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from couplings_app.choices import JobStatus
from mappings_app.models import Connection, TableMapping
from syncadmin.toolkit import PermissionRequired

SYNC = "mappings_app.sync_tablemapping"
COUPLE = "mappings_app.couple_tablemapping"
RESOLVE = "couplings_app.resolve_coupling"
JOBQUEUE = "couplings_app.manage_jobqueue"
# Who may change the Match Based Coupling Criteria (they are the field and table mappings').
CHANGE_CRITERIA = ("mappings_app.change_fieldmapping", "mappings_app.change_tablemapping")


def queued(jobs) -> str:
    """"job #12" / "jobs #12, #13"."""
    numbers = ", ".join(f"#{j.pk}" for j in jobs)
    return f"job{'s' if len(jobs) != 1 else ''} {numbers}"


def records(n: int) -> str:
    return f"{n} record{'s' if n != 1 else ''}"


def job_outcome(request, job, what):
    """What a job run in the request did: a success, else a warning pointing to its errors."""
    if job.status == JobStatus.SUCCEEDED and not job.failed and not job.skipped:
        messages.success(request, f"{what}: {job.message} (job #{job.pk})")
    else:
        messages.warning(request, f"{what}: {job.message} (job #{job.pk}). See its errors.")


def mapping_record(mapping_pk, pk):
    """The table mapping and the ERP record of a record's Dynamics 365 Sales menu (404 if gone)."""
    mapping = get_object_or_404(TableMapping, pk=mapping_pk)
    model = mapping.local_model_class
    if model is None:
        raise Http404("The mapping's table does not exist.")
    return mapping, get_object_or_404(model, pk=pk)


class ListPage(PermissionRequired, SingleTableMixin, FilterView):
    """A filtered, sorted, paged table under a view permission (`permission_required`)."""

    paginate_by = 50
    title = ""
    template_name = "couplings_app/list.html"

    def get_table(self, **kwargs):
        table = super().get_table(**kwargs)
        table.connection = Connection.get()
        table.user = self.request.user
        if not self.show_checkboxes():
            table.exclude = (*table.exclude, "pk")
        return table

    def show_checkboxes(self):
        return True

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["title"] = self.title
        context["filters_active"] = any(
            v for k, v in self.request.GET.items() if k not in {"page", "sort"})
        user = self.request.user
        context["can"] = {"sync": user.has_perm(SYNC), "couple": user.has_perm(COUPLE),
                          "resolve": user.has_perm(RESOLVE),
                          "delete_jobs": user.has_perm("couplings_app.delete_syncjob"),
                          "delete_errors": user.has_perm("couplings_app.delete_syncerror")}
        return context
