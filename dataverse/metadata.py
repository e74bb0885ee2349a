"""Table and column definitions read from `EntityDefinitions` (Dataverse's metadata Web API).

`GET EntityDefinitions(LogicalName='account')/Attributes` lists AttributeMetadata items of
derived types (StringAttributeMetadata, PicklistAttributeMetadata, LookupAttributeMetadata, ...),
each with its type's own properties (MaxLength, Targets, MinValue, ...). Real Dataverse does not
inline the `OptionSet` navigation property there; when items come without it, the options are
read per derived type with `$expand=OptionSet` (one extra request per type, not per column).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .errors import MalformedResponse, shorten
from .values import quote_string

if TYPE_CHECKING:
    from .client import DataverseClient

# AttributeType values whose options live in an OptionSet.
OPTION_TYPES = {"Picklist", "State", "Status", "MultiSelectPicklist", "Boolean"}
_REQUIRED_LEVELS = {"ApplicationRequired", "SystemRequired"}
ENTITY_FIELDS = ("LogicalName", "EntitySetName", "PrimaryIdAttribute", "PrimaryNameAttribute")


@dataclass
class AttributeInfo:
    name: str
    type: str
    max_length: int | None = None
    required: bool = False
    options: dict[int, str] | None = None
    targets: list[str] | None = None
    min_value: Any = None
    max_value: Any = None
    precision: int | None = None
    valid_for_create: bool = True
    valid_for_update: bool = True


def _type_of(item: dict) -> str:
    if item.get("AttributeType"):
        return str(item["AttributeType"])
    type_name = item.get("AttributeTypeName")
    type_name = type_name.get("Value") if isinstance(type_name, dict) else None
    if type_name:
        return str(type_name).removesuffix("Type")
    odata_type = str(item.get("@odata.type", "")).rsplit(".", 1)[-1]
    return odata_type.removesuffix("AttributeMetadata") or "Unknown"


def label_text(label: Any) -> str | None:
    """The text of a Dataverse Label: the user's localized label, else the first localized."""
    if not isinstance(label, dict):
        return str(label) if label is not None else None
    user = label.get("UserLocalizedLabel")
    if isinstance(user, dict) and user.get("Label") is not None:
        return str(user["Label"])
    for localized in label.get("LocalizedLabels") or []:
        if isinstance(localized, dict) and localized.get("Label") is not None:
            return str(localized["Label"])
    return None


def _bad(where: str, what: str, value: Any, wanted: str) -> MalformedResponse:
    shown = str(value) if isinstance(value, Decimal) else repr(value)
    return MalformedResponse(
        f"the CRM's description of {where} has {what} {shorten(shown, 100)}, not {wanted}"
    )


def parse_options(option_set: Any, where: str = "an option set") -> dict[int, str] | None:
    if not isinstance(option_set, dict):
        return None
    if "TrueOption" in option_set or "FalseOption" in option_set:  # BooleanOptionSetMetadata
        options = {}
        for key, default in (("FalseOption", "No"), ("TrueOption", "Yes")):
            opt = option_set.get(key) or {}
            if not isinstance(opt, dict):
                raise _bad(where, key, opt, "an option")
            value = _int(opt.get("Value", 1 if key == "TrueOption" else 0), where, "option value")
            options[value] = label_text(opt.get("Label")) or default
        return options
    options = {}
    listed = option_set.get("Options") or []
    if not isinstance(listed, list):
        raise _bad(where, "Options", listed, "a list")
    for opt in listed:
        if isinstance(opt, dict) and opt.get("Value") is not None:
            value = _int(opt["Value"], where, "option value")
            options[value] = label_text(opt.get("Label")) or str(value)
    return options


def _required(item: dict) -> bool:
    level = item.get("RequiredLevel")
    if isinstance(level, dict):
        level = level.get("Value")
    return level in _REQUIRED_LEVELS


def _int(value: Any, where: str = "an attribute", what: str = "a number") -> int | None:
    """A whole number of the metadata, or MalformedResponse saying where it was not one."""
    if value is None:
        return None
    if isinstance(value, int | Decimal | str) and not isinstance(value, bool):
        try:
            number = Decimal(str(value).strip())
        except ArithmeticError:
            number = None
        if number is not None and number.is_finite() and number == number.to_integral_value():
            if abs(number) < 2**63:  # int() of 1E999998 would take seconds
                return int(number)
    raise _bad(where, what, value, "a whole number")


def _number(value: Any, where: str, what: str) -> Any:
    if value is None or (isinstance(value, int | float | Decimal) and not isinstance(value, bool)):
        return value
    raise _bad(where, what, value, "a number")


def parse_attribute(item: dict) -> AttributeInfo:
    """An AttributeInfo from one AttributeMetadata item of the Web API."""
    name = item.get("LogicalName")
    if not isinstance(name, str) or not name:
        raise _bad("an attribute", "LogicalName", name, "a name")
    where = f"the attribute {name}"
    kind = _type_of(item)
    options = None
    if kind in OPTION_TYPES or "OptionSet" in item:
        options = parse_options(item.get("OptionSet"), where) or parse_options(
            item.get("GlobalOptionSet"), where
        )
    targets = item.get("Targets")
    if targets is not None and (
        not isinstance(targets, list) or not all(isinstance(t, str) for t in targets)
    ):
        raise _bad(where, "Targets", targets, "a list of table names")
    return AttributeInfo(
        name=name,
        type=kind,
        max_length=_int(item.get("MaxLength"), where, "MaxLength"),
        required=_required(item),
        options=options,
        targets=list(targets) if targets is not None else None,
        min_value=_number(item.get("MinValue"), where, "MinValue"),
        max_value=_number(item.get("MaxValue"), where, "MaxValue"),
        precision=_int(item.get("Precision"), where, "Precision"),
        valid_for_create=bool(item.get("IsValidForCreate", True)),
        valid_for_update=bool(item.get("IsValidForUpdate", True)),
    )


def entity_attributes(client: DataverseClient, logical_name: str) -> list[AttributeInfo]:
    path = f"EntityDefinitions(LogicalName={quote_string(logical_name)})/Attributes"
    items = list(client.iter_rows(path))
    missing_types = {
        str(item.get("@odata.type", "")).lstrip("#")
        for item in items
        if _type_of(item) in OPTION_TYPES
        and "OptionSet" not in item
        and "GlobalOptionSet" not in item
        and item.get("@odata.type")
    }
    if missing_types:
        by_name = {item.get("LogicalName"): item for item in items}
        for odata_type in sorted(missing_types):
            for extra in client.iter_rows(
                f"{path}/{odata_type}", select=["LogicalName"], expand="OptionSet"
            ):
                target = by_name.get(extra.get("LogicalName"))
                if target is not None:
                    target["OptionSet"] = extra.get("OptionSet")
    return [parse_attribute(item) for item in items if item.get("LogicalName")]


def entity_definitions(client: DataverseClient) -> list[dict[str, Any]]:
    return [
        {name: row.get(name) for name in ENTITY_FIELDS}
        for row in client.iter_rows("EntityDefinitions", select=list(ENTITY_FIELDS))
    ]


def entity_definition(client: DataverseClient, logical_name: str) -> dict[str, Any]:
    path = f"EntityDefinitions(LogicalName={quote_string(logical_name)})"
    row = client.get_path(path, select=list(ENTITY_FIELDS))
    return {name: row.get(name) for name in ENTITY_FIELDS}
