"""Browsable pages of the embedded CRM's records: every table, a list with search and paging, and
a form to create, edit or delete a record "in the CRM" during a demo.

Changes made here go through the same unit of work as the Web API (same validation) and are made
as a regular CRM user (`browse_user_id()`), never as the integration user, so the sync sees them
as changes made in the CRM.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from crm_emulator import errors
from crm_emulator.api import lookup_names
from crm_emulator.models import Row
from crm_emulator.schema import BY_NAME, BY_SET, ENTITIES, NONE, SYSTEM_ATTRIBUTES, Entity
from crm_emulator.store import WriteOp, write_one
from crm_emulator.values import TYPES_KEY, format_datetime, formatted

BROWSE_USER_DOMAIN = "crmadmin@cronus.example"
CHOICE_LIMIT = 300  # lookups with more candidate rows than this are typed in as ids
PAGE_SIZE = 25


def browse_user_id() -> uuid.UUID:
    """The licensed, interactive CRM user the browse pages act as (created when missing)."""
    users = Row.objects.filter(entity="systemuser")
    user = users.filter(data__domainname=BROWSE_USER_DOMAIN).first() or next(
        (u for u in users.order_by("createdon")
         if u.data.get("islicensed") and not u.data.get("isdisabled")
         and not u.data.get("applicationid")), None)
    if user is not None:
        return user.rowid
    rowid = uuid.uuid5(uuid.NAMESPACE_DNS, BROWSE_USER_DOMAIN)
    write_one(WriteOp("POST", BY_NAME["systemuser"], body={
        "systemuserid": str(rowid), "firstname": "CRM", "lastname": "Administrator",
        "domainname": BROWSE_USER_DOMAIN, "internalemailaddress": BROWSE_USER_DOMAIN,
        "islicensed": True, "accessmode": 0}), rowid)
    return rowid


def may(request, action: str) -> None:
    """Refuses (403) a user without the permission to `action` the CRM's records."""
    if not request.user.has_perm(f"crm_emulator.{action}_row"):
        raise PermissionDenied


def get_entity(set_name: str) -> Entity:
    entity = BY_SET.get(set_name)
    if entity is None:
        raise Http404("No such table in the CRM.")
    return entity


def display(entity: Entity, name: str, row, names: dict) -> str:
    attribute = entity.web_attrs[name]
    if attribute.name == entity.primary_id:
        return str(row.rowid)
    if attribute.name in ("createdon", "modifiedon"):
        return format_datetime(getattr(row, attribute.name))
    value = row.data.get(attribute.name)
    if value is None:
        return "—"
    if attribute.is_lookup:
        target = row.data.get(TYPES_KEY, {}).get(attribute.name, attribute.targets[0])
        return names.get((target, value)) or value
    label = formatted(attribute, value)
    return label if label is not None else str(value)


def title_of(entity: Entity, row) -> str:
    return (row.data.get(entity.primary_name) if entity.primary_name else None) or str(row.rowid)


@require_GET
def index(request):
    may(request, "view")
    tables = [{"entity": e, "count": Row.objects.filter(entity=e.logical_name).count(),
               "url": reverse("crm_emulator:browse_list", args=[e.set_name])} for e in ENTITIES]
    return render(request, "crm_emulator/browse_index.html", {"tables": tables})


@require_GET
def record_list(request, set_name):
    may(request, "view")
    entity = get_entity(set_name)
    rows = Row.objects.filter(entity=entity.logical_name).order_by("-modifiedon", "rowid")
    search = request.GET.get("q", "").strip()
    if search:
        condition = Q(pk__in=[])
        for column in entity.search_columns or (entity.primary_name,):
            condition |= Q(**{f"data__{column}__icontains": search})
        rows = rows.filter(condition)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    columns = list(entity.list_columns) or [entity.primary_name or entity.primary_id]
    names = lookup_names(list(page.object_list), entity)
    table = [{"url": reverse("crm_emulator:browse_edit", args=[set_name, row.rowid]),
              "title": title_of(entity, row),
              "cells": [display(entity, c, row, names) for c in columns],
              "modifiedon": format_datetime(row.modifiedon)} for row in page.object_list]
    return render(request, "crm_emulator/browse_list.html", {
        "entity": entity, "page": page, "search": search, "table": table,
        "labels": [entity.web_attrs[c].caption for c in columns]})


# --- the record form ---
def lookup_field(attribute, required: bool) -> forms.Field:
    choices, small = [("", "---------")], True
    for target in attribute.targets:
        rows = Row.objects.filter(entity=target)
        if rows.count() > CHOICE_LIMIT:
            small = False
            break
        for row in rows:
            label = title_of(BY_NAME[target], row)
            if len(attribute.targets) > 1:
                label = f"{label} ({BY_NAME[target].display_name})"
            choices.append((f"{target}:{row.rowid}", label))
    if small:
        return forms.ChoiceField(choices=sorted(choices, key=lambda c: (c[0] != "", c[1])),
                                 required=required, widget=forms.Select(
                                     attrs={"class": "form-select"}))
    return forms.CharField(required=required, help_text=(
        f"Id of the {' or '.join(attribute.targets)}, written as {attribute.targets[0]}:<id>."),
        widget=forms.TextInput(attrs={"class": "form-control"}))


def form_field(attribute) -> forms.Field | None:
    required = attribute.required != NONE and attribute.name != "ownerid" and not attribute.default
    text = {"class": "form-control"}
    kind = attribute.type
    if kind == "String":
        field = forms.CharField(max_length=attribute.max_length, required=required,
                                widget=forms.TextInput(attrs=text))
    elif kind == "Memo":
        field = forms.CharField(max_length=attribute.max_length, required=required,
                                widget=forms.Textarea(attrs={**text, "rows": 3}))
    elif kind == "Integer":
        field = forms.IntegerField(min_value=attribute.min_value, max_value=attribute.max_value,
                                   required=required, widget=forms.NumberInput(attrs=text))
    elif kind in ("Decimal", "Money"):
        field = forms.DecimalField(decimal_places=attribute.precision, required=required,
                                   widget=forms.NumberInput(attrs={**text, "step": "any"}))
    elif kind == "Boolean":
        field = forms.BooleanField(required=False,
                                   widget=forms.CheckboxInput(attrs={"class": "form-check-input"}))
    elif kind == "DateTime":
        field = (forms.DateField if attribute.date_only else forms.DateTimeField)(
            required=required, widget=forms.DateInput(attrs={**text, "type": "date"})
            if attribute.date_only else forms.DateTimeInput(attrs=text))
    elif attribute.is_option:
        field = forms.TypedChoiceField(
            choices=[("", "---------"), *attribute.options], coerce=int, empty_value=None,
            required=required, widget=forms.Select(attrs={"class": "form-select"}))
    elif attribute.is_lookup:
        field = lookup_field(attribute, required)
    elif kind == "Uniqueidentifier":
        field = forms.UUIDField(required=False, widget=forms.TextInput(attrs=text))
    else:
        return None
    field.label = attribute.caption
    return field


def editable(entity: Entity, creating: bool):
    for attribute in entity.attributes:
        if attribute.name == entity.primary_id or attribute.name in SYSTEM_ATTRIBUTES:
            continue
        if attribute.valid_for_create if creating else attribute.valid_for_update:
            yield attribute


def record_form(entity: Entity, row, data=None) -> forms.Form:
    fields, initial = {}, {}
    for attribute in editable(entity, row is None):
        field = form_field(attribute)
        if field is None:
            continue
        fields[attribute.name] = field
        value = row.data.get(attribute.name) if row is not None else attribute.default
        if attribute.is_lookup and value:
            target = row.data.get(TYPES_KEY, {}).get(attribute.name, attribute.targets[0])
            value = f"{target}:{value}"
        initial[attribute.name] = value
    form_class = type("RecordForm", (forms.Form,), fields)
    return form_class(data=data, initial=initial)


def to_json(value):
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return format_datetime(value if value.tzinfo else value.replace(tzinfo=dt.UTC))
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return None if value == "" else value


def payload(entity: Entity, form: forms.Form) -> dict:
    body = {}
    for name in form.changed_data:
        attribute = entity.attrs[name]
        value = form.cleaned_data.get(name)
        if attribute.is_lookup:
            target, _, rowid = (value or "").partition(":")
            if not value:
                nav = next(iter(attribute.navigations))
                body[f"{nav}@odata.bind"] = None
                continue
            if not rowid:  # an id typed without its table
                target, rowid = attribute.targets[0], target
            nav = next(n for n, t in attribute.navigations.items() if t == target)
            body[f"{nav}@odata.bind"] = f"/{BY_NAME[target].set_name}({rowid})"
        else:
            body[name] = to_json(value)
    return body


def record_edit(request, set_name, rowid=None):
    may(request, "view")
    if request.method == "POST":
        may(request, "add" if rowid is None else "change")
    entity = get_entity(set_name)
    row = None
    if rowid is not None:
        row = Row.objects.filter(entity=entity.logical_name, rowid=rowid).first()
        if row is None:
            raise Http404("No such record in the CRM.")
    form = record_form(entity, row, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        op = WriteOp("POST" if row is None else "PATCH", entity, rowid,
                     body=payload(entity, form), if_match=row.etag if row else None)
        try:
            write_one(op, browse_user_id())
        except errors.ApiError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, f"Saved {entity.display_name.lower()} "
                                      f"{title_of(entity, op.row)}.")
            return redirect("crm_emulator:browse_edit", set_name, op.row.rowid)
    return render(request, "crm_emulator/browse_form.html", {
        "entity": entity, "row": row, "form": form,
        "title": title_of(entity, row) if row else f"New {entity.display_name.lower()}",
        "list_url": reverse("crm_emulator:browse_list", args=[set_name]),
        "system": row and {"Created On": format_datetime(row.createdon),
                           "Modified On": format_datetime(row.modifiedon),
                           "Version": row.versionnumber, "Id": row.rowid}})


@require_POST
def record_delete(request, set_name, rowid):
    may(request, "delete")
    entity = get_entity(set_name)
    try:
        write_one(WriteOp("DELETE", entity, rowid), browse_user_id())
    except errors.ApiError as error:
        messages.error(request, error.message)
        return redirect("crm_emulator:browse_edit", set_name, rowid)
    messages.success(request, f"Deleted the {entity.display_name.lower()}.")
    return redirect("crm_emulator:browse_list", set_name)
