"""Attribute values in and out: JSON payloads checked against the schema, rows rendered as JSON.

In: `parse_payload()` turns a POST/PATCH body into storage values and `@odata.bind` references,
refusing what Dataverse refuses (unknown property, wrong type, too long, bad option value).
Out: `render()` gives a row as the Web API shows it (`_x_value` lookups, `@odata.etag`, ...).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from crm_emulator import errors
from crm_emulator.schema import BY_SET, SYSTEM_ATTRIBUTES, Attribute, Entity

EDM_TYPES = {
    "String": "Edm.String", "Memo": "Edm.String", "Integer": "Edm.Int32",
    "Decimal": "Edm.Decimal", "Money": "Edm.Decimal", "Boolean": "Edm.Boolean",
    "DateTime": "Edm.DateTimeOffset", "Picklist": "Edm.Int32", "State": "Edm.Int32",
    "Status": "Edm.Int32", "Uniqueidentifier": "Edm.Guid", "BigInt": "Edm.Int64",
}
FORMATTED = "@OData.Community.Display.V1.FormattedValue"
LOOKUP_NAME = "@Microsoft.Dynamics.CRM.lookuplogicalname"
NAV_NAME = "@Microsoft.Dynamics.CRM.associatednavigationproperty"
TYPES_KEY = "_types"  # data["_types"][lookup] = target logical name, for polymorphic lookups
REF_RE = re.compile(r"(?:^|/)([A-Za-z_]+)\(([0-9a-fA-F-]{36})\)$")


@dataclass
class Bind:
    attribute: Attribute
    target: str  # logical name of the referenced table
    ref: str | uuid.UUID | None  # id, or "$n" (a Content-ID of the same change set), or None


def format_datetime(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_guid(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (ValueError, AttributeError, TypeError):
        return None


def convert(entity: Entity, attribute: Attribute, value):
    """A JSON value checked against the attribute, in the form it is stored in Row.data."""
    if value is None:
        return None
    kind = attribute.type
    edm = EDM_TYPES.get(kind, "Edm.String")
    if kind in ("String", "Memo"):
        if not isinstance(value, str):
            raise errors.wrong_type(entity, attribute.name, value, edm)
        if attribute.max_length and len(value) > attribute.max_length:
            raise errors.too_long(entity, attribute)
        return value
    if kind == "Boolean":
        if not isinstance(value, bool):
            raise errors.wrong_type(entity, attribute.name, value, edm)
        return value
    if kind in ("Integer", "Picklist", "State", "Status", "BigInt"):
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise errors.wrong_type(entity, attribute.name, value, edm)
        if attribute.is_option:
            if attribute.option_label(value) is None:
                raise errors.bad_option(entity, attribute, value)
        elif not attribute.min_value <= value <= attribute.max_value:
            raise errors.out_of_range(entity, attribute, value)
        return value
    if kind in ("Decimal", "Money"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise errors.wrong_type(entity, attribute.name, value, edm)
        if not attribute.min_value <= value <= attribute.max_value:
            raise errors.out_of_range(entity, attribute, value)
        return round(float(value), attribute.precision or 2)
    if kind == "DateTime":
        if not isinstance(value, str):
            raise errors.wrong_type(entity, attribute.name, value, edm)
        if attribute.date_only and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            try:
                return date.fromisoformat(value).isoformat()
            except ValueError:
                raise errors.wrong_type(entity, attribute.name, value, "Edm.Date") from None
        parsed = parse_datetime(value)
        if parsed is None:
            raise errors.wrong_type(entity, attribute.name, value, edm)
        return parsed.date().isoformat() if attribute.date_only else format_datetime(parsed)
    if kind == "Uniqueidentifier":
        guid = parse_guid(value) if isinstance(value, str) else None
        if guid is None:
            raise errors.wrong_type(entity, attribute.name, value, edm)
        return str(guid)
    raise errors.unknown_property(entity, attribute.name)


def parse_reference(entity: Entity, nav: str, target: str, value) -> str | uuid.UUID | None:
    """The id of `/accounts(<guid>)` (relative or absolute URL) or a `$n` Content-ID reference."""
    if value is None:
        return None
    if isinstance(value, str) and re.fullmatch(r"\$\d+", value.strip()):
        return value.strip()
    match = REF_RE.search(value.strip()) if isinstance(value, str) else None
    target_set = match and BY_SET.get(match.group(1))
    if not match or target_set is None or target_set.logical_name != target:
        raise errors.payload_error(entity.set_name, (
            f"The value '{value}' of the navigation property '{nav}' is not a valid reference "
            f"to an entity of type 'Microsoft.Dynamics.CRM.{target}'."))
    return uuid.UUID(match.group(2))


def parse_payload(entity: Entity, body, *, creating: bool
                  ) -> tuple[dict, list[Bind], uuid.UUID | None]:
    """(storage values, binds, primary id given in the body) of a POST or PATCH body."""
    if not isinstance(body, dict):
        raise errors.payload_error(entity.set_name, "The request body is not a JSON object.")
    values, binds, given_id = {}, [], None
    for key, value in body.items():
        if key.startswith("@"):
            continue
        name, _, annotation = key.partition("@")
        if annotation:
            if annotation != "odata.bind":
                continue  # instance annotations (FormattedValue, ...) are read-only: ignored
            found = entity.navigations.get(name)
            if found is None:
                raise errors.payload_error(entity.set_name, (
                    f"An undeclared property '{name}' which only has property annotations in "
                    "the payload but no property value was found in the payload. In OData, "
                    "only declared navigation properties and declared named streams can be "
                    "represented as properties without values."))
            attribute, target = found
            binds.append(Bind(attribute, target, parse_reference(entity, name, target, value)))
            continue
        attribute = entity.attrs.get(name)
        if attribute is None or attribute.is_lookup:
            raise errors.unknown_property(entity, name)
        if name == entity.primary_id:
            given_id = parse_guid(value)
            if given_id is None:
                raise errors.wrong_type(entity, name, value, "Edm.Guid")
            continue
        if name in SYSTEM_ATTRIBUTES or not (
                attribute.valid_for_create if creating else attribute.valid_for_update):
            continue  # read-only attributes in a body are ignored, as Dataverse does
        values[name] = convert(entity, attribute, value)
    return values, binds, given_id


# --- Out ------------------------------------------------------------------------------------
def web_value(entity: Entity, attribute: Attribute, row):
    name = attribute.name
    if name == entity.primary_id:
        return str(row.rowid)
    if name in ("createdon", "modifiedon"):
        return format_datetime(getattr(row, name))
    if name in ("createdby", "modifiedby"):
        value = getattr(row, name)
        return str(value) if value else None
    if name == "versionnumber":
        return row.versionnumber
    return row.data.get(name)


def lookup_target(entity: Entity, attribute: Attribute, row) -> str:
    if len(attribute.targets) == 1:
        return attribute.targets[0]
    return row.data.get(TYPES_KEY, {}).get(attribute.name, attribute.targets[0])


def render(entity: Entity, row, select=None, annotations=None, names=None) -> dict:
    """A row as JSON. `annotations`: a predicate on annotation names (Prefer
    odata.include-annotations); `names`: {(logical name, id): primary name} for lookup labels."""
    out = {"@odata.etag": row.etag}
    attributes = entity.attributes if select is None else [entity.web_attrs[n] for n in select]
    if select is not None and entity.primary_id not in select:
        attributes = [entity.attrs[entity.primary_id], *attributes]
    for attribute in attributes:
        key = attribute.web_name
        value = web_value(entity, attribute, row)
        if annotations and value is not None:
            if attribute.is_lookup:
                target = lookup_target(entity, attribute, row)
                if annotations(FORMATTED) and names is not None:
                    label = names.get((target, value))
                    if label is not None:
                        out[key + FORMATTED] = label
                if annotations(NAV_NAME):
                    nav = attribute.name if len(attribute.targets) == 1 else (
                        f"{attribute.name}_{target}")
                    out[key + NAV_NAME] = nav
                if annotations(LOOKUP_NAME):
                    out[key + LOOKUP_NAME] = target
            elif annotations(FORMATTED):
                label = formatted(attribute, value)
                if label is not None:
                    out[key + FORMATTED] = label
        out[key] = value
    return out


def formatted(attribute: Attribute, value) -> str | None:
    if attribute.is_option:
        return attribute.option_label(value)
    if attribute.type == "Boolean":
        return "Yes" if value else "No"
    if attribute.type == "Money":
        return f"{value:,.2f}"
    if attribute.type in ("Integer", "Decimal", "BigInt"):
        return f"{value:,}"
    return None
