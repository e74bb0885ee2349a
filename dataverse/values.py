"""Values on the wire: JSON with exact decimals, timestamps, keys and OData literals.

OData services differ in small ways this module absorbs: decimals come as JSON numbers or strings,
timestamps with or without fractions (Dataverse: none; .NET services: up to 7 digits) and with
`Z` or an offset, keys are GUIDs (bare in URLs), integers or strings (quoted).
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import unquote

# --- JSON ------------------------------------------------------------------------------------


def loads(text: str | bytes) -> Any:
    """Parse JSON keeping every non-integer number as a Decimal.

    Money in Dataverse has up to 15 integer digits and 4 decimals: more than a float holds.
    """
    return json.loads(text, parse_float=Decimal)


# A Decimal is written as a bare JSON number (never via float, which would round it). json has no
# hook for that, so each Decimal goes out as a marked string and the marks are removed after.
_MARK = "dec" + secrets.token_hex(6)
_MARKED = re.compile(r'"' + _MARK + r':([-+0-9.eE]+)"')


def _mark_decimals(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        if not obj.is_finite():
            raise ValueError(f"cannot send {obj} as JSON")
        return f"{_MARK}:{obj}"
    if isinstance(obj, dict):
        return {k: _mark_decimals(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_mark_decimals(v) for v in obj]
    if isinstance(obj, datetime):
        return format_datetime(obj)
    if isinstance(obj, date):
        return obj.isoformat()
    if isinstance(obj, uuid.UUID):
        return str(obj)
    return obj


def dumps(obj: Any) -> str:
    """JSON text of `obj`: Decimals as exact numbers, datetimes as ISO 8601 UTC, UUIDs as text."""
    return _MARKED.sub(r"\1", json.dumps(_mark_decimals(obj), ensure_ascii=False))


# --- numbers and timestamps ---------------------------------------------------------------------


def parse_decimal(value: Any) -> Decimal | None:
    """A Decimal from a JSON number or string (some OData services quote Edm.Decimal)."""
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise ValueError(f"not a decimal: {value!r}")
    if isinstance(value, float):
        return Decimal(repr(value))  # repr is the shortest exact text of what was meant
    try:
        return Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"not a decimal: {value!r}") from exc


_DT = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[T ](?P<h>\d{2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<frac>\d+))?)?"
    r"(?P<tz>Z|z|[+-]\d{2}:?\d{2})?)?$"
)


def parse_datetime(value: Any) -> datetime | None:
    """An aware datetime from an OData timestamp; naive input is taken as UTC.

    Accepts `2024-05-01T10:20:30Z`, `...30.1234567Z` (fractions beyond microseconds are
    truncated), `...30+02:00`, `...30` and a bare date (midnight UTC).
    """
    if value is None or value == "":
        return None
    # Dataverse's own form (`2024-05-01T10:20:30Z`, whole seconds in UTC) is most of what a run
    # reads: parsed in C. Any other text, or one fromisoformat refuses, takes the general way.
    if type(value) is str and len(value) == 20 and value[19] == "Z" and value[10] == "T" \
            and value[4] == "-" and value[7] == "-" and value[13] == ":" and value[16] == ":":
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    match = _DT.match(str(value).strip())
    if not match:
        raise ValueError(f"not an ISO 8601 timestamp: {value!r}")
    y, mo, d = (int(p) for p in match["date"].split("-"))
    frac = (match["frac"] or "")[:6].ljust(6, "0")
    dt = datetime(
        y, mo, d, int(match["h"] or 0), int(match["m"] or 0), int(match["s"] or 0), int(frac)
    )
    tz = match["tz"]
    if tz in (None, "Z", "z"):
        return dt.replace(tzinfo=UTC)
    sign = 1 if tz[0] == "+" else -1
    digits = tz[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return (dt - sign * offset).replace(tzinfo=UTC)


def format_datetime(value: datetime) -> str:
    """ISO 8601 in UTC with `Z` (naive is taken as UTC); microseconds only when present."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    spec = "%Y-%m-%dT%H:%M:%S.%fZ" if value.microsecond else "%Y-%m-%dT%H:%M:%SZ"
    return value.strftime(spec)


# --- keys and literals -------------------------------------------------------------------------

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def is_guid(value: Any) -> bool:
    return isinstance(value, uuid.UUID) or (isinstance(value, str) and bool(_GUID.match(value)))


def quote_string(value: str) -> str:
    """An OData string literal: single quotes, inner quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


def literal(value: Any) -> str:
    """`value` as an OData literal for $filter or a key segment."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if is_guid(value):
        return str(value)  # Edm.Guid literals are bare
    return quote_string(str(value))


def key_segment(entity_set: str, id: Any) -> str:
    """`accounts(<guid>)`, `items(42)`, `customers('ALFKI')`, or a prepared `(k1=..,k2=..)`."""
    if isinstance(id, str) and id.startswith("(") and id.endswith(")"):
        return f"{entity_set}{id}"
    return f"{entity_set}({literal(id)})"


def id_from_entity_url(url: str | None) -> str | None:
    """The key inside the last parentheses of an entity URL, quotes removed.

    `.../accounts(00000000-...)` -> the GUID; `Customers('AL''FKI')` -> `AL'FKI`;
    `items(id=42)` -> `42`. Composite keys come back as the raw text between the parentheses.
    """
    if not url:
        return None
    url = url.split("?", 1)[0].rstrip("/")
    start = url.rfind("(")
    if start < 0 or not url.endswith(")"):
        return None
    inner = unquote(url[start + 1 : -1])
    if "," in inner and "=" in inner:
        return inner
    if "=" in inner:
        inner = inner.split("=", 1)[1]
    if len(inner) >= 2 and inner[0] == "'" and inner[-1] == "'":
        inner = inner[1:-1].replace("''", "'")
    return inner


def normalize_id(value: Any) -> str:
    """A form of an id to compare by: GUIDs lowercase, everything else as text."""
    text = str(value)
    return text.lower() if is_guid(text) else text
