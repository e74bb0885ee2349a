"""Transformation Rules: the list, a rule's card (with a test on a sample value) and its add,
edit and delete pages (syncadmin's generic views)."""

import json

from django.db.models import Count
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from mappings_app.filtersets import TransformationRuleFilterSet
from mappings_app.forms import RuleTestForm, TransformationRuleForm
from mappings_app.models import TransformationRule
from mappings_app.tables import TransformationRuleTable
from mappings_app.transformations import TransformationError
from syncadmin.pages import ModelPage
from syncadmin.toolkit import PermissionRequired, model_perms, permission
from syncadmin.views import ObjectCreateView, ObjectDeleteView, ObjectEditView


class TransformationRuleListView(PermissionRequired, SingleTableMixin, FilterView):
    template_name = "mappings_app/transformationrule_list.html"
    table_class = TransformationRuleTable
    filterset_class = TransformationRuleFilterSet
    paginate_by = 50
    permission_required = "mappings_app.view_transformationrule"

    def get_queryset(self):
        return TransformationRule.objects.annotate(used_by=Count("field_mappings")).order_by("code")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["perms_tr"] = model_perms(self.request.user, TransformationRule)
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
@permission("mappings_app.view_transformationrule")
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
        perms_tr=model_perms(request.user, TransformationRule),
    )
    return render(request, "mappings_app/transformationrule_detail.html", context)


class RulePage:
    """The add, edit and delete pages of a transformation rule: syncadmin's generic views, with
    the rule's own form and pages."""

    page = ModelPage(TransformationRule, list_columns=[], search_fields=[])
    context_object_name = "rule"

    def list_url(self):
        return reverse("mappings:transformationrule_list")


class RuleFormPage(RulePage):
    form_class = TransformationRuleForm
    template_name = "mappings_app/transformationrule_form.html"


class TransformationRuleAdd(RuleFormPage, ObjectCreateView):
    pass


class TransformationRuleEdit(RuleFormPage, ObjectEditView):
    pass


class TransformationRuleDelete(RulePage, ObjectDeleteView):
    template_name = "mappings_app/transformationrule_confirm_delete.html"

    def not_deleted(self, obj, label, users):
        shown = "; ".join(users[:5]) + (f" and {len(users) - 5} more" if len(users) > 5 else "")
        return (f"Transformation rule {obj.code} was not deleted: field mappings use it "
                f"({shown}). Remove it from those field mappings first.")

    def deleted(self, obj, label):
        return f"Deleted transformation rule {obj.code}."
