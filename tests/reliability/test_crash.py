"""A worker killed with SIGKILL in the middle of a full synchronization loses nothing and
duplicates nothing: its job is marked failed once its heartbeat goes stale, the mapping runs
again, and that run finishes the work. Killed anywhere in a scheduled run — right after it
claimed the mapping, right after it handed the claim to its second direction, in the middle of
a page — the next scheduled run waits while the claim is fresh, then takes it over, ends every
job of the dead run, and finishes the work: no person edits the database.

The synchronization runs in a process of its own (crash_worker.py) against the test database;
the CRM is served by this process over HTTP, so it lives on after the worker dies.
"""

import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from couplings_app import locks, tasks
from couplings_app.choices import JobStatus
from couplings_app.models import Coupling, MappingLock, SyncJob
from couplings_app.sync.compare import same
from couplings_app.sync.coupling import match_based_coupling
from couplings_app.sync.runner import synchronize
from crm_emulator import batch as crm_batch
from crm_emulator import bulk as crm_bulk
from erp_app.models import Customer
from mappings_app.choices import Direction
from mappings_app.connection import crm_client
from mappings_app.models import TableMapping
from tests.couplings_app.engine import synchronize_basics
from tests.couplings_app.test_cluster import database_url
from tests.reliability.clock import time_passes
from tests.reliability.compare import differences, duplicates
from tests.reliability.conftest import background_crm

pytestmark = [pytest.mark.slow,
              pytest.mark.django_db(transaction=True, databases=["default", "crm"])]
WORKER = Path(__file__).with_name("crash_worker.py")
ROOT = WORKER.parents[2]
PAGE_SIZE = 4
# ERP field ↔ CRM attribute of the CUSTOMER mapping that both sides must agree on.
CUSTOMER_FIELDS = [("no", "accountnumber"), ("name", "name"), ("address", "address1_line1"),
                   ("city", "address1_city"), ("post_code", "address1_postalcode"),
                   ("phone_no", "telephone1"), ("email", "emailaddress1")]


@pytest.fixture
def crm(demo):
    """The CRM over real HTTP (the worker process reaches it too), with currencies and
    salespeople coupled and synchronized, and the customers that match already coupled."""
    if ":memory:" in str(database_url()):
        pytest.skip("the test database is in memory; a worker process cannot share it")
    with background_crm(), crm_client() as client:
        synchronize_basics(client, demo)
        match_based_coupling(demo["CUSTOMER"], client=client)
        make_every_customer_synchronizable(client)
        yield client


def a_person(crm):
    """A client of the CRM acting as a person, not as the integration user."""
    from django.conf import settings

    from crm_emulator.apps_registry import register_application
    from crm_emulator.server import token_url
    from dataverse import ClientCredentials, DataverseClient

    register_application(settings.CRM_TENANT_ID, "a-person", "person-secret", "A person")
    return DataverseClient(crm.service_root, auth=ClientCredentials(
        token_url(crm.service_root, settings.CRM_TENANT_ID), "a-person", "person-secret",
        "http://localhost/.default"))


def make_every_customer_synchronizable(crm):
    """The demo holds records that fail on purpose (a salesperson not in the CRM, a country name
    too long for the ERP); here every record must be able to reach the other side."""
    Customer.objects.filter(salesperson__code="RB").update(salesperson=None)
    person = a_person(crm)
    for page in crm.iter_pages("accounts", select=["accountid", "address1_country"]):
        for row in page:
            if len(row.get("address1_country") or "") > 10:
                person.update("accounts", row["accountid"], {"address1_country": "GB"})


def crm_customers(crm):
    return [row for page in crm.iter_pages(
        "accounts", select=["accountid"] + [a for _, a in CUSTOMER_FIELDS],
        filter="customertypecode eq 3 and statecode eq 0") for row in page]


def expected_total(crm):
    """Customers once both sides hold every record once: the ERP's, plus the CRM's not yet
    coupled to one of them."""
    coupled = Coupling.objects.filter(local_model="erp_app.customer", remote_entity="account")
    return Customer.objects.count() + len(crm_customers(crm)) - coupled.count()


def start_worker(point, direction, mapping="CUSTOMER"):
    env = {**os.environ, "DATABASE_URL": database_url()}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    from django.conf import settings

    env["SECRET_KEY"] = settings.SECRET_KEY
    return subprocess.Popen([sys.executable, str(WORKER), point, mapping, direction,
                             str(PAGE_SIZE)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_killed(process):
    try:
        out, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    assert process.returncode == -signal.SIGKILL, (
        f"the worker was not killed (exit {process.returncode}): {out}\n{err[-3000:]}")


def assert_dead_job_is_failed_and_mapping_runs_again(mapping):
    """The job the worker left: running, holding the mapping; failed once its heartbeat is
    stale; then the mapping can be claimed again."""
    running = SyncJob.objects.filter(mapping=mapping, status=JobStatus.RUNNING)
    assert running.count() == 1, list(running.values_list("pk", "status", "message"))
    job = running.get()
    assert MappingLock.objects.get(mapping=mapping).job_id == job.pk
    assert locks.fail_dead_jobs(mapping) == 0, "a job with a fresh heartbeat is not dead"
    blocked = synchronize(mapping, client=None, direction=Direction.TO_CRM)
    assert [j.status for j in blocked] == [JobStatus.CANCELLED]
    assert f"job #{job.pk}" in blocked[0].message

    SyncJob.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - locks.STALE_AFTER - timedelta(minutes=1))
    assert locks.fail_dead_jobs(mapping) == 1
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.finished_at is not None
    assert "stopped" in job.message and "next run goes on" in job.message


def assert_in_sync(crm, total, values=True):
    """Every customer once on each side, coupled one to one, with the same values."""
    customers = {c.pk: c for c in Customer.objects.all()}
    rows = {row["accountid"].lower(): row for row in crm_customers(crm)}
    couplings = list(Coupling.objects.filter(local_model="erp_app.customer",
                                             remote_entity="account"))
    assert (len(customers), len(rows)) == (total, total), "a record is missing or duplicated"
    assert sorted(c.local_id for c in couplings) == sorted(customers)
    assert sorted(str(c.remote_id) for c in couplings) == sorted(rows)
    assert not [c for c in couplings if c.pending_create or c.last_result_to_crm == "failure"
                or c.last_result_from_crm == "failure" or c.skipped]
    names = [c.name for c in customers.values()]
    assert len(set(names)) == len(names), "a customer appears twice in the ERP"
    assert duplicates(crm, ["CUSTOMER"]) == {}
    if not values:
        return
    differences = []
    for coupling in couplings:
        customer, row = customers[coupling.local_id], rows[str(coupling.remote_id)]
        differences += [(customer.no, field, getattr(customer, field), row.get(attribute))
                        for field, attribute in CUSTOMER_FIELDS
                        if not same(getattr(customer, field), row.get(attribute))
                        # a number the ERP gives a customer from the CRM goes back on its
                        # next change in the ERP, as in Business Central
                        and not (field == "no" and not row.get(attribute))]
    assert differences == []


def recover(crm, mapping, total):
    """The next run finishes the work; one more full run sends the ERP's values of fields
    that only go to the CRM to the customers that came from it (a full synchronization's second
    pass, crash or not)."""
    jobs = synchronize(mapping, client=crm, full=True, only_coupled=False)
    assert [(j.direction, j.status, j.message) for j in jobs
            if j.status != JobStatus.SUCCEEDED] == []
    assert_in_sync(crm, total)
    synchronize(mapping, client=crm, full=True, only_coupled=False)
    assert [str(d) for d in differences(crm, ["CUSTOMER"])] == []


class HeldWrite:
    """Holds the CRM's n-th write request (a `$batch` or a bulk message such as CreateMultiple)
    until the test says go: the request is in flight, the worker that sent it can be killed, and
    then the CRM still carries it out."""

    def __init__(self, nth):
        self.nth, self.seen, self.lock = nth, 0, threading.Lock()
        self.received, self.go, self.done = threading.Event(), threading.Event(), threading.Event()

    def wrap(self, real):
        def held(*args, **kwargs):
            with self.lock:
                self.seen += 1
                mine = self.seen == self.nth
            if not mine:
                return real(*args, **kwargs)
            self.received.set()
            self.go.wait(60)
            try:
                return real(*args, **kwargs)
            finally:
                self.done.set()
        return held


def test_killed_while_a_write_is_in_flight(crm, demo, monkeypatch):
    mapping, total = demo["CUSTOMER"], expected_total(crm)
    held = HeldWrite(2)
    monkeypatch.setattr(crm_batch, "execute", held.wrap(crm_batch.execute))
    monkeypatch.setattr(crm_bulk, "run", held.wrap(crm_bulk.run))
    worker = start_worker("none", Direction.TO_CRM)
    while not held.received.wait(0.2):
        assert worker.poll() is None, f"the worker ended first: {worker.communicate()}"
    worker.send_signal(signal.SIGKILL)
    wait_killed(worker)
    held.go.set()  # the CRM carries out the batch of a client that is gone
    assert held.done.wait(30)
    monkeypatch.undo()
    assert_dead_job_is_failed_and_mapping_runs_again(mapping)
    recover(crm, mapping, total)


@pytest.mark.parametrize(("point", "direction"), [
    ("after_batch", Direction.TO_CRM),  # the CRM has the page; its couplings are not saved
    ("local_writes", Direction.FROM_CRM),  # ERP records written; their couplings are not
    ("before_watermark", Direction.TO_CRM),  # every page done; the watermark has not moved
])
def test_killed_mid_run_then_the_next_run_finishes_the_work(crm, demo, point, direction):
    mapping, total = demo["CUSTOMER"], expected_total(crm)
    wait_killed(start_worker(point, direction))
    assert_dead_job_is_failed_and_mapping_runs_again(mapping)
    recover(crm, mapping, total)



def test_a_dead_workers_job_is_failed_even_if_its_mapping_never_runs_again(crm, demo):
    """The mapping is put on hold after its worker died: any job queue entry's run marks the
    dead job failed, so the job log does not show it "In Process" forever."""
    from couplings_app import tasks

    wait_killed(start_worker("before_watermark", Direction.TO_CRM))
    dead = SyncJob.objects.get(mapping=demo["CUSTOMER"], status=JobStatus.RUNNING)
    TableMapping.objects.filter(pk=demo["CUSTOMER"].pk).update(is_enabled=False)
    SyncJob.objects.filter(pk=dead.pk).update(
        heartbeat_at=timezone.now() - locks.STALE_AFTER - timedelta(minutes=1))
    tasks.scheduled_sync(demo["CURRENCY"].pk)
    dead.refresh_from_db()
    assert dead.status == JobStatus.FAILED and "stopped" in dead.message


UNFINISHED = [JobStatus.QUEUED, JobStatus.RUNNING]


def kill_then_run_as_scheduled(crm, demo, point):
    """A scheduled run of CUSTOMER killed at `point`; the next scheduled run, first while the
    dead run's claim is fresh, then once it is silent for STALE_AFTER. Returns the customers
    expected on each side."""
    mapping = demo["CUSTOMER"]
    # "Keep creating new records" (the full synchronization's question): scheduled runs create
    # the customers of either side that have no counterpart yet.
    TableMapping.objects.filter(pk=mapping.pk).update(sync_only_coupled=False)
    total = expected_total(crm)
    wait_killed(start_worker(point, "scheduled"))
    left = list(SyncJob.objects.filter(mapping=mapping, status__in=UNFINISHED).order_by("pk"))
    assert len(left) == (1 if point == "hand_over" else 2), [(j.pk, j.status) for j in left]
    assert MappingLock.objects.get(mapping=mapping).job_id in [j.pk for j in left]

    # While the claim is fresh, the dead run cannot be told from a live one: not run twice.
    blocked = SyncJob.objects.filter(pk__in=tasks.scheduled_sync(mapping.pk))
    assert {j.status for j in blocked} == {JobStatus.CANCELLED}

    time_passes(mapping)
    done = SyncJob.objects.filter(pk__in=tasks.scheduled_sync(mapping.pk))
    assert [(j.direction, j.status, j.message) for j in done
            if j.status != JobStatus.SUCCEEDED] == []
    assert len(done) == 2
    for job in left:
        job.refresh_from_db()
        assert job.status == JobStatus.FAILED, (job.pk, job.status, job.message)
        assert "worker running this job stopped" in job.message
        assert "the next run goes on from there" in job.message
    assert not SyncJob.objects.filter(mapping=mapping, status__in=UNFINISHED).exists()
    assert MappingLock.objects.get(mapping=mapping).job_id is None
    return total


@pytest.mark.parametrize("point", [
    "claim",  # the mapping is claimed; its jobs are still "Queued"
    "hand_over",  # ERP → CRM done; the claim is the CRM → ERP job's, not started
    "after_batch",  # mid-run: a page is in the CRM, its couplings are not saved
])
def test_killed_in_a_scheduled_run_then_the_next_scheduled_run_finishes_the_work(
        crm, demo, point):
    total = kill_then_run_as_scheduled(crm, demo, point)
    # After a hand-over the values are the next test's business.
    assert_in_sync(crm, total, values=point != "hand_over")


def test_killed_after_the_hand_over_the_next_run_brings_the_crm_values_the_first_half_left(
        crm, demo):
    total = kill_then_run_as_scheduled(crm, demo, "hand_over")
    assert_in_sync(crm, total)
