"""The phase "demo, all default mappings": the demo's data set (`seed_demo --size N`: customers
with company and person contacts, vendors, items, resources, price groups with sales prices,
posted sales invoices, and the CRM's own demo records), synchronized by Run Full
Synchronization (`sync.full.synchronize_all(full=True)`, the service the action's task calls),
then checked by natural key on both sides (`natural_key_check`).

It runs on scratch databases of its own: after the customer phases the CUSTOMER mapping would
also compare again their 2·N customers, and the demo's salespeople and currencies would meet the
benchmark's own, so neither the time nor the check would be the demo's.
"""

import io
import re
from collections import Counter

from couplings_app.bench.measure import Phase
from couplings_app.choices import JobStatus
from couplings_app.models import Coupling, SyncError
from couplings_app.sync.matching import match_fields

PHASE = "demo, all default mappings"
# The demo's deliberate failures (README, "A first synchronization of the demo"): the CRM has no
# user for salespeople RB and HR (their customers and vendors fail, and the contacts and invoices
# of those customers), one currency has no ISO code, a CRM contact whose parent account is not a
# customer (a vendor, an inactive account), a CRM value too long for the ERP.
DELIBERATE = re.compile(r"is not coupled to a CRM record|has no standard ISO 4217 code|"
                        r"is not linked to a customer|is not coupled to a customer\.|"
                        r"the ERP holds at most")


def run_demo(n: int, budget=None) -> list[dict]:
    from django.core.management import call_command

    from couplings_app.sync.full import enabled_in_order, synchronize_all
    from mappings_app.connection import crm_client

    call_command("setup_defaults", verbosity=0)
    call_command("seed_demo", customers=0, size=n, stdout=io.StringIO())
    with crm_client() as client:
        client.who_am_i()
        mappings = enabled_in_order()
        before = census(client, mappings)
        with Phase(PHASE, client, 0, budget) as phase:
            jobs = synchronize_all(client=client, full=True)
            # What the run synchronized: the pairs coupled at its end (counted before the phase
            # ends, as the CRM's budget report divides by it).
            phase.records = Coupling.objects.filter(pending_create=False).count()
        result = phase.result()
        result.update(
            demo_size=n, jobs=len(jobs),
            jobs_not_succeeded=sum(job.status != JobStatus.SUCCEEDED for job in jobs),
            failed=sum(job.failed for job in jobs),
            inserted=sum(job.inserted for job in jobs),
            coupled_by_match=sum(job.coupled for job in jobs))
        unexpected = [message for message in SyncError.objects.filter(job__in=jobs)
                      .values_list("message", flat=True).iterator()
                      if not DELIBERATE.search(message)]
        after = census(client, mappings)
        checks = {m.name: natural_key_check(client, m, before, after) for m in mappings}
        result["correctness"] = {
            "ok": all(c["ok"] for c in checks.values()) and not unexpected
            and not result["jobs_not_succeeded"],
            "unexpected_failures": len(unexpected), "first_unexpected": unexpected[:3],
            "duplicates": sum(c["duplicate_couplings"] + c["duplicates_made"]
                              for c in checks.values()),
            "missing_counterparts": sum(c["missing_local"] + c["missing_remote"]
                                        for c in checks.values()),
            "key_mismatches": sum(c["key_mismatches"] for c in checks.values()),
            "mappings": checks}
    return [result]


def plain_key(mapping):
    """The mapping's first match field when it is one plain field (no lookup, no
    transformation rule), as (ERP field, CRM attribute's Web API name); else None: its values
    are not comparable as they are stored."""
    groups = match_fields(mapping)
    if not groups or len(groups[0][1]) != 1:
        return None
    fm = groups[0][1][0]
    if fm.lookup_mapping_id or fm.transformation_rule_id or "__" in fm.local_field:
        return None
    return fm.local_field, fm.remote_attribute


def folded(value) -> str:
    return str(value or "").strip().casefold()


def census(client, mappings) -> dict:
    """Per mapping with a plain natural key: how many ERP records and CRM rows, each in the
    mapping's filter (customers and vendors are both accounts), hold each key value."""
    from mappings_app import local_filter

    counts = {}
    for mapping in mappings:
        key = plain_key(mapping)
        if not key:
            continue
        model = mapping.local_model_class
        local = Counter(folded(v) for v in model._default_manager.filter(
            local_filter.parse(model, mapping.local_filter)).values_list(key[0], flat=True))
        remote = Counter(folded(row.get(key[1])) for page in client.iter_pages(
            mapping.remote_entity_set, select=[key[1]], filter=mapping.remote_filter or None,
            page_size=5000) for row in page)
        local.pop("", None)
        remote.pop("", None)
        counts[mapping.name] = (local, remote)
    return counts


def duplicates_made(before, after) -> int:
    """Records the run made that copy another: after the run, a side holding a key value more
    often than it did before and than the other side does now. Two records of one side with
    the same key may each get their copy (the demo's contacts share e-mails); a value that is
    new on both sides is one a number series gave (a CRM account without a number gets the
    ERP's); one more than that is a duplicate. A value this mapping's ERP side never held and
    the CRM did not hold before belongs to another mapping of the same table (items and
    resources are both products)."""
    (local_before, remote_before), (local_after, remote_after) = before, after
    made = 0
    for value in set(local_after) | set(remote_after):
        local, remote = local_after.get(value, 0), remote_after.get(value, 0)
        if not (local_before.get(value) or local or remote_before.get(value)):
            continue
        made += max(0, remote - max(remote_before.get(value, 0), local))
        made += max(0, local - max(local_before.get(value, 0), remote))
    return made


def natural_key_check(client, mapping, before, after) -> dict:
    """Of one mapping, after the run: no record coupled twice on either side, no key value held
    more often than before the run on either side (`duplicates_made`), every coupling's ERP
    record and CRM row still there, and a coupled pair holding the same natural key."""
    couplings = list(Coupling.objects.filter(
        mapping=mapping, pending_create=False).values_list("local_id", "remote_id"))
    local_ids = [local for local, _ in couplings]
    remote_ids = [str(remote).lower() for _, remote in couplings]
    key = plain_key(mapping)
    model = mapping.local_model_class
    # The whole table, not pk__in: tens of thousands of ids would outgrow a query's variables.
    local_keys = dict(model._default_manager.values_list(
        "pk", key[0] if key else "pk").iterator(chunk_size=5000))
    remote_keys = {}
    select = [mapping.remote_key, *([key[1]] if key else [])]
    for page in client.iter_pages(mapping.remote_entity_set, select=select, page_size=5000):
        for row in page:
            remote_keys[str(row[mapping.remote_key]).lower()] = row.get(key[1]) if key else None
    result = {
        "coupled": len(couplings),
        "duplicate_couplings": (len(local_ids) - len(set(local_ids)))
        + (len(remote_ids) - len(set(remote_ids))),
        "missing_local": sum(1 for i in set(local_ids) if i not in local_keys),
        "missing_remote": sum(1 for i in set(remote_ids) if i not in remote_keys),
        "natural_key": f"{key[0]} = {key[1]}" if key else None,
        "duplicates_made": 0, "key_mismatches": 0}
    if key and mapping.name in before and mapping.name in after:
        result["duplicates_made"] = duplicates_made(before[mapping.name], after[mapping.name])
        result["key_mismatches"] = sum(
            1 for local, remote in zip(local_ids, remote_ids, strict=True)
            if (a := folded(local_keys.get(local))) and (b := folded(remote_keys.get(remote)))
            and a != b)
    result["ok"] = not (result["duplicate_couplings"] or result["missing_local"]
                        or result["missing_remote"] or result["duplicates_made"]
                        or result["key_mismatches"])
    return result
