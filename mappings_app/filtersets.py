"""Filters (django-filter) of the Integration Table Mappings and Transformation Rules lists."""

import django_filters
from django import forms

from mappings_app.choices import Direction, TransformationType
from mappings_app.models import TableMapping, TransformationRule
from syncadmin.filters import FilterForm, SearchFilterSet


def _local_models(request):
    from mappings_app.tables import table_caption

    values = TableMapping.objects.order_by("local_model").values_list("local_model", flat=True)
    return [(v, table_caption(v)) for v in dict.fromkeys(values)]


def _entities(request):
    values = TableMapping.objects.order_by("remote_entity").values_list("remote_entity", flat=True)
    return [(v, v) for v in dict.fromkeys(values)]


class TableMappingFilterSet(SearchFilterSet):
    search_fields = ["name", "description", "local_model", "remote_entity"]
    name = django_filters.CharFilter(lookup_expr="icontains", label="Name", max_length=200)
    local_model = django_filters.ChoiceFilter(label="Table", choices=[])
    remote_entity = django_filters.ChoiceFilter(label="Integration Table", choices=[])
    direction = django_filters.ChoiceFilter(choices=Direction.choices, label="Direction")
    is_enabled = django_filters.BooleanFilter(
        label="Enabled",
        widget=forms.Select(choices=[("", "(any)"), ("true", "Yes"), ("false", "No")]),
    )

    class Meta:
        model = TableMapping
        fields = ["name", "local_model", "remote_entity", "direction", "is_enabled"]
        form = FilterForm

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["local_model"].extra["choices"] = _local_models(self.request)
        self.filters["remote_entity"].extra["choices"] = _entities(self.request)


class TransformationRuleFilterSet(SearchFilterSet):
    search_fields = ["code", "description"]
    type = django_filters.ChoiceFilter(choices=TransformationType.choices, label="Type")

    class Meta:
        model = TransformationRule
        fields = ["type"]
        form = FilterForm
