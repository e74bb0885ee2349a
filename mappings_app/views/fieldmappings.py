"""Integration Field Mappings of a table mapping (edited together, as BC's list page) and the
preview of a mapping on a real record, to the CRM or from it."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET

from mappings_app import metadata, preview
from mappings_app.forms import FieldMappingFormSet, PreviewForm
from mappings_app.models import TableMapping
from mappings_app.tables import table_caption
from mappings_app.values import record_key
from syncadmin.toolkit import crm_action, permission


@permission("mappings_app.view_fieldmapping")
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
@permission("mappings_app.view_tablemapping")
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
    with crm_action(problem="The CRM could not be read") as crm:
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
            found = preview.remote_records(mapping, remote_key, crm.client)
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
    if crm.failed:
        context["error"] = crm.problem
    return render(request, "mappings_app/tablemapping_preview.html", context)
