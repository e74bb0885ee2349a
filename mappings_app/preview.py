"""Preview of a table mapping on one real record: what each field mapping would write.

Pick an ERP record (to the CRM) or a CRM record (from it); each enabled field mapping that
applies to that run shows the source value and the value the other side would get, with constants
and transformations applied (mappings_app.values), or the problem with it. Nothing is written.
References show which mapping's couplings would translate them.
"""

from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from dataverse.values import is_guid, quote_string
from mappings_app import metadata, values
from mappings_app.choices import Direction
from mappings_app.validation import find_attribute, resolve_local_field

SEARCH_FIELDS = ("no", "code", "name", "description")


@dataclass
class PreviewRow:
    field_mapping: Any
    source: str  # the field or attribute read (or "constant")
    target: str  # the field or attribute written
    source_value: Any
    result: Any = None
    error: str = ""
    option_label: str = ""  # the CRM option a number stands for, e.g. 2 → DHL

    @property
    def is_reference(self) -> bool:
        return isinstance(self.result, values.Reference)

    @property
    def reference_source(self) -> str:
        return values.display(self.result.value) if self.is_reference else ""

    @property
    def shown_source(self) -> str:
        return _shown(self.source_value)

    @property
    def shown_result(self) -> str:
        return _shown(self.result)


def _shown(value) -> str:
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, values.Reference):
        return str(value)
    if value is True or value is False:
        return "Yes" if value else "No"
    return values.display(value)


# --- finding a record ------------------------------------------------------------------------


def local_records(mapping, query: str = "", limit: int = 200):
    """Records of the mapping's table, found by No./Code/name (empty query: the first ones)."""
    model = mapping.local_model_class
    if model is None:
        return []
    qs = model._default_manager.all()
    query = query.strip()
    if query:
        names = {f.name for f in model._meta.concrete_fields}
        condition = Q()
        for name in SEARCH_FIELDS:
            if name in names:
                condition |= Q(**{f"{name}__icontains": query})
        qs = qs.filter(condition) if condition else qs.none()
    return list(qs[:limit])


def find_local(mapping, key: str):
    """The record whose No. or Code is `key` (or whose id is, for a table without one)."""
    model = mapping.local_model_class
    key = (key or "").strip()
    if model is None or not key:
        return None
    field = values.key_field(model)
    if field is not None:
        found = model._default_manager.filter(**{f"{field.name}__iexact": key}).first()
        if found is not None:
            return found
    if key.isascii() and key.isdigit() and len(key) <= 18:  # "²" is a digit, not an id
        return model._default_manager.filter(pk=int(key)).first()
    return None


def remote_records(mapping, query: str, client, limit: int = 10) -> list[dict]:
    """CRM records: the one with this id, or those within the mapping's Integration Table
    Filter whose primary name contains the text."""
    entity = metadata.entity(mapping.remote_entity)
    key = mapping.remote_key or entity.primary_id
    query = (query or "").strip()
    if is_guid(query):
        return list(client.get_many(mapping.remote_entity_set, key, [query]).values())
    name = entity.primary_name
    clauses = [f"({mapping.remote_filter})"] if mapping.remote_filter.strip() else []
    if query and name:
        clauses.append(f"contains({name},{quote_string(query)})")
    clause = " and ".join(clauses) or None
    orderby = [name] if name else None
    return list(
        client.iter_rows(mapping.remote_entity_set, filter=clause, orderby=orderby, top=limit)
    )


def remote_label(mapping, row: dict) -> str:
    entity = metadata.entity(mapping.remote_entity, fetch=False)
    key = mapping.remote_key or entity.primary_id
    name = row.get(entity.primary_name) if entity.primary_name else None
    return f"{name or '(no name)'} · {row.get(key)}"


# --- previewing ------------------------------------------------------------------------------


def _attribute(attributes, name):
    return find_attribute(attributes, name) if name else None


def preview_to_remote(mapping, record) -> list[PreviewRow]:
    """What the ERP record would write into the CRM, field mapping by field mapping."""
    attributes = metadata.attributes(mapping.remote_entity)
    rows = []
    for fm in _applying(mapping, Direction.TO_CRM):
        source = fm.local_field or "constant"
        source_value = (
            values.local_value(record, fm.local_field) if fm.local_field else fm.constant_value
        )
        row = PreviewRow(fm, source, fm.remote_attribute or "—", source_value)
        attribute = _attribute(attributes, fm.remote_attribute)
        if attribute is None:
            row.error = f"{mapping.remote_entity} has no attribute {fm.remote_attribute!r}."
        else:
            try:
                row.result = values.to_remote(fm, source_value, attribute)
            except values.ValueProblem as exc:
                row.error = str(exc)
            options = attribute.get("options") or {}
            if isinstance(row.result, int) and not isinstance(row.result, bool):
                row.option_label = options.get(str(row.result), "")
        rows.append(row)
    return rows


def preview_to_local(mapping, crm_row: dict) -> list[PreviewRow]:
    """What the CRM record would write into the ERP, field mapping by field mapping."""
    attributes = metadata.attributes(mapping.remote_entity)
    model = mapping.local_model_class
    rows = []
    for fm in _applying(mapping, Direction.FROM_CRM):
        source = fm.remote_attribute or "constant"
        source_value = (
            values.remote_value(crm_row, fm.remote_attribute)
            if fm.remote_attribute
            else fm.constant_value
        )
        row = PreviewRow(fm, source, fm.local_field or "—", source_value)
        field, problem = resolve_local_field(model, fm.local_field) if model else (None, "")
        if field is None:
            row.error = problem or "The table mapping's table does not exist."
        else:
            try:
                row.result = values.to_local(
                    fm, source_value, field, attribute=_attribute(attributes, fm.remote_attribute)
                )
            except values.ValueProblem as exc:
                row.error = str(exc)
        rows.append(row)
    return rows


def _applying(mapping, run):
    return [
        fm
        for fm in mapping.field_mappings.select_related("transformation_rule", "lookup_mapping")
        if fm.applies_to(run)
    ]


def preview_remote_id(mapping, remote_id: str, client) -> tuple[dict | None, list[PreviewRow]]:
    """Reads the CRM record and previews it; (None, []) when it does not exist."""
    found = remote_records(mapping, remote_id, client)
    if not found:
        return None, []
    return found[0], preview_to_local(mapping, found[0])
