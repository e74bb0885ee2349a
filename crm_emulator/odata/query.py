"""Collection queries: `$select`, `$orderby`, `$top`, `$count` and paging.

Paging follows Dataverse: `Prefer: odata.maxpagesize=N` (default and maximum 5,000) and an
`@odata.nextLink` carrying an opaque `$skiptoken`. The token is a keyset (the last row's sort
values and id) when every sort key is a column of `Row`, so page 20 of 100,000 rows costs what
page 1 does; sorting on JSON attributes falls back to an offset.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import F, Q
from django.db.models.fields.json import KeyTransform

from crm_emulator import errors
from crm_emulator.models import Row
from crm_emulator.odata.filter import field_of, parse_filter
from crm_emulator.schema import Entity

MAX_PAGE_SIZE = 5000
COUNT_LIMIT = 5000
KEYSET_FIELDS = {"rowid", "createdon", "modifiedon", "versionnumber"}
KNOWN_OPTIONS = {"$select", "$filter", "$orderby", "$top", "$count", "$skiptoken", "$expand",
                 "$apply", "$skip", "$search", "$format", "$deltatoken"}


@dataclass
class Query:
    entity: Entity
    select: list[str] | None = None
    filter: Q | None = None
    order: list[tuple[str, bool]] = field(default_factory=list)  # (ORM field, descending)
    top: int | None = None
    count: bool = False
    skiptoken: dict | None = None


def parse_select(entity: Entity, text: str | None) -> list[str] | None:
    if not text:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        if name not in entity.web_attrs:
            raise errors.no_property(entity.odata_type, name)
    return names


def parse_query(entity: Entity, params: dict) -> Query:
    for key in params:
        if key.startswith("$") and key not in KNOWN_OPTIONS:
            raise errors.bad_query(f"The query parameter '{key}' is not supported.")
    for unsupported in ("$expand", "$apply", "$skip", "$search"):
        if params.get(unsupported):
            raise errors.bad_query(
                f"The query option '{unsupported}' is not supported by the embedded CRM.")
    query = Query(entity, select=parse_select(entity, params.get("$select")))
    if params.get("$filter"):
        query.filter = parse_filter(entity, params["$filter"])
    for clause in (params.get("$orderby") or "").split(","):
        if not clause.strip():
            continue
        parts = clause.split()
        attribute = entity.web_attrs.get(parts[0])
        if attribute is None:
            raise errors.no_property(entity.odata_type, parts[0])
        if len(parts) > 2 or (len(parts) == 2 and parts[1] not in ("asc", "desc")):
            raise errors.bad_query(f"Syntax error in '$orderby={params['$orderby']}'.")
        query.order.append((field_of(entity, attribute), len(parts) == 2 and parts[1] == "desc"))
    if params.get("$top"):
        try:
            query.top = int(params["$top"])
        except ValueError:
            raise errors.bad_query(
                f"Invalid value '{params['$top']}' for $top query option found.") from None
        if query.top < 0:
            raise errors.bad_query("The $top query option must be a non-negative integer.")
    query.count = (params.get("$count") or "").lower() == "true"
    if params.get("$skiptoken"):
        query.skiptoken = decode_token(params["$skiptoken"])
    return query


def encode_token(payload: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def decode_token(text: str) -> dict:
    try:
        padded = text + "=" * (-len(text) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if isinstance(payload, dict):
            return payload
    except (ValueError, TypeError):
        pass
    raise errors.bad_query("The $skiptoken is not valid.")


def base_queryset(query: Query):
    qs = Row.objects.filter(entity=query.entity.logical_name)
    if query.filter is not None:
        qs = qs.filter(query.filter)
    return qs


def ordering(query: Query) -> list:
    keys = list(query.order)
    if not any(f == "rowid" for f, _ in keys):
        keys.append(("rowid", False))
    exprs = []
    for name, desc in keys:
        expr = KeyTransform(name.removeprefix("data__"), "data") if name.startswith(
            "data__") else F(name)
        exprs.append(expr.desc(nulls_last=True) if desc else expr.asc(nulls_first=True))
    return keys, exprs


def _dump(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _load(name, value):
    if name in ("createdon", "modifiedon"):
        return datetime.fromisoformat(value)
    if name == "rowid":
        return uuid.UUID(value)
    return value


COLUMNS = ("id", "rowid", "data", "createdon", "modifiedon", "createdby", "modifiedby",
           "versionnumber")


class RowValues:
    """A read-only Row as a page renders it, loaded without model instances."""

    __slots__ = COLUMNS
    etag = Row.etag

    def __init__(self, values):
        for name, value in zip(COLUMNS, values, strict=True):
            setattr(self, name, value)

    @property
    def pk(self):
        return self.id


def read_rows(qs) -> list[RowValues]:
    """The rows of a page: the query's own SQL run once, values converted by the database
    backend's converters (as the ORM would) but without building a model per row."""
    return [RowValues(values) for values in qs.values_list(*COLUMNS)]


def keyset_filter(keys, values) -> Q:
    """Rows after the last one of the previous page, in the order of `keys`."""
    condition = None
    for i, (name, desc) in enumerate(keys):
        q = Q(**{f"{name}__{'lt' if desc else 'gt'}": values[i]})
        for j in range(i):
            q &= Q(**{keys[j][0]: values[j]})
        condition = q if condition is None else condition | q
    return condition


def fetch_page(query: Query, page_size: int) -> tuple[list[Row], dict | None, int | None]:
    """(rows of this page, skiptoken payload of the next page or None, count if asked)."""
    qs = base_queryset(query)
    total = min(qs.count(), COUNT_LIMIT + 1) if query.count else None
    keys, exprs = ordering(query)
    keyset = all(name in KEYSET_FIELDS for name, _ in keys)
    qs = qs.order_by(*exprs)
    limit = page_size if query.top is None else min(query.top, page_size)
    token = query.skiptoken or {}
    offset = 0
    if keyset and "k" in token:
        try:
            values = [_load(name, v) for (name, _), v in zip(keys, token["k"], strict=True)]
        except (ValueError, TypeError):
            raise errors.bad_query("The $skiptoken is not valid.") from None
        qs = qs.filter(keyset_filter(keys, values))
    elif "o" in token:
        offset = int(token["o"])
    rows = read_rows(qs[offset:offset + limit + 1])
    more = len(rows) > limit and query.top is None
    rows = rows[:limit]
    next_token = None
    if more:
        last = rows[-1]
        if keyset:
            next_token = {"k": [_dump(getattr(last, name)) for name, _ in keys]}
        else:
            next_token = {"o": offset + limit}
    return rows, next_token, total
