"""Metadata of the embedded CRM, shaped like Dataverse's: `EntityDefinitions`, their `Attributes`
(AttributeMetadata with MaxLength, RequiredLevel, Targets, OptionSet, ...), and a small CSDL
`$metadata` document. All of it is read from schema.py.
"""

from __future__ import annotations

import re
import uuid
from xml.sax.saxutils import quoteattr

from crm_emulator import errors
from crm_emulator.schema import BY_NAME, ENTITIES, Attribute, Entity

NAMESPACE = uuid.UUID("8d4c2a4e-6a39-4d47-9d1e-3c1b2f7e0a11")
METADATA_TYPES = {
    "String": "StringAttributeMetadata", "Memo": "MemoAttributeMetadata",
    "Integer": "IntegerAttributeMetadata", "BigInt": "BigIntAttributeMetadata",
    "Decimal": "DecimalAttributeMetadata", "Money": "MoneyAttributeMetadata",
    "Boolean": "BooleanAttributeMetadata", "DateTime": "DateTimeAttributeMetadata",
    "Picklist": "PicklistAttributeMetadata", "State": "StateAttributeMetadata",
    "Status": "StatusAttributeMetadata", "Lookup": "LookupAttributeMetadata",
    "Customer": "LookupAttributeMetadata", "Owner": "LookupAttributeMetadata",
    "Uniqueidentifier": "UniqueIdentifierAttributeMetadata",
}
TYPE_NAMES = {"Uniqueidentifier": "UniqueidentifierType", "BigInt": "BigIntType"}
CSDL_TYPES = {"String": "Edm.String", "Memo": "Edm.String", "Integer": "Edm.Int32",
              "BigInt": "Edm.Int64", "Decimal": "Edm.Decimal", "Money": "Edm.Decimal",
              "Boolean": "Edm.Boolean", "DateTime": "Edm.DateTimeOffset",
              "Picklist": "Edm.Int32", "State": "Edm.Int32", "Status": "Edm.Int32",
              "Uniqueidentifier": "Edm.Guid", "Lookup": "Edm.Guid", "Customer": "Edm.Guid",
              "Owner": "Edm.Guid"}
CHANGE_TRACKING_ANNOTATION = (
    '<Annotation Term="Org.OData.Capabilities.V1.ChangeTracking"><Record>'
    '<PropertyValue Property="Supported" Bool="true" /></Record></Annotation>')


def metadata_id(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


def label(text: str) -> dict:
    localized = {"Label": text, "LanguageCode": 1033}
    return {"LocalizedLabels": [localized], "UserLocalizedLabel": localized}


def entity_definition(entity: Entity) -> dict:
    return {
        "@odata.type": "#Microsoft.Dynamics.CRM.EntityMetadata",
        "MetadataId": metadata_id(entity.logical_name),
        "LogicalName": entity.logical_name,
        "SchemaName": entity.logical_name.capitalize(),
        "EntitySetName": entity.set_name,
        "LogicalCollectionName": entity.set_name,
        "PrimaryIdAttribute": entity.primary_id,
        "PrimaryNameAttribute": entity.primary_name,
        "OwnershipType": entity.ownership,
        "IsCustomEntity": False,
        "ChangeTrackingEnabled": entity.change_tracking,
        "DisplayName": label(entity.display_name),
    }


def attribute_definition(entity: Entity, attribute: Attribute) -> dict:
    kind = attribute.type
    item = {
        "@odata.type": f"#Microsoft.Dynamics.CRM.{METADATA_TYPES[kind]}",
        "MetadataId": metadata_id(entity.logical_name, attribute.name),
        "LogicalName": attribute.name,
        "SchemaName": attribute.name,
        "EntityLogicalName": entity.logical_name,
        "AttributeType": kind,
        "AttributeTypeName": {"Value": TYPE_NAMES.get(kind, f"{kind}Type")},
        "DisplayName": label(attribute.caption),
        "RequiredLevel": {"Value": attribute.required, "CanBeChanged": True,
                          "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings"},
        "IsValidForCreate": attribute.valid_for_create,
        "IsValidForUpdate": attribute.valid_for_update,
        "IsValidForRead": True,
        "IsPrimaryId": attribute.name == entity.primary_id,
        "IsPrimaryName": attribute.name == entity.primary_name,
        "IsCustomAttribute": attribute.name.startswith("nav_"),
        "AttributeOf": None,
    }
    if kind in ("String", "Memo"):
        item["MaxLength"] = attribute.max_length
        item["Format"] = attribute.format
    if kind in ("Integer", "BigInt", "Decimal", "Money"):
        item["MinValue"] = attribute.min_value
        item["MaxValue"] = attribute.max_value
    if kind in ("Decimal", "Money"):
        item["Precision"] = attribute.precision
    if kind == "Money":
        item["PrecisionSource"] = 2
    if kind == "DateTime":
        item["Format"] = attribute.format
        item["DateTimeBehavior"] = {"Value": "DateOnly" if attribute.date_only else "UserLocal"}
    if attribute.is_lookup:
        item["Targets"] = list(attribute.targets)
    if attribute.is_option:
        item["DefaultFormValue"] = attribute.default if attribute.default is not None else -1
        item["OptionSet"] = {
            "MetadataId": metadata_id(entity.logical_name, attribute.name, "options"),
            "Name": f"{entity.logical_name}_{attribute.name}",
            "IsGlobal": False,
            "OptionSetType": kind,
            "Options": [{"Value": value, "Label": label(text)}
                        for value, text in attribute.options],
        }
    if kind == "Boolean":
        item["DefaultValue"] = bool(attribute.default)
        item["OptionSet"] = {"TrueOption": {"Value": 1, "Label": label("Yes")},
                             "FalseOption": {"Value": 0, "Label": label("No")}}
    return item


def select_keys(item: dict, select: str | None) -> dict:
    if not select:
        return item
    wanted = {s.strip() for s in select.split(",")} | {"MetadataId", "@odata.type"}
    return {k: v for k, v in item.items() if k in wanted}


KEY_RE = re.compile(r"^\((?:LogicalName=)?'?([\w-]+)'?\)")
CAST_RE = re.compile(r"^/Microsoft\.Dynamics\.CRM\.(\w+)")


def find_entity(key: str) -> Entity:
    entity = BY_NAME.get(key) or next(
        (e for e in ENTITIES if metadata_id(e.logical_name) == key), None)
    if entity is None:
        raise errors.ApiError(404, "0x80040217",
                              f"Could not find entity with logical name or id {key}.")
    return entity


def simple_filter(items: list[dict], text: str | None) -> list[dict]:
    """`Name eq 'value'` or `Name eq true|false` clauses joined by `or` (what clients ask of
    metadata)."""
    if not text:
        return items
    clauses = [(name, quoted if flag == "" else flag == "true")
               for name, quoted, flag in re.findall(
                   r"(\w+)\s+eq\s+(?:'([^']*)'|(true|false)\b)", text)]
    if not clauses:
        raise errors.bad_query(f"The metadata $filter '{text}' is not supported.")
    return [i for i in items if any(
        i.get(k) is v if isinstance(v, bool) else str(i.get(k)) == v for k, v in clauses)]


def handle(path: str, params: dict, root: str) -> dict:
    """GET EntityDefinitions[...]: `path` is what follows `EntityDefinitions`."""
    context = f"{root}$metadata#EntityDefinitions"
    if not path:
        items = [entity_definition(e) for e in ENTITIES]
        items = simple_filter(items, params.get("$filter"))
        if "Attributes" in (params.get("$expand") or ""):
            for item in items:
                entity = BY_NAME[item["LogicalName"]]
                item["Attributes"] = [attribute_definition(entity, a) for a in entity.attributes]
        return {"@odata.context": context,
                "value": [select_keys(i, params.get("$select")) for i in items]}
    match = KEY_RE.match(path)
    if not match:
        raise errors.no_segment(f"EntityDefinitions{path}")
    entity = find_entity(match.group(1))
    rest = path[match.end():]
    if not rest:
        item = entity_definition(entity)
        if "Attributes" in (params.get("$expand") or ""):
            item["Attributes"] = [attribute_definition(entity, a) for a in entity.attributes]
        return {"@odata.context": f"{context}/$entity", **select_keys(item, params.get("$select"))}
    if not rest.startswith("/Attributes"):
        raise errors.no_segment(rest.lstrip("/"))
    rest = rest.removeprefix("/Attributes")
    items = [attribute_definition(entity, a) for a in entity.attributes]
    single = KEY_RE.match(rest)
    if single:
        items = [i for i in items if single.group(1) in (i["LogicalName"], i["MetadataId"])]
        if not items:
            raise errors.ApiError(404, "0x80040217",
                                  f"Could not find attribute {single.group(1)} of "
                                  f"{entity.logical_name}.")
        rest = rest[single.end():]
    cast = CAST_RE.match(rest)
    if cast:
        items = [i for i in items if i["@odata.type"] == f"#Microsoft.Dynamics.CRM.{cast.group(1)}"]
        rest = rest[cast.end():]
    if rest:
        raise errors.no_segment(rest.lstrip("/"))
    items = [select_keys(i, params.get("$select"))
             for i in simple_filter(items, params.get("$filter"))]
    if single:
        if not items:
            raise errors.ApiError(404, "0x80040217", "The attribute is not of the type asked.")
        return {"@odata.context": f"{context}({entity.logical_name})/Attributes/$entity",
                **items[0]}
    return {"@odata.context": f"{context}({entity.logical_name})/Attributes", "value": items}


def csdl(annotations: bool = False) -> str:
    """A minimal CSDL document: entity types, keys, properties and entity sets; with
    `annotations`, the sets of tables with change tracking carry Dataverse's annotation."""
    lines = ['<?xml version="1.0" encoding="utf-8"?>',
             '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">',
             "<edmx:DataServices>",
             '<Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" '
             'xmlns="http://docs.oasis-open.org/odata/ns/edm">']
    for entity in ENTITIES:
        lines.append(f"<EntityType Name={quoteattr(entity.logical_name)}>")
        lines.append(f'<Key><PropertyRef Name="{entity.primary_id}" /></Key>')
        for attribute in entity.attributes:
            lines.append(f"<Property Name={quoteattr(attribute.web_name)} "
                         f"Type=\"{CSDL_TYPES[attribute.type]}\" />")
            for nav, target in attribute.navigations.items() if attribute.is_lookup else ():
                lines.append(f"<NavigationProperty Name={quoteattr(nav)} "
                             f"Type=\"mscrm.{target}\" />")
        lines.append("</EntityType>")
    lines.append('<EntityContainer Name="System">')
    for entity in ENTITIES:
        element = (f'<EntitySet Name="{entity.set_name}" '
                   f'EntityType="mscrm.{entity.logical_name}"')
        if annotations and entity.change_tracking:
            lines += [element + ">", CHANGE_TRACKING_ANNOTATION, "</EntitySet>"]
        else:
            lines.append(element + " />")
    lines += ["</EntityContainer>", "</Schema>", "</edmx:DataServices>", "</edmx:Edmx>"]
    return "\n".join(lines)
