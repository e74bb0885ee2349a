"""Bulk writes of a page in few statements, without the ORM's per-value machinery.

- `bulk_set`: UPDATE of many rows with different values: one parameterized statement sent once
  (executemany). Django's bulk_update builds CASE expressions and, on SQLite, splits a page of
  5,000 rows into hundreds of statements; executemany is one round of work on SQLite and
  PostgreSQL alike, so a page costs the same whatever its size.
- `bulk_insert`: INSERT of many new rows as multi-row statements that return the new keys (as
  `bulk_create` does), with each field's value prepared by a converter chosen once per field
  rather than by the compiler per value.

Both take model instances whose attributes hold Python values, as the ORM would.
"""

from datetime import UTC, datetime
from decimal import Decimal
from operator import attrgetter
from uuid import UUID

from django.db import connections, router, transaction
from django.db.models import Field, Model, signals
from django.db.models.base import ModelState
from django.db.models.fields import (
    BooleanField,
    CharField,
    DateTimeField,
    DecimalField,
    IntegerField,
    TextField,
    UUIDField,
)
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.query_utils import DeferredAttribute
from django.utils import timezone


def converter(field, connection):
    """A function preparing a Python value of `field` for the database: the common cases (text,
    whole numbers, booleans, keys) pass through when they already have the column's type."""
    def slow(value):
        return None if value is None else field.get_db_prep_save(value, connection)

    if type(field) is DateTimeField:
        if connection.vendor == "sqlite":  # stored as naive UTC text, as the backend writes it
            # A UTC value (timezone.now(), a parsed CRM stamp) is its text less "+00:00".
            return lambda v: (str(v)[:-6] if v.tzinfo is UTC
                              else str(v.astimezone(UTC).replace(tzinfo=None))) \
                if type(v) is datetime and v.tzinfo is not None else slow(v)
        if connection.vendor == "postgresql":
            return lambda v: v if type(v) is datetime and v.tzinfo is not None else slow(v)
    if isinstance(field, UUIDField):
        native = connection.features.has_native_uuid_field
        return lambda v: (v if native else v.hex) if type(v) is UUID else slow(v)
    if isinstance(field, DecimalField):  # the backends take a Decimal as it is
        return lambda v: v if type(v) is Decimal else slow(v)
    if field.is_relation or isinstance(field, IntegerField):
        return lambda v: v if v is None or type(v) is int else slow(v)
    if isinstance(field, (CharField, TextField)):
        return lambda v: v if v is None or type(v) is str else slow(v)
    if isinstance(field, BooleanField):
        return lambda v: v if v is None or type(v) is bool else slow(v)
    return slow


def passing(field, connection) -> tuple:
    """The types a value of `field` goes to the database as it is (its converter would return
    it unchanged): a row of a page is prepared without a call per such value. None always
    passes (every converter returns it)."""
    types = {type(None)}
    if isinstance(field, DecimalField):
        types.add(Decimal)
    elif isinstance(field, UUIDField):
        if connection.features.has_native_uuid_field:
            types.add(UUID)
    elif type(field) is DateTimeField:
        pass
    elif field.is_relation or isinstance(field, IntegerField):
        types.add(int)
    elif isinstance(field, (CharField, TextField)):
        types.add(str)
    elif isinstance(field, BooleanField):
        types.add(bool)
    return frozenset(types)


def row_maker(fields, connection):
    """A function making the list of `fields`' database values of an object."""
    if not fields:
        return lambda obj: []
    read = attrgetter(*[f.attname for f in fields])
    plan = [(passing(f, connection), converter(f, connection)) for f in fields]
    if len(fields) == 1:
        (ok, convert), = plan
        return lambda obj: [v if type(v := read(obj)) in ok else convert(v)]
    oks, converts = [ok for ok, _ in plan], [convert for _, convert in plan]
    return lambda obj: [v if type(v) in ok else convert(v)
                        for ok, convert, v in zip(oks, converts, read(obj), strict=True)]


def _overrides_pre_save(field) -> bool:
    return type(field).pre_save is not Field.pre_save


def bulk_set(model, objs, fields) -> int:
    """Writes `fields` of each object (by pk); ERP records also get a new modified_at."""
    objs = [obj for obj in objs if obj.pk is not None]
    if not objs:
        return 0
    fields = [model._meta.get_field(name) for name in dict.fromkeys(fields)]
    if any(f.name == "modified_at" for f in model._meta.concrete_fields) and \
            "modified_at" not in {f.name for f in fields}:
        now = timezone.now()
        for obj in objs:
            obj.modified_at = now
        fields.append(model._meta.get_field("modified_at"))
    alias = router.db_for_write(model)
    connection = connections[alias]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    sql = (f"UPDATE {quote(model._meta.db_table)} SET {assignments} "
           f"WHERE {quote(model._meta.pk.column)} = %s")
    make = row_maker(fields, connection)
    rows = [make(obj) + [obj.pk] for obj in objs]
    with transaction.atomic(using=alias, savepoint=False), connection.cursor() as cursor:
        cursor.executemany(sql, rows)
    return len(rows)


def bulk_insert(model, objs, *, keys: bool = True) -> None:
    """Inserts the new objects and sets their primary keys; all or nothing (one transaction).

    A model with a unique key the object already holds (an ERP record's `system_id`) is
    inserted with one executemany and its primary keys read back by that key; any other with
    multi-row INSERT … RETURNING statements of up to the database's number of parameters.
    `keys=False`: the caller does not need the primary keys (one executemany, nothing read).
    """
    if not objs:
        return
    alias = router.db_for_write(model)
    connection = connections[alias]
    meta = model._meta
    fields = [f for f in meta.concrete_fields if f is not meta.auto_field]
    make = row_maker(fields, connection)
    pre_save = [f for f in fields if _overrides_pre_save(f)]
    rows = []
    for obj in objs:
        for field in pre_save:
            field.pre_save(obj, True)
        rows.append(make(obj))
    # Inside a caller's transaction no savepoint is needed: a failure rolls back the caller's.
    with transaction.atomic(using=alias, savepoint=False), connection.cursor() as cursor:
        key = _own_key(meta)
        if not keys:
            _insert_many(cursor, connection, meta, fields, rows)
        elif key is not None:
            _insert_many(cursor, connection, meta, fields, rows)
            _read_keys_back(cursor, connection, meta, key, objs, converter(key, connection))
        else:
            _insert_returning(cursor, connection, meta, fields, rows, objs)
    if keys:
        for obj in objs:
            obj._state.adding = False
            obj._state.db = alias


def _own_key(meta):
    """A unique field whose value is set before the insert (a default such as uuid4)."""
    for field in meta.concrete_fields:
        if field.unique and not field.primary_key and not field.null and field.has_default() \
                and isinstance(field, UUIDField):
            return field
    return None


def _insert_many(cursor, connection, meta, fields, rows):
    quote = connection.ops.quote_name
    sql = (f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
           f"VALUES ({', '.join(['%s'] * len(fields))})")
    cursor.executemany(sql, rows)


def _read_keys_back(cursor, connection, meta, key, objs, convert):
    quote = connection.ops.quote_name
    by_key = {convert(getattr(obj, key.attname)): obj for obj in objs}
    wanted = list(by_key)
    limit = min(connection.features.max_query_params or 30000, 30000)
    for start in range(0, len(wanted), limit):
        chunk = wanted[start:start + limit]
        cursor.execute(
            f"SELECT {quote(meta.pk.column)}, {quote(key.column)} FROM {quote(meta.db_table)} "
            f"WHERE {quote(key.column)} IN ({', '.join(['%s'] * len(chunk))})", chunk)
        for pk, value in cursor.fetchall():
            setattr(by_key[convert(value) if not isinstance(value, str) else value],
                    meta.pk.attname, pk)
    if any(getattr(obj, meta.pk.attname) is None for obj in objs):
        raise RuntimeError(f"{meta.db_table}: inserted rows not found by {key.name}")


def _insert_returning(cursor, connection, meta, fields, rows, objs):
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    limit = connection.features.max_query_params or 30000
    per_statement = max(1, min(2000, limit // len(fields)))
    for start in range(0, len(rows), per_statement):
        chunk = rows[start:start + per_statement]
        cursor.execute(
            f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES "
            f"{', '.join([row_sql] * len(chunk))} RETURNING {quote(meta.pk.column)}",
            [value for row in chunk for value in row])
        for obj, (pk,) in zip(objs[start:start + per_statement], cursor.fetchall(),
                              strict=True):
            setattr(obj, meta.pk.attname, pk)


_NEW_PLANS = {}


def new_instance(model, **values):
    """`model(**values)` for the thousands of new rows of a page, at a fraction of the cost:
    Model.__init__ looks up every field's default by keyword, per instance. Here the fields
    with a fixed default are copied from a plan made once per model, a callable default (a new
    uuid, now) is called per instance as __init__ would, and `values` are set as __init__ sets
    them: a plain value stored as it is (what its attribute would do), a related record
    through its descriptor (after the plain values, unless its key is given too). A model with
    an __init__ of its own, or whose creation something listens to (pre_init / post_init), is
    made the usual way."""
    if model.__init__ is not Model.__init__ or signals.pre_init.has_listeners(model) \
            or signals.post_init.has_listeners(model):
        return model(**values)
    plan = _NEW_PLANS.get(model)
    if plan is None:
        fixed, called = {}, []
        for field in model._meta.concrete_fields:
            if field.has_default() and callable(field.default):
                called.append((field.attname, field))
            else:
                fixed[field.attname] = field.get_default()
        plan = _NEW_PLANS[model] = (fixed, called, _plain_attnames(model),
                                    {f.name: f.attname for f in model._meta.concrete_fields}
                                    | {"pk": model._meta.pk.attname})
    fixed, called, plain, attnames = plan
    obj = model.__new__(model)
    state = obj.__dict__
    state.update(fixed)
    for attname, field in called:
        if attname not in values:
            state[attname] = field.get_default()
    obj._state = ModelState()
    others = [name for name in values if name not in plain]
    if others and any(attnames.get(name) in values for name in others):
        for name, value in values.items():  # a record and its key both given: in their order
            setattr(obj, name, value)
        return obj
    for name, value in values.items():
        if name in plain:
            state[name] = value
    for name in others:  # a related record (`mapping=`), after the plain values it never
        setattr(obj, name, values[name])  # touches (its key is not among them)
    return obj


def _plain_attnames(model) -> frozenset:
    """The concrete fields' attnames whose setting on a new instance is only storing the value:
    a plain field's attribute has no __set__, and a foreign key's `_id` attribute only drops a
    cached related record, which a new instance does not hold before its related records are
    set (they are set last)."""
    plain = set()
    for field in model._meta.concrete_fields:
        descriptor = model.__dict__.get(field.attname)
        if type(descriptor) in (DeferredAttribute, ForeignKeyDeferredAttribute):
            plain.add(field.attname)
    return frozenset(plain)
