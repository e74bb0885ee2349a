"""The CRM's entity and attribute descriptions, read once from EntityDefinitions and cached.

Validation of mappings (the models' clean()) reads only the cache, never the CRM: with nothing
cached it says so. The mapping forms and the engine read an entity from the CRM the first time
(`entity()` / `attributes()` with fetch); `refresh()` (Refresh CRM metadata, Use Default
Synchronization Setup) reads the CRM again.
"""

import re
from dataclasses import asdict

from dataverse import AttributeInfo
from mappings_app.models import EntityMetadata

# A logical name as Dataverse spells them: lower-case letters, digits and _ (new_project).
LOGICAL_NAME = re.compile(r"[a-z][a-z0-9_]{0,127}")


class MetadataUnavailable(LookupError):
    pass


def refresh(logical_names, client=None) -> dict[str, EntityMetadata]:
    """Reads the entities from the CRM and stores them; returns them by logical name."""
    from mappings_app.connection import crm_client

    if client is None:
        with crm_client() as opened:
            return refresh(logical_names, opened)
    definitions = {d["LogicalName"]: d for d in client.entity_definitions()}
    stored = {}
    for name in logical_names:
        definition = definitions.get(name)
        if definition is None:
            raise MetadataUnavailable(f"The CRM has no entity {name!r}.")
        attributes = [_as_dict(a) for a in client.entity_attributes(name)]
        stored[name], _ = EntityMetadata.objects.update_or_create(
            logical_name=name,
            defaults={
                "entity_set": definition.get("EntitySetName") or "",
                "primary_id": definition.get("PrimaryIdAttribute") or f"{name}id",
                "primary_name": definition.get("PrimaryNameAttribute") or "",
                "attributes": attributes,
            },
        )
    return stored


def _as_dict(attribute: AttributeInfo) -> dict:
    data = asdict(attribute)
    for key in ("min_value", "max_value"):
        if data.get(key) is not None:
            data[key] = float(data[key])  # JSON has no Decimal
    if data.get("options"):
        data["options"] = {str(k): v for k, v in data["options"].items()}
    return data


def entity(logical_name: str, fetch: bool = True) -> EntityMetadata:
    """The cached metadata of an entity, read from the CRM the first time."""
    if not LOGICAL_NAME.fullmatch(logical_name or ""):
        raise MetadataUnavailable(
            f"{logical_name!r} is not the logical name of a CRM entity (lower-case letters, "
            "digits and _, such as account).")
    found = EntityMetadata.objects.filter(logical_name=logical_name).first()
    if found is None and fetch:
        found = refresh([logical_name])[logical_name]
    if found is None:
        raise MetadataUnavailable(
            f"The CRM's metadata of {logical_name!r} was not read yet. Read it with Refresh CRM "
            "metadata on the Connection Setup page (the mapping pages read it too), then save "
            "again.")
    return found


def attributes(logical_name: str, fetch: bool = True) -> dict[str, dict]:
    return {a["name"]: a for a in entity(logical_name, fetch).attributes}
