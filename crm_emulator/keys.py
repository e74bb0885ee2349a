"""Indexed columns: the attributes a filter finds without reading the whole table.

Dataverse keeps each table in SQL Server with indexes on the columns the platform looks rows up
by: the primary name and the Quick Find columns (`Entity.search_columns`), and the platform's
natural keys (unique.py). The embedded CRM stores attributes in one JSON column, so a filter on
an attribute would read every row of the table: at 100,000 accounts, each match-before-create
read of a synchronization would scan them all. For the indexed attributes of a table, each row
keeps one `Key` per attribute with a value, holding the value as SQL Server's default
collation compares it (`unique.normalized`: case-insensitive, trailing spaces ignored), and
`eq` / `In` on them (`odata/filter.py`) read the index. So a filter finds what Dataverse finds:
`In(accountnumber, ['c-1'])` finds the account numbered "C-1 ".

`UnitOfWork.write` (store.py) keeps the keys in step with every insert, update and delete, in
the unit's transaction; a value longer than `KEY_LENGTH` is not indexed, and a filter on such a
value reads the table as before.
"""

from __future__ import annotations

from functools import cache

from django.db import connections

from crm_emulator.models import Key
from crm_emulator.routers import CRM_DB
from crm_emulator.schema import BY_NAME, Entity
from crm_emulator.unique import RULES, normalized

KEY_LENGTH = 400  # characters of an indexed value
CHUNK = 500  # rows per query: below SQLite's limit of query parameters
INDEXED_TYPES = ("String",)


@cache
def indexed(logical_name: str) -> frozenset[str]:
    """The indexed attributes of a table (empty for a table the emulator does not know)."""
    entity: Entity | None = BY_NAME.get(logical_name)
    if entity is None:
        return frozenset()
    names = {entity.primary_name, *entity.search_columns}
    for rule in RULES.get(logical_name, ()):
        names.update(rule.attributes)
    return frozenset(name for name in names
                     if name in entity.attrs and entity.attrs[name].type in INDEXED_TYPES)


def indexable(value) -> str | None:
    """A literal's indexed form, or None when the index cannot answer for it (not text, empty,
    or longer than KEY_LENGTH)."""
    if not isinstance(value, str):
        return None
    folded = normalized(value)
    return folded if folded is not None and len(folded) <= KEY_LENGTH else None


def keys_of(entity_name: str, data: dict) -> dict[str, str]:
    """{attribute: indexed value} of one row's data."""
    found = {}
    for name in indexed(entity_name):
        folded = indexable(data.get(name))
        if folded is not None:
            found[name] = folded
    return found


def matching(entity_name: str, lookups: list[tuple[str, list[str]]]):
    """The ids of the rows whose attribute has one of the indexed values, for each
    (attribute, values) of `lookups` (a subquery). Several lookups (`a eq 'x' or b eq 'y'`) go as
    one union, each part read from the index: `rowid IN (…) OR rowid IN (…)` would make the
    database walk the whole table."""
    parts = [Key.objects.filter(entity=entity_name, attribute=attribute, value__in=values)
             .values("rowid") for attribute, values in lookups]
    return parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]


def replace(rows_before_after) -> None:
    """Brings the index in step with written rows. `rows_before_after`: (entity, row id, data
    before or None for a new row, data after or None for a deleted row); a row whose indexed
    values did not change costs nothing."""
    stale: dict[str, list] = {}
    fresh = []
    for entity_name, rowid, before, after in rows_before_after:
        if not indexed(entity_name):
            continue
        old = keys_of(entity_name, before) if before is not None else {}
        new = keys_of(entity_name, after) if after is not None else {}
        if old == new:
            continue
        if old:
            stale.setdefault(entity_name, []).append(rowid)
        fresh.extend((entity_name, name, value, rowid) for name, value in new.items())
    for entity_name, ids in stale.items():
        for start in range(0, len(ids), CHUNK):
            Key.objects.filter(entity=entity_name, rowid__in=ids[start:start + CHUNK]).delete()
    insert(fresh)


def insert(keys: list[tuple]) -> None:
    """One parameterized INSERT run for (entity, attribute, value, row id) tuples. The texts
    go as they are; each row id is prepared for the database once, not once per key."""
    if not keys:
        return
    connection = connections[CRM_DB]
    rowid_field = Key._meta.get_field("rowid")
    prepared: dict = {}
    params = []
    for entity_name, attribute, value, rowid in keys:
        if rowid not in prepared:
            prepared[rowid] = rowid_field.get_db_prep_save(rowid, connection)
        params.append((entity_name, attribute, value, prepared[rowid]))
    quote = connection.ops.quote_name
    columns = ", ".join(quote(Key._meta.get_field(name).column)
                        for name in ("entity", "attribute", "value", "rowid"))
    sql = f"INSERT INTO {quote(Key._meta.db_table)} ({columns}) VALUES (%s, %s, %s, %s)"
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def index_rows(rows) -> None:
    """Indexes rows stored without a unit of work (the migration that adds the index, and
    tests that fill the storage directly)."""
    insert([(row.entity, name, value, row.rowid)
            for row in rows for name, value in keys_of(row.entity, row.data).items()])
