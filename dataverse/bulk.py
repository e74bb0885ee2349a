"""Dataverse's bulk operation messages (CreateMultiple, UpdateMultiple, UpsertMultiple) for the
operations of `DataverseClient.write` that can use them.

What Dataverse documents ("Use bulk operation messages", learn.microsoft.com/power-apps/
developer/data-platform/bulk-operations; the Web API reference of each action; "Optimistic
concurrency", .../data-platform/optimistic-concurrency), and what follows from it here:
- Web API form: `POST <entity set>/Microsoft.Dynamics.CRM.CreateMultiple` (UpdateMultiple,
  UpsertMultiple alike) with `{"Targets": [...]}`, records of one table; "you must set the
  `@odata.type` property for each item in the `Targets` parameter" — the table's logical name,
  which an operation does not carry, so it is read once per entity set from EntityDefinitions
  (`table_of`). CreateMultiple answers 200 with `Ids`; UpdateMultiple and UpsertMultiple 204.
  UpdateMultiple targets hold the primary id attribute; UpsertMultiple's documented example
  names each record with `@odata.id` (a relative URL such as `accounts(<id>)`), sent here with
  the primary id attribute as well (the same id, as a PATCH of one record may carry it).
- On standard tables "any error that occurs in a bulk operation ... causes the entire operation
  to roll back"; the documented fallback is `$batch`, which allows partial success. So a failed
  bulk request is sent again as a `$batch` with continue-on-error: one bad record fails alone,
  the others are written (`DataverseClient.write`).
- No set limit on records per request: "1,000 records per request is a reasonable place to
  start"; hitting the message size or time limits fails the whole request (then the `$batch`
  fallback runs). Each bulk request counts as one request against the 6,000 per 5 minutes, but
  its execution time is the sum of its records'.
- Not every standard table supports them ("You should test whether individual standard tables
  support these messages"); a table that does not is answered "The 'CreateMultiple' method does
  not support entities of type '...'" or "... is not enabled on the entity ..."; a service
  without the action at all answers 404 for its segment. That is remembered per entity set and
  message (`unsupported`), and those operations go by `$batch`.
- Optimistic concurrency: the documented ways are `ConcurrencyBehavior` on UpdateRequest and
  DeleteRequest (SDK) and `If-Match` on the request of one record (Web API).
  UpdateMultipleRequest has only `Targets` (the Web API action likewise), so UpdateMultiple
  cannot make one record's update depend on its row version. An update sent with a real ETag
  (the version the sync compared, so a person's concurrent CRM edit is not overwritten) keeps
  going by `$batch` with `If-Match` per part; only `If-Match: *` updates use UpdateMultiple.
- Creates with an id chosen beforehand (POST with `key`) use CreateMultiple with the id in the
  primary key attribute: resending one whose answer was lost cannot duplicate (the resend fails
  on the existing ids, and the `$batch` fallback settles those as the first attempt's success).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .batch import BatchOperation, BatchResult
from .errors import DataverseError, NotSupported, Throttled, TransportError
from .values import dumps, key_segment, quote_string

if TYPE_CHECKING:
    from .client import DataverseClient

CREATE, UPDATE, UPSERT = "CreateMultiple", "UpdateMultiple", "UpsertMultiple"
_UNSUPPORTED_TEXTS = ("does not support entities of type", "is not enabled on the entity")


@dataclass(frozen=True)
class Table:
    logical_name: str
    primary_id: str


def message_for(op: BatchOperation) -> str | None:
    """The bulk message this operation can go in, or None (it goes by `$batch`)."""
    if op.headers:  # per-request headers cannot be given per record of a bulk request
        return None
    if op.method == "POST" and op.id is not None and op.key:
        return CREATE
    if op.method == "PATCH" and (op.etag or "*") == "*":
        return UPDATE
    if op.method == "UPSERT":
        return UPSERT
    return None


def table_of(client: DataverseClient, entity_set: str) -> Table | None:
    """The table behind an entity set (logical name, primary id attribute), read once per
    client; None when the service does not say (then its operations go by `$batch`)."""
    if entity_set in client.tables:
        return client.tables[entity_set]
    table = None
    try:
        rows = list(client.iter_rows(
            "EntityDefinitions", select=["LogicalName", "EntitySetName", "PrimaryIdAttribute"],
            filter=f"EntitySetName eq {quote_string(entity_set)}"))
    except (Throttled, TransportError):
        raise  # as any request of the write would
    except DataverseError:
        rows = []  # a service that cannot say (no such metadata, no $filter on it): no bulk
    for row in rows:
        if row.get("EntitySetName") == entity_set and row.get("LogicalName") \
                and row.get("PrimaryIdAttribute"):
            table = Table(str(row["LogicalName"]), str(row["PrimaryIdAttribute"]))
    client.tables[entity_set] = table
    return table


def target(op: BatchOperation, table: Table, message: str) -> dict[str, Any]:
    """One record of `Targets`."""
    record: dict[str, Any] = {"@odata.type": f"Microsoft.Dynamics.CRM.{table.logical_name}"}
    record.update(op.data or {})
    if message == CREATE:
        record[op.key] = str(op.id)  # type: ignore[index]
    elif message == UPDATE:
        record[table.primary_id] = str(op.id)
    else:  # the record named as the documented example does, and by its id attribute
        record["@odata.id"] = key_segment(op.entity_set, op.id)
        record[table.primary_id] = str(op.id)
    return record


def send(client: DataverseClient, message: str, ops: list[BatchOperation]) -> list[BatchResult]:
    """One bulk request for these operations (one table, one message); one result per
    operation, each with the status the operation alone would have had (204). A refusal raises
    the service's error (standing for the whole request: nothing was written)."""
    entity_set = ops[0].entity_set
    table = client.tables[entity_set]
    assert table is not None
    client.transport.request(
        "POST",
        f"{entity_set}/Microsoft.Dynamics.CRM.{message}",
        body=dumps({"Targets": [target(op, table, message) for op in ops]}),
        idempotent=True,  # ids chosen beforehand or If-Match *: a resend cannot duplicate
    )
    return [BatchResult(204, str(op.id), None, None, None) for op in ops]


def unsupported(error: DataverseError, message: str) -> bool:
    """Does this refusal say the table (or the service) does not have the bulk message, rather
    than that a record was refused?"""
    text = (error.message or "").lower()
    if any(t in text for t in _UNSUPPORTED_TEXTS):
        return True
    if isinstance(error, NotSupported) or error.status in (405, 501):
        return True
    # A record that does not exist is 404 too: only a 404 naming the action's segment counts.
    return error.status == 404 and message.lower() in text and "segment" in text
