"""Both sides compared on every mapped field of every enabled table mapping, and duplicates counted.

syncbench's correctness check (couplings_app/bench/customers.py `check`) knows only the CUSTOMER
mapping and five text fields; this one reads the field mappings, so it covers every enabled
mapping, every enabled field mapping (constants, transformation rules and lookups through
couplings included), in the representation of the side a field is written to:

- a field written to the CRM (To Integration Table or Bidirectional): the ERP value as the engine
  would send it (`to_remote`) against the CRM row's attribute;
- a field written to the ERP only (From Integration Table): the CRM value as the engine would take
  it (`to_local`) against the ERP record's field.

Equality is the engine's own (`couplings_app.sync.compare`), so "equal" means "nothing to write".
`differences()` returns what differs; the tests decide which differences are explained (a
conflict, a logged error, a policy). `duplicates()` counts rows per natural key on both sides and
couplings per record; `uncoupled()` lists the records of either side that no coupling pairs (a
second copy of a record shows up there even when its key differs).
"""

from collections import Counter
from dataclasses import dataclass

from couplings_app.models import Coupling, SyncJob
from couplings_app.sync.compare import remote_date_equal, same
from couplings_app.sync.context import Run, web_name
from couplings_app.sync.lookups import FromCrmLookups, ToCrmLookups
from mappings_app import local_filter
from mappings_app.choices import Direction
from mappings_app.models import TableMapping
from mappings_app.validation import DATE, LOOKUP, REMOTE_KINDS, resolve_local_field
from mappings_app.values import (
    Reference,
    ValueProblem,
    key_field,
    local_value,
    remote_value,
    to_local,
    to_remote,
)

CHUNK = 200


@dataclass(frozen=True)
class Difference:
    mapping: str
    local_id: int | None
    remote_id: str | None
    field: str
    local: object = None
    remote: object = None
    direction: str = ""  # the field mapping's direction

    def __str__(self):
        return (f"{self.mapping} {self.local_id} ↔ {self.remote_id}: {self.field}: "
                f"ERP {self.local!r}, CRM {self.remote!r}")


def enabled_mappings(names=None):
    query = TableMapping.objects.filter(is_enabled=True).order_by("priority", "name")
    if names:
        query = query.filter(name__in=names)
    return [m for m in query if m.local_model_class is not None]


def _runs(mapping, client):
    job = SyncJob(mapping_name=mapping.name)  # never saved: Run only needs something to hold
    return (Run(mapping=mapping, job=job, client=client, direction=Direction.TO_CRM),
            Run(mapping=mapping, job=job, client=client, direction=Direction.FROM_CRM))


def differences(client, names=None) -> list[Difference]:
    """Every mapped field that differs between two coupled records (confirmed couplings only:
    a pending create has no CRM record to compare yet)."""
    found = []
    for mapping in enabled_mappings(names):
        to_run, from_run = _runs(mapping, client)
        couplings = list(Coupling.objects.filter(
            local_model=mapping.local_model, remote_entity=mapping.remote_entity,
            pending_create=False).order_by("local_id"))
        select = sorted(set(to_run.remote_select()) | set(from_run.remote_select()))
        for start in range(0, len(couplings), CHUNK):
            chunk = couplings[start:start + CHUNK]
            records = mapping.local_model_class._default_manager.in_bulk(
                [c.local_id for c in chunk])
            rows = client.get_many(mapping.remote_entity_set, mapping.remote_key,
                                   [str(c.remote_id) for c in chunk], select=select)
            rows = {str(k).lower(): v for k, v in rows.items()}
            to_lookups = ToCrmLookups(to_run, list(records.values()))
            from_lookups = FromCrmLookups(from_run, list(rows.values()))
            for coupling in chunk:
                record = records.get(coupling.local_id)
                row = rows.get(str(coupling.remote_id).lower())
                if record is None or row is None:
                    found.append(Difference(mapping.name, coupling.local_id,
                                            str(coupling.remote_id), "(record)",
                                            record is not None, row is not None, "record"))
                    continue
                found += _compare(mapping, to_run, from_run, coupling, record, row,
                                  to_lookups, from_lookups)
    return found


def _compare(mapping, to_run, from_run, coupling, record, row, to_lookups, from_lookups):
    out = []
    for fm in to_run.fields + [f for f in from_run.fields if f not in to_run.fields]:
        if not fm.remote_attribute or not (fm.local_field or fm.constant_value):
            continue
        attribute = to_run.attributes.get(fm.remote_attribute)
        if attribute is None:
            continue
        kind = REMOTE_KINDS.get(attribute["type"])
        remote = row.get(web_name(attribute))
        name = f"{fm.local_field or '(constant)'} ↔ {fm.remote_attribute}"
        try:
            if fm.direction == Direction.FROM_CRM:
                equal, local, remote = _compare_from(mapping, fm, record, row, attribute,
                                                     from_lookups)
            else:
                source = local_value(record, fm.local_field) if fm.local_field else None
                local = to_remote(fm, source, attribute, resolve=to_lookups)
                if kind == LOOKUP and local is None:
                    continue  # an empty reference is never sent (the owner stays the CRM's)
                if kind == DATE:
                    equal = remote_date_equal(remote, local)
                else:
                    equal = same(remote, local)
        except ValueProblem as problem:
            equal, local = False, f"ValueProblem: {problem}"
        if not equal:
            out.append(Difference(mapping.name, coupling.local_id, str(coupling.remote_id),
                                  name, local, remote, fm.direction))
    return out


def _compare_from(mapping, fm, record, row, attribute, from_lookups):
    source = remote_value(row, fm.remote_attribute)
    if "." in fm.local_field:
        field = None
        current = local_value(record, fm.local_field)
    else:
        field, _ = resolve_local_field(mapping.local_model_class, fm.local_field)
        current = getattr(record, field.name) if field.is_relation else \
            getattr(record, field.attname)
    if field is None:
        return same(current, source), current, source
    expected = to_local(fm, source, field, resolve=from_lookups, attribute=attribute)
    if isinstance(expected, Reference):
        return False, current, str(expected)
    return same(current, expected), current, expected


# --- duplicates ----------------------------------------------------------------------------------
def natural_keys(mapping):
    """(ERP field, CRM property) a record is known by: the key field (No./Code) on the ERP side,
    the first match field's attribute on the CRM side."""
    local = key_field(mapping.local_model_class)
    first = mapping.field_mappings.filter(is_enabled=True, use_for_matching=True) \
        .exclude(remote_attribute="").order_by("match_priority", "position").first()
    remote = None
    if first is not None:
        run, _ = _runs(mapping, None)
        attribute = run.attributes.get(first.remote_attribute)
        remote = web_name(attribute) if attribute else None
    return (local.name if local else None), remote


def duplicates(client, names=None) -> dict[str, list]:
    """Per mapping: natural keys held by more than one ERP record (within the mapping's filter)
    or more than one CRM row (within its filter), and records with more than one coupling."""
    report = {}
    for mapping in enabled_mappings(names):
        model = mapping.local_model_class
        local_key, remote_key = natural_keys(mapping)
        found = []
        if local_key:
            values = model._default_manager.filter(
                local_filter.parse(model, mapping.local_filter)).values_list(local_key, flat=True)
            found += [("ERP", k, n) for k, n in Counter(values).items() if k and n > 1]
        if remote_key:
            counts = Counter()
            for page in client.iter_pages(mapping.remote_entity_set,
                                          select=[mapping.remote_key, remote_key],
                                          filter=mapping.remote_filter or None):
                counts.update(str(r.get(remote_key)).casefold() for r in page
                              if r.get(remote_key) not in (None, ""))
            found += [("CRM", k, n) for k, n in counts.items() if n > 1]
        couplings = Coupling.objects.filter(local_model=mapping.local_model,
                                            remote_entity=mapping.remote_entity)
        for side, column in (("coupled ERP record", "local_id"), ("coupled CRM row", "remote_id")):
            per = Counter(couplings.values_list(column, flat=True))
            found += [(side, str(k), n) for k, n in per.items() if n > 1]
        if found:
            report[mapping.name] = found
    return report


def uncoupled(client, names=None) -> dict[str, dict[str, list]]:
    """Per mapping: ERP records (within its filter) and CRM rows (within its filter) without a
    confirmed coupling, for the sides a run creates records from (ERP for To and Bidirectional
    mappings, CRM for From and Bidirectional ones)."""
    report = {}
    for mapping in enabled_mappings(names):
        model = mapping.local_model_class
        couplings = Coupling.objects.filter(local_model=mapping.local_model,
                                            remote_entity=mapping.remote_entity,
                                            pending_create=False)
        found = {}
        if mapping.direction != Direction.FROM_CRM:
            ids = model._default_manager.filter(local_filter.parse(model, mapping.local_filter)) \
                .exclude(pk__in=couplings.values("local_id")).values_list("pk", flat=True)
            if ids:
                found["ERP"] = sorted(ids)
        if mapping.direction != Direction.TO_CRM:
            coupled = {str(i).lower() for i in couplings.values_list("remote_id", flat=True)}
            rows = [str(r[mapping.remote_key]).lower()
                    for page in client.iter_pages(mapping.remote_entity_set,
                                                  select=[mapping.remote_key],
                                                  filter=mapping.remote_filter or None)
                    for r in page]
            if missing := sorted(r for r in rows if r not in coupled):
                found["CRM"] = missing
        if found:
            report[mapping.name] = found
    return report
