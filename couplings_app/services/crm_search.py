"""Set Up Coupling's search: CRM records found by the CRM itself, and the CRM's names of records."""

from dataclasses import dataclass

from couplings_app.models import Coupling
from mappings_app import metadata

SEARCH_LIMIT = 20


@dataclass
class Candidate:
    id: str
    name: str
    coupled_to: int | None  # the ERP record id it is coupled to, if any


@dataclass
class SearchResult:
    candidates: list
    more: bool  # more records match than are shown: the user narrows the search


def _odata_text(text: str) -> str:
    return text.replace("'", "''")


def search_crm(mapping, client, text: str = "", limit: int = SEARCH_LIMIT) -> list[Candidate]:
    return search_crm_records(mapping, client, text, limit).candidates


def search_crm_records(mapping, client, text: str = "", limit: int = SEARCH_LIMIT,
                       include=None) -> SearchResult:
    """CRM records of the mapping's entity (within its filter) found by the CRM itself: names
    that start with or contain `text` ($filter startswith/contains, so any record is found, not
    only those of a first page), or the record whose id `text` is. `include`: a record id shown
    first whatever the search (the one coupled now)."""
    import uuid

    primary = metadata.entity(mapping.remote_entity).primary_name
    clauses = [f"({mapping.remote_filter})"] if mapping.remote_filter.strip() else []
    text = " ".join(text.split())[:100]
    if text:
        try:
            wanted = uuid.UUID(text)
        except ValueError:
            wanted = None
        if wanted is not None:
            clauses.append(f"{mapping.remote_key} eq {wanted}")
        elif primary:
            quoted = _odata_text(text)
            clauses.append(f"(startswith({primary},'{quoted}') or contains({primary},'{quoted}'))")
    select = [mapping.remote_key] + ([primary] if primary else [])
    rows = next(iter(client.iter_pages(mapping.remote_entity_set, select=select,
                                       filter=" and ".join(clauses) or None,
                                       orderby=primary or None, top=limit + 1,
                                       page_size=limit + 1)), [])
    more = len(rows) > limit
    rows = rows[:limit]
    if text and primary:
        # Names that start with the text first, then those that contain it.
        folded = text.casefold()
        rows.sort(key=lambda r: not str(r.get(primary) or "").casefold().startswith(folded))
    if include:
        include = str(include).lower()
        if include not in {str(r[mapping.remote_key]).lower() for r in rows}:
            found = client.get_many(mapping.remote_entity_set, mapping.remote_key, [include],
                                    select=select)
            rows = list(found.values()) + rows
    ids = [str(r[mapping.remote_key]).lower() for r in rows]
    taken = {str(remote).lower(): local for remote, local in Coupling.objects.filter(
        remote_entity=mapping.remote_entity, local_model=mapping.local_model,
        remote_id__in=ids).values_list("remote_id", "local_id")}
    return SearchResult([Candidate(id=i, name=str(r.get(primary) or i), coupled_to=taken.get(i))
                         for i, r in zip(ids, rows, strict=True)], more)


def crm_names(client, entity: str, entity_set: str, key: str, ids) -> dict[str, str]:
    """The CRM's names of these records ({lower-case id: name}), in one request per 100 ids;
    records that do not exist are left out. Empty if the entity has no primary name."""
    ids = [str(i).lower() for i in ids if i]
    if not ids:
        return {}
    primary = metadata.entity(entity).primary_name
    if not primary:
        return {}
    rows = client.get_many(entity_set, key, ids, select=[key, primary])
    return {str(k).lower(): str(r.get(primary)) for k, r in rows.items() if r.get(primary)}


def crm_name(mapping, remote_id, *, client) -> str | None:
    """The name of one CRM record of the mapping's entity; None if it does not exist."""
    names = crm_names(client, mapping.remote_entity, mapping.remote_entity_set,
                      mapping.remote_key, [remote_id])
    return names.get(str(remote_id).lower())
