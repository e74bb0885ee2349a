"""Uniqueness the way Dataverse enforces it: natural keys of the platform and alternate keys.

`RULES[logical name]` lists each table's unique combinations of attributes and the refusal a
duplicate gets (errors.py has Dataverse's codes and wording):

- transactioncurrency.isocurrencycode, product.productnumber, pricelevel.name,
  productpricelevel (product, price list, unit), systemuser.domainname: business rules of the
  platform, each with its own error code (HTTP 400);
- uomschedule.name, uom (name, unit group): unique indexes of the platform (DuplicateRecord, 412);
- alternate keys (`alternate_key()`, `ALTERNATE_KEYS`): DuplicateRecordEntityKey (412).

Comparisons are those of SQL Server's default collation: case-insensitive, trailing spaces
ignored. A combination with an empty part is not checked (a unique index ignores NULLs).

`Index` checks a whole unit of work (one request, a `$batch` change set of 1,000 creates) with one
query per table and rule, made before the unit is applied: it reads only the rows whose first
attribute ("probe") has a value the unit writes, then follows the unit in memory operation by
operation, so a record may take a value another record of the same unit gave up before it, and
two creates of one unit with the same value are refused like two requests would be. The unit of
work holds the write lock while it checks (store.lock_writes), so two units cannot both take a
value.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connections
from django.db.models.fields.json import KT
from django.db.models.functions import Lower, RTrim

from crm_emulator import errors
from crm_emulator.models import Row
from crm_emulator.routers import CRM_DB
from crm_emulator.schema import BY_NAME, Entity

MAX_CHUNK = 5000  # values per query (each query reads the table's rows once)


@dataclass(frozen=True)
class Unique:
    attributes: tuple[str, ...]  # the first one is probed in the database
    refusal: Callable[[Entity, Unique], errors.ApiError]
    key_name: str | None = None  # an alternate key's display name


def alternate_key(key_name: str, *attributes: str) -> Unique:
    return Unique(tuple(attributes),
                  lambda entity, rule: errors.entity_key_violated(key_name, rule.attributes),
                  key_name)


def by_index(entity: Entity, rule: Unique) -> errors.ApiError:
    return errors.duplicate_key_values(entity, rule.attributes)


RULES: dict[str, tuple[Unique, ...]] = {
    "systemuser": (Unique(("domainname",), lambda e, r: errors.user_already_exists()),),
    "transactioncurrency": (
        Unique(("isocurrencycode",), lambda e, r: errors.duplicate_currency()),),
    "uomschedule": (Unique(("name",), by_index),),
    "uom": (Unique(("name", "uomscheduleid"), by_index),),
    "product": (Unique(("productnumber",), lambda e, r: errors.product_number_exists()),),
    "pricelevel": (Unique(("name",), lambda e, r: errors.price_level_name_exists()),),
    "productpricelevel": (Unique(("productid", "pricelevelid", "uomid"),
                                 lambda e, r: errors.duplicate_product_price_level()),),
}
# Alternate keys declared on the organization's tables (none out of the box); tests and
# customizations add e.g. ALTERNATE_KEYS["account"] = (alternate_key("Account Number Key",
# "accountnumber"),).
ALTERNATE_KEYS: dict[str, tuple[Unique, ...]] = {}


def rules_of(logical_name: str) -> tuple[Unique, ...]:
    return RULES.get(logical_name, ()) + ALTERNATE_KEYS.get(logical_name, ())


def normalized(value) -> str | None:
    """The value as SQL Server's default collation compares it; None for an empty one."""
    if value is None:
        return None
    text = str(value).rstrip(" ")
    return text.casefold() if text else None


def key_of(rule: Unique, data: dict) -> tuple | None:
    key = tuple(normalized(data.get(name)) for name in rule.attributes)
    return None if any(part is None for part in key) else key


def probe_forms(value) -> set[str]:
    """What a database's LOWER(RTRIM(...)) may give for the values that match `value`:
    Unicode-aware (PostgreSQL) or ASCII-only (SQLite)."""
    text = str(value).rstrip(" ")
    ascii_lower = "".join(ch.lower() if ch.isascii() else ch for ch in text)
    return {text.lower(), ascii_lower}


def load_keys(entity: Entity, rule: Unique, probes: set[str]) -> dict[tuple, uuid.UUID]:
    """{key: row id} of the stored rows whose probe attribute has one of `probes`."""
    name = rule.attributes[0]
    probe = Lower(RTrim(KT(f"data__{name}")))
    found: dict[tuple, uuid.UUID] = {}
    values = sorted(probes)
    limit = connections[CRM_DB].features.max_query_params or MAX_CHUNK
    chunk = max(100, min(MAX_CHUNK, limit - 10))
    for start in range(0, len(values), chunk):
        rows = (Row.objects.filter(entity=entity.logical_name)
                .annotate(unique_probe=probe)
                .filter(unique_probe__in=values[start:start + chunk])
                .values_list("rowid", "data"))
        for rowid, data in rows:
            key = key_of(rule, data)
            if key is not None:
                found.setdefault(key, rowid)
    return found


class Index:
    """The unique values of the tables a unit of work writes, kept up to date as it applies
    its operations."""

    def __init__(self):
        self.keys: dict[tuple[str, int], dict[tuple, uuid.UUID]] = {}

    @classmethod
    def load(cls, ops, rows: dict) -> Index:
        """One query per table and rule, for the values `ops` may write."""
        index = cls()
        wanted: dict[tuple[str, int], set[str]] = {}
        for op in ops:
            rules = rules_of(op.entity.logical_name)
            if op.error is not None or op.method not in ("POST", "PATCH") or not rules:
                continue
            existing = rows.get((op.entity.logical_name, op.rowid))
            for number, rule in enumerate(rules):
                value = probe_value(op, rule.attributes[0], existing)
                if value is not None:
                    wanted.setdefault((op.entity.logical_name, number), set()).update(
                        probe_forms(value))
        for (logical_name, number), probes in wanted.items():
            rule = rules_of(logical_name)[number]
            index.keys[(logical_name, number)] = load_keys(BY_NAME[logical_name], rule, probes)
        return index

    def check(self, entity: Entity, rowid, old: dict | None, new: dict):
        """Refuses `new` (the record's values after the operation) when another record holds
        one of its unique combinations."""
        for number, rule in enumerate(rules_of(entity.logical_name)):
            key = key_of(rule, new)
            if key is None or (old is not None and key_of(rule, old) == key):
                continue
            owner = self.keys.setdefault((entity.logical_name, number), {}).get(key)
            if owner is not None and owner != rowid:
                raise rule.refusal(entity, rule)

    def record(self, entity: Entity, rowid, old: dict | None, new: dict | None):
        """The record now holds `new` (None: deleted) instead of `old`."""
        for number, rule in enumerate(rules_of(entity.logical_name)):
            keys = self.keys.setdefault((entity.logical_name, number), {})
            old_key = key_of(rule, old) if old is not None else None
            if old_key is not None and keys.get(old_key) == rowid:
                del keys[old_key]
            new_key = key_of(rule, new) if new is not None else None
            if new_key is not None:
                keys.setdefault(new_key, rowid)


def probe_value(op, name: str, existing) -> str | None:
    """The value the operation gives `name`, or the record keeps; None when it cannot be
    stored yet (empty, or a record of the same change set, which no stored row refers to)."""
    attribute = op.entity.attrs.get(name)
    if attribute is not None and attribute.is_lookup:
        for bind in op.binds:
            if bind.attribute.name == name:
                return str(bind.ref) if isinstance(bind.ref, uuid.UUID) else None
    elif name in op.values:
        return op.values[name]
    return existing.data.get(name) if existing is not None else None
