"""Two django-q2 clusters on one broker, the same job queue entries, manual triggers on top, and
people editing records on both sides meanwhile: a mapping never runs twice at once, every job
finishes, and no edit is lost (it is synchronized, or listed as a conflict).

The clusters need a database and a broker that several processes share: PostgreSQL and Redis
(CI's second leg). The claim itself is checked in-process on any database.
"""

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from couplings_app import schedules, tasks
from couplings_app.choices import JobStatus, JobTrigger
from couplings_app.models import Coupling, SyncError, SyncJob
from couplings_app.sync.coupling import match_based_coupling
from couplings_app.sync.from_crm import FromCrm
from couplings_app.sync.full import synchronize_all
from couplings_app.sync.runner import synchronize
from crm_emulator import faults
from erp_app.models import Customer
from mappings_app.choices import Direction
from mappings_app.connection import crm_client
from tests.couplings_app.test_cluster import database_url, wait_for
from tests.reliability.conftest import background_crm
from tests.reliability.test_crash import a_person, make_every_customer_synchronizable

pytestmark = [pytest.mark.slow,
              pytest.mark.django_db(transaction=True, databases=["default", "crm"])]
ROOT = Path(__file__).resolve().parents[2]


def test_a_run_keeps_its_mapping_claimed_until_both_directions_are_done(crm, demo, monkeypatch):
    """While a bidirectional run reads from the CRM (its second direction), another trigger of
    the same mapping is not run."""
    for name in ("CURRENCY", "SALESPEOPLE", "CUSTOMER"):
        match_based_coupling(demo[name], client=crm)
    mapping = demo["CUSTOMER"]
    real_process, meanwhile = FromCrm.process, []

    def process(self, rows):
        if not meanwhile:
            meanwhile.extend(synchronize(mapping, client=crm, direction=Direction.TO_CRM))
        return real_process(self, rows)

    monkeypatch.setattr(FromCrm, "process", process)
    first = synchronize(mapping, client=crm)
    assert [j.direction for j in first] == [Direction.TO_CRM, Direction.FROM_CRM]
    assert [j.status for j in first] == [JobStatus.SUCCEEDED, JobStatus.SUCCEEDED]
    assert [(j.status, j.inserted + j.modified + j.unchanged) for j in meanwhile] == \
        [(JobStatus.CANCELLED, 0)], [j.message for j in meanwhile]
    assert f"job #{first[1].pk}" in meanwhile[0].message
    # ...and once the run is over, the mapping runs again.
    monkeypatch.undo()
    assert [j.status for j in synchronize(mapping, client=crm)] == [JobStatus.SUCCEEDED] * 2


def synchronized_pair(crm, demo):
    """Currencies, salespeople and customers coupled and fully synchronized; a customer and its
    account's id."""
    for name in ("CURRENCY", "SALESPEOPLE", "CUSTOMER"):
        match_based_coupling(demo[name], client=crm)
    make_every_customer_synchronizable(crm)
    for name in ("CURRENCY", "SALESPEOPLE", "CUSTOMER"):
        synchronize(demo[name], client=crm, full=True, only_coupled=False)
    return customer_pairs(crm)[0]


def test_a_crm_edit_made_while_an_erp_change_is_sent_is_not_lost(crm, demo, monkeypatch):
    """A person edits an account in the CRM after the run has read it and before the run's
    update of the same account arrives: the edit reaches the ERP, or the record is listed as
    a conflict or an error, never silently dropped."""
    mapping = demo["CUSTOMER"]
    customer, remote_id = synchronized_pair(crm, demo)
    customer.city = "Changed in the ERP"
    customer.save()
    person, real_write = a_person(crm), type(crm).write

    def write(self, operations, **kwargs):
        if any(op.id == remote_id for op in operations):
            person.update("accounts", remote_id, {"telephone1": "+1 555 0199 changed in CRM"})
        return real_write(self, operations, **kwargs)

    monkeypatch.setattr(type(crm), "write", write)
    synchronize(mapping, client=crm)
    monkeypatch.undo()
    synchronize(mapping, client=crm)
    customer.refresh_from_db()
    coupling = Coupling.objects.get(local_model="erp_app.customer", local_id=customer.pk)
    row = crm.get("accounts", remote_id)
    synced = (customer.phone_no, row["address1_city"]) == (
        "+1 555 0199 changed in CRM", "Changed in the ERP")
    reported = (coupling.skipped and coupling.conflict_remote) or \
        SyncError.objects.filter(local_id=customer.pk, local_model="erp_app.customer").exists()
    assert synced or reported, (customer.phone_no, customer.city, row["telephone1"],
                                row["address1_city"], coupling.last_error)

def test_an_erp_edit_made_while_a_crm_change_is_written_is_not_lost(crm, demo, monkeypatch):
    """A person saves a customer in the ERP after the run has read it and before the run writes
    the CRM's change to it: the person's edit reaches the CRM, or the record is listed as a
    conflict or an error, never silently dropped."""
    mapping = demo["CUSTOMER"]
    customer, remote_id = synchronized_pair(crm, demo)
    # The CRM stamps changes to the second: an edit in the second the sync last read the
    # account looks unchanged (a limit of modifiedon, not the race tested here).
    synced_at = Coupling.objects.get(local_model="erp_app.customer", local_id=customer.pk) \
        .last_synced_at.replace(microsecond=0)
    assert wait_for(lambda: timezone.now() - synced_at > timedelta(seconds=1), 5)
    a_person(crm).update("accounts", remote_id, {"telephone1": "+1 555 0199 changed in CRM"})
    real_write = FromCrm.write_updates

    def write_updates(self, updates):
        if any(record.pk == customer.pk for _, _, record, _ in updates):
            person_copy = Customer.objects.get(pk=customer.pk)
            person_copy.city = "Changed in the ERP"
            person_copy.save()
        return real_write(self, updates)

    monkeypatch.setattr(FromCrm, "write_updates", write_updates)
    synchronize(mapping, client=crm, direction=Direction.FROM_CRM)
    monkeypatch.undo()
    synchronize(mapping, client=crm)
    customer.refresh_from_db()
    coupling = Coupling.objects.get(local_model="erp_app.customer", local_id=customer.pk)
    row = crm.get("accounts", remote_id)
    synced = (customer.phone_no, customer.city, row["telephone1"], row["address1_city"]) == (
        "+1 555 0199 changed in CRM", "Changed in the ERP", "+1 555 0199 changed in CRM",
        "Changed in the ERP")
    reported = (coupling.skipped and coupling.conflict_remote) or \
        SyncError.objects.filter(local_id=customer.pk, local_model="erp_app.customer").exists()
    assert synced or reported, (customer.phone_no, customer.city, row["telephone1"],
                                row["address1_city"], coupling.last_error)

# --- two clusters ----------------------------------------------------------------------------
ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)
EDITED = [("city", "address1_city"), ("phone_no", "telephone1")]


@pytest.fixture
def shared_services():
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("two clusters need a database and a broker that several processes share: "
                    "set DATABASE_URL to PostgreSQL and REDIS_URL (CI's second leg does)")


@pytest.fixture
def served_crm(shared_services, demo):
    """The CRM over HTTP for the clusters, everything coupled and in sync to begin with."""
    with background_crm(), crm_client() as client:
        for name in ("CURRENCY", "SALESPEOPLE", "CUSTOMER"):
            match_based_coupling(demo[name], client=client)
        make_every_customer_synchronizable(client)
        for name in ("CURRENCY", "SALESPEOPLE", "CUSTOMER"):
            synchronize(demo[name], client=client, full=True, only_coupled=False)
        yield client


# `manage.py qcluster` on a queue of this test's own: other test processes share the Redis
# server (CI runs `pytest -n 4`), and their clusters must not take this test's tasks, nor its
# clusters theirs. Same name as prefix, so the scheduler still runs the job queue entries.
QCLUSTER = """
import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "syncadmin.settings")
import django
django.setup()
from django_q.conf import Conf
Conf.PREFIX = Conf.CLUSTER_NAME = os.environ["TEST_Q_QUEUE"]
from django.core.management import execute_from_command_line
execute_from_command_line(["manage.py", "qcluster"])
"""


def start_cluster(queue):
    env = {**os.environ, "DATABASE_URL": database_url(), "Q_WORKERS": "2",
           "SECRET_KEY": settings.SECRET_KEY, "TEST_Q_QUEUE": queue}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return subprocess.Popen([sys.executable, "-c", QCLUSTER], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(process):
    process.send_signal(signal.SIGINT)  # django-q2 finishes the tasks it holds, then stops
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail("a cluster did not stop within a minute")


@pytest.fixture
def two_clusters(served_crm, monkeypatch):
    from django_q.brokers import get_broker
    from django_q.conf import Conf

    queue = f"syncadmin-test-{os.getpid()}"
    monkeypatch.setattr(Conf, "PREFIX", queue)
    monkeypatch.setattr(Conf, "CLUSTER_NAME", queue)
    broker = get_broker()
    assert queue in broker.list_key
    broker.purge_queue()  # left by an earlier run of this test
    clusters = [start_cluster(queue), start_cluster(queue)]
    yield broker, clusters
    for process in clusters:
        if process.poll() is None:
            stop(process)
    broker.purge_queue()


def customer_pairs(crm):
    """Coupled customers with their CRM ids, in a stable order."""
    couplings = Coupling.objects.filter(local_model="erp_app.customer", remote_entity="account",
                                        pending_create=False).order_by("local_id")
    return [(Customer.objects.get(pk=c.local_id), str(c.remote_id)) for c in couplings]


def edit(pairs, person, erp, crm, stamp):
    """People edit: some customers in the ERP, others in the CRM, one on both sides."""
    edits = []
    for customer, _ in erp:
        customer.refresh_from_db()  # a person opens the page now
        for field, _ in EDITED:
            setattr(customer, field, f"{stamp} ERP {customer.pk}")
        customer.save()  # as a page would: signals bring the mapping's next run forward
        edits.append(("ERP", customer.pk, {f: getattr(customer, f) for f, _ in EDITED}))
    for customer, remote_id in crm:
        values = {attribute: f"{stamp} CRM {customer.pk}" for _, attribute in EDITED}
        person.update("accounts", remote_id, values)
        edits.append(("CRM", customer.pk, {f: values[a] for f, a in EDITED}))
    return edits


def started(mapping_name, after):
    """A job of the mapping created after job #`after` has started (it may be over already: a
    run with nothing to do takes a few requests, shorter than a poll)."""
    return SyncJob.objects.filter(mapping_name=mapping_name, pk__gt=after,
                                  started_at__isnull=False).exists()


def overlaps():
    """Synchronization jobs of one mapping whose runs overlap in time."""
    found = []
    ran = SyncJob.objects.filter(type="synchronization", started_at__isnull=False) \
        .exclude(status=JobStatus.CANCELLED).order_by("mapping_name", "started_at")
    previous = None
    for job in ran:
        if previous is not None and previous.mapping_name == job.mapping_name and \
                job.started_at < previous.finished_at:
            found.append((job.mapping_name, previous.pk, job.pk))
        if previous is None or previous.mapping_name != job.mapping_name or \
                job.finished_at > previous.finished_at:
            previous = job
    return found


def test_two_clusters_never_run_a_mapping_twice_at_once_and_lose_no_edit(demo, served_crm,
                                                                        two_clusters):
    from django_q.models import Schedule, Task

    crm, (broker, clusters) = served_crm, two_clusters
    person = a_person(crm)
    pairs = customer_pairs(crm)
    assert len(pairs) >= 7
    before = SyncJob.objects.order_by("pk").last().pk
    faults.set_faults(latency_ms=150)  # slow enough for runs to overlap
    # Every job queue entry is due (both clusters' schedulers see them), and people click.
    Schedule.objects.filter(name__startswith=schedules.SCHEDULE_PREFIX).update(
        next_run=timezone.now())
    for _ in range(3):
        tasks.enqueue_mapping(demo["CUSTOMER"], trigger=JobTrigger.USER)
    tasks.enqueue_all()
    assert wait_for(lambda: started("CUSTOMER", before), 60), "no CUSTOMER job started"
    edits = edit(pairs, person, erp=pairs[0:2], crm=pairs[2:4], stamp="First")
    both = edit(pairs, person, erp=pairs[4:5], crm=pairs[4:5], stamp="Both")
    edits.append(both[-1])  # the CRM's edit came last: it must win, or a conflict be listed
    second = SyncJob.objects.order_by("pk").last().pk
    for _ in range(2):
        tasks.enqueue_mapping(demo["CUSTOMER"], trigger=JobTrigger.USER)
    tasks.enqueue_all()
    assert wait_for(lambda: started("CUSTOMER", second), 60), "no second CUSTOMER job started"
    edits += edit(pairs, person, erp=pairs[5:6], crm=pairs[6:7], stamp="Second")
    # No more scheduled runs: wait for what is queued and running to end.
    Schedule.objects.update(next_run=timezone.now() + timedelta(days=1))
    assert wait_for(lambda: Task.objects.filter(func="couplings_app.tasks.run_all_task").count()
                    == 2 and Task.objects.filter(
                        func="couplings_app.tasks.run_mapping_task").count() == 5
                    and broker.queue_size() == 0
                    and not SyncJob.objects.filter(status__in=ACTIVE).exists(), 90), \
        list(SyncJob.objects.filter(status__in=ACTIVE).values_list("pk", "mapping_name"))
    for process in clusters:
        stop(process)
    faults.clear_faults()

    jobs = SyncJob.objects.filter(pk__gt=before).order_by("pk")
    assert not SyncJob.objects.filter(status__in=ACTIVE).exists(), "a job never finished"
    assert overlaps() == []
    assert SyncJob.objects.filter(status=JobStatus.CANCELLED,
                                  message__contains="still running").exists(), \
        "no trigger met a running job: the test did not exercise concurrency"
    assert [(j.pk, j.mapping_name, j.message) for j in jobs if j.status == JobStatus.FAILED] \
        == []

    # One more run; then every edit is on both sides, or its record is listed as a conflict
    # (or as an error, to be retried).
    synchronize_all(client=crm)
    lost = []
    rows = {rid: crm.get("accounts", rid) for _, rid in pairs}
    for side, pk, values in edits:
        customer = Customer.objects.get(pk=pk)
        coupling = Coupling.objects.get(local_model="erp_app.customer", local_id=pk)
        row = rows[str(coupling.remote_id)]
        present = all(getattr(customer, f) == v and row[a] == v
                      for (f, a), v in zip(EDITED, values.values(), strict=True))
        conflict = coupling.skipped and coupling.conflict_local and coupling.conflict_remote
        error = coupling.failed and SyncError.objects.filter(
            local_model="erp_app.customer", local_id=pk).exists()
        if not (present or conflict or error):
            lost.append((side, pk, values, {f: getattr(customer, f) for f, _ in EDITED},
                         {a: row[a] for _, a in EDITED}))
    assert lost == []
