"""A real django-q2 cluster (on the configured broker: the database by default, Redis when
REDIS_URL is set): a scheduled run, an event-driven run after a record change, and two
simultaneous triggers that run once."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from django_q.models import Schedule

from couplings_app import schedules, tasks
from couplings_app.choices import JobStatus, JobTrigger
from couplings_app.models import SyncJob
from crm_emulator import faults
from crm_emulator.server import BackgroundServer
from erp_app.models import Customer
from mappings_app.models import Connection

pytestmark = [pytest.mark.slow,
              pytest.mark.django_db(transaction=True, databases=["default", "crm"])]
ROOT = Path(__file__).resolve().parents[2]


def database_url():
    settings = connection.settings_dict
    if settings["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings['NAME']}"
    user = settings["USER"] or ""
    return (f"postgres://{user}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/"
            f"{settings['NAME']}")


def wait_for(condition, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return False


@pytest.fixture
def crm_server(demo):
    server = BackgroundServer()
    conn = Connection.get()
    conn.service_root = server.url
    conn.authority_url = server.url.split("/api/data/")[0]
    conn.save()
    yield server
    faults.clear_faults()
    server.stop()


@pytest.fixture
def cluster(crm_server, settings):
    if connection.vendor == "sqlite" and ":memory:" in str(connection.settings_dict["NAME"]):
        pytest.skip("the test database is in memory; a cluster process cannot share it")
    from django_q.brokers import get_broker

    get_broker().purge_queue()  # tasks other tests left on a shared broker (Redis) are not ours
    env = {**os.environ, "DATABASE_URL": database_url(), "Q_WORKERS": "2",
           "SECRET_KEY": settings.SECRET_KEY}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    process = subprocess.Popen([sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield process
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def finished(**filters):
    return SyncJob.objects.filter(status__in=JobStatus.finished(), **filters)


def test_schedules_record_changes_and_simultaneous_triggers(demo, cluster, monkeypatch):
    # Two triggers at once, while the CRM is slow: one runs, the other is reported.
    faults.set_faults(latency_ms=1500)
    first = tasks.enqueue_mapping(demo["VENDOR"], trigger=JobTrigger.USER)
    second = tasks.enqueue_mapping(demo["VENDOR"], trigger=JobTrigger.USER)
    ids = [job.pk for job in first + second]
    assert wait_for(lambda: finished(pk__in=ids).count() == len(ids), 90)
    faults.clear_faults()
    statuses = sorted(SyncJob.objects.filter(pk__in=ids).values_list("status", flat=True))
    assert statuses.count(JobStatus.CANCELLED) == 2, statuses  # both directions of one trigger
    assert statuses.count(JobStatus.SUCCEEDED) == 2, statuses
    assert SyncJob.objects.filter(pk__in=ids, message__contains="still running").count() == 2

    # A due schedule runs; a record change brings another mapping's run forward.
    monkeypatch.setattr(schedules, "EVENT_DELAY", timedelta(seconds=1))
    Schedule.objects.filter(name="sync:CURRENCY").update(next_run=timezone.now())
    Schedule.objects.filter(name="sync:CUSTOMER").update(
        next_run=timezone.now() + timedelta(minutes=25))
    customer = Customer.objects.first()
    customer.city = "Changed by a person"
    customer.save()
    assert wait_for(lambda: finished(mapping_name="CURRENCY", trigger=JobTrigger.SCHEDULE)
                    .exists() and finished(mapping_name="CUSTOMER",
                                           trigger=JobTrigger.RECORD_CHANGE).exists(), 100)
    assert Schedule.objects.get(name="sync:CUSTOMER").kwargs == ""
