"""The bulk operation messages: CreateMultiple, UpdateMultiple, UpsertMultiple.

As "Use bulk operation messages" (Microsoft Learn) documents them for standard tables: the
records of one table in `Targets` (each with its `@odata.type`), applied in one transaction;
"any error that occurs in a bulk operation with a standard table causes the entire operation to
roll back". There is "no set limit on the number of records" (only the message size and time
limits), so none is imposed here. CreateMultiple answers the created `Ids`; UpdateMultiple and
UpsertMultiple answer 204 (UpsertMultiple Action reference: "The UpsertMultiple action returns
204 NoContent").

UpsertMultiple identifies each record by its primary id (in the body, or `@odata.id` naming
`set(<id>)`) or by an alternate key (`@odata.id` naming `set(key1='v',key2=2)`, a key declared in
unique.ALTERNATE_KEYS): an existing record is updated, a missing one created (with the key's
values). A target identified by nothing is created.

When a record is refused, the error names it as Dataverse's bulk error details do
(`BulkApiErrorDetail`: RequestIndex, Id, StatusCode) if the request asked for annotations
(`Prefer: odata.include-annotations`), and the message is the record's own refusal.
"""

from __future__ import annotations

import json
import re
import uuid

from crm_emulator import budget, errors, unique
from crm_emulator.schema import Entity
from crm_emulator.store import UnitOfWork, WriteOp
from crm_emulator.values import parse_guid

ACTIONS = ("CreateMultiple", "UpdateMultiple", "UpsertMultiple")
ERROR_DETAILS = "@Microsoft.PowerApps.CDS.ErrorDetails.Plugin.BulkApiErrorDetails"
ODATA_ID_RE = re.compile(r"^(?:.*/)?(?P<set>[A-Za-z_]\w*)\((?P<key>.*)\)$")
KEY_PART_RE = re.compile(r"\s*(?P<name>\w+)\s*=\s*(?P<value>'(?:[^']|'')*'|[^,]+)\s*(?:,|$)")


def targets_of(body, action: str) -> list[dict]:
    targets = body.get("Targets") if isinstance(body, dict) else None
    if not isinstance(targets, list) or not targets:
        raise errors.bad_request(f"{action} needs a non-empty 'Targets' collection.", "0x80048d19")
    for index, target in enumerate(targets):
        if not isinstance(target, dict):
            raise errors.bad_request(
                f"Target {index} of {action} is not a record (a JSON object).", "0x80048d19")
    return targets


def run(body, entity: Entity, action: str, user_id, annotations) -> list[WriteOp]:
    """Applies the message all or nothing; returns its operations, or raises the refusal of the
    first record refused."""
    targets = targets_of(body, action)
    budget.record_bulk(len(targets))
    if action == "CreateMultiple":
        ops = [WriteOp("POST", entity, body=target) for target in targets]
    elif action == "UpdateMultiple":
        ops = [update_op(entity, target) for target in targets]
    else:
        ops = upsert_ops(entity, targets)
    done = UnitOfWork(user_id).run(ops, atomic=True, continue_on_error=False)
    for index, op in enumerate(done):
        if op.error is not None:
            raise named(op.error, index, op, annotations)
    return ops


def named(error: errors.ApiError, index: int, op: WriteOp, annotations) -> errors.ApiError:
    if not (annotations and annotations(ERROR_DETAILS.lstrip("@"))):
        return error
    rowid = str(op.rowid) if isinstance(op.rowid, uuid.UUID) else None
    detail = [{"RequestIndex": index, "Id": rowid, "StatusCode": error.status}]
    return errors.ApiError(error.status, error.code, error.message, error.headers,
                           {**error.annotations, ERROR_DETAILS: json.dumps(detail)})


def update_op(entity: Entity, target: dict) -> WriteOp:
    rowid = parse_guid(target.get(entity.primary_id))
    if rowid is None:
        raise errors.bad_request(
            f"Each target of UpdateMultiple needs its '{entity.primary_id}'.", "0x80040203")
    return WriteOp("PATCH", entity, rowid, body=target, if_match="*")


def parse_odata_id(entity: Entity, odata_id) -> dict:
    """{attribute: value} of the key an `@odata.id` names (`accounts(<id>)`, `accounts(k='v')`)."""
    match = ODATA_ID_RE.match(odata_id.strip()) if isinstance(odata_id, str) else None
    if match is None or match.group("set") != entity.set_name:
        raise errors.bad_request(
            f"The @odata.id '{odata_id}' does not name a record of {entity.set_name}.",
            "0x80060888")
    key = match.group("key")
    rowid = parse_guid(key.strip("'"))
    if rowid is not None:
        return {entity.primary_id: str(rowid)}
    values, position = {}, 0
    while position < len(key):
        part = KEY_PART_RE.match(key, position)
        if part is None or part.end() == position:
            raise errors.bad_request(f"The key '{key}' of @odata.id is not valid.", "0x80060888")
        raw = part.group("value").strip()
        if raw.startswith("'"):
            values[part.group("name")] = raw[1:-1].replace("''", "'")
        else:
            try:
                values[part.group("name")] = json.loads(raw)
            except ValueError:
                values[part.group("name")] = raw
        position = part.end()
    return values


def alternate_rule(entity: Entity, names) -> unique.Unique:
    for rule in unique.ALTERNATE_KEYS.get(entity.logical_name, ()):
        if set(rule.attributes) == set(names):
            return rule
    raise errors.bad_request(
        f"The key ({', '.join(sorted(names))}) is not an alternate key of {entity.logical_name}.",
        "0x80060888")


def upsert_ops(entity: Entity, targets: list[dict]) -> list[WriteOp]:
    """One upsert (PATCH without If-Match) per target, its id found by primary or alternate key;
    the stored alternate keys are read in one query per key."""
    keyed = []  # (target body, rule or None, key values)
    for target in targets:
        body = {k: v for k, v in target.items() if k != "@odata.id"}
        if "@odata.id" not in target:
            keyed.append((body, None, {}))
            continue
        values = parse_odata_id(entity, target["@odata.id"])
        if set(values) == {entity.primary_id}:
            keyed.append(({**body, entity.primary_id: values[entity.primary_id]}, None, {}))
        else:
            keyed.append((body, alternate_rule(entity, values), values))
    found: dict = {}
    for rule in {rule for _, rule, _ in keyed if rule is not None}:
        probes = set()
        for _, other, values in keyed:
            if other == rule:
                probes |= unique.probe_forms(values[rule.attributes[0]])
        found[rule] = unique.load_keys(entity, rule, probes)
    ops = []
    for body, rule, values in keyed:
        if rule is None:
            rowid = parse_guid(body.get(entity.primary_id)) or uuid.uuid4()
        else:
            key = unique.key_of(rule, values)
            rowid = found[rule].get(key)
            if rowid is None:  # a new record: it takes the key's values, and later targets too
                rowid = found[rule][key] = uuid.uuid4()
                body = {**values, **body}
        ops.append(WriteOp("PATCH", entity, rowid, body=body))
    return ops
