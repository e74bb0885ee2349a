"""OData query strings: `$select`, `$filter`, `$orderby`, `$top`, and id filters for many records.

Query strings are built here by hand, not by `requests`' `params=`, because that one encodes a
space as `+`, which OData services read as a literal plus (and a `+` in a timestamp offset
must become `%2B`). Spaces here are always `%20`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from .values import literal, quote_string

# Characters left as they are in a query value: OData's own punctuation. Everything else,
# notably space, `+`, `&`, `#`, `%`, `[`, `]`, is percent-encoded.
_SAFE = "$,'()=:/@;*!-._~"


def encode(value: str) -> str:
    """Percent-encode one query value; space becomes `%20`, never `+`."""
    return quote(value, safe=_SAFE)


def build_query(
    *,
    select: Sequence[str] | str | None = None,
    filter: str | None = None,
    orderby: Sequence[str] | str | None = None,
    top: int | None = None,
    expand: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """The query string (without `?`) for the given options, in a stable order."""
    parts: list[tuple[str, str]] = []
    if select:
        parts.append(("$select", select if isinstance(select, str) else ",".join(select)))
    if filter:
        parts.append(("$filter", filter))
    if orderby:
        parts.append(("$orderby", orderby if isinstance(orderby, str) else ",".join(orderby)))
    if top is not None:
        parts.append(("$top", str(int(top))))
    if expand:
        parts.append(("$expand", expand))
    for name, value in (extra or {}).items():
        parts.append((name, str(value)))
    return "&".join(f"{encode(k)}={encode(v)}" for k, v in parts)


def with_query(path: str, query: str) -> str:
    if not query:
        return path
    return f"{path}{'&' if '?' in path else '?'}{query}"


def in_filter(key: str, ids: Iterable[Any]) -> str:
    """Dataverse's `Microsoft.Dynamics.CRM.In` query function: one short clause for many ids."""
    values = ",".join(quote_string(str(i)) for i in ids)
    return f"Microsoft.Dynamics.CRM.In(PropertyName={quote_string(key)},PropertyValues=[{values}])"


def or_filter(key: str, ids: Iterable[Any]) -> str:
    """Standard OData: `key eq a or key eq b ...` (GUIDs and numbers bare, strings quoted)."""
    return " or ".join(f"{key} eq {literal(i)}" for i in ids)


def chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
