"""The benchmark's phases, run inside the worker process of `manage.py syncbench`.

The worker runs on scratch databases (its own DATA_DIR) and talks to the embedded CRM served by a
separate process over loopback HTTP, so every phase pays real HTTP, JSON and process costs. Each
phase reports wall seconds, records per second, HTTP requests, SQL queries and the peak resident
memory of this process during the phase.
"""

import cProfile
import os
import sys
import threading
import time
import uuid
from decimal import Decimal

from django.conf import settings
from django.db import connection

from couplings_app.models import Coupling
from couplings_app.sync.runner import synchronize
from dataverse import BatchOperation, ClientCredentials, DataverseClient
from mappings_app.choices import Direction, UpdateConflictResolution
from mappings_app.models import TableMapping

BATCH = 1000
CHANGES = 100


def cpu_seconds(pid) -> float | None:
    """User + system CPU time of another process (the CRM's), or None if it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError, TypeError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Phase:
    """Measures one phase: time, requests, queries, and peak memory sampled every 20 ms."""

    def __init__(self, name, client, records):
        self.name, self.client, self.records = name, client, records
        self.queries = 0
        self.peak_kb = 0

    def _count(self, execute, sql, params, many, context):
        self.queries += 1
        return execute(sql, params, many, context)

    def _sample(self):
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, rss_kb())
            self._stop.wait(0.02)

    def __enter__(self):
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        self._requests = self.client.request_count
        self._wrapper = connection.execute_wrapper(self._count)
        self._wrapper.__enter__()
        folder = os.environ.get("SYNCBENCH_PROFILE")  # a folder for one cProfile file per phase
        self._profile = cProfile.Profile() if folder else None
        progress(f"{self.name}…")
        self._crm_pid = os.environ.get("SYNCBENCH_CRM_PID")
        self._crm_cpu = cpu_seconds(self._crm_pid)
        self._cpu = time.process_time()
        self._start = time.perf_counter()
        if self._profile:
            self._profile.enable()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._start
        self.cpu = time.process_time() - self._cpu
        crm_cpu = cpu_seconds(self._crm_pid)
        self.crm_cpu = None if crm_cpu is None or self._crm_cpu is None else \
            crm_cpu - self._crm_cpu
        if self._profile:
            self._profile.disable()
            folder = os.environ["SYNCBENCH_PROFILE"]
            os.makedirs(folder, exist_ok=True)
            self._profile.dump_stats(os.path.join(folder, self.name.replace(" ", "-") + ".prof"))
        self._wrapper.__exit__(*exc)
        self._stop.set()
        self._sampler.join()
        self.peak_kb = max(self.peak_kb, rss_kb())
        self.requests = self.client.request_count - self._requests
        return False

    def result(self) -> dict:
        return {
            "phase": self.name, "records": self.records, "seconds": round(self.seconds, 3),
            "records_per_second": round(self.records / self.seconds) if self.seconds else None,
            "http_requests": self.requests, "sql_queries": self.queries,
            "peak_memory_mb": round(self.peak_kb / 1024, 1),
            # CPU seconds of the sync process and of the CRM's: on a busy machine wall time
            # varies, these much less; their sum against the wall shows the overlap.
            "sync_cpu_seconds": round(self.cpu, 2),
            "crm_cpu_seconds": None if self.crm_cpu is None else round(self.crm_cpu, 2),
        }


def progress(text):
    print(f"  {text}", file=sys.stderr, flush=True)


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
    """A raw copy with no sync logic: read the rows, POST them in $batch requests of 1,000."""
    from erp_app.models import Customer

    rows = Customer.objects.values_list("no", "name", "address", "city", "post_code",
                                        "phone_no", "email").iterator(chunk_size=BATCH)
    batch = []
    for no, name, address, city, post_code, phone, email in rows:
        batch.append(BatchOperation("POST", "accounts", data={
            "accountnumber": no, "name": name, "address1_line1": address, "address1_city": city,
            "address1_postalcode": post_code, "telephone1": phone, "emailaddress1": email,
            "customertypecode": 1}))  # Competitor: outside the CUSTOMER mapping's filter
        if len(batch) == BATCH:
            client.batch(batch)
            batch = []
    if batch:
        client.batch(batch)


def run_phases(n: int, service_root: str) -> list[dict]:
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

        with Phase("floor", client, n) as phase:
            floor(client, n)
        results.append(phase.result())

        with Phase("full push", client, n) as phase:
            # Both directions, as a full synchronization runs a bidirectional mapping.
            synchronize(mapping, full=True, only_coupled=False, client=client)
        results.append(phase.result())

        with Phase("no-op rerun", client, 0) as phase:
            synchronize(mapping, client=client)
        results.append(phase.result())

        # Incremental: 100 customers changed in the ERP, 100 other accounts in the CRM.
        couplings = list(Coupling.objects.filter(local_model="erp_app.customer")
                         .order_by("local_id").values_list("local_id", "remote_id")[:4 * CHANGES])
        erp_side = [local for local, _ in couplings[:CHANGES]]
        crm_side = [remote for _, remote in couplings[CHANGES:2 * CHANGES]]
        Customer.objects.filter(pk__in=erp_side).update(city="Changed in ERP")
        person.batch([BatchOperation("PATCH", "accounts", id=str(r),
                                     data={"address1_city": "Changed in CRM"}, etag="*")
                      for r in crm_side])
        with Phase("incremental", client, 2 * CHANGES) as phase:
            synchronize(mapping, client=client)
        results.append(phase.result())

        # Conflicts: 100 records changed on both sides, policy none: all skipped.
        TableMapping.objects.filter(pk=mapping.pk).update(
            update_conflict_resolution=UpdateConflictResolution.NONE)
        both = couplings[2 * CHANGES:3 * CHANGES]
        Customer.objects.filter(pk__in=[local for local, _ in both]).update(name="ERP side")
        person.batch([BatchOperation("PATCH", "accounts", id=str(r), data={"name": "CRM side"},
                                     etag="*") for _, r in both])
        mapping.refresh_from_db()
        with Phase("conflicts", client, CHANGES) as phase:
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
        with Phase("full pull", client, n) as phase:
            synchronize(mapping, direction=Direction.FROM_CRM, full=True, only_coupled=False,
                        client=client)
        results.append(phase.result())
        results.append({"phase": "correctness", **check(client, mapping)})
    return results


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

