"""Operations as HTTP requests, and OData `$batch` (multipart/mixed) bodies built and parsed.

One operation (`BatchOperation`) becomes one `Prepared` request here, whether it is then sent
alone or inside a `$batch`, so both paths mean the same thing:
- POST   create; with `id` and `key` the caller's id goes into the body (a retry can't duplicate);
         with `id` but no `key`: PATCH entity(id) with `If-None-Match: *` (create-only upsert).
- PATCH  update an existing record: `If-Match: <etag>` or `*` (never creates).
- UPSERT PATCH without If-Match: update, or create with that id.
- DELETE `If-Match: <etag>` when one is given.
- GET    one record (with `id`) or the entity set.

Batch format (OData 4.0 part 1 §11.7, multipart): each operation is an `application/http` part
with an absolute request URL; `atomic` puts all of them in one change set (Content-ID 1..n).
Responses come back in request order; a failed change set is answered by one error response
standing for all its operations; without continue-on-error the service stops at the first
failure, so later operations get no response at all.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from .errors import DataverseError, error_for_status
from .values import dumps, id_from_entity_url, key_segment, loads

MAX_BATCH_OPERATIONS = 1000  # Dataverse's limit per $batch request

_METHODS = {"POST", "PATCH", "UPSERT", "DELETE", "GET"}


@dataclass
class BatchOperation:
    method: str
    entity_set: str
    id: Any = None
    data: dict | None = None
    etag: str | None = None
    key: str | None = None
    headers: dict[str, str] | None = None

    def __post_init__(self) -> None:
        self.method = self.method.upper()
        if self.method not in _METHODS:
            raise ValueError(f"unknown batch method {self.method!r}; use one of {_METHODS}")
        if self.method in ("PATCH", "UPSERT", "DELETE") and self.id is None:
            raise ValueError(f"{self.method} needs an id")


@dataclass
class BatchResult:
    status: int | None
    id: str | None = None
    etag: str | None = None
    data: dict | None = None
    error: DataverseError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Prepared:
    """One HTTP request: method, path relative to the service root, headers, JSON body."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    idempotent: bool = True
    # A create whose duplicate-id answer on a resend means "the first attempt worked".
    create_with_id: bool = False


def prepare(op: BatchOperation) -> Prepared:
    headers = dict(op.headers or {})
    data = dict(op.data or {})
    if op.method == "POST":
        if op.id is not None and op.key:
            data[op.key] = str(op.id)
            return Prepared("POST", op.entity_set, headers, dumps(data), True, True)
        if op.id is not None:
            headers["If-None-Match"] = "*"
            return Prepared(
                "PATCH", key_segment(op.entity_set, op.id), headers, dumps(data), True, True
            )
        return Prepared("POST", op.entity_set, headers, dumps(data), idempotent=False)
    if op.method == "PATCH":
        headers["If-Match"] = op.etag or "*"
        return Prepared("PATCH", key_segment(op.entity_set, op.id), headers, dumps(data))
    if op.method == "UPSERT":
        return Prepared("PATCH", key_segment(op.entity_set, op.id), headers, dumps(data))
    if op.method == "DELETE":
        if op.etag:
            headers["If-Match"] = op.etag
        return Prepared("DELETE", key_segment(op.entity_set, op.id), headers)
    path = key_segment(op.entity_set, op.id) if op.id is not None else op.entity_set
    return Prepared("GET", path, headers)


# --- building -----------------------------------------------------------------------------------

CRLF = "\r\n"


def _http_part(prep: Prepared, url: str, content_id: int | None) -> str:
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id is not None:
        lines.append(f"Content-ID: {content_id}")
    lines += ["", f"{prep.method} {url} HTTP/1.1", "Accept: application/json"]
    if prep.body is not None:
        lines.append("Content-Type: application/json; charset=utf-8")
    lines += [f"{k}: {v}" for k, v in prep.headers.items()]
    lines.append("")
    lines.append(prep.body or "")
    return CRLF.join(lines)


def build_batch(
    requests: list[tuple[Prepared, str]], *, atomic: bool, boundary: str | None = None
) -> tuple[str, str]:
    """(content_type, body) of a $batch of (prepared request, absolute URL) pairs."""
    batch = boundary or f"batch_{uuid.uuid4()}"
    out: list[str] = []
    if atomic:
        changeset = f"changeset_{uuid.uuid4()}"
        out.append(f"--{batch}")
        out.append(f"Content-Type: multipart/mixed; boundary={changeset}")
        out.append("")
        for n, (prep, url) in enumerate(requests, start=1):
            out.append(f"--{changeset}")
            out.append(_http_part(prep, url, n))
        out.append(f"--{changeset}--")
    else:
        for n, (prep, url) in enumerate(requests, start=1):
            out.append(f"--{batch}")
            out.append(_http_part(prep, url, n))
    out.append(f"--{batch}--")
    out.append("")
    return f"multipart/mixed; boundary={batch}", CRLF.join(out)


# --- parsing ------------------------------------------------------------------------------------


@dataclass
class PartResponse:
    """One HTTP response found inside a $batch answer."""

    status: int
    headers: dict[str, str]  # lower-case names
    body: str
    content_id: str | None = None

    def json(self) -> Any:
        return loads(self.body) if self.body.strip() else None


_BOUNDARY = re.compile(r'boundary\s*=\s*"?([^";]+)"?', re.I)
_BLANK = re.compile(r"\r?\n\r?\n")


def boundary_of(content_type: str) -> str | None:
    m = _BOUNDARY.search(content_type or "")
    return m.group(1).strip() if m else None


def _split_parts(body: str, boundary: str) -> list[str]:
    """The parts between the delimiters; ValueError when there is none or no closing one (an
    answer cut off: its last part may be incomplete, and later ones are missing)."""
    # A delimiter owns the line break before it and the rest of its own line.
    delim = re.compile(r"(?:^|\r?\n)--" + re.escape(boundary) + r"(--)?[ \t]*(?:\r?\n|$)")
    marks = list(delim.finditer(body))
    if not marks:
        raise ValueError(
            f"the multipart body holds no delimiter of its boundary {boundary!r} "
            f"({len(body):,} characters, starting {body[:80]!r})"
        )
    parts = []
    for here, after in zip(marks, marks[1:], strict=False):
        if here.group(1):  # the closing delimiter: anything after it is epilogue
            return parts
        parts.append(body[here.end() : after.start()])
    if not marks[-1].group(1):
        raise ValueError(
            f"the multipart body is cut off: no closing delimiter of {boundary!r} after "
            f"{len(parts)} complete part{'' if len(parts) == 1 else 's'}"
        )
    return parts


def _headers(block: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.splitlines():
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return headers


def _head_and_body(text: str) -> tuple[str, str]:
    if text.startswith(("\r\n", "\n")):
        return "", text.lstrip("\r").removeprefix("\n")
    pieces = _BLANK.split(text, maxsplit=1)
    return pieces[0], (pieces[1] if len(pieces) > 1 else "")


def _parse_http(text: str, content_id: str | None) -> PartResponse:
    head, body = _head_and_body(text.lstrip("\r\n"))
    lines = head.splitlines()
    if not lines:
        raise ValueError("empty HTTP response in batch part")
    status_line = lines[0].split(" ", 2)
    if len(status_line) < 2 or not status_line[1].isdigit():
        raise ValueError(f"not an HTTP status line: {lines[0]!r}")
    headers = _headers("\n".join(lines[1:]))
    return PartResponse(int(status_line[1]), headers, body.strip(), content_id)


def parse_batch(content_type: str, body: str | bytes) -> list[PartResponse | list[PartResponse]]:
    """The responses of a $batch answer in order; a change set's responses as a nested list."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    boundary = boundary_of(content_type)
    if not boundary:
        raise ValueError(f"batch answer without a multipart boundary: {content_type!r}")
    items: list[PartResponse | list[PartResponse]] = []
    for part in _split_parts(body, boundary):
        head, inner = _head_and_body(part)
        headers = _headers(head)
        ctype = headers.get("content-type", "application/http")
        if ctype.lower().startswith("multipart/"):
            nested = parse_batch(ctype, inner)
            items.append([p for p in nested if isinstance(p, PartResponse)])
        else:
            items.append(_parse_http(inner, headers.get("content-id")))
    return items


# --- results ------------------------------------------------------------------------------------


def result_of(op: BatchOperation, resp: PartResponse, url: str | None = None) -> BatchResult:
    if resp.status >= 400:
        error = error_for_status(resp.status, resp.body, method=op.method, url=url)
        return BatchResult(resp.status, _str(op.id), None, None, error)
    try:
        data = resp.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        data = None
    rid = _str(op.id)
    if rid is None:
        rid = id_from_entity_url(resp.headers.get("odata-entityid") or resp.headers.get("location"))
    if rid is None and data is not None:
        if op.key and data.get(op.key) is not None:
            rid = str(data[op.key])
        else:
            rid = id_from_entity_url(data.get("@odata.id") or data.get("@odata.editLink"))
    etag = resp.headers.get("etag") or (data or {}).get("@odata.etag")
    return BatchResult(resp.status, rid, etag, data, None)


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def not_executed(op: BatchOperation, reason: str) -> BatchResult:
    return BatchResult(
        None, _str(op.id), None, None, DataverseError(reason, code="NotExecuted", method=op.method)
    )
