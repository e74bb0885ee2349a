"""The HTTP layer: one `requests` session, standard OData headers, auth, retries, typed errors.

Retry rules (all bounded by `max_retries`; every sleep goes through the injectable `sleep`):
- 429, and 503 with Retry-After: the service did not run the request, so any method is resent
  after the time it asks for (or exponential backoff when it names none). A wait longer than
  `max_retry_after` is not waited out here: `Throttled` is raised with `retry_after` set so the
  caller can reschedule instead of blocking a worker for many minutes.
- other 5xx, timeouts, dropped connections: resent with exponential backoff and jitter, only
  when the request is idempotent (GET, PATCH, PUT, DELETE, or a POST the caller marks so because
  it carries an id it chose). A POST that may have run is never blindly resent; a connect
  timeout (nothing was sent) is always safe to resend.
- 401: the token is renewed once and the request resent.

Shared by the threads of a parallel write (dataverse.parallel): `request_count` is counted under
a lock; a 429's Retry-After closes a `Gate` that every thread waits at before its next request
(service protection limits are per user, not per request); the last `x-ms-dop-hint` the
service sent is kept in `dop_hint`; a session made here pools `max_parallel` connections per
host, so parallel requests do not open and drop connections.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter

from .errors import (
    AuthenticationError,
    DataverseError,
    MalformedResponse,
    Throttled,
    TransportError,
    error_for_status,
    html_summary,
    is_html,
    request_label,
)
from .parallel import MAX_CONCURRENT, Gate

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})
RETRY_STATUSES = frozenset({500, 502, 503, 504})


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class Transport:
    """Sends requests to one OData service root; counts them in `request_count`."""

    def __init__(
        self,
        service_root: str,
        *,
        auth: Any = None,
        timeout: float = 30,
        max_retries: int = 5,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
        user_agent: str = "syncadmin",
        backoff_factor: float = 0.5,
        backoff_max: float = 60.0,
        max_retry_after: float = 300.0,
        random_fn: Callable[[], float] = random.random,
        max_parallel: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ):
        if not service_root.endswith("/"):
            service_root += "/"  # so relative links and paths join under it, not beside it
        self.service_root = service_root
        self.auth = auth
        self.timeout = timeout
        self.max_retries = max_retries
        self.sleep = sleep
        self.session = session or pooled_session(max_parallel)
        self.user_agent = user_agent
        self.backoff_factor = backoff_factor
        self.backoff_max = backoff_max
        self.max_retry_after = max_retry_after
        self.random_fn = random_fn
        self.gate = Gate(clock)
        self.dop_hint: int | None = None  # the last x-ms-dop-hint the service sent
        self._count = 0
        self._count_lock = threading.Lock()

    @property
    def request_count(self) -> int:
        """Requests sent to the service (retries included, token requests not)."""
        return self._count

    @request_count.setter
    def request_count(self, value: int) -> None:
        with self._count_lock:
            self._count = value

    # --- URLs ---------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        """Absolute URL of `path`; relative paths and links resolve against the service root.

        An absolute URL on another host (a next link, say) is refused: the request would carry
        the bearer token there.
        """
        if path.startswith(("http://", "https://")):
            if _origin(path) != _origin(self.service_root):
                raise MalformedResponse(
                    f"refused to follow {request_label(None, path)}: it is not on the service's "
                    f"host {_origin(self.service_root)[1]}, and the request would carry the "
                    "access token there",
                    url=path,
                )
            return path
        return urljoin(self.service_root, path)

    # --- requests -----------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        body: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        content_type: str = "application/json; charset=utf-8",
    ) -> requests.Response:
        """Send with auth and retries; return a 2xx response (with `.attempts`) or raise."""
        method = method.upper()
        all_headers = {
            "Accept": "application/json",
            "OData-MaxVersion": "4.0",
            "OData-Version": "4.0",
            "User-Agent": self.user_agent,
        }
        if body is not None:
            all_headers["Content-Type"] = content_type
        all_headers.update(headers or {})
        if isinstance(body, str):
            body = body.encode("utf-8")
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        return self._send(method, self.url(path), body, all_headers, idempotent, authenticate=True)

    def post_form(self, url: str, form: dict[str, str]) -> dict[str, Any]:
        """POST an urlencoded form (the token request); the JSON answer or AuthenticationError."""
        headers = {"Accept": "application/json", "User-Agent": self.user_agent}
        try:
            resp = self._send(
                "POST", url, form, headers, idempotent=True, authenticate=False, count=False
            )
        except (AuthenticationError, Throttled, TransportError):
            raise
        except DataverseError as exc:
            # OAuth errors are {"error": "invalid_client", "error_description": "..."}.
            raise AuthenticationError(
                f"token request failed: {exc.message}",
                status=exc.status,
                code=exc.code,
                url=url,
            ) from exc
        try:
            answer = resp.json()
        except ValueError as exc:
            raise AuthenticationError("the token endpoint answered no JSON", url=url) from exc
        if not isinstance(answer, dict):
            raise AuthenticationError(
                f"the token endpoint answered {type(answer).__name__} JSON, not an object", url=url
            )
        return answer

    def _backoff(self, attempt: int) -> float:
        base = min(self.backoff_max, self.backoff_factor * (2 ** (attempt - 1)))
        return base / 2 + self.random_fn() * base / 2  # "equal jitter": never zero, never sync'd

    def _send(
        self,
        method: str,
        url: str,
        body: Any,
        headers: dict[str, str],
        idempotent: bool,
        *,
        authenticate: bool,
        count: bool = True,
    ) -> requests.Response:
        attempt = 0
        renewed = False
        while True:
            attempt += 1
            if authenticate and self.auth is not None:
                headers["Authorization"] = self.auth.authorization(self.post_form)
            if count:
                self._wait_at_gate(method, url, attempt)
                with self._count_lock:
                    self._count += 1
            try:
                resp = self.session.request(
                    method, url, data=body, headers=headers, timeout=self.timeout
                )
            except (requests.Timeout, requests.ConnectionError) as exc:
                # A connect timeout means nothing reached the service: resending is always safe.
                safe = idempotent or isinstance(exc, requests.ConnectTimeout)
                if safe and attempt <= self.max_retries:
                    self.sleep(self._backoff(attempt))
                    continue
                raise TransportError(
                    no_answer(exc, method, url, self.timeout), method=method, url=url,
                    retried=attempt > 1,
                ) from exc
            except requests.RequestException as exc:
                raise TransportError(
                    no_answer(exc, method, url, self.timeout), method=method, url=url,
                    retried=attempt > 1,
                ) from exc

            status = resp.status_code
            if count:
                self._note_dop_hint(resp)
            if 200 <= status < 300:
                _refuse_html(resp, method, url)
                resp.attempts = attempt  # type: ignore[attr-defined]
                return resp

            if status == 401 and authenticate and self.auth is not None and not renewed:
                renewed = True
                if self.auth.invalidate(headers.get("Authorization")):
                    attempt -= 1  # a renewal is not a retry
                    continue

            retry_after = parse_retry_after(resp.headers.get("Retry-After"))
            throttled = status == 429 or (status == 503 and retry_after is not None)
            if throttled and attempt <= self.max_retries:
                wait = retry_after if retry_after is not None else self._backoff(attempt)
                if wait <= self.max_retry_after:
                    if count:
                        self.gate.close_for(wait)  # no thread sends before this time
                    self.sleep(wait)
                    continue
            elif status in RETRY_STATUSES and idempotent and attempt <= self.max_retries:
                self.sleep(self._backoff(attempt))
                continue

            error = error_for_status(
                status,
                resp.content,
                method=method,
                url=url,
                retry_after=retry_after,
                retried=attempt > 1,
            )
            if throttled and not isinstance(error, Throttled):
                error = Throttled(
                    error.message,
                    retry_after=retry_after,
                    status=status,
                    code=error.code,
                    details=error.details,
                    method=method,
                    url=url,
                    retried=attempt > 1,
                )
            raise error

    def _wait_at_gate(self, method: str, url: str, attempt: int) -> None:
        """Wait while another thread's 429 holds every request back; a wait longer than
        `max_retry_after` is not waited out here, as for the thread that was told it."""
        remaining = self.gate.remaining()
        if remaining > self.max_retry_after:
            raise Throttled(
                f"{request_label(method, url)} was not sent: the service asked for no request "
                f"during the next {remaining:.0f} s (its service protection limits), longer "
                f"than the {self.max_retry_after:.0f} s waited out here",
                retry_after=remaining,
                status=429,
                method=method,
                url=url,
                retried=attempt > 1,
            )
        self.gate.wait(self.sleep)

    def _note_dop_hint(self, resp: requests.Response) -> None:
        value = resp.headers.get("x-ms-dop-hint")
        try:
            hint = int(str(value).strip()) if value is not None else None
        except ValueError:
            return
        if hint is not None and hint > 0:
            self.dop_hint = hint


def pooled_session(max_parallel: int) -> requests.Session:
    """A session keeping up to `max_parallel` connections per host (requests keeps 10: more
    threads than that would each open a connection and throw it away after the request)."""
    session = requests.Session()
    size = max(10, min(max(1, max_parallel), MAX_CONCURRENT))
    for prefix in ("https://", "http://"):
        session.mount(prefix, HTTPAdapter(pool_connections=10, pool_maxsize=size))
    return session


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = -1  # a port that is not a number matches nothing
    return scheme, (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(scheme)


def _refuse_html(resp: requests.Response, method: str, url: str) -> None:
    """A success answered with an HTML page (a proxy's error or a sign-in page) is no answer."""
    ctype = resp.headers.get("Content-Type", "").lower()
    head = resp.content[:512].decode("utf-8", "replace") if resp.content else ""
    if "html" not in ctype and not (head.lstrip().startswith("<") and is_html(head)):
        return
    text = resp.content.decode("utf-8", "replace")
    raise MalformedResponse(
        f"{request_label(method, url)} was answered HTTP {resp.status_code} with an HTML page "
        f"({html_summary(text)}), not OData JSON: a proxy or a sign-in page may stand in front of "
        "the CRM",
        status=resp.status_code,
        method=method,
        url=url,
    )


def no_answer(exc: Exception, method: str, url: str, timeout) -> str:
    """What a person reads when a request got no answer: what happened, in words (the exception
    itself, with its host and socket details, stays chained for the server log)."""
    where = urlsplit(url).netloc or "the service"
    if isinstance(exc, requests.ConnectTimeout):
        what = f"{where} could not be reached within {timeout} s"
    elif isinstance(exc, requests.Timeout):
        what = f"{where} did not answer within {timeout} s"
    elif isinstance(exc, requests.ConnectionError):
        what = f"the connection to {where} was refused or dropped"
    else:
        what = f"the request could not be sent to {where}"
    return f"{method} {urlsplit(url).path or '/'}: no answer ({what})"
