"""Filters (django-filter) of the job log, the error log, the couplings and the skipped records."""

import django_filters
from django.db.models import Q

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
    with_errors = django_filters.BooleanFilter(label="With failures", method="failures")

    class Meta:
        model = SyncJob
        fields = ["mapping", "status", "type", "direction", "trigger"]
        form = FilterForm

    def failures(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(failed__gt=0) if value else queryset.filter(failed=0)


class SyncErrorFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="message", lookup_expr="icontains", label="Search")
    mapping = django_filters.ModelChoiceFilter(queryset=_mappings, label="Table Mapping")
    direction = django_filters.ChoiceFilter(choices=DIRECTIONS)
    job = django_filters.NumberFilter(field_name="job_id", label="Job No.")
    since = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte",
                                      label="From date")
    local_model = django_filters.CharFilter(label="Table")
    local_id = django_filters.NumberFilter(label="Record ID")

    class Meta:
        model = SyncError
        fields = ["q", "mapping", "direction", "job", "since"]
        form = FilterForm


RESULTS = [("success", "Success"), ("failure", "Failure")]


class CouplingFilterSet(django_filters.FilterSet):
    mapping = django_filters.ModelChoiceFilter(queryset=_mappings, label="Table Mapping")
    result = django_filters.ChoiceFilter(choices=RESULTS, method="by_result",
                                         label="Last Synch. Result")
    skipped = django_filters.BooleanFilter()
    job = django_filters.NumberFilter(method="by_job", label="Job No.")
    local_id = django_filters.NumberFilter(label="Record ID")

    class Meta:
        model = Coupling
        fields = ["mapping", "result", "skipped"]
        form = FilterForm

    def by_result(self, queryset, name, value):
        if value == SyncResult.FAILURE:
            return queryset.filter(Q(last_result_to_crm=value) | Q(last_result_from_crm=value))
        return queryset.filter(last_result_to_crm__in=[value, ""],
                               last_result_from_crm__in=[value, ""]).exclude(
            last_result_to_crm="", last_result_from_crm="")

    def by_job(self, queryset, name, value):
        return queryset.filter(Q(last_job_to_crm=value) | Q(last_job_from_crm=value))


KINDS = [("conflict", "Conflict"), ("failed", "Failed"), ("deleted", "Record deleted")]


class SkippedFilterSet(CouplingFilterSet):
    kind = django_filters.ChoiceFilter(choices=KINDS, method="by_kind", label="Reason")

    class Meta(CouplingFilterSet.Meta):
        fields = ["mapping", "kind"]

    def by_kind(self, queryset, name, value):
        failed = Q(last_result_to_crm=SyncResult.FAILURE) | \
            Q(last_result_from_crm=SyncResult.FAILURE)
        if value == "conflict":
            return queryset.filter(Q(conflict_local__isnull=False) |
                                   Q(conflict_remote__isnull=False))
        if value == "failed":
            return queryset.filter(failed)
        if value == "deleted":
            return queryset.exclude(deleted_side="")
        return queryset
