"""Integration Table Mappings: the list (with the synchronization order and each mapping's
errors and skipped records), a mapping's card, its add, edit and delete pages (syncadmin's generic
views), Reset to Default, Reset watermarks, and Enable / Disable of the selected rows."""

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Case, Count, IntegerField, OuterRef, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from mappings_app.defaults import BY_NAME
from mappings_app.filtersets import TableMappingFilterSet
from mappings_app.forms import TableMappingForm, table_filter_hint, table_filter_hints
from mappings_app.models import TableMapping
from mappings_app.order import sync_order
from mappings_app.tables import TableMappingTable, table_caption
from mappings_app.views.connection import apply_defaults
from syncadmin.forms import selected_pks
from syncadmin.pages import ModelPage
from syncadmin.toolkit import PermissionRequired, back, model_perms, permission
from syncadmin.views import ObjectCreateView, ObjectDeleteView, ObjectEditView

TABLEMAPPING_TABS = [
    (
        "General",
        [
            "name",
            "description",
            "local_model",
            "remote_entity",
            "remote_entity_set",
            "remote_key",
            "remote_modified_attribute",
            "direction",
            "is_enabled",
            "priority",
            "dependencies",
        ],
    ),
    (
        "Synchronization",
        [
            "sync_only_coupled",
            "create_new_if_no_match",
            "sync_after_coupling",
            "update_conflict_resolution",
            "deletion_conflict_resolution",
            "delete_remote_with_local",
        ],
    ),
    ("Filters", ["local_filter", "remote_filter"]),
    ("Templates", ["local_template", "remote_template"]),
    ("Schedule", ["schedule_minutes", "inactivity_timeout_minutes", "disable_event_rescheduling"]),
    ("Watermarks", ["local_synced_until", "remote_synced_until"]),
]
CODE_FIELDS = {"local_filter", "remote_filter"}
JSON_FIELDS = {"local_template", "remote_template"}



def with_problem_counts(queryset):
    """No. of Errors and No. of Skipped per mapping, as subqueries (one query for the page)."""
    from couplings_app.models import Coupling, SyncError

    def count(query):
        return Coalesce(Subquery(query.values("mapping").annotate(n=Count("pk")).values("n")),
                        Value(0))

    return queryset.annotate(
        error_count=count(SyncError.objects.filter(mapping=OuterRef("pk"))),
        skipped_count=count(Coupling.objects.filter(mapping=OuterRef("pk"), skipped=True)),
    )


def with_sync_order(queryset):
    """The mappings annotated with their place in the synchronization order (and any cycle)."""
    try:
        ordered = sync_order()
    except ValidationError as exc:
        return queryset.annotate(sync_position=Value(None, IntegerField())), exc.messages
    whens = [When(pk=m.pk, then=Value(i)) for i, m in enumerate(ordered, start=1)]
    position = Case(*whens, default=Value(0), output_field=IntegerField())
    return queryset.annotate(sync_position=position), []


class TableMappingListView(PermissionRequired, SingleTableMixin, FilterView):
    template_name = "mappings_app/tablemapping_list.html"
    table_class = TableMappingTable
    filterset_class = TableMappingFilterSet
    paginate_by = 50
    permission_required = "mappings_app.view_tablemapping"

    def get_queryset(self):
        queryset, self.cycle = with_sync_order(TableMapping.objects.all())
        return with_problem_counts(queryset)

    def get_table_kwargs(self):
        return {"user": self.request.user}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["perms_tm"] = model_perms(self.request.user, TableMapping)
        context["cycle"] = self.cycle
        context["filters_active"] = any(
            value for key, value in self.request.GET.items() if key not in {"page", "sort"}
        )
        return context


def _describe(mapping, name):
    field = TableMapping._meta.get_field(name)
    item = {"name": name, "label": field.verbose_name, "help": field.help_text, "kind": "value"}
    if name == "dependencies":
        item["kind"] = "links"
        item["value"] = list(mapping.dependencies.all())
    elif name == "local_model":
        item["value"] = f"{table_caption(mapping.local_model)} ({mapping.local_model})"
    elif name in JSON_FIELDS:
        item["kind"] = "json"
        value = getattr(mapping, name)
        item["value"] = json.dumps(value, indent=2, ensure_ascii=False) if value else ""
    elif name in CODE_FIELDS:
        item["kind"] = "code"
        item["value"] = getattr(mapping, name)
    elif field.choices:
        item["value"] = getattr(mapping, f"get_{name}_display")()
    else:
        item["value"] = getattr(mapping, name)
    return item


@require_GET
@permission("mappings_app.view_tablemapping")
def tablemapping_detail(request, pk):
    mapping = get_object_or_404(TableMapping, pk=pk)
    tabs = [
        (caption, [_describe(mapping, n) for n in names]) for caption, names in TABLEMAPPING_TABS
    ]
    lookups = TableMapping.objects.filter(pk__in=mapping.lookup_dependencies())
    return render(
        request,
        "mappings_app/tablemapping_detail.html",
        {
            "mapping": mapping,
            "tabs": tabs,
            "lookups": lookups,
            "filter_hint": table_filter_hint(mapping.local_model_class),
            "field_count": mapping.field_mappings.count(),
            "perms_tm": model_perms(request.user, TableMapping),
        },
    )


class TableMappingPage:
    """The add, edit and delete pages of a table mapping: syncadmin's generic views, with the
    mapping's own form (its FastTabs, the ERP table's filter hints) and pages."""

    page = ModelPage(TableMapping, list_columns=[], search_fields=[], fieldsets=TABLEMAPPING_TABS)
    context_object_name = "mapping"

    def list_url(self):
        return reverse("mappings:tablemapping_list")


class TableMappingFormPage(TableMappingPage):
    form_class = TableMappingForm
    template_name = "mappings_app/tablemapping_form.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        hints = table_filter_hints()
        table = (self.request.POST.get("local_model") if self.request.method == "POST"
                 else context["form"].instance.local_model)
        context.update(tabs=context["form_fieldsets"], filter_hints=hints,
                       filter_hint=hints.get(table or ""))
        return context


class TableMappingAdd(TableMappingFormPage, ObjectCreateView):
    pass


class TableMappingEdit(TableMappingFormPage, ObjectEditView):
    pass


class TableMappingDelete(TableMappingPage, ObjectDeleteView):
    template_name = "mappings_app/tablemapping_confirm_delete.html"

    def not_deleted(self, obj, label, users):
        return (f"Table mapping {obj.name} was not deleted: field mappings look up through it "
                f"({'; '.join(users[:5])}). Change those field mappings first.")

    def deleted(self, obj, label):
        return f"Deleted table mapping {obj.name} and its field mappings."


@require_POST
@permission("mappings_app.change_tablemapping")
def tablemapping_reset(request, pk):
    mapping = get_object_or_404(TableMapping, pk=pk)
    if not mapping.is_default or mapping.name not in BY_NAME:
        messages.error(request, f"{mapping.name} is not a default mapping: it has no default.")
    else:
        apply_defaults(request, [mapping.name])
    return back(request, "mappings:tablemapping_list", referer=False)


@require_POST
@permission("mappings_app.change_tablemapping")
def tablemapping_reset_watermarks(request, pk):
    mapping = get_object_or_404(TableMapping, pk=pk)
    mapping.reset_watermarks()
    messages.success(
        request,
        f"Cleared the watermarks of {mapping.name}: the next run considers every record.",
    )
    return redirect(mapping)


def _selected(request):
    ids = selected_pks(request.POST.getlist("pk"))
    if not ids:
        messages.warning(request, "Select one or more table mappings first.")
    return TableMapping.objects.filter(pk__in=ids)


@require_POST
@permission("mappings_app.change_tablemapping")
def tablemapping_bulk_reset(request):
    selected = _selected(request)
    names = [m.name for m in selected if m.is_default and m.name in BY_NAME]
    skipped = [m.name for m in selected if m.name not in names]
    if skipped:
        messages.warning(request, f"Not default mappings, left as they are: {', '.join(skipped)}.")
    if names:
        apply_defaults(request, names)
    return redirect("mappings:tablemapping_list")


def _bulk_enable(request, enabled: bool):
    """Enable / Disable, one mapping at a time (TableMapping.set_enabled): each one's job queue
    entry is created or removed with it."""
    selected = _selected(request)
    count = selected.set_enabled(enabled)
    state = "Enabled" if enabled else "Disabled"
    if count:
        messages.success(request, f"{state} {count} table mapping{'s' if count != 1 else ''}.")
    elif selected.exists():
        messages.info(request, f"The selected table mappings were already {state.lower()}.")
    return redirect("mappings:tablemapping_list")


@require_POST
@permission("mappings_app.change_tablemapping")
def tablemapping_bulk_enable(request):
    return _bulk_enable(request, True)


@require_POST
@permission("mappings_app.change_tablemapping")
def tablemapping_bulk_disable(request):
    return _bulk_enable(request, False)
