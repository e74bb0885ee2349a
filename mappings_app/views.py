"""Pages of the mappings: Connection Setup, Integration Table Mappings, Integration Field Mappings
(with a preview on real records) and Transformation Rules.

Views stay thin: the work is done by mappings_app's functions (check_connection,
apply_default_setup, metadata.refresh, sync_order, preview, values). Viewing needs the model's
view permission, every change its add/change/delete permission (403 otherwise) and a POST.
"""

import json
import logging
from functools import wraps

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import (
    Case,
    Count,
    IntegerField,
    OuterRef,
    ProtectedError,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from dataverse.errors import DataverseError
from mappings_app import metadata, preview
from mappings_app.connection import check_connection, crm_client, scrub
from mappings_app.defaults import BY_NAME, apply_default_setup
from mappings_app.filtersets import TableMappingFilterSet, TransformationRuleFilterSet
from mappings_app.forms import (
    ConnectionForm,
    FieldMappingFormSet,
    PreviewForm,
    RuleTestForm,
    TableMappingForm,
    TransformationRuleForm,
    table_filter_hint,
    table_filter_hints,
)
from mappings_app.models import Connection, TableMapping, TransformationRule
from mappings_app.order import sync_order
from mappings_app.tables import TableMappingTable, TransformationRuleTable, table_caption
from mappings_app.transformations import TransformationError
from mappings_app.values import record_key
from syncadmin.forms import selected_pks

log = logging.getLogger(__name__)
# What reaching the CRM or reading its metadata may raise; shown as a message, never a 500.
CRM_ERRORS = (DataverseError, OSError, metadata.MetadataUnavailable)

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


def permission(perm):
    """Refuses (403) a user without the permission `mappings_app.<perm>`."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.has_perm(f"mappings_app.{perm}"):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def _back(request, default):
    """The page to return to: a safe `next` from the form, else `default`."""
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return HttpResponseRedirect(target)  # a URL, never a view name to reverse
    return redirect(default)


def _perms(user, model):
    return {
        action: user.has_perm(f"mappings_app.{action}_{model}")
        for action in ("view", "add", "change", "delete")
    }


# --- Connection Setup ----------------------------------------------------------------------------


def integration_user_name(conn) -> str | None:
    """The integration user's full name, read from the CRM's systemusers (one request, quick to
    give up); None when there is no user yet, the last Test Connection failed or the CRM does
    not answer with a name: the page shows the id then."""
    if not conn.integration_user_id or (conn.last_tested_at and not conn.last_test_ok):
        return None
    try:
        with crm_client(conn) as client:
            client.transport.timeout = 5  # a name is a courtesy: the page does not wait long
            client.transport.max_retries = 0
            row = client.get("systemusers", conn.integration_user_id, select=["fullname"])
    except Exception:  # noqa: BLE001 - any failure: the id says who it is
        log.info("The integration user's name could not be read from the CRM.")
        return None
    name = str(row.get("fullname") or "").strip() if isinstance(row, dict) else ""
    return name or None


@require_GET
@permission("view_connection")
def connection(request):
    conn = Connection.get()
    user = request.user
    return render(
        request,
        "mappings_app/connection.html",
        {
            "connection": conn,
            "integration_user_name": integration_user_name(conn),
            "mapping_count": TableMapping.objects.count(),
            "can_change": user.has_perm("mappings_app.change_connection"),
            "can_test": user.has_perm("mappings_app.test_connection"),
            "can_setup": user.has_perm("mappings_app.add_tablemapping"),
        },
    )


@permission("change_connection")
def connection_edit(request):
    conn = Connection.get()
    form = ConnectionForm(request.POST if request.method == "POST" else None, instance=conn)
    if request.method == "POST":
        if form.is_valid():
            form.save()
            messages.success(request, "Saved the connection setup. Test the connection next.")
            return redirect("mappings:connection")
        messages.error(request, "Nothing was saved: correct the fields marked below.")
    return render(request, "mappings_app/connection_form.html", {"form": form, "connection": conn})


@require_POST
@permission("test_connection")
def connection_test(request):
    ok, message = check_connection()
    (messages.success if ok else messages.error)(request, message)
    return redirect("mappings:connection")


@require_POST
@permission("change_connection")
def connection_enable(request):
    conn = Connection.get()
    ok, message = check_connection(conn)
    if not ok:
        messages.error(request, f"The connection was not enabled: {message}")
    else:
        Connection.objects.filter(pk=conn.pk).update(is_enabled=True)
        messages.success(request, f"The connection is enabled. {message}")
    return redirect("mappings:connection")


@require_POST
@permission("change_connection")
def connection_disable(request):
    Connection.objects.filter(pk=Connection.get().pk).update(is_enabled=False)
    messages.success(request, "The connection is disabled: no synchronization runs.")
    return redirect("mappings:connection")


def _apply_defaults(request, names=None) -> bool:
    """Runs the default setup, with its outcome as a message; True when it worked."""
    try:
        counts = apply_default_setup(names)
    except ValidationError as exc:
        messages.error(request, "The default setup was not applied: " + " ".join(exc.messages))
    except CRM_ERRORS as exc:
        messages.error(
            request,
            "The default setup was not applied: the CRM's metadata could not be read "
            f"({scrub(str(exc))}). Test the connection, then try again.",
        )
    except Exception as exc:  # noqa: BLE001 - an admin sees what failed instead of a 500
        log.exception("Default synchronization setup failed")
        messages.error(request, f"The default setup was not applied: {scrub(str(exc))}")
    else:
        messages.success(
            request,
            f"Default synchronization setup: {counts['created']} created, {counts['reset']} "
            f"reset, {counts['unchanged']} unchanged.",
        )
        return True
    return False


@require_POST
@permission("add_tablemapping")
def default_setup(request):
    """BC's Use Default Synchronization Setup: asks first, then creates or resets."""
    if request.POST.get("confirm") != "yes":
        return render(
            request,
            "mappings_app/default_setup_confirm.html",
            {"mappings": list(BY_NAME.values()), "existing": TableMapping.objects.count()},
        )
    _apply_defaults(request)
    return redirect("mappings:connection")


@require_POST
@permission("change_connection")
def refresh_metadata(request):
    names = sorted(set(TableMapping.objects.values_list("remote_entity", flat=True)))
    if not names:
        messages.warning(request, "No table mapping names a CRM entity yet: nothing to refresh.")
        return _back(request, reverse("mappings:connection"))
    try:
        metadata.refresh(names)
    except CRM_ERRORS as exc:
        messages.error(request, f"The CRM's metadata could not be read: {scrub(str(exc))}")
    else:
        messages.success(request, f"Read the CRM's description of {', '.join(names)}.")
    return _back(request, reverse("mappings:connection"))


# --- Integration Table Mappings ------------------------------------------------------------------


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


class TableMappingListView(SingleTableMixin, FilterView):
    template_name = "mappings_app/tablemapping_list.html"
    table_class = TableMappingTable
    filterset_class = TableMappingFilterSet
    paginate_by = 50

    def dispatch(self, request, *args, **kwargs):
        if not request.user.has_perm("mappings_app.view_tablemapping"):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get_queryset(self):
        queryset, self.cycle = with_sync_order(TableMapping.objects.all())
        return with_problem_counts(queryset)

    def get_table_kwargs(self):
        return {"user": self.request.user}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["perms_tm"] = _perms(self.request.user, "tablemapping")
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
@permission("view_tablemapping")
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
            "perms_tm": _perms(request.user, "tablemapping"),
        },
    )


def _form_tabs(form):
    return [
        (caption, [form[name] for name in names if name in form.fields])
        for caption, names in TABLEMAPPING_TABS
    ]


def _tablemapping_form(request, mapping):
    form = TableMappingForm(request.POST if request.method == "POST" else None, instance=mapping)
    if request.method == "POST":
        if form.is_valid():
            saved = form.save()
            messages.success(request, f"Saved table mapping {saved.name}.")
            return redirect(saved)
        messages.error(request, "Nothing was saved: correct the fields marked below.")
    hints = table_filter_hints()
    table = request.POST.get("local_model") if request.method == "POST" else mapping.local_model
    return render(
        request,
        "mappings_app/tablemapping_form.html",
        {"form": form, "mapping": mapping if mapping.pk else None, "tabs": _form_tabs(form),
         "filter_hint": hints.get(table or ""), "filter_hints": hints},
    )


@permission("add_tablemapping")
def tablemapping_add(request):
    return _tablemapping_form(request, TableMapping())


@permission("change_tablemapping")
def tablemapping_edit(request, pk):
    return _tablemapping_form(request, get_object_or_404(TableMapping, pk=pk))


@permission("delete_tablemapping")
def tablemapping_delete(request, pk):
    mapping = get_object_or_404(TableMapping, pk=pk)
    if request.method != "POST":
        return render(
            request, "mappings_app/tablemapping_confirm_delete.html", {"mapping": mapping}
        )
    try:
        mapping.delete()
    except ProtectedError as exc:
        users = sorted({str(o) for o in exc.protected_objects})[:5]
        messages.error(
            request,
            f"Table mapping {mapping.name} was not deleted: field mappings look up through it "
            f"({'; '.join(users)}). Change those field mappings first.",
        )
        return redirect(mapping)
    messages.success(request, f"Deleted table mapping {mapping.name} and its field mappings.")
    return redirect("mappings:tablemapping_list")


@require_POST
@permission("change_tablemapping")
def tablemapping_reset(request, pk):
    mapping = get_object_or_404(TableMapping, pk=pk)
    if not mapping.is_default or mapping.name not in BY_NAME:
        messages.error(request, f"{mapping.name} is not a default mapping: it has no default.")
    else:
        _apply_defaults(request, [mapping.name])
    return _back(request, reverse("mappings:tablemapping_list"))


@require_POST
@permission("change_tablemapping")
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
@permission("change_tablemapping")
def tablemapping_bulk_reset(request):
    selected = _selected(request)
    names = [m.name for m in selected if m.is_default and m.name in BY_NAME]
    skipped = [m.name for m in selected if m.name not in names]
    if skipped:
        messages.warning(request, f"Not default mappings, left as they are: {', '.join(skipped)}.")
    if names:
        _apply_defaults(request, names)
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
@permission("change_tablemapping")
def tablemapping_bulk_enable(request):
    return _bulk_enable(request, True)


@require_POST
@permission("change_tablemapping")
def tablemapping_bulk_disable(request):
    return _bulk_enable(request, False)


# --- Integration Field Mappings ------------------------------------------------------------------


@permission("view_fieldmapping")
def fieldmapping_list(request, pk):
    mapping = get_object_or_404(TableMapping, pk=pk)
    can_change = request.user.has_perm("mappings_app.change_fieldmapping")
    if request.method == "POST" and not can_change:
        raise PermissionDenied
    queryset = mapping.field_mappings.select_related("transformation_rule", "lookup_mapping")
    data = request.POST if request.method == "POST" else None
    formset = FieldMappingFormSet(data, instance=mapping, queryset=queryset)
    if not can_change:
        formset.extra = 0
        for form in formset.forms:
            for field in form.fields.values():
                field.disabled = True
    if request.method == "POST":
        if formset.is_valid():
            formset.save()
            messages.success(request, f"Saved the field mappings of {mapping.name}.")
            return redirect("mappings:fieldmapping_list", pk=mapping.pk)
        messages.error(request, "Nothing was saved: correct the field mappings marked below.")
    return render(
        request,
        "mappings_app/fieldmapping_list.html",
        {
            "mapping": mapping,
            "formset": formset,
            "can_change": can_change,
            "attributes_missing": formset.remote_choices is None,
        },
    )


@require_GET
@permission("view_tablemapping")
def tablemapping_preview(request, pk):
    mapping = get_object_or_404(TableMapping, pk=pk)
    form = PreviewForm(request.GET or None)
    context = {"mapping": mapping, "form": form, "rows": None, "error": "", "matches": []}
    context["table_caption"] = table_caption(mapping.local_model)
    context["local_records"] = [
        (record_key(record), str(record)) for record in preview.local_records(mapping)
    ]
    valid = form.is_bound and form.is_valid()  # bounded lengths: no endless LIKE pattern
    local_key = form.cleaned_data["local"].strip() if valid else ""
    remote_key = form.cleaned_data["remote"].strip() if valid else ""
    try:
        if local_key:
            record = preview.find_local(mapping, local_key)
            if record is None:
                context["error"] = (
                    f"There is no {table_caption(mapping.local_model).lower()} {local_key!r}."
                )
            else:
                context.update(
                    record=record,
                    run="to the CRM",
                    rows=preview.preview_to_remote(mapping, record),
                )
        elif remote_key:
            with crm_client() as client:
                found = preview.remote_records(mapping, remote_key, client)
                if len(found) == 1:
                    context.update(
                        crm_record=preview.remote_label(mapping, found[0]),
                        run="from the CRM",
                        rows=preview.preview_to_local(mapping, found[0]),
                    )
                elif found:
                    entity = metadata.entity(mapping.remote_entity, fetch=False)
                    key = mapping.remote_key or entity.primary_id
                    context["matches"] = [
                        (row.get(key), preview.remote_label(mapping, row)) for row in found
                    ]
                else:
                    context["error"] = f"No {mapping.remote_entity} matches {remote_key!r}."
    except CRM_ERRORS as exc:
        context["error"] = f"The CRM could not be read: {scrub(str(exc))}"
    return render(request, "mappings_app/tablemapping_preview.html", context)


# --- Transformation Rules ------------------------------------------------------------------------


class TransformationRuleListView(SingleTableMixin, FilterView):
    template_name = "mappings_app/transformationrule_list.html"
    table_class = TransformationRuleTable
    filterset_class = TransformationRuleFilterSet
    paginate_by = 50

    def dispatch(self, request, *args, **kwargs):
        if not request.user.has_perm("mappings_app.view_transformationrule"):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get_queryset(self):
        return TransformationRule.objects.annotate(used_by=Count("field_mappings")).order_by("code")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["perms_tr"] = _perms(self.request.user, "transformationrule")
        return context


# The parameters each rule type reads; the card shows only those.
RULE_PARAMETERS = {
    "replace": ["find_value", "replace_value", "case_sensitive"],
    "regex_extract": ["regex", "case_sensitive"],
    "regex_replace": ["regex", "replace_value", "case_sensitive"],
    "substring": ["start_position", "length"],
    "round": ["precision", "rounding_direction"],
    "date_format": ["date_format"],
    "lookup": ["lookup_table", "lookup_default", "case_sensitive"],
}


def rule_test_result(rule, sample):
    """The rule applied to a sample value: (result, error)."""
    try:
        return rule.apply(sample), ""
    except TransformationError as exc:
        return None, str(exc)


@require_GET
@permission("view_transformationrule")
def transformationrule_detail(request, pk):
    rule = get_object_or_404(TransformationRule, pk=pk)
    form = RuleTestForm(request.GET if "sample" in request.GET else None)
    context = {"rule": rule, "form": form, "tested": False}
    if form.is_bound and form.is_valid():
        result, error = rule_test_result(rule, form.cleaned_data["sample"])
        sample = form.cleaned_data["sample"]
        shown = repr(result) if isinstance(result, str) else str(result)
        context.update(tested=True, sample=repr(sample), result=shown, error=error)
    if request.htmx:
        return render(request, "mappings_app/_rule_test_result.html", context)
    items = []
    for name in ["code", "description", "type", *RULE_PARAMETERS.get(rule.type, [])]:
        field = TransformationRule._meta.get_field(name)
        value = getattr(rule, f"get_{name}_display")() if field.choices else getattr(rule, name)
        if name == "lookup_table":
            value = json.dumps(value, indent=2, ensure_ascii=False) if value else ""
        items.append({"name": name, "label": field.verbose_name, "value": value})
    users = rule.field_mappings.select_related("table_mapping")
    context.update(
        items=items,
        users=users,
        perms_tr=_perms(request.user, "transformationrule"),
    )
    return render(request, "mappings_app/transformationrule_detail.html", context)


def _rule_form(request, rule):
    form = TransformationRuleForm(request.POST if request.method == "POST" else None, instance=rule)
    if request.method == "POST":
        if form.is_valid():
            saved = form.save()
            messages.success(request, f"Saved transformation rule {saved.code}.")
            return redirect(saved)
        messages.error(request, "Nothing was saved: correct the fields marked below.")
    return render(
        request,
        "mappings_app/transformationrule_form.html",
        {"form": form, "rule": rule if rule.pk else None},
    )


@permission("add_transformationrule")
def transformationrule_add(request):
    return _rule_form(request, TransformationRule())


@permission("change_transformationrule")
def transformationrule_edit(request, pk):
    return _rule_form(request, get_object_or_404(TransformationRule, pk=pk))


@permission("delete_transformationrule")
def transformationrule_delete(request, pk):
    rule = get_object_or_404(TransformationRule, pk=pk)
    if request.method != "POST":
        return render(
            request, "mappings_app/transformationrule_confirm_delete.html", {"rule": rule}
        )
    try:
        rule.delete()
    except ProtectedError as exc:
        users = sorted({str(o) for o in exc.protected_objects})
        shown = "; ".join(users[:5]) + (f" and {len(users) - 5} more" if len(users) > 5 else "")
        messages.error(
            request,
            f"Transformation rule {rule.code} was not deleted: field mappings use it ({shown}). "
            "Remove it from those field mappings first.",
        )
        return redirect(rule)
    messages.success(request, f"Deleted transformation rule {rule.code}.")
    return redirect("mappings:transformationrule_list")
