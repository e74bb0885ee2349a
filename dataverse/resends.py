"""Settling a resent request: after the whole `$batch` (or a single write) was sent again, an
error may only echo the first attempt's success — a delete of a record now gone, or a create
whose id now exists (read back, to tell it from another record holding one of its unique
values)."""

from __future__ import annotations

from typing import Any

from .answers import text_of
from .batch import BatchOperation, BatchResult, Prepared
from .errors import DuplicateRecord, NotFound, PreconditionFailed


def settle_resends(client: Any, ops, preps, results) -> list[BatchResult]:
    """The batch's results, each error that only echoes the first attempt's success settled."""
    results = [settle_resend(op, p, r) for op, p, r in zip(ops, preps, results, strict=True)]
    echoed = [n for n, (op, prep, result) in enumerate(zip(ops, preps, results, strict=True))
              if prep.create_with_id and isinstance(result.error, DuplicateRecord
                                                     | PreconditionFailed)]
    by_set: dict[tuple, list[int]] = {}
    for n in echoed:
        by_set.setdefault((ops[n].entity_set, ops[n].key), []).append(n)
    for group in by_set.values():
        found = existing(client, ops[group[0]], [text_of(ops[n].id) for n in group])
        for n in group:
            if text_of(ops[n].id).lower() in found:
                results[n] = BatchResult(204, text_of(ops[n].id), None, None, None)
    return results


def existing(client: Any, op: BatchOperation, ids: list[str]) -> set[str]:
    """Which of these ids (lower case) the service holds in the operation's entity set."""
    if op.key:
        rows = client.get_many(op.entity_set, op.key, ids, select=[op.key])
        return {str(i).lower() for i in rows}
    found = set()
    for ident in ids:
        try:
            client.get(op.entity_set, ident)
            found.add(ident.lower())
        except NotFound:
            pass
    return found


def settle_resend(op: BatchOperation, prep: Prepared, result: BatchResult) -> BatchResult:
    """After the whole batch was resent, an error may only echo the first attempt's success."""
    error = result.error
    if error is None:
        return result
    error.retried = True
    if op.method == "DELETE" and isinstance(error, NotFound):
        return BatchResult(204, text_of(op.id), None, None, None)
    return result
