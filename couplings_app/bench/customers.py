"""The customer phases: a raw copy (the floor), a full push, 200 incremental changes right after
it and again in steady state, a no-op rerun, 100 conflicts and a full pull, on the CUSTOMER
mapping, then a field-by-field check of both sides (`check`). The same phases up to the steady
state run on a reference set of 1,000 records, so the ratio "cost follows change" is printed in
the same run; the baseline set runs only the full push, one request at a time."""

import uuid
from decimal import Decimal

from django.conf import settings

from couplings_app.bench.measure import Phase
from couplings_app.models import Coupling
from couplings_app.sync.runner import synchronize
from dataverse import BatchOperation, ClientCredentials, DataverseClient
from mappings_app.choices import Direction, UpdateConflictResolution
from mappings_app.models import TableMapping

BATCH = 1000
CHANGES = 100
AFTER_FULL = "incremental after full"
STEADY = "incremental (steady state)"


def person_client(service_root, tenant):
    """A regular CRM user's client (changes it makes are not the integration user's)."""
    from crm_emulator.apps_registry import register_application
    from crm_emulator.server import token_url

    register_application(tenant, "bench-person", "bench-person-secret", "A sales person")
    return DataverseClient(service_root, auth=ClientCredentials(
        token_url(service_root, tenant), "bench-person", "bench-person-secret",
        "http://localhost/.default"))


def setup_erp(n: int):
    from erp_app.models import Currency, Customer, Salesperson

    seller = Salesperson.objects.create(code="JR", name="John Roberts",
                                        email="jr@cronus.example")
    currency = Currency.objects.create(code="EUR", symbol="€", description="Euro")
    for start in range(0, n, 5000):
        Customer.objects.bulk_create([
            Customer(no=f"C{i:07d}", name=f"Customer {i}", address=f"{i} Main Street",
                     city="Atlanta", post_code="31772", phone_no=f"+1 555 {i:07d}",
                     email=f"c{i}@example.com", salesperson=seller, currency=currency,
                     credit_limit_lcy=Decimal(i % 50000))
            for i in range(start, min(n, start + 5000))])
    return seller, currency


def couple_basics(client, seller, currency):
    """The salesperson and currency coupled (the benchmark measures customers)."""
    user_id, currency_id = uuid.uuid4(), uuid.uuid4()
    client.create("systemusers", {"firstname": "John", "lastname": "Roberts",
                                  "domainname": "jr@cronus.example", "islicensed": True},
                  id=str(user_id), key="systemuserid")
    client.create("transactioncurrencies", {"isocurrencycode": "EUR", "currencyname": "Euro",
                                            "currencysymbol": "€", "exchangerate": 1},
                  id=str(currency_id), key="transactioncurrencyid")
    Coupling.objects.create(mapping=TableMapping.objects.get(name="SALESPEOPLE"),
                            local_model="erp_app.salesperson", local_id=seller.pk,
                            remote_entity="systemuser", remote_id=user_id)
    Coupling.objects.create(mapping=TableMapping.objects.get(name="CURRENCY"),
                            local_model="erp_app.currency", local_id=currency.pk,
                            remote_entity="transactioncurrency", remote_id=currency_id)


def floor(client, n):
    """A raw copy with no sync logic: read the rows and write them as the engine writes (ids
    chosen beforehand, `client.write`: CreateMultiple of 1,000 in parallel requests, or
    `$batch` one request at a time when the client is told so), 20,000 to a call."""
    from erp_app.models import Customer

    rows = Customer.objects.values_list("no", "name", "address", "city", "post_code",
                                        "phone_no", "email").iterator(chunk_size=BATCH)
    ops = []
    for no, name, address, city, post_code, phone, email in rows:
        ops.append(BatchOperation("POST", "accounts", id=str(uuid.uuid4()), key="accountid",
                                  data={
            "accountnumber": no, "name": name, "address1_line1": address, "address1_city": city,
            "address1_postalcode": post_code, "telephone1": phone, "emailaddress1": email,
            "customertypecode": 1}))  # Competitor: outside the CUSTOMER mapping's filter
        if len(ops) == 20 * BATCH:
            client.write(ops)
            ops = []
    if ops:
        client.write(ops)


def failed(jobs) -> int:
    return sum(job.failed for job in jobs)


def change(person, couplings, erp_city: str, crm_city: str) -> int:
    """CHANGES customers changed in the ERP (the first half of `couplings`) and CHANGES other
    accounts by a person in the CRM (the second half); how many records changed."""
    from erp_app.models import Customer

    erp_side = [local for local, _ in couplings[:CHANGES]]
    crm_side = [remote for _, remote in couplings[CHANGES:2 * CHANGES]]
    Customer.objects.filter(pk__in=erp_side).update(city=erp_city)
    if crm_side:
        person.batch([BatchOperation("PATCH", "accounts", id=str(r),
                                     data={"address1_city": crm_city}, etag="*")
                      for r in crm_side])
    return len(erp_side) + len(crm_side)


def run_phases(n: int, service_root: str, *, reference: bool = False, budget=None) -> list[dict]:
    """The customer phases at `n` records. `reference`: only up to the steady-state incremental
    phase (the set that `ratio_to_reference` divides by). `budget`: the CRM's Dataverse profile
    usage, read around each phase that writes."""
    from django.core.management import call_command

    from erp_app.models import Customer
    from mappings_app.connection import crm_client

    results = []
    call_command("setup_defaults", verbosity=0)
    seller, currency = setup_erp(n)
    with crm_client() as client:
        couple_basics(client, seller, currency)
        person = person_client(service_root, settings.CRM_TENANT_ID)
        mapping = TableMapping.objects.get(name="CUSTOMER")
        client.who_am_i()

        with Phase("floor", client, n, budget) as phase:
            floor(client, n)
        results.append(phase.result())

        with Phase("full push", client, n, budget, watch_reads=True) as phase:
            # Both directions, as a full synchronization runs a bidirectional mapping.
            jobs = synchronize(mapping, full=True, only_coupled=False, client=client)
        results.append({**phase.result(), "failed": failed(jobs)})

        # 200 changes right after the full run (issue #16, part 2: the CRM's changes must not
        # cost a walk over what the full run just wrote), then again after a quiet run.
        couplings = list(Coupling.objects.filter(local_model="erp_app.customer")
                         .order_by("local_id").values_list("local_id", "remote_id")[:5 * CHANGES])
        changed = change(person, couplings[:2 * CHANGES], "Changed in ERP", "Changed in CRM")
        with Phase(AFTER_FULL, client, changed, budget, watch_reads=True) as phase:
            jobs = synchronize(mapping, client=client)
        results.append({**phase.result(), "among": n, "failed": failed(jobs)})

        with Phase("no-op rerun", client, 0, watch_reads=True) as phase:
            synchronize(mapping, client=client)
        results.append(phase.result())

        changed = change(person, couplings[2 * CHANGES:4 * CHANGES], "Changed again in ERP",
                         "Changed again in CRM")
        with Phase(STEADY, client, changed, budget, watch_reads=True) as phase:
            jobs = synchronize(mapping, client=client)
        results.append({**phase.result(), "among": n, "failed": failed(jobs)})
        if reference:
            return results

        # Conflicts: 100 records changed on both sides, policy none: all skipped.
        TableMapping.objects.filter(pk=mapping.pk).update(
            update_conflict_resolution=UpdateConflictResolution.NONE)
        both = couplings[4 * CHANGES:5 * CHANGES]
        Customer.objects.filter(pk__in=[local for local, _ in both]).update(name="ERP side")
        person.batch([BatchOperation("PATCH", "accounts", id=str(r), data={"name": "CRM side"},
                                     etag="*") for _, r in both])
        mapping.refresh_from_db()
        with Phase("conflicts", client, len(both)) as phase:
            jobs = synchronize(mapping, client=client)
        result = phase.result()
        result["skipped"] = sum(job.skipped for job in jobs)
        results.append(result)

        # Full pull: N accounts created in the CRM only.
        for start in range(0, n, BATCH):
            person.batch([BatchOperation("POST", "accounts", data={
                "name": f"Pulled {i}", "accountnumber": f"P{i:07d}", "customertypecode": 3,
                "address1_city": "Boston", "telephone1": f"+1 617 {i:07d}"})
                for i in range(start, min(n, start + BATCH))])
        with Phase("full pull", client, n, budget) as phase:
            jobs = synchronize(mapping, direction=Direction.FROM_CRM, full=True,
                               only_coupled=False, client=client)
        results.append({**phase.result(), "failed": failed(jobs)})
        results.append({"phase": "correctness", **check(client, mapping)})
    return results


def run_baseline(n: int, budget=None) -> list[dict]:
    """The full push alone, on a fresh set of `n` customers, with the client the worker was
    given (the orchestrator sets CRM_MAX_PARALLEL=1 and CRM_BULK_MESSAGES=0: one request at a
    time, `$batch` only, as before issue #16). A fresh set rather than the main set reset:
    deleting N accounts would itself spend the CRM's budget and leave N deletions for change
    tracking to report, so the baseline would not start where the main full push started."""
    from django.core.management import call_command

    from mappings_app.connection import crm_client

    call_command("setup_defaults", verbosity=0)
    seller, currency = setup_erp(n)
    with crm_client() as client:
        couple_basics(client, seller, currency)
        mapping = TableMapping.objects.get(name="CUSTOMER")
        client.who_am_i()
        floor(client, n)  # the CRM's table as the main set's full push finds it (not measured)
        with Phase("baseline full push (one request at a time)", client, n, budget) as phase:
            jobs = synchronize(mapping, full=True, only_coupled=False, client=client)
        return [{**phase.result(), "failed": failed(jobs)}]


def check(client, mapping) -> dict:
    """Both sides equal on every mapped field that is compared; no duplicates on either side."""
    from erp_app.models import Customer

    fields = {"name": "name", "address": "address1_line1", "city": "address1_city",
              "phone_no": "telephone1", "email": "emailaddress1"}
    couplings = dict(Coupling.objects.filter(local_model="erp_app.customer", pending_create=False)
                     .values_list("remote_id", "local_id"))
    by_remote = {str(k).lower(): v for k, v in couplings.items()}
    mismatches = checked = 0
    skipped = set(Coupling.objects.filter(local_model="erp_app.customer", skipped=True)
                  .values_list("local_id", flat=True))
    for page in client.iter_pages("accounts", select=["accountid", *fields.values()],
                                  filter="customertypecode eq 3"):
        locals_ = Customer.objects.in_bulk([by_remote.get(r["accountid"].lower())
                                            for r in page if r["accountid"].lower() in by_remote])
        for row in page:
            local_id = by_remote.get(row["accountid"].lower())
            if local_id is None or local_id in skipped:
                continue
            customer = locals_[local_id]
            checked += 1
            if any((getattr(customer, f) or "") != (row.get(a) or "") for f, a in fields.items()):
                mismatches += 1
    duplicates_local = len(couplings) - len(set(couplings.values()))
    accounts = sum(len(p) for p in client.iter_pages("accounts", select=["accountid"],
                                                     filter="customertypecode eq 3"))
    return {"records_checked": checked, "mismatches": mismatches,
            "uncoupled_accounts": accounts - len(couplings),
            "duplicate_couplings": duplicates_local,
            "ok": mismatches == 0 and duplicates_local == 0 and accounts == len(couplings)}

