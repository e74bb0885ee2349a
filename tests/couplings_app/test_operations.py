"""One run per mapping, job queue entries, event-driven runs, tasks that call the engine."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import Schedule

from couplings_app import locks, schedules, tasks
from couplings_app.choices import JobStatus, JobTrigger, SyncResult
from couplings_app.models import Coupling, SyncJob
from couplings_app.sync.coupling import match_based_coupling
from couplings_app.sync.runner import synchronize
from erp_app.models import Customer
from mappings_app.models import TableMapping

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])


def new_job(mapping, status=JobStatus.QUEUED, heartbeat=None):
    return SyncJob.objects.create(mapping=mapping, mapping_name=mapping.name, status=status,
                                  heartbeat_at=heartbeat)


def test_only_one_claim_per_mapping(demo):
    mapping = demo["CUSTOMER"]
    first, second = new_job(mapping), new_job(mapping)
    assert locks.claim(mapping, first)
    assert not locks.claim(mapping, second)
    locks.release(mapping, first)
    assert locks.claim(mapping, second)


def test_a_dead_workers_claim_is_taken_over_and_its_job_failed(demo):
    mapping = demo["CUSTOMER"]
    long_ago = timezone.now() - timedelta(hours=1)
    dead = new_job(mapping, JobStatus.RUNNING, heartbeat=long_ago)
    assert locks.claim(mapping, dead)
    fresh = new_job(mapping)
    assert locks.claim(mapping, fresh)
    dead.refresh_from_db()
    assert dead.status == JobStatus.FAILED and "stopped" in dead.message


def test_a_second_trigger_while_one_runs_is_reported_not_run(crm, demo):
    mapping = demo["CUSTOMER"]
    running = new_job(mapping, JobStatus.RUNNING, heartbeat=timezone.now())
    assert locks.claim(mapping, running)
    jobs = synchronize(mapping, client=crm)
    assert all(job.status == JobStatus.CANCELLED for job in jobs)
    assert f"job #{running.pk} of CUSTOMER is still running" in jobs[0].message


def test_every_enabled_mapping_has_a_job_queue_entry(demo):
    names = set(Schedule.objects.values_list("name", flat=True))
    assert {f"sync:{name}" for name in demo} <= names
    assert schedules.STATISTICS_SCHEDULE in names  # Customer Statistics comes with CUSTOMER
    schedule = Schedule.objects.get(name="sync:CUSTOMER")
    assert (schedule.minutes, schedule.schedule_type) == (30, Schedule.MINUTES)
    schedules.ensure_schedules()
    schedules.ensure_schedules()
    assert Schedule.objects.filter(name="sync:CUSTOMER").count() == 1
    assert Schedule.objects.filter(name=schedules.STATISTICS_SCHEDULE).count() == 1
    customer_mapping = TableMapping.objects.get(name="CUSTOMER")
    customer_mapping.is_enabled = False
    customer_mapping.save()
    assert not Schedule.objects.filter(name="sync:CUSTOMER").exists()


def test_a_record_change_brings_the_next_run_forward_once(demo):
    Schedule.objects.filter(name="sync:CUSTOMER").update(
        next_run=timezone.now() + timedelta(minutes=25))
    customer = Customer.objects.first()
    customer.city = "Changed"
    customer.save()
    next_run = Schedule.objects.get(name="sync:CUSTOMER").next_run
    assert next_run <= timezone.now() + timedelta(seconds=31)
    customer.save()
    assert Schedule.objects.get(name="sync:CUSTOMER").next_run == next_run


def test_no_bring_forward_when_the_mapping_disables_it(demo):
    TableMapping.objects.filter(name="CUSTOMER").update(disable_event_rescheduling=True)
    later = timezone.now() + timedelta(minutes=25)
    Schedule.objects.filter(name="sync:CUSTOMER").update(next_run=later)
    Customer.objects.first().save()
    assert Schedule.objects.get(name="sync:CUSTOMER").next_run == later


def test_enqueued_jobs_run_through_the_task(crm, demo, monkeypatch):
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)  # django-q2 runs the task inline
    jobs = tasks.enqueue_mapping(demo["CURRENCY"], trigger=JobTrigger.USER)
    for job in jobs:
        job.refresh_from_db()
    assert [job.status for job in jobs] == [JobStatus.SUCCEEDED]
    assert jobs[0].trigger == JobTrigger.USER


def test_table_mappings_list_counts_errors_and_skipped_records(demo, admin_client):
    from couplings_app.models import SyncError

    customer_mapping = demo["CUSTOMER"]
    SyncError.objects.bulk_create([SyncError(mapping=customer_mapping, message="x")
                                   for _ in range(3)])
    Coupling.objects.create(mapping=customer_mapping, local_model="erp_app.customer", local_id=1,
                            remote_entity="account",
                            remote_id="00000000-0000-0000-0000-000000000001", skipped=True)
    rows = {row.record.name: row.record for row in
            admin_client.get("/integration/table-mappings/").context["table"].rows}
    assert (rows["CUSTOMER"].error_count, rows["CUSTOMER"].skipped_count) == (3, 1)
    assert (rows["VENDOR"].error_count, rows["VENDOR"].skipped_count) == (0, 0)


def test_a_cancelled_job_stops_at_the_next_page_and_keeps_what_was_done(crm, demo, monkeypatch):
    from couplings_app.sync import runner

    for name in ("CURRENCY", "SALESPEOPLE"):
        match_based_coupling(demo[name], client=crm)
    pages = []
    real_finish = runner.finish_page

    def finish_then_cancel(run, engine, page, started):
        real_finish(run, engine, page, started)
        pages.append(len(page))
        SyncJob.objects.filter(pk=run.job.pk).update(cancel_requested=True)

    monkeypatch.setattr(runner, "finish_page", finish_then_cancel)
    crm.max_parallel = 1  # two pages in flight at most (runner.in_flight)
    jobs = runner.synchronize(demo["CUSTOMER"], client=crm, direction="to_crm", full=True,
                              only_coupled=False, page_size=3)
    job = jobs[0]
    assert job.status == JobStatus.CANCELLED and "pages done are kept" in job.message
    # The page whose batch was in flight when the cancel came is finished; no page after it.
    assert pages == [3, 3]
    assert job.progress_done == 6
    assert not Coupling.objects.filter(local_model="erp_app.customer", pending_create=True,
                                       last_job_to_crm=job).exclude(
        last_result_to_crm=SyncResult.FAILURE).exists()  # no create left unconfirmed
    assert Coupling.objects.filter(local_model="erp_app.customer", pending_create=False,
                                   last_job_to_crm=job).count() > 0


@pytest.mark.parametrize(("max_parallel", "order"), [
    (1, ["start", "start", "finish", "start", "finish", "finish"]),  # 2 pages in flight
    (2, ["start", "start", "start", "finish", "finish", "finish"]),  # 3: all of them
])
def test_the_crm_writes_a_page_while_the_next_one_is_decided(crm, demo, monkeypatch,
                                                             max_parallel, order):
    """Pages' writes stay in flight while the next page is decided (as many as fill the
    client's parallel requests: here one request a page), and are finished in order."""
    from couplings_app.sync import runner
    from couplings_app.sync.to_crm import ToCrm

    for name in ("CURRENCY", "SALESPEOPLE"):
        match_based_coupling(demo[name], client=crm)
    events = []
    real_start, real_finish = ToCrm.start, ToCrm.finish

    def start(self, records, send=None):
        events.append(("start", records[0].pk))
        return real_start(self, records, send=send)

    def finish(self, started):
        events.append(("finish", started[0][0][0].pk if started[0] else None))
        return real_finish(self, started)

    monkeypatch.setattr(ToCrm, "start", start)
    monkeypatch.setattr(ToCrm, "finish", finish)
    crm.max_parallel = max_parallel
    job = runner.synchronize(demo["CUSTOMER"], client=crm, direction="to_crm", full=True,
                             only_coupled=False, page_size=4)[0]
    assert job.status == JobStatus.SUCCEEDED, job.message
    kinds = [kind for kind, _ in events]
    assert kinds == order  # 10 records in pages of 4
    assert job.progress_done == 10
    assert not Coupling.objects.filter(local_model="erp_app.customer", pending_create=True) \
        .exclude(last_result_to_crm=SyncResult.FAILURE).exists()


def test_read_ahead_keeps_the_order_and_raises_what_the_reader_raised():
    import threading

    from couplings_app.sync.pipeline import read_ahead

    threads = []

    def pages():
        for n in range(3):
            threads.append(threading.current_thread().name)
            yield [n]
        raise OSError("connection reset")

    seen = []
    with pytest.raises(OSError, match="connection reset"):
        for page in read_ahead(pages()):
            seen.append(page)
    assert seen == [[0], [1], [2]]
    assert all(name.startswith("crm-read") for name in threads)
