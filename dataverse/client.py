"""`DataverseClient`: reads (paged), writes, `$batch`, WhoAmI and metadata over one service root.

The client speaks standard OData v4 and uses Dataverse-only features (WhoAmI, the `In` query
function, CreateMultiple) only when `dataverse_features` is on. Left as None it is guessed from the
service root (`.../api/data/v9.x/` is Dataverse, the embedded CRM included) and switched off
for a feature the service turns out not to have.

Numbers that are not integers come back as `Decimal` (money must not be rounded through float).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import requests

from . import metadata
from .auth import ClientCredentials, StaticToken
from .batch import (
    MAX_BATCH_OPERATIONS,
    BatchOperation,
    BatchResult,
    PartResponse,
    Prepared,
    build_batch,
    not_executed,
    parse_batch,
    prepare,
    result_of,
)
from .errors import (
    DataverseError,
    DuplicateRecord,
    MalformedResponse,
    NotFound,
    NotSupported,
    PreconditionFailed,
    ValidationError,
    request_label,
    shorten,
)
from .http import Transport
from .query import build_query, chunks, in_filter, or_filter, with_query
from .values import dumps, is_guid, key_segment, loads, normalize_id

MAX_PAGE_SIZE = 5000  # Dataverse ignores a larger odata.maxpagesize
_DATAVERSE_ROOT = re.compile(r"/api/data/v\d+(\.\d+)*/?$")


class DataverseClient:
    def __init__(
        self,
        service_root: str,
        auth: ClientCredentials | StaticToken | str | None = None,
        *,
        timeout: float = 30,
        max_retries: int = 5,
        page_size: int = MAX_PAGE_SIZE,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
        user_agent: str = "syncadmin",
        dataverse_features: bool | None = None,
        batch_size: int = MAX_BATCH_OPERATIONS,
        ids_per_request: int | None = None,
        max_retry_after: float = 300.0,
        backoff_factor: float = 0.5,
    ):
        if isinstance(auth, str):
            auth = StaticToken(auth)
        self.transport = Transport(
            service_root,
            auth=auth,
            timeout=timeout,
            max_retries=max_retries,
            sleep=sleep,
            session=session,
            user_agent=user_agent,
            max_retry_after=max_retry_after,
            backoff_factor=backoff_factor,
        )
        self.page_size = page_size
        self.batch_size = min(batch_size, MAX_BATCH_OPERATIONS)
        self.ids_per_request = ids_per_request
        self._features_given = dataverse_features is not None
        if dataverse_features is None:
            dataverse_features = bool(_DATAVERSE_ROOT.search(self.transport.service_root))
        self.dataverse_features = dataverse_features
        self.use_in_function = dataverse_features
        self._user_id: str | None = None

    def __repr__(self) -> str:
        return f"DataverseClient({self.service_root!r})"

    @property
    def service_root(self) -> str:
        return self.transport.service_root

    @property
    def request_count(self) -> int:
        """HTTP requests sent to the service (retries included, token requests not)."""
        return self.transport.request_count

    @property
    def auth(self) -> Any:
        return self.transport.auth

    # --- reading ------------------------------------------------------------------------------

    def iter_pages(
        self,
        entity_set: str,
        select: Sequence[str] | str | None = None,
        filter: str | None = None,
        orderby: Sequence[str] | str | None = None,
        top: int | None = None,
        page_size: int | None = None,
        *,
        expand: str | None = None,
        params: dict[str, Any] | None = None,
        key: str | None = None,
    ) -> Iterator[list[dict]]:
        """Pages of records, following `@odata.nextLink` to the end (one page in memory).

        The service may send pages smaller than asked; `top` caps the rows over all pages.
        Dataverse does not page a query with `$top` (no next link; at most 5,000 rows), so
        with `top` the whole answer is asked for at once and handed out in pages of `page_size`.
        With `key` (the primary key attribute) every row must hold its id and every attribute
        of `select`, else MalformedResponse: a caller must not take a missing value for an
        empty one. A page that is not an OData collection, and a next link that repeats or
        leads to another host, are MalformedResponse too.
        """
        size = page_size or self.page_size
        query = build_query(
            select=select, filter=filter, orderby=orderby, top=top, expand=expand, extra=params
        )
        url: str | None = with_query(entity_set, query)
        asked = size if top is None else max(size, min(top, MAX_PAGE_SIZE))
        headers = {"Prefer": f"odata.maxpagesize={asked}"}
        remaining = top
        seen: set[str] = set()
        required = _required(select, key)
        while url:
            seen.add(url)
            payload = self._get_json(url, headers)
            label = request_label("GET", self.transport.url(url))
            rows = _rows(payload, label, key, required, self.dataverse_features)
            if remaining is not None:
                rows = rows[:remaining]
                remaining -= len(rows)
            for start in range(0, len(rows), size):
                yield rows[start:start + size]
            if remaining == 0:
                return
            url = _next_link(payload, label)
            if url and url in seen:  # a service repeating a link would otherwise loop forever
                raise MalformedResponse(
                    f"{label} was answered with a next link already followed "
                    f"({shorten(url, 300)}): the paging would never end",
                    url=self.transport.url(url),
                    method="GET",
                )

    def iter_rows(self, entity_set: str, *args: Any, **kwargs: Any) -> Iterator[dict]:
        """The records of `iter_pages`, one by one."""
        for page in self.iter_pages(entity_set, *args, **kwargs):
            yield from page

    def get(
        self,
        entity_set: str,
        id: Any,
        select: Sequence[str] | str | None = None,
        *,
        expand: str | None = None,
    ) -> dict:
        """One record; NotFound if it does not exist."""
        path = with_query(key_segment(entity_set, id), build_query(select=select, expand=expand))
        payload = self._get_json(path)
        if not isinstance(payload, dict) or not payload:
            raise MalformedResponse(
                f"{request_label('GET', self.transport.url(path))} was answered with "
                f"{shorten(repr(payload), 100)}, not a record",
                method="GET",
                url=self.transport.url(path),
            )
        return payload

    def get_path(
        self, path: str, select: Sequence[str] | str | None = None, expand: str | None = None
    ) -> dict:
        payload = self._get_json(with_query(path, build_query(select=select, expand=expand)))
        return payload if isinstance(payload, dict) else {"value": payload}

    def get_many(
        self,
        entity_set: str,
        key: str,
        ids: Iterable[Any],
        select: Sequence[str] | str | None = None,
    ) -> dict[str, dict]:
        """Records by id in a few requests: {id as given: record}; absent ids are left out."""
        wanted: dict[str, str] = {}
        for i in ids:
            if i is not None:
                wanted.setdefault(normalize_id(i), str(i))
        if not wanted:
            return {}
        if select is not None:
            select = [select] if isinstance(select, str) else list(select)
            if key not in select:
                select.append(key)
        found: dict[str, dict] = {}
        pending = list(wanted.values())
        while pending:
            use_in = self.use_in_function
            size = self.ids_per_request or (200 if use_in else 100)
            batch, rest = pending[:size], pending[size:]
            clause = in_filter(key, batch) if use_in else or_filter(key, batch)
            try:
                for row in self.iter_rows(entity_set, select=select, filter=clause, key=key):
                    value = row.get(key)
                    if value is not None:
                        found[wanted.get(normalize_id(value), str(value))] = row
            except (ValidationError, NotSupported):
                if not use_in or self._features_given:
                    raise
                self.use_in_function = False  # not Dataverse after all: plain `or` from now on
                continue
            pending = rest
        return found

    # --- writing ------------------------------------------------------------------------------

    def create(self, entity_set: str, data: dict, id: Any = None, key: str | None = None) -> str:
        """Create a record; return its id.

        With `id` (chosen beforehand) a resend is safe: if the service then says the id exists,
        the first attempt went through and that counts as success. With `key` (the primary key
        attribute, e.g. `accountid`) the id is sent in the body of a POST; without it, as a
        create-only upsert (PATCH entity(id) with If-None-Match: *).
        """
        op = BatchOperation("POST", entity_set, id=id, data=data, key=key)
        prep = prepare(op)
        try:
            resp = self._send(prep)
        except (DuplicateRecord, PreconditionFailed) as exc:
            # On a resend, "it exists" may echo the first attempt, or be another record holding
            # a unique value: only a record with this id is the first attempt's.
            if prep.create_with_id and exc.retried and self._existing(op, [str(id)]):
                return str(id)
            raise
        result = result_of(op, _part(resp), resp.url)
        if not result.id:
            raise DataverseError(
                "the record was created but the service did not say its id "
                "(no OData-EntityId, Location or key in the answer)",
                status=resp.status_code,
                url=resp.url,
            )
        return result.id

    def update(self, entity_set: str, id: Any, data: dict, etag: str | None = "*") -> str | None:
        """PATCH the given (changed) attributes of an existing record, with If-Match.

        PreconditionFailed if the record changed since `etag`; NotFound if it is gone (If-Match
        keeps PATCH from creating it). Returns the new ETag when the service tells it.
        """
        op = BatchOperation("PATCH", entity_set, id=id, data=data, etag=etag or "*")
        resp = self._send(prepare(op))
        return result_of(op, _part(resp), resp.url).etag

    def upsert(self, entity_set: str, id: Any, data: dict) -> str | None:
        """PATCH without If-Match: update the record, or create it with this id."""
        op = BatchOperation("UPSERT", entity_set, id=id, data=data)
        resp = self._send(prepare(op))
        return result_of(op, _part(resp), resp.url).etag

    def delete(self, entity_set: str, id: Any, etag: str | None = None) -> None:
        """Delete a record (If-Match when `etag` is given). NotFound if it does not exist."""
        try:
            self._send(prepare(BatchOperation("DELETE", entity_set, id=id, etag=etag)))
        except NotFound as exc:
            if not exc.retried:  # on a resend, "not found" means the first attempt deleted it
                raise

    def batch(
        self,
        operations: Sequence[BatchOperation],
        continue_on_error: bool = True,
        atomic: bool = False,
    ) -> list[BatchResult]:
        """Run operations in `$batch` requests of up to `batch_size`; one result per operation.

        atomic=True puts them in one change set (all or nothing); it cannot be split, so more
        than `batch_size` operations, or a GET, is refused.
        """
        operations = list(operations)
        if not operations:
            return []
        if atomic:
            if len(operations) > self.batch_size:
                raise ValueError(f"an atomic batch holds at most {self.batch_size} operations")
            if any(op.method == "GET" for op in operations):
                raise ValueError("a change set cannot contain GET operations")
        results: list[BatchResult] = []
        for chunk in chunks(operations, self.batch_size):
            results.extend(self._batch_chunk(list(chunk), continue_on_error, atomic))
        return results

    def create_multiple(
        self,
        entity_set: str,
        logical_name: str,
        records: Sequence[dict],
        key: str | None = None,
    ) -> list[BatchResult]:
        """Create many records of one table: Dataverse's CreateMultiple action when available
        (all or nothing), else a `$batch` with continue-on-error. One result per record.

        Give each record its id in `key` (e.g. `accountid`) so a resend cannot duplicate.
        """
        if not records:
            return []
        if not self.dataverse_features:
            ops = [
                BatchOperation("POST", entity_set, id=r.get(key) if key else None, data=r, key=key)
                for r in records
            ]
            return self.batch(ops)
        results: list[BatchResult] = []
        for chunk in chunks(list(records), self.batch_size):
            targets = [
                {"@odata.type": f"Microsoft.Dynamics.CRM.{logical_name}", **r} for r in chunk
            ]
            try:
                resp = self.transport.request(
                    "POST",
                    f"{entity_set}/Microsoft.Dynamics.CRM.CreateMultiple",
                    body=dumps({"Targets": targets}),
                    idempotent=bool(key) and all(r.get(key) for r in chunk),
                )
            except DataverseError as exc:
                results.extend(BatchResult(exc.status, None, None, None, exc) for _ in chunk)
                continue
            answer = _json_of(resp, "POST") if resp.content else {}
            ids = answer.get("Ids") if isinstance(answer, dict) else None
            if ids is None and key and all(r.get(key) for r in chunk):
                ids = [r[key] for r in chunk]  # the service did not echo the ids we chose
            if (
                not isinstance(ids, list)
                or len(ids) != len(chunk)
                or not all(isinstance(i, str | int) and not isinstance(i, bool) for i in ids)
            ):
                raise MalformedResponse(
                    f"{request_label('POST', resp.url)} created {len(chunk)} records but "
                    f"answered {shorten(repr(ids), 200)} as their ids, not a list of "
                    f"{len(chunk)} ids",
                    status=resp.status_code,
                    method="POST",
                    url=resp.url,
                )
            results.extend(BatchResult(resp.status_code, _s(rid), None, None, None) for rid in ids)
        return results

    def iter_changes(
        self,
        entity_set: str,
        select: Sequence[str] | str | None = None,
        delta_link: str | None = None,
        page_size: int | None = None,
    ) -> ChangePages:
        """Change tracking (Dataverse, for tables with it enabled): pages of changed rows.

        The first call (no `delta_link`) returns every row; iterate to the end, then keep
        `pages.delta_link` for the next call, which returns only what changed since. Deleted
        rows come as `{"@odata.context": "...$deletedEntity", "id": ..., "reason": "deleted"}`.
        Without Dataverse features: NotSupported (filter on the modified-on attribute instead).
        `delta_link` still None after the last page: the service does not track this table.
        """
        if not self.dataverse_features:
            raise NotSupported("change tracking is a Dataverse feature")
        url = delta_link or with_query(entity_set, build_query(select=select))
        size = page_size or self.page_size
        headers = {"Prefer": f"odata.track-changes,odata.maxpagesize={size}"}
        return ChangePages(self, url, headers)

    # --- Dataverse functions and metadata -----------------------------------------------------

    def who_am_i(self) -> str | None:
        """The calling (integration) user's id, or None on a service without WhoAmI."""
        if self._user_id is None and self.dataverse_features:
            try:
                payload = self._get_json("WhoAmI")
            except (NotFound, NotSupported, ValidationError):
                if self._features_given:
                    raise
                return None
            if not isinstance(payload, dict) or not payload.get("UserId"):
                raise MalformedResponse(
                    f"GET WhoAmI was answered with {shorten(repr(payload), 100)}: no UserId",
                    method="GET",
                    url=self.transport.url("WhoAmI"),
                )
            self._user_id = _s(payload.get("UserId"))
        return self._user_id

    def entity_attributes(self, logical_name: str) -> list[metadata.AttributeInfo]:
        """Column definitions of a table, from EntityDefinitions(LogicalName=..)/Attributes."""
        return metadata.entity_attributes(self, logical_name)

    def entity_definitions(self) -> list[dict[str, Any]]:
        """{LogicalName, EntitySetName, PrimaryIdAttribute, PrimaryNameAttribute} per table."""
        return metadata.entity_definitions(self)

    def entity_definition(self, logical_name: str) -> dict[str, Any]:
        return metadata.entity_definition(self, logical_name)

    # --- internals ----------------------------------------------------------------------------

    def _get_json(self, path: str, headers: dict[str, str] | None = None) -> Any:
        resp = self.transport.request("GET", path, headers=headers)
        if not resp.content:
            return {}
        return _json_of(resp, "GET")

    def _send(self, prep: Prepared) -> requests.Response:
        return self.transport.request(
            prep.method, prep.path, body=prep.body, headers=prep.headers, idempotent=prep.idempotent
        )

    def _batch_chunk(
        self, ops: list[BatchOperation], continue_on_error: bool, atomic: bool
    ) -> list[BatchResult]:
        preps = [prepare(op) for op in ops]
        urls = [self.transport.url(p.path) for p in preps]
        content_type, body = build_batch(list(zip(preps, urls, strict=True)), atomic=atomic)
        headers = {"Accept": "multipart/mixed, application/json;q=0.9"}
        if continue_on_error:
            headers["Prefer"] = "odata.continue-on-error"
        resp = self.transport.request(
            "POST",
            "$batch",
            body=body,
            headers=headers,
            idempotent=all(p.idempotent for p in preps),
            content_type=content_type,
        )
        try:
            items = parse_batch(resp.headers.get("Content-Type", ""), resp.content)
            results = _match(ops, urls, items, atomic, continue_on_error)
        except ValueError as exc:
            # Which part answers which operation is unknown: no result of it can be trusted.
            raise MalformedResponse(
                f"{request_label('POST', resp.url)} ({len(ops)} operations) was answered "
                f"HTTP {resp.status_code} with a $batch answer that cannot be read: {exc}",
                status=resp.status_code,
                method="POST",
                url=resp.url,
            ) from exc
        if getattr(resp, "attempts", 1) > 1:
            results = self._settle_resends(ops, preps, results)
        return results

    def _settle_resends(self, ops, preps, results) -> list[BatchResult]:
        """After the whole batch was resent, an error may only echo the first attempt's success:
        a delete of a record now gone, or a create whose id now exists (read back to tell it
        from another record holding one of its unique values)."""
        results = [_settle_resend(op, p, r) for op, p, r in zip(ops, preps, results, strict=True)]
        echoed = [n for n, (op, prep, result) in enumerate(zip(ops, preps, results, strict=True))
                  if prep.create_with_id and isinstance(result.error, DuplicateRecord
                                                         | PreconditionFailed)]
        by_set: dict[tuple, list[int]] = {}
        for n in echoed:
            by_set.setdefault((ops[n].entity_set, ops[n].key), []).append(n)
        for group in by_set.values():
            found = self._existing(ops[group[0]], [_s(ops[n].id) for n in group])
            for n in group:
                if _s(ops[n].id).lower() in found:
                    results[n] = BatchResult(204, _s(ops[n].id), None, None, None)
        return results

    def _existing(self, op: BatchOperation, ids: list[str]) -> set[str]:
        """Which of these ids (lower case) the service holds in the operation's entity set."""
        if op.key:
            rows = self.get_many(op.entity_set, op.key, ids, select=[op.key])
            return {str(i).lower() for i in rows}
        found = set()
        for ident in ids:
            try:
                self.get(op.entity_set, ident)
                found.add(ident.lower())
            except NotFound:
                pass
        return found


class ChangePages:
    """Iterator of change-tracking pages; `delta_link` is set once the last page was read."""

    def __init__(self, client: DataverseClient, url: str, headers: dict[str, str]):
        self._client = client
        self._url: str | None = url
        self._headers = headers
        self.delta_link: str | None = None

    def __iter__(self) -> Iterator[list[dict]]:
        seen: set[str] = set()
        while self._url:
            seen.add(self._url)
            payload = self._client._get_json(self._url, self._headers)
            label = request_label("GET", self._client.transport.url(self._url))
            rows = _rows(payload, label, None, (), False)
            self._url = _next_link(payload, label)
            if self._url in seen:
                raise MalformedResponse(
                    f"{label} was answered with a next link already followed: the paging "
                    "would never end",
                    method="GET",
                    url=self._client.transport.url(self._url),
                )
            if not self._url:
                link = payload.get("@odata.deltaLink")
                self.delta_link = str(link) if isinstance(link, str) else None
            if rows:
                yield rows


# --- helpers ------------------------------------------------------------------------------------


def _s(value: Any) -> str | None:
    return None if value is None else str(value)


def _next_link(payload: Any, label: str = "the request") -> str | None:
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


def _json_of(resp: requests.Response, method: str) -> Any:
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


def _required(select: Sequence[str] | str | None, key: str | None) -> tuple[str, ...]:
    """The attributes each row must hold: the key and the selected ones (with a key only)."""
    if not key:
        return ()
    names = [select] if isinstance(select, str) else list(select or [])
    names = [n.strip() for part in names for n in part.split(",") if n.strip()]
    return tuple(dict.fromkeys([key, *(n for n in names if "*" not in n and "." not in n)]))


def _rows(
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


def _part(resp: requests.Response) -> PartResponse:
    headers = {k.lower(): v for k, v in resp.headers.items()}
    return PartResponse(resp.status_code, headers, resp.text or "")


def _match(
    ops: list[BatchOperation],
    urls: list[str],
    items: list[PartResponse | list[PartResponse]],
    atomic: bool,
    continue_on_error: bool,
) -> list[BatchResult]:
    """One result per operation from the batch answer's parts.

    ValueError when the parts cannot be matched to the operations for sure: a response
    missing or one too many, a change set response without the Content-ID of its request.
    """
    if atomic:
        if len(items) != 1:
            raise ValueError(f"{len(items)} responses for one change set")
        first = items[0]
        if isinstance(first, PartResponse):
            if first.status < 400 and len(ops) > 1:
                raise ValueError(
                    f"one success response (HTTP {first.status}) for a change set of "
                    f"{len(ops)} operations"
                )
            # The change set failed as a whole: its one error answer stands for every operation.
            return [result_of(op, first, url) for op, url in zip(ops, urls, strict=True)]
        by_id: dict[str, PartResponse] = {}
        for n, part in enumerate(first, start=1):
            if not part.content_id:
                raise ValueError(
                    f"response {n} of {len(first)} in the change set has no Content-ID, so "
                    "which operation it answers is unknown"
                )
            if part.content_id in by_id:
                raise ValueError(f"two change set responses say Content-ID {part.content_id}")
            by_id[part.content_id] = part
        wanted = {str(n) for n in range(1, len(ops) + 1)}
        if set(by_id) != wanted:
            raise ValueError(
                f"the change set's responses carry Content-IDs {sorted(by_id)}, its "
                f"{len(ops)} requests {sorted(wanted, key=int)}"
            )
        return [
            result_of(op, by_id[str(n)], url)
            for n, (op, url) in enumerate(zip(ops, urls, strict=True), start=1)
        ]
    flat: list[PartResponse] = []
    for item in items:
        flat.extend(item if isinstance(item, list) else [item])
    if len(flat) > len(ops):
        raise ValueError(f"{len(flat)} responses for {len(ops)} operations")
    if len(flat) < len(ops):
        # Without continue-on-error the service stops at the first failure: only then may
        # responses be missing, after a failed one.
        if continue_on_error or not flat or flat[-1].status < 400:
            raise ValueError(
                f"{len(flat)} responses for {len(ops)} operations, and "
                + (
                    "the batch asked to continue on error"
                    if continue_on_error or not flat
                    else "the last one is not a failure that stopped the batch"
                )
            )
    reason = "not executed: an earlier operation in the batch failed"
    return [
        result_of(op, flat[n], url) if n < len(flat) else not_executed(op, reason)
        for n, (op, url) in enumerate(zip(ops, urls, strict=True))
    ]


def _settle_resend(op: BatchOperation, prep: Prepared, result: BatchResult) -> BatchResult:
    """After the whole batch was resent, an error may only echo the first attempt's success."""
    error = result.error
    if error is None:
        return result
    error.retried = True
    if op.method == "DELETE" and isinstance(error, NotFound):
        return BatchResult(204, _s(op.id), None, None, None)
    return result
