"""Reading the service's answers: JSON bodies, OData collections, next links, single parts.

Every check here turns an answer the client cannot trust into MalformedResponse, saying which
request got what; a caller must never take a missing value for an empty one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import requests

from .batch import PartResponse
from .errors import MalformedResponse, request_label, shorten
from .values import is_guid, loads, normalize_id


def text_of(value: Any) -> str | None:
    """A value as text, None kept."""
    return None if value is None else str(value)


def next_link(payload: Any, label: str = "the request") -> str | None:
    if not isinstance(payload, dict):
        return None
    # OData v4 JSON; v4.01 allows the bare form; v3 verbose/light forms for lenience.
    for name in ("@odata.nextLink", "@nextLink", "odata.nextLink", "__next"):
        link = payload.get(name)
        if link is None or link == "":
            continue
        if not isinstance(link, str):
            raise MalformedResponse(
                f"{label} was answered with a {name} that is not a link: {shorten(repr(link), 200)}"
            )
        return link
    return None


def json_of(resp: requests.Response, method: str) -> Any:
    """The JSON body of a success, or MalformedResponse saying which request got what."""
    try:
        return loads(resp.content)
    except ValueError as exc:  # RecursionError is not one: json gives up on deep nesting itself
        text = resp.content[:200].decode("utf-8", "replace")
        raise MalformedResponse(
            f"{request_label(method, resp.url)} was answered HTTP {resp.status_code} with "
            f"something that is not JSON ({exc}; {len(resp.content):,} bytes, starting "
            f"{text!r})",
            status=resp.status_code,
            method=method,
            url=resp.url,
        ) from exc


def required_attributes(select: Sequence[str] | str | None, key: str | None) -> tuple[str, ...]:
    """The attributes each row must hold: the key and the selected ones (with a key only)."""
    if not key:
        return ()
    names = [select] if isinstance(select, str) else list(select or [])
    names = [n.strip() for part in names for n in part.split(",") if n.strip()]
    return tuple(dict.fromkeys([key, *(n for n in names if "*" not in n and "." not in n)]))


def collection_rows(
    payload: Any, label: str, key: str | None, required: Sequence[str], guid_keys: bool
) -> list[dict]:
    """The records of an OData collection answer, checked; MalformedResponse if it is none."""
    if not isinstance(payload, dict):
        raise MalformedResponse(
            f"{label} was answered with JSON that is not an object but "
            f"{type(payload).__name__} {shorten(repr(payload), 100)}: not an OData collection"
        )
    rows = payload.get("value")
    if not isinstance(rows, list):
        what = (
            'no "value"'
            if "value" not in payload
            else (f'a "value" that is {type(rows).__name__}, not a list')
        )
        raise MalformedResponse(f"{label} was answered with {what}: not an OData collection")
    ids: dict[str, int] = {}
    for n, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise MalformedResponse(
                f"{label}: record {n} of the page is not an object but {type(row).__name__} "
                f"{shorten(repr(row), 100)}"
            )
        if not key:
            continue
        rid = row.get(key)
        if (
            rid is None
            or isinstance(rid, bool)
            or not isinstance(rid, str | int)
            or (guid_keys and not is_guid(rid))
        ):
            got = "has none" if rid is None else f"is {shorten(repr(rid), 100)}"
            raise MalformedResponse(
                f"{label}: record {n} of the page has no usable id: its {key} {got}"
            )
        missing = [name for name in required if name not in row and f"_{name}_value" not in row]
        if missing:
            raise MalformedResponse(
                f"{label}: record {n} of the page ({key} {rid}) lacks the selected "
                f"attribute{'s' if len(missing) > 1 else ''} {', '.join(missing)}: the answer "
                "is incomplete, and a missing value must not be taken for an empty one"
            )
        first = ids.setdefault(normalize_id(rid), n)
        if first != n:  # taken twice, one record would become two on the other side
            raise MalformedResponse(
                f"{label}: records {first} and {n} of the page are the same record ({key} {rid})"
            )
    return rows


def part_of(resp: requests.Response) -> PartResponse:
    headers = {k.lower(): v for k, v in resp.headers.items()}
    return PartResponse(resp.status_code, headers, resp.text or "")
