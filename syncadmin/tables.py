"""Tables (django-tables2) built from a ModelPage."""

from functools import cache

import django_tables2 as tables
from django.core.paginator import Paginator
from django.db import models

from syncadmin.pages import record_url


class BaseTable(tables.Table):
    """Every list: a select-all checkbox for bulk actions, sortable columns, paging."""

    pk = tables.CheckBoxColumn(
        accessor="pk",
        attrs={
            "th__input": {
                "class": "form-check-input",
                "data-select-all": "pk",
                "aria-label": "Select all",
            },
            "td__input": {"class": "form-check-input", "name": "pk", "aria-label": "Select"},
        },
        orderable=False,
    )

    class Meta:
        template_name = "django_tables2/bootstrap5.html"
        attrs = {"class": "table table-sm table-hover align-middle"}
        empty_text = "There is nothing to show in this view."

    MAX_PER_PAGE = 200

    def paginate(self, paginator_class=Paginator, per_page=None, page=1, *args,
                 **kwargs):
        # per_page may come from the URL: "-1" broke the page, a billion would list every row.
        if per_page is not None:
            per_page = min(max(int(per_page), 1), self.MAX_PER_PAGE)
        super().paginate(paginator_class, per_page, page, *args, **kwargs)


NUMERIC = {"td": {"class": "text-end"}, "th": {"class": "text-end"}}


def _link_to_record(record):
    return record_url(record)


def _link_to_value(value):
    return record_url(value)


@cache
def table_for(page) -> type[tables.Table]:
    model = page.model
    columns = {}
    for position, name in enumerate(page.list_columns):
        field = model._meta.get_field(name)
        if position == 0:
            columns[name] = tables.Column(linkify=_link_to_record)
        elif isinstance(field, models.ForeignKey) and hasattr(
            field.related_model, "get_absolute_url"
        ):
            columns[name] = tables.Column(linkify=_link_to_value)
    meta = type("Meta", (BaseTable.Meta,), {"model": model, "fields": ("pk", *page.list_columns)})
    return type(f"{model.__name__}Table", (BaseTable,), {**columns, "Meta": meta})


def related_columns(page) -> list[str]:
    """Foreign keys shown in the list, to fetch with select_related in the same query."""
    return [
        name
        for name in page.list_columns
        if isinstance(page.model._meta.get_field(name), models.ForeignKey)
    ]
