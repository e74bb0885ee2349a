"""Writing: create, update, upsert, delete, `$batch` (answers matched to their operations),
CreateMultiple, and `write` (parallel requests, bulk messages where they apply: dataverse.bulk,
dataverse.parallel). A resent write settles through dataverse.resends.

`Writing` is a part of DataverseClient (it needs the client's `transport`, `batch_size`,
`dataverse_features`, `max_parallel`, `bulk`, `tables` and its reading methods).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import requests

from . import bulk
from .answers import json_of, part_of, text_of
from .batch import (
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
    PreconditionFailed,
    Throttled,
    TransportError,
    request_label,
    shorten,
)
from .parallel import balanced, run_all, width_of
from .query import chunks
from .resends import existing, settle_resends
from .values import dumps


class Writing:
    """The writing half of DataverseClient."""

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
            if prep.create_with_id and exc.retried and existing(self, op, [str(id)]):
                return str(id)
            raise
        result = result_of(op, part_of(resp), resp.url)
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
        return result_of(op, part_of(resp), resp.url).etag

    def upsert(self, entity_set: str, id: Any, data: dict) -> str | None:
        """PATCH without If-Match: update the record, or create it with this id."""
        op = BatchOperation("UPSERT", entity_set, id=id, data=data)
        resp = self._send(prepare(op))
        return result_of(op, part_of(resp), resp.url).etag

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

    def write(self, operations: Sequence[BatchOperation]) -> list[BatchResult]:
        """Run operations as `batch(operations, continue_on_error=True)` does (one result per
        operation, in order; a request that cannot be answered raises), faster:

        - creates with a chosen id, updates with `If-Match: *` and upserts go in bulk messages
          of up to `batch_size` records of one table (dataverse.bulk says which and why),
          when `bulk` and `dataverse_features` are on; a bulk request refused (all or nothing)
          is sent again as a `$batch` with continue-on-error, so one bad record fails alone;
        - the rest go in `$batch` requests of up to `batch_size`;
        - the requests run in parallel, at most min(max_parallel, the service's last
          `x-ms-dop-hint`, 52) at once (dataverse.parallel).

        Operations naming one record twice run as `batch` does, in order: in parallel requests
        the second might overtake the first. With max_parallel=1 and bulk off this is `batch`.
        """
        operations = list(operations)
        use_bulk = self.bulk and self.dataverse_features
        if not operations or (self.max_parallel <= 1 and not use_bulk) or _twice(operations):
            return self.batch(operations, continue_on_error=True)
        groups: dict[tuple[str, str | None], list[int]] = {}
        for n, op in enumerate(operations):
            message = bulk.message_for(op) if use_bulk else None
            if message and ((op.entity_set, message) in self.no_bulk
                            or bulk.table_of(self, op.entity_set) is None):
                message = None
            groups.setdefault((op.entity_set, message) if message else ("", None), []).append(n)
        parts: list[list[int]] = []
        tasks: list[Callable[[], list[BatchResult]]] = []
        width = width_of(self.max_parallel, self.transport.dop_hint)
        for (_, message), indexes in groups.items():
            for chunk in balanced(indexes, self.batch_size, width):
                ops = [operations[n] for n in chunk]
                parts.append(list(chunk))
                tasks.append(partial(self._write_part, message, ops))
        results: list[BatchResult | None] = [None] * len(operations)
        for chunk, part in zip(parts, run_all(tasks, self.max_parallel, self.width),
                               strict=True):
            for n, result in zip(chunk, part, strict=True):
                results[n] = result
        return results  # type: ignore[return-value]

    def know_table(self, entity_set: str, logical_name: str, primary_id: str) -> None:
        """Tell the client the table behind an entity set (its logical name and primary id
        attribute, as a mapping knows them), so `write` need not read it from the metadata
        before its first bulk message."""
        self.tables[entity_set] = bulk.Table(logical_name, primary_id)

    def _write_part(self, message: str | None, ops: list[BatchOperation]) -> list[BatchResult]:
        """One request of `write`: a `$batch`, or a bulk message falling back to one."""
        if message is None:
            return self._batch_chunk(ops, True, False)
        try:
            return bulk.send(self, message, ops)
        except (Throttled, TransportError, MalformedResponse):
            raise  # as a $batch would: the transport already waited and resent what it may
        except DataverseError as exc:
            if bulk.unsupported(exc, message):
                self.no_bulk.add((ops[0].entity_set, message))
            refused = exc
        results = self._batch_chunk(ops, True, False)
        if refused.retried:  # the bulk request was resent: a refusal may echo its first attempt
            results = settle_resends(self, ops, [prepare(op) for op in ops], results)
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
            answer = json_of(resp, "POST") if resp.content else {}
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
            results.extend(BatchResult(resp.status_code, text_of(rid), None, None, None)
                           for rid in ids)
        return results

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
            results = match_parts(ops, urls, items, atomic, continue_on_error)
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
            results = settle_resends(self, ops, preps, results)
        return results


def match_parts(
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


def _twice(operations: list[BatchOperation]) -> bool:
    """Does any record (entity set and id) appear in two operations?"""
    seen = set()
    for op in operations:
        if op.id is None:
            continue
        name = (op.entity_set, str(op.id).lower())
        if name in seen:
            return True
        seen.add(name)
    return False
