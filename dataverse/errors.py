"""Typed errors of the Dataverse client, and the mapping from an HTTP answer to one of them.

Every failure the client meets ends as a `DataverseError` subclass carrying the HTTP status (None
when no answer came), the service's error code and message, and the optional OData `details`.
The code is kept as the service sent it: Dataverse uses hex (`0x80040217`), other OData services
use digits or names; `numeric_code` gives one comparable number for the first two forms.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Dataverse error codes the client needs to recognise (hex, as the Web API sends them).
DUPLICATE_RECORD_CODES = {0x80040237}  # "A record with matching key values already exists."
THROTTLE_CODES = {0x80072322, 0x80072321, 0x80072326}  # service protection limits


class DataverseError(Exception):
    """Base of every error the client raises."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        details: list[dict] | None = None,
        method: str | None = None,
        url: str | None = None,
        retried: bool = False,
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.details = details or []
        self.method = method
        self.url = url
        # True when the request had been sent more than once: a conflict may be our own echo.
        self.retried = retried

    @property
    def numeric_code(self) -> int | None:
        """The code as an unsigned 32-bit number when it is hex or digits, else None."""
        return parse_error_code(self.code)

    def __str__(self) -> str:
        parts = []
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.code:
            parts.append(f"[{self.code}]")
        parts.append(self.message)
        return " ".join(parts)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r})"
        )


class NotFound(DataverseError):
    """404: the record (or entity set) does not exist."""


class PreconditionFailed(DataverseError):
    """412: the record changed since the ETag given in If-Match was read (a conflict)."""


class Conflict(DataverseError):
    """409, or another answer saying the write collides with existing data."""


class DuplicateRecord(Conflict):
    """A record with this id (or alternate key) already exists."""


class Throttled(DataverseError):
    """429 (or 503 with Retry-After) still answered after every allowed retry."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any):
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ValidationError(DataverseError):
    """400/422: the request (a value, a filter, an attribute name) was refused."""


class ServerError(DataverseError):
    """5xx still answered after every allowed retry."""


class TransportError(DataverseError):
    """No answer: timeout, refused or dropped connection."""


class MalformedResponse(DataverseError):
    """An answer the client cannot use: not JSON, not the OData shape asked for (no `value`, a
    row without its id or a selected attribute), an HTML page, a `$batch` answer cut off or not
    matching its requests, a next link that loops or leads to another host.

    The message says what was wrong and which request got that answer. Nothing of such an
    answer is used: a caller never acts on half of a garbled page.
    """

    def __str__(self) -> str:
        return self.message  # it names the request and the status itself


class AuthenticationError(DataverseError):
    """401/403, or the token endpoint refused the credentials."""


class NotSupported(DataverseError):
    """A feature the service does not offer (e.g. WhoAmI on a plain OData service)."""


# An error message is shown to people and stored in job logs: never megabytes of it.
MAX_MESSAGE = 1000
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
_TAG = re.compile(r"<[^>]+>")


def shorten(text: str, limit: int = MAX_MESSAGE) -> str:
    """`text` cut to `limit` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters in all)"


def request_label(method: str | None, url: str | None, limit: int = 200) -> str:
    """`GET https://.../accounts?$select=name` for messages, the URL cut to `limit`."""
    if url and len(url) > limit:
        url = url[:limit] + "…"
    return " ".join(p for p in (method, url) if p) or "a request"


def is_html(text: str) -> bool:
    head = text.lstrip()[:200].lower()
    return head.startswith(("<!doctype html", "<html", "<head", "<body")) or ("<html" in head)


def html_summary(text: str) -> str:
    """What an HTML page says in a few words: its title, else its first text."""
    match = _TITLE.search(text[:100_000])
    words = match.group(1) if match else _TAG.sub(" ", text[:100_000])
    words = " ".join(words.split())
    return shorten(words, 200) if words else "no text"


def parse_error_code(code: Any) -> int | None:
    """`0x80040237`, `-2147220937` and `2147746359` all give 2147746359; names give None."""
    if code is None:
        return None
    text = str(code).strip()
    try:
        if text.lower().startswith(("0x", "-0x")):
            value = int(text, 16)
        else:
            value = int(text)
    except ValueError:
        return None
    return value & 0xFFFFFFFF


def parse_error_body(body: bytes | str | None) -> tuple[str | None, str | None, list[dict]]:
    """(code, message, details) from an OData JSON error body; tolerant of anything else.

    OData v4: {"error": {"code": "...", "message": "...", "details": [...], "innererror": ...}}.
    Some services send a bare {"code", "message"}; OData v2-style services nest the message as
    {"message": {"lang": "en", "value": "..."}}; a proxy may send HTML or nothing.
    """
    if not body:
        return None, None, []
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        data = json.loads(body)
    except ValueError:
        text = body.strip()
        if text and is_html(text):
            return None, f"the service answered an HTML page: {html_summary(text)}", []
        return None, (shorten(text, 500) if text else None), []
    if not isinstance(data, dict):
        return None, None, []
    err = data.get("error", data)
    if isinstance(err, str):
        # OAuth 2.0 token endpoint: {"error": "invalid_client", "error_description": "..."}
        return shorten(err, 200), shorten(str(data.get("error_description") or err)), []
    if err is None:
        return None, None, []
    if not isinstance(err, dict):
        return None, shorten(str(err)), []
    code = err.get("code")
    message = err.get("message")
    if isinstance(message, dict):
        message = message.get("value")
    if message is None and isinstance(err.get("innererror"), dict):
        message = err["innererror"].get("message")
    details = err.get("details") or []
    if not isinstance(details, list):
        details = [details]
    return (
        shorten(str(code), 200) if code not in (None, "") else None,
        shorten(str(message)) if message is not None else None,
        [d for d in details[:50] if isinstance(d, dict)],
    )


def is_duplicate(code: str | None, message: str | None) -> bool:
    """Does this error say "a record with this key already exists"?"""
    if parse_error_code(code) in DUPLICATE_RECORD_CODES:
        return True
    name = (code or "").lower()
    if "duplicate" in name or "alreadyexists" in name.replace("_", ""):
        return True
    msg = (message or "").lower()
    return "already exists" in msg or "duplicate key" in msg


def error_for_status(
    status: int,
    body: bytes | str | None,
    *,
    method: str | None = None,
    url: str | None = None,
    retry_after: float | None = None,
    retried: bool = False,
) -> DataverseError:
    """The typed error for a non-success HTTP answer."""
    code, message, details = parse_error_body(body)
    message = message or f"HTTP {status}"
    kw: dict[str, Any] = dict(
        status=status, code=code, details=details, method=method, url=url, retried=retried
    )
    cls: type[DataverseError]
    if status in (401, 403):
        cls = AuthenticationError
    elif status == 404:
        cls = NotFound
    elif status == 409:
        cls = DuplicateRecord if is_duplicate(code, message) else Conflict
    elif status == 412:
        # Dataverse answers a duplicate id on create with 412 too (code 0x80040237).
        cls = DuplicateRecord if is_duplicate(code, None) else PreconditionFailed
    elif status == 429:
        return Throttled(message, retry_after=retry_after, **kw)
    elif status in (400, 422):
        cls = DuplicateRecord if is_duplicate(code, None) else ValidationError
    elif status in (501,):
        cls = NotSupported
    elif status >= 500:
        cls = ServerError
    else:
        cls = DataverseError
    return cls(message, **kw)
