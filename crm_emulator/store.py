"""Writes: creates, upserts and deletes applied as one unit of work, in few queries.

A single request and a whole `$batch` change set of 1,000 operations take the same path: every
body is checked first (no database), then every row and bind target the unit names is read in
one query per table, the operations are applied in order in memory (so operation 7 may update the
row operation 3 created, or bind to it through its Content-ID), and the result is written with
`bulk_create` / `bulk_update` / one delete, inside one transaction. A refused operation changes
nothing; in an atomic unit (a change set) it discards the whole unit.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

from django.db import IntegrityError, connections, transaction
from django.db.models import F
from django.utils import timezone

from crm_emulator import changes, errors, unique
from crm_emulator import keys as indexed_keys
from crm_emulator.models import Counter, Row, Tombstone
from crm_emulator.routers import CRM_DB
from crm_emulator.schema import BY_NAME, NONE, SYSTEM_ATTRIBUTES, Entity
from crm_emulator.values import TYPES_KEY, Bind, parse_payload

CHUNK = 500  # rows per query: below SQLite's limit of query parameters


@dataclass
class WriteOp:
    method: str  # POST (create), PATCH (upsert / update), DELETE
    entity: Entity
    rowid: uuid.UUID | str | None = None  # str: "$n", a Content-ID of the same change set
    body: dict | None = None
    if_match: str | None = None
    if_none_match: str | None = None
    content_id: str | None = None
    # filled in by the unit of work
    values: dict = field(default_factory=dict)
    binds: list[Bind] = field(default_factory=list)
    error: errors.ApiError | None = None
    row: Row | None = None
    created: bool = False


def next_versions(count: int) -> int:
    """Reserves `count` row versions; returns the first. Serialized by the write transaction."""
    for _ in range(2):
        if Counter.objects.filter(name="rowversion").update(value=F("value") + count):
            return Counter.objects.get(name="rowversion").value - count + 1
        try:
            with transaction.atomic(using=CRM_DB):
                Counter.objects.create(name="rowversion", value=1000)
        except IntegrityError:
            pass
    raise RuntimeError("could not reserve row versions")


def lock_writes():
    """Takes the write lock of the organization (the row version counter's row) for the rest of
    the transaction: units of work that check unique values run one after the other, so two of
    them cannot both take the same value (SQLite: the database's write lock; PostgreSQL: a row
    lock, and each later statement sees what the unit before committed)."""
    next_versions(0)


def etag_version(tag: str) -> str:
    match = re.search(r'"?(\d+)"?\s*$', tag.strip())
    return match.group(1) if match else tag.strip()


def etag_matches(header: str, row: Row) -> bool:
    tags = [t.strip() for t in header.split(",")]
    return "*" in tags or any(etag_version(t) == str(row.versionnumber) for t in tags)


def load_rows(keys) -> dict:
    """{(logical name, id): Row} of the existing rows among `keys`."""
    by_entity: dict[str, set] = {}
    for name, rowid in keys:
        by_entity.setdefault(name, set()).add(rowid)
    found = {}
    for name, ids in by_entity.items():
        ids = list(ids)
        for start in range(0, len(ids), CHUNK):
            for row in Row.objects.filter(entity=name, rowid__in=ids[start:start + CHUNK]):
                found[(name, row.rowid)] = row
    return found


class UnitOfWork:
    def __init__(self, user_id: uuid.UUID | None):
        self.user_id = user_id
        self.now = timezone.now()
        self.rows: dict = {}  # (logical name, id) -> Row, or None once deleted
        self.new: dict = {}  # rows to insert
        self.touched: dict = {}  # rows to insert or update, in the order of their last change
        self.deleted: list[Row] = []
        self.content_ids: dict[str, tuple[str, uuid.UUID]] = {}
        self.unique = unique.Index()
        self.before: dict = {}  # (logical name, id) -> the row's data as loaded

    # --- the unit ---
    def run(self, ops: list[WriteOp], *, atomic: bool, continue_on_error: bool) -> list[WriteOp]:
        """Applies `ops` in order; returns those processed (processing stops at the first
        refusal unless `continue_on_error`; an atomic unit is all or nothing)."""
        for op in ops:
            try:
                self.parse(op)
            except errors.ApiError as error:
                op.error = error
        with transaction.atomic(using=CRM_DB):
            if any(unique.rules_of(op.entity.logical_name) for op in ops if op.error is None):
                lock_writes()
            self.rows = load_rows(self.keys(ops))
            self.before = {key: row.data for key, row in self.rows.items()}
            self.unique = unique.Index.load(ops, self.rows)
            done = []
            for op in ops:
                if op.error is None:
                    try:
                        self.apply(op)
                    except errors.ApiError as error:
                        op.error = error
                done.append(op)
                if op.error is not None and (atomic or not continue_on_error):
                    break
            if atomic and any(op.error for op in done):
                return done
            self.write()
        return done

    def parse(self, op: WriteOp):
        if op.method in ("POST", "PATCH"):
            op.values, op.binds, given_id = parse_payload(
                op.entity, op.body, creating=op.method == "POST")
            if op.method == "POST":
                op.rowid = given_id or uuid.uuid4()
            elif given_id is not None and isinstance(op.rowid, uuid.UUID) and given_id != op.rowid:
                raise errors.bad_request(
                    f"The key attribute '{op.entity.primary_id}' of the body does not match the "
                    "key of the request URI.", "0x80048d19")

    @staticmethod
    def keys(ops):
        keys = set()
        for op in ops:
            if op.error is None:
                if isinstance(op.rowid, uuid.UUID):
                    keys.add((op.entity.logical_name, op.rowid))
                for bind in op.binds:
                    if isinstance(bind.ref, uuid.UUID):
                        keys.add((bind.target, bind.ref))
        return keys

    def resolve(self, ref, expected: str | None = None) -> uuid.UUID:
        if isinstance(ref, uuid.UUID):
            return ref
        target = self.content_ids.get(ref)
        if target is None or (expected and target[0] != expected):
            raise errors.bad_request(f"The Content-ID reference '{ref}' is not valid here.")
        return target[1]

    # --- one operation ---
    def apply(self, op: WriteOp):
        entity = op.entity
        rowid = self.resolve(op.rowid, entity.logical_name)
        key = (entity.logical_name, rowid)
        row = self.rows.get(key)
        if op.method == "DELETE":
            if row is None:
                raise errors.not_found(entity, rowid)
            self.check_if_match(op, row)
            self.unique.record(entity, rowid, row.data, None)
            self.rows[key] = None
            self.touched.pop(key, None)
            if self.new.pop(key, None) is None:
                self.deleted.append(row)
            op.row = row
            return
        if row is None:
            if op.method == "PATCH" and op.if_match:
                raise errors.not_found(entity, rowid)
            data = self.defaults(entity)
        else:
            if op.method == "POST" or (op.if_none_match or "").strip() == "*":
                raise errors.duplicate()
            self.check_if_match(op, row)
            data = dict(row.data)
            if TYPES_KEY in data:
                data[TYPES_KEY] = dict(data[TYPES_KEY])
        for name, value in op.values.items():
            if value is None:
                data.pop(name, None)
            else:
                data[name] = value
        for bind in op.binds:
            self.apply_bind(entity, data, bind)
        derive(entity, data, op.values)
        check_required(entity, data)
        self.unique.check(entity, rowid, row.data if row is not None else None, data)
        # accepted: only now does the unit's state change
        self.unique.record(entity, rowid, row.data if row is not None else None, data)
        if row is None:
            row = Row(entity=entity.logical_name, rowid=rowid, data=data, createdon=self.now,
                      createdby=self.user_id)
            self.new[key] = row
            self.rows[key] = row
            op.created = True
        row.data = data
        row.modifiedby = self.user_id
        self.touched.pop(key, None)
        self.touched[key] = row
        op.row = row
        if op.content_id:
            self.content_ids[f"${op.content_id}"] = key

    def check_if_match(self, op: WriteOp, row: Row):
        if op.if_match and not etag_matches(op.if_match, row):
            raise errors.version_mismatch()

    def apply_bind(self, entity: Entity, data: dict, bind: Bind):
        name = bind.attribute.name
        types = data.setdefault(TYPES_KEY, {})
        if bind.ref is None:
            data.pop(name, None)
            types.pop(name, None)
        else:
            target_id = self.resolve(bind.ref, bind.target)
            if self.rows.get((bind.target, target_id)) is None:
                raise errors.not_found(BY_NAME[bind.target], target_id)
            data[name] = str(target_id)
            if len(bind.attribute.targets) > 1:
                types[name] = bind.target
            else:
                types.pop(name, None)
        if not types:
            data.pop(TYPES_KEY, None)

    def defaults(self, entity: Entity) -> dict:
        data = {a.name: a.default for a in entity.attributes
                if a.default is not None and a.name not in SYSTEM_ATTRIBUTES}
        if "ownerid" in entity.attrs and self.user_id:
            data["ownerid"] = str(self.user_id)
        return data

    # --- the write ---
    def write(self):
        # a deletion in a tracked table takes a row version too: delta links report it after it
        tracked = [row for row in self.deleted if changes.tracked(row.entity)]
        if self.touched or tracked:
            version = next_versions(len(self.touched) + len(tracked))
            for row in self.touched.values():
                row.versionnumber = version
                row.modifiedon = self.now
                version += 1
        insert_rows(list(self.new.values()))
        changed = [(key, row) for key, row in self.touched.items() if key not in self.new]
        if changed:
            update_rows([row for _, row in changed])
        indexed_keys.replace(
            [(row.entity, row.rowid, None, row.data) for row in self.new.values()]
            + [(row.entity, row.rowid, self.before.get(key), row.data) for key, row in changed]
            + [(row.entity, row.rowid, self.before.get((row.entity, row.rowid)), None)
               for row in self.deleted])
        pks = [row.pk for row in self.deleted]
        for start in range(0, len(pks), CHUNK):
            Row.objects.filter(pk__in=pks[start:start + CHUNK]).delete()
        if tracked:
            Tombstone.objects.bulk_create(changes.tombstones_for(tracked, version, self.now),
                                          batch_size=CHUNK)
            changes.prune(self.now)


UPDATED_FIELDS = ("data", "modifiedon", "modifiedby", "versionnumber")
INSERTED_FIELDS = ("entity", "rowid", "data", "createdon", "modifiedon", "createdby",
                   "modifiedby", "versionnumber")


def insert_rows(rows: list[Row]):
    """One parameterized INSERT run for every new row (executemany): what bulk_create does,
    without compiling every value of a 1,000-row change set (ids are not needed back)."""
    if not rows:
        return
    connection = connections[CRM_DB]
    fields = [Row._meta.get_field(name) for name in INSERTED_FIELDS]
    quote = connection.ops.quote_name
    sql = (f"INSERT INTO {quote(Row._meta.db_table)} "
           f"({', '.join(quote(f.column) for f in fields)}) "
           f"VALUES ({', '.join(['%s'] * len(fields))})")
    prepare = preparer(fields, connection)
    params = [[prepare(f, getattr(row, f.attname)) for f in fields] for row in rows]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


SHARED = {"createdon", "modifiedon", "createdby", "modifiedby"}  # one value for a whole unit


def preparer(fields, connection):
    """get_db_prep_save, remembered for the values a unit of work's rows share (its time and
    its user) and skipped for plain texts and integers, which go to the database as they are."""
    plain = {f.name for f in fields if f.get_internal_type() in (
        "CharField", "BigIntegerField", "IntegerField")}
    known: dict = {}

    def prepare(field, value):
        if field.name in plain:
            return value
        if field.name in SHARED:
            key = (field.name, value)
            if key not in known:
                known[key] = field.get_db_prep_save(value, connection)
            return known[key]
        return field.get_db_prep_save(value, connection)

    return prepare


def update_rows(rows: list[Row]):
    """One parameterized UPDATE run for every row: bulk_update's CASE expressions grow with the
    square of a 1,000-row change set on SQLite; executemany stays linear."""
    connection = connections[CRM_DB]
    fields = [Row._meta.get_field(name) for name in UPDATED_FIELDS]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    sql = f"UPDATE {quote(Row._meta.db_table)} SET {assignments} WHERE {quote('id')} = %s"
    prepare = preparer(fields, connection)
    params = [[prepare(f, getattr(row, f.attname)) for f in fields] + [row.pk] for row in rows]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def derive(entity: Entity, data: dict, given: dict):
    """Attributes Dataverse computes: full names, line amounts (unless the caller set them)."""
    if entity.logical_name in ("contact", "systemuser"):
        full = " ".join(p for p in (data.get("firstname"), data.get("lastname")) if p)
        if full:
            data["fullname"] = full
        else:
            data.pop("fullname", None)
    if entity.logical_name == "invoicedetail":
        quantity, price = data.get("quantity"), data.get("priceperunit")
        if quantity is not None and price is not None:
            if "baseamount" not in given:
                data["baseamount"] = round(quantity * price, 2)
            if "extendedamount" not in given:
                data["extendedamount"] = data["baseamount"]


def check_required(entity: Entity, data: dict):
    for attribute in entity.attributes:
        if attribute.required == NONE or attribute.name == entity.primary_id:
            continue
        if attribute.name in SYSTEM_ATTRIBUTES:
            continue
        if data.get(attribute.name) in (None, ""):
            raise errors.required_missing(entity, attribute)


def write_one(op: WriteOp, user_id) -> WriteOp:
    """One request's write; raises its refusal."""
    UnitOfWork(user_id).run([op], atomic=True, continue_on_error=False)
    if op.error is not None:
        raise op.error
    return op
