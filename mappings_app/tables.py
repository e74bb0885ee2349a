"""Tables (django-tables2) of the Integration Table Mappings and Transformation Rules pages."""

import django_tables2 as tables
from django.apps import apps
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from mappings_app.models import TableMapping, TransformationRule
from syncadmin.tables import BaseTable


def table_caption(value: str) -> str:
    """The local table's verbose name, e.g. "Customer" for erp_app.customer."""
    try:
        return str(apps.get_model(value)._meta.verbose_name).capitalize()
    except (LookupError, ValueError):
        return value


class FilterColumn(tables.Column):
    """A filter as code: monospace, cut short, the whole text on hover."""

    def __init__(self, *args, length=40, **kwargs):
        self.length = length
        kwargs.setdefault("attrs", {"td": {"class": "font-monospace small"}})
        super().__init__(*args, **kwargs)

    def render(self, value):
        cut = value if len(value) <= self.length else value[: self.length - 1] + "…"
        return format_html('<span title="{}">{}</span>', value, cut)


SMALL = {"td": {"class": "small"}}


class WatermarkColumn(tables.DateTimeColumn):
    """A watermark as date over time: two short lines instead of a wide or broken one."""

    def render(self, value):
        local = timezone.localtime(value)
        return format_html('<span class="text-nowrap" title="{}">{}</span><br>'
                           '<span class="text-nowrap">{}</span>', local.isoformat(" ", "seconds"),
                           local.strftime("%Y-%m-%d"), local.strftime("%H:%M"))


class TableMappingTable(BaseTable):
    sync_position = tables.Column("Order", attrs={"td": {"class": "text-end"}})
    # The name may wrap after its hyphen (SALESPRC-/PRODUCTPRICE): the list fits 1,400 px.
    name = tables.Column(attrs={"td": {"style": "min-width: 8rem; max-width: 11rem"}})
    local_model = tables.Column("Table", attrs={"td": {"style": "max-width: 8rem"}})
    remote_entity = tables.Column("Integration Table")
    local_filter = FilterColumn("Table Filter", length=13)
    remote_filter = FilterColumn("Integration Table Filter", length=13)
    local_synced_until = WatermarkColumn(attrs=SMALL)
    remote_synced_until = WatermarkColumn(attrs=SMALL)
    direction = tables.Column(attrs=SMALL)
    is_enabled = tables.BooleanColumn()
    sync_only_coupled = tables.BooleanColumn()
    error_count = tables.Column(
        "No. of Errors", attrs={"td": {"class": "text-end"}},
        linkify=lambda record: f"{reverse('couplings:syncerror_list')}?mapping={record.pk}")
    skipped_count = tables.Column(
        "No. of Skipped", attrs={"td": {"class": "text-end"}},
        linkify=lambda record: f"{reverse('couplings:skipped_list')}?mapping={record.pk}")
    actions = tables.Column("", empty_values=(), orderable=False)

    class Meta(BaseTable.Meta):
        model = TableMapping
        fields = (
            "pk",
            "sync_position",
            "name",
            "local_model",
            "remote_entity",
            "direction",
            "sync_only_coupled",
            "local_filter",
            "remote_filter",
            "local_synced_until",
            "remote_synced_until",
            "is_enabled",
            "error_count",
            "skipped_count",
            "priority",
            "actions",
        )
        order_by = ("sync_position",)
        attrs = {"class": "table table-sm table-hover align-middle small"}

    def __init__(self, *args, user=None, **kwargs):
        self.can_change = bool(user and user.has_perm("mappings_app.change_tablemapping"))
        self.can_view_fields = bool(user and user.has_perm("mappings_app.view_fieldmapping"))
        super().__init__(*args, **kwargs)
        if not self.can_change:
            self.exclude = ("pk",)

    def render_local_model(self, value):
        caption = table_caption(value).replace("/", "/\u200b")  # may wrap after the slash
        return format_html('<span title="{}">{}</span>', value, caption)

    def render_name(self, value, record):
        description = record.description
        cut = description if len(description) <= 34 else description[:33] + "…"
        return format_html(
            '<a class="fw-semibold" href="{}">{}</a>'
            '<div class="small text-body-secondary" title="{}">{}</div>',
            record.get_absolute_url(),
            value,
            description,
            cut,
        )

    def render_actions(self, record):
        return render_to_string(
            "mappings_app/_tablemapping_actions.html",
            {
                "record": record,
                "can_change": self.can_change,
                "can_view_fields": self.can_view_fields,
            },
        )


class TransformationRuleTable(BaseTable):
    code = tables.Column(linkify=True)
    used_by = tables.Column("Used by field mappings", attrs={"td": {"class": "text-end"}})

    class Meta(BaseTable.Meta):
        model = TransformationRule
        fields = ("pk", "code", "description", "type", "used_by")
