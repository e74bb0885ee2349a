"""Match before create: a record whose natural key already exists on the other side is coupled,
never created a second time.

The natural key is the mapping's match fields (the field mappings marked Use For Match-Based
Coupling, by match priority: currency by ISO code, unit group by name, product by product
number, user by e-mail, customer by No. then name, and whatever the admin marks). Match-Based
Coupling and every synchronization that may create records use the same two functions:

    find_remote_matches(run, records, groups)  # ERP records → the uncoupled CRM row each matches
    find_local_matches(run, rows, groups)      # CRM rows → the uncoupled ERP record each matches

Both work per page, then compare in memory. The CRM is asked once for all match priorities
(`In(no, [...]) or In(name, [...])`, as many values a request as its URL allows, the requests
side by side); the ERP once per match priority and 500 values. The comparison in memory is
trimmed and case-insensitive unless the field mapping says otherwise.
Exactly one free match couples; more than one is reported, never guessed; none means "create".
"""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import groupby

from django.db.models.functions import Lower

from couplings_app.models import Coupling
from couplings_app.sync.compiled import local_reader, remote_converter
from couplings_app.sync.context import web_name
from couplings_app.sync.lookups import FromCrmLookups, ToCrmLookups
from dataverse.query import encode
from mappings_app import local_filter
from mappings_app.values import (
    Reference,
    ValueProblem,
    remote_value,
    to_local,
)

CHUNK = 500  # values an ERP query looks for
VALUES_PER_IN = 500  # values of one In() of a CRM request
URL_BUDGET = 24_000  # characters of a CRM request's filter: Dataverse takes URLs up to 32 KB
IN_OVERHEAD = 80  # characters of `Microsoft.Dynamics.CRM.In(PropertyName='...',...)` encoded
LOCAL_CHUNK = 1000  # ids of one ERP query


@dataclass
class Matches:
    coupled: list = field(default_factory=list)  # (record or row, the other side's id)
    ambiguous: list = field(default_factory=list)  # (record or row, [the other side's ids])
    unmatched: list = field(default_factory=list)  # records or rows
    problems: list = field(default_factory=list)  # (record or row, ValueProblem)


def match_fields(mapping):
    """[(priority, [field mappings])] of the mapping's match fields, lowest priority first."""
    fields = mapping.field_mappings.filter(is_enabled=True, use_for_matching=True) \
        .exclude(remote_attribute="").exclude(local_field="") \
        .select_related("transformation_rule", "lookup_mapping", "table_mapping") \
        .order_by("match_priority", "position")
    return [(priority, list(group)) for priority, group in
            groupby(fields, key=lambda fm: fm.match_priority)]


def describe(groups) -> str:
    """"ISO code (isocurrencycode)" — what a message says the records were matched by."""
    return " or ".join(" and ".join(f"{fm.local_field} = {fm.remote_attribute}" for fm in fields)
                       for _, fields in groups)


def equal(fields, values, others) -> bool:
    """Every match field holds the same non-empty value (trimmed; case as the field says)."""
    for fm, value, other in zip(fields, values, others, strict=True):
        if value in (None, "") or other in (None, ""):
            return False
        a, b = str(value).strip(), str(other).strip()
        if not fm.case_sensitive_matching:
            a, b = a.casefold(), b.casefold()
        if a != b:
            return False
    return True


def _key(fm, value):
    """A value as `equal` compares it (None for an empty one, which equals nothing)."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    return text if fm.case_sensitive_matching else text.casefold()


# --- ERP records → CRM rows -----------------------------------------------------------------------
def find_remote_matches(run, records, groups, exclude_remote=()) -> Matches:
    """For each ERP record (none of them coupled), the one free CRM row its match fields find.
    A CRM row already coupled to a record of this ERP table, or in `exclude_remote`, is not free.

    The CRM is asked once for every match priority (`remote_candidates`): each query of the CRM
    reads its table's rows, so a page whose records match nothing costs one round of reads, not
    one per priority. The priorities are then tried in order in memory, as before.
    """
    mapping = run.mapping
    found = Matches()
    resolve = ToCrmLookups(run, records)
    taken = {str(i).lower() for i in exclude_remote}
    plans = [_remote_plan(run, fields, records, resolve) for _priority, fields in groups]
    by_key = {str(row[mapping.remote_key]).lower(): row
              for row in remote_candidates(run, plans)}
    coupled = _coupled_ids(mapping, list(by_key))
    free = [row for key, row in by_key.items() if key not in coupled]
    remaining = list(records)
    for fields, names, wanted, problems in plans:
        if not remaining:
            break
        by_first = {}  # the rows by their first match value, as `equal` compares it
        for row in free:
            if str(row[mapping.remote_key]).lower() not in taken:
                by_first.setdefault(_key(fields[0], row.get(names[0])), []).append(row)
        by_first.pop(None, None)
        still = []
        for record in remaining:
            if record.pk in problems:
                found.problems.append((record, problems[record.pk]))
            values = wanted.get(record.pk)
            if values is None or all(v in (None, "") for v in values):
                still.append(record)
                continue
            matches = [row for row in by_first.get(_key(fields[0], values[0]), ())
                       if equal(fields, values, [row.get(name) for name in names])]
            if len(matches) == 1:
                remote_id = str(matches[0][mapping.remote_key]).lower()
                taken.add(remote_id)
                found.coupled.append((record, remote_id))
            elif len(matches) > 1:
                found.ambiguous.append(
                    (record, [str(m[mapping.remote_key]).lower() for m in matches]))
            else:
                still.append(record)
        remaining = still
    problem_ids = {record.pk for record, _ in found.problems}
    found.unmatched = [record for record in remaining if record.pk not in problem_ids]
    return found


def _remote_plan(run, fields, records, resolve):
    """(fields, their CRM names, {record pk: match values}, {record pk: ValueProblem}) of one
    match priority, for every record."""
    converters = [(local_reader(run.model, fm.local_field),
                   remote_converter(fm, run.attributes[fm.remote_attribute]))
                  for fm in fields]
    wanted, problems = {}, {}
    for record in records:
        try:
            wanted[record.pk] = [_remote_match_value(convert(read(record), resolve))
                                 for read, convert in converters]
        except ValueProblem as problem:
            problems[record.pk] = problem
    names = [web_name(run.attributes[fm.remote_attribute]) for fm in fields]
    return fields, names, wanted, problems


def _remote_match_value(value):
    return None if isinstance(value, Reference) else value


def _coupled_ids(mapping, ids) -> set:
    """Of the CRM row ids `ids`, those coupled to a record of the mapping's ERP table."""
    coupled = set()
    for start in range(0, len(ids), LOCAL_CHUNK):
        coupled.update(str(i).lower() for i in Coupling.objects.filter(
            remote_entity=mapping.remote_entity, local_model=mapping.local_model,
            remote_id__in=ids[start:start + LOCAL_CHUNK]).values_list("remote_id", flat=True))
    return coupled


def remote_candidates(run, plans) -> list[dict]:
    """The CRM rows (in the mapping's filter) whose first match field of any priority holds one
    of the records' values: `In(no, [...]) or In(name, [...])`, as few requests as Dataverse's
    URL limit allows (32 KB: "Compose HTTP requests and handle errors", Maximum URL length),
    sent side by side up to the client's parallel requests."""
    mapping = run.mapping
    wanted = {}  # CRM name of a priority's first match field → its values
    for _fields, names, values, _problems in plans:
        wanted.setdefault(names[0], set()).update(
            str(v[0]) for v in values.values() if v[0] not in (None, ""))
    select = sorted({mapping.remote_key} | {name for plan in plans for name in plan[1]})
    requests = _in_requests(wanted, URL_BUDGET - len(encode(mapping.remote_filter)))
    filters = []
    for clauses in requests:
        clause = " or ".join(
            f"Microsoft.Dynamics.CRM.In(PropertyName='{name}',PropertyValues=[{quoted}])"
            for name, quoted in clauses)
        if len(clauses) > 1:
            clause = f"({clause})"
        if mapping.remote_filter.strip():
            clause = f"({mapping.remote_filter}) and {clause}"
        filters.append(clause)

    def read(clause):
        rows = []
        for page in run.client.iter_pages(mapping.remote_entity_set, select=select,
                                          filter=clause):
            rows.extend(page)
        return rows

    width = min(len(filters), max(1, getattr(run.client, "max_parallel", 1)))
    if width <= 1:
        return [row for clause in filters for row in read(clause)]
    with ThreadPoolExecutor(width, thread_name_prefix="crm-match") as pool:
        return [row for rows in pool.map(read, filters) for row in rows]


def _in_requests(wanted, budget):
    """[[(CRM name, quoted values)]] per request: at most VALUES_PER_IN values an In and about
    `budget` URL-encoded characters a request."""
    requests, current, used = [], [], 0
    for name in sorted(wanted):
        values = []
        for value in sorted(wanted[name]):
            quoted = "'" + value.replace("'", "''") + "'"
            size = len(encode(quoted)) + 1
            if used + size > budget and (values or current):
                if values:
                    current.append((name, ",".join(values)))
                requests.append(current)
                current, values, used = [], [], 0
            elif len(values) == VALUES_PER_IN:
                current.append((name, ",".join(values)))
                values = []
            if not values:
                used += IN_OVERHEAD
            values.append(quoted)
            used += size
        if values:
            current.append((name, ",".join(values)))
    if current:
        requests.append(current)
    return requests


# --- CRM rows → ERP records -----------------------------------------------------------------------
def find_local_matches(run, rows, groups) -> Matches:
    """For each CRM row (none of them coupled), the one free ERP record its match fields find:
    in the mapping's table filter and not coupled to a row of this CRM table."""
    mapping, model = run.mapping, run.model
    found = Matches()
    resolve = FromCrmLookups(run, rows)
    base = model._default_manager.filter(local_filter.parse(model, mapping.local_filter)) \
        .exclude(pk__in=Coupling.objects.filter(local_model=mapping.local_model,
                                                remote_entity=mapping.remote_entity)
                 .values("local_id"))
    remaining, taken = list(rows), set()
    # One query says whether any record is free at all (a full pull into a table whose records
    # are all coupled finds none): then no value needs looking for, only converting (for its
    # problems, as when it is looked for).
    any_free = base.exists()
    for _priority, fields in groups:
        if not remaining:
            break
        resolved = [_local_field(model, fm) for fm in fields]
        if any(f is None for f in resolved):
            continue  # a path (company.customer) is no natural key of this table
        wanted = {}
        for row in remaining:
            try:
                wanted[id(row)] = [_local_match_value(run, fm, f, row, resolve)
                                   for fm, f in zip(fields, resolved, strict=True)]
            except ValueProblem as problem:
                found.problems.append((row, problem))
        first = resolved[0]
        values = sorted({_plain(v[0]) for v in wanted.values() if v[0] not in (None, "")})
        candidates = []
        for start in range(0, len(values) if any_free else 0, CHUNK):
            chunk = values[start:start + CHUNK]
            if first.get_internal_type() in ("CharField", "TextField", "EmailField", "SlugField"):
                query = base.annotate(_match=Lower(first.attname)).filter(
                    _match__in=[v.lower() for v in chunk])
            else:
                query = base.filter(**{f"{first.attname}__in": chunk})
            candidates.extend(query.order_by("pk"))
        free = [c for c in candidates if c.pk not in taken]
        still = []
        for row in remaining:
            values = wanted.get(id(row))
            if values is None or all(v in (None, "") for v in values):
                still.append(row)
                continue
            matches = [c for c in free
                       if equal(fields, [_plain(v) for v in values],
                                [_plain(getattr(c, f.attname)) for f in resolved])]
            if len(matches) == 1:
                taken.add(matches[0].pk)
                found.coupled.append((row, matches[0].pk))
            elif len(matches) > 1:
                found.ambiguous.append((row, [m.pk for m in matches]))
            else:
                still.append(row)
        remaining = still
    problem_rows = {id(row) for row, _ in found.problems}
    found.unmatched = [row for row in remaining if id(row) not in problem_rows]
    return found


def _local_field(model, fm):
    if "." in fm.local_field:
        return None
    try:
        return model._meta.get_field(fm.local_field)
    except Exception:  # noqa: BLE001 - a field mapping to a removed field matches nothing
        return None


def _local_match_value(run, fm, model_field, row, resolve):
    value = to_local(fm, remote_value(row, fm.remote_attribute), model_field, resolve=resolve,
                     attribute=run.attributes.get(fm.remote_attribute))
    if isinstance(value, Reference):
        return None
    return value.pk if model_field.is_relation and value is not None else value


def _plain(value):
    return value if value is None or isinstance(value, (str, int)) else str(value)
