"""Filters (django-filter) of the job log, the error log, the couplings and the skipped records."""

import django_filters
from django.db.models import Q
from django.forms import HiddenInput

from couplings_app import services
from couplings_app.choices import JobStatus, JobTrigger, JobType, SyncResult
from couplings_app.models import Coupling, SyncError, SyncJob
from mappings_app.choices import Direction
from mappings_app.models import TableMapping
from syncadmin.filters import FilterForm

DIRECTIONS = [(Direction.TO_CRM, "To CRM"), (Direction.FROM_CRM, "From CRM")]


def _mappings(request=None):
    return TableMapping.objects.order_by("priority", "name")


class SyncJobFilterSet(django_filters.FilterSet):
    mapping = django_filters.ModelChoiceFilter(queryset=_mappings, label="Table Mapping")
    status = django_filters.ChoiceFilter(choices=JobStatus.choices)
    type = django_filters.ChoiceFilter(choices=JobType.choices)
    direction = django_filters.ChoiceFilter(choices=DIRECTIONS)
    trigger = django_filters.ChoiceFilter(choices=JobTrigger.choices)
    with_errors = django_filters.ChoiceFilter(label="Failed records", method="failures",
                                              choices=[("yes", "Some"), ("no", "None")])

    class Meta:
        model = SyncJob
        fields = ["mapping", "status", "type", "direction", "trigger"]
        form = FilterForm

    def failures(self, queryset, name, value):
        if value == "yes":
            return queryset.filter(failed__gt=0)
        return queryset.filter(failed=0) if value == "no" else queryset


class SyncErrorFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="message", lookup_expr="icontains", label="Search",
                                  max_length=200)
    mapping = django_filters.ModelChoiceFilter(queryset=_mappings, label="Table Mapping")
    direction = django_filters.ChoiceFilter(choices=DIRECTIONS)
    job = django_filters.NumberFilter(field_name="job_id", label="Job No.")
    since = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte",
                                      label="From date")
    # Set by links (a record's errors), not shown as inputs.
    local_model = django_filters.CharFilter(label="Table", widget=HiddenInput, max_length=100)
    local_id = django_filters.NumberFilter(label="Record ID", widget=HiddenInput)

    class Meta:
        model = SyncError
        fields = ["q", "mapping", "direction", "job", "since"]
        form = FilterForm


RESULTS = [("success", "Success"), ("failure", "Failure")]
YES_NO = [("yes", "Yes"), ("no", "No")]
# Every state but "Not coupled" (a coupling always couples something).
STATES = [(k, label) for k, label in services.STATE_CHOICES if k != services.NOT_COUPLED]


class ByJob(django_filters.FilterSet):
    # Set by the job log's drill-down links, not shown as inputs.
    job = django_filters.NumberFilter(method="by_job", label="Job No.", widget=HiddenInput)

    def by_job(self, queryset, name, value):
        return queryset.filter(Q(last_job_to_crm=value) | Q(last_job_from_crm=value))


class CouplingFilterSet(ByJob):
    mapping = django_filters.ModelChoiceFilter(queryset=_mappings, label="Table Mapping")
    result = django_filters.ChoiceFilter(choices=RESULTS, method="by_result",
                                         label="Last Synch. Result")
    skipped = django_filters.ChoiceFilter(choices=YES_NO, method="by_skipped")
    state = django_filters.ChoiceFilter(choices=STATES, method="by_state", label="State")

    class Meta:
        model = Coupling
        fields = ["mapping", "state", "result", "skipped"]
        form = FilterForm

    def by_state(self, queryset, name, value):
        return queryset.filter(services.state_q(value)) if value else queryset

    def by_skipped(self, queryset, name, value):
        return queryset.filter(skipped=value == "yes") if value else queryset

    def by_result(self, queryset, name, value):
        if value == SyncResult.FAILURE:
            return queryset.filter(Q(last_result_to_crm=value) | Q(last_result_from_crm=value))
        return queryset.filter(last_result_to_crm__in=[value, ""],
                               last_result_from_crm__in=[value, ""]).exclude(
            last_result_to_crm="", last_result_from_crm="")


KINDS = [("conflict", "Conflict"), ("failed", "Failed"), ("not_created", "Creation failed"),
         ("deleted", "Record deleted")]


class SkippedFilterSet(ByJob):
    mapping = django_filters.ModelChoiceFilter(queryset=_mappings, label="Table Mapping")
    kind = django_filters.ChoiceFilter(choices=KINDS, method="by_kind", label="Reason")

    class Meta:
        model = Coupling
        fields = ["mapping", "kind"]
        form = FilterForm

    def by_kind(self, queryset, name, value):
        failed = Q(last_result_to_crm=SyncResult.FAILURE) | \
            Q(last_result_from_crm=SyncResult.FAILURE)
        if value == "conflict":
            return queryset.filter(Q(conflict_local__isnull=False) |
                                   Q(conflict_remote__isnull=False))
        if value == "failed":
            return queryset.filter(failed)
        if value == "not_created":
            return queryset.filter(failed, pending_create=True)
        if value == "deleted":
            return queryset.exclude(deleted_side="")
        return queryset
