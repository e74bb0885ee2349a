"""A synchronization job's life (SyncJob.plan → start → beat → finish; cancel; fail_dead) and
the claims of runs that died: one rule frees a claim whatever state its job was left in, and no
job of a dead run stays "Queued" or "In Process".

A "dead run" here is a run that stopped calling anything: what a SIGKILL leaves (the crash tests
in tests/reliability/test_crash.py kill real processes); `time_passes` moves its timestamps back.
"""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from couplings_app import locks
from couplings_app.choices import JobStatus, JobType
from couplings_app.models import MappingLock, SyncJob
from tests.reliability.clock import time_passes

pytestmark = pytest.mark.django_db
UNFINISHED = [JobStatus.QUEUED, JobStatus.RUNNING]


def queued(mapping, direction="to_crm"):
    """A job as a trigger leaves it ("Queued", its task not yet run)."""
    return SyncJob.objects.create(mapping=mapping, mapping_name=mapping.name, direction=direction)


def a_run(mapping):
    """The two jobs of a bidirectional run."""
    return queued(mapping, "to_crm"), queued(mapping, "from_crm")


def status(job):
    job.refresh_from_db()
    return job.status


def holder(mapping):
    return MappingLock.objects.get(mapping=mapping).job_id


def test_killed_after_the_claim_the_claim_is_taken_over_once_silent(mapping):
    first, second = a_run(mapping)
    assert locks.claim(mapping, first, second)  # … and the worker dies before starting `first`
    assert not locks.claim(mapping, *a_run(mapping)), "a fresh claim is not taken over"
    time_passes(mapping)
    nxt = a_run(mapping)
    assert locks.claim(mapping, *nxt)
    assert holder(mapping) == nxt[0].pk
    for job in (first, second):
        assert status(job) == JobStatus.FAILED
        assert job.message.startswith("The worker running this job stopped")
        assert job.message.endswith("the next run goes on from there.")
        assert job.finished_at is not None


def test_killed_after_the_hand_over_the_claim_is_taken_over_once_silent(mapping):
    first, second = a_run(mapping)
    assert locks.claim(mapping, first, second)
    assert first.start("to_crm")
    assert first.finish()
    assert locks.hand_over(mapping, first, second)  # … and the worker dies
    assert holder(mapping) == second.pk
    assert not locks.claim(mapping, queued(mapping))
    time_passes(mapping)
    assert locks.claim(mapping, queued(mapping))
    assert (status(first), status(second)) == (JobStatus.SUCCEEDED, JobStatus.FAILED)
    assert "stopped" in second.message


def test_killed_mid_run_both_jobs_of_the_run_are_ended(mapping):
    first, second = a_run(mapping)
    assert locks.claim(mapping, first, second)
    assert first.start("to_crm")
    first.beat(processed=10, modified=3)  # a page, then the worker dies
    time_passes(mapping)
    assert locks.claim(mapping, queued(mapping))
    assert (status(first), status(second)) == (JobStatus.FAILED, JobStatus.FAILED)
    assert first.modified == 3 and first.progress_done == 10  # what was done stays in the log


def test_a_job_a_person_asked_to_cancel_is_freed_by_the_same_rule(mapping, operator):
    """The page's Cancel on a job whose worker died: the claim is freed and the job ends
    "Cancelled", like any other state the worker left it in."""
    for started in (False, True):
        first, second = a_run(mapping)
        assert locks.claim(mapping, first, second)
        if started:
            assert first.start("to_crm")
        time_passes(mapping)  # the worker died; a person sees the job stuck and cancels it
        operator.post(reverse("couplings:syncjob_cancel", args=[first.pk]))
        assert locks.claim(mapping, nxt := queued(mapping))
        assert status(first) == JobStatus.CANCELLED and first.finished_at is not None
        assert status(second) in (JobStatus.FAILED, JobStatus.CANCELLED)
        locks.release(mapping, nxt)
        nxt.fail("done with this one")


def test_any_scheduled_run_ends_the_jobs_of_a_dead_run_of_another_mapping(mapping):
    """A mapping that never runs again (on hold, disabled) keeps no job "Queued" or
    "In Process": the job queue entries of every mapping end them (tasks.scheduled_sync)."""
    first, second = a_run(mapping)
    assert locks.claim(mapping, first, second)
    assert first.start("to_crm")
    assert locks.fail_dead_jobs() == 0
    time_passes(mapping)
    assert locks.fail_dead_jobs() == 2
    assert not SyncJob.objects.filter(status__in=UNFINISHED).exists()
    assert not MappingLock.objects.get(mapping=mapping).is_held()


def test_a_dead_runs_cancelled_queued_job_is_ended_by_any_scheduled_run(mapping, operator):
    first, second = a_run(mapping)
    assert locks.claim(mapping, first, second)  # the worker dies in the claim's window
    operator.post(reverse("couplings:syncjob_cancel", args=[first.pk]))
    time_passes(mapping)
    locks.fail_dead_jobs()
    assert status(first) == JobStatus.CANCELLED
    assert status(second) == JobStatus.FAILED
    assert not MappingLock.objects.get(mapping=mapping).is_held()


def test_the_second_direction_of_a_live_run_waits_however_long_the_first_takes(mapping):
    first, second = a_run(mapping)
    assert locks.claim(mapping, first, second)
    assert first.start("to_crm")
    time_passes(mapping, by=timedelta(hours=2))
    first.beat(processed=1)  # the first direction is still at work
    assert locks.fail_dead_jobs() == 0
    assert not locks.claim(mapping, queued(mapping))
    assert status(second) == JobStatus.QUEUED
    first.finish()
    assert locks.hand_over(mapping, first, second)
    assert MappingLock.objects.get(mapping=mapping).is_held(), "the hand-over is a sign of life"
    assert second.start("from_crm")


def test_a_job_waiting_for_its_task_is_not_taken_for_a_dead_one(mapping):
    """A job nobody took up yet (its django-q2 task has not run) has no run that could have
    died: it stays queued until its task runs it or reports it not run."""
    waiting = queued(mapping)
    SyncJob.objects.filter(pk=waiting.pk).update(created_at=timezone.now() - timedelta(hours=3))
    assert locks.claim(mapping, queued(mapping))
    assert locks.fail_dead_jobs() == 0
    assert status(waiting) == JobStatus.QUEUED


def test_a_takeover_ends_no_other_kind_of_job(mapping):
    """Customer Statistics and coupling jobs hold no claim: a run taking over the mapping does
    not end them (a scheduled run ends them once their own heartbeat is stale)."""
    first, second = a_run(mapping)
    assert locks.claim(mapping, first, second)
    time_passes(mapping)
    statistics = SyncJob.plan(mapping, "to_crm", type=JobType.STATISTICS,
                              mapping_name="CUSTOMER STATISTICS")
    assert statistics.start()
    assert locks.claim(mapping, queued(mapping))
    assert (status(first), status(statistics)) == (JobStatus.FAILED, JobStatus.RUNNING)
    time_passes(mapping)  # the new run died too, and so did the statistics' worker
    assert locks.fail_dead_jobs() == 2
    assert status(statistics) == JobStatus.FAILED


# --- the lifecycle methods -----------------------------------------------------------------------
def test_plan_start_beat_finish(mapping):
    job = SyncJob.plan(mapping, "to_crm", full=True)
    assert (job.status, job.full, job.mapping_name) == (JobStatus.QUEUED, True, "CUSTOMER")
    assert job.start("to_crm") and job.status == JobStatus.RUNNING and job.heartbeat_at
    assert not job.start("to_crm"), "a job starts once"
    job.beat(processed=5, inserted=2, modified=1)
    assert job.finish()
    assert (job.status, job.progress_done, job.message) == (
        JobStatus.SUCCEEDED, 5, "2 inserted, 1 modified.")
    assert not job.finish(JobStatus.FAILED, "late"), "an ended job stays as it ended"
    assert status(job) == JobStatus.SUCCEEDED


def test_cancel_ends_a_queued_job_at_once_and_it_never_starts(mapping):
    job = queued(mapping)
    assert job.cancel()
    assert job.status == JobStatus.CANCELLED and job.finished_at is not None
    assert not job.start("to_crm")
    assert status(job) == JobStatus.CANCELLED


def test_cancel_asks_a_running_job_to_stop_after_its_page(mapping):
    job = queued(mapping)
    assert job.start("to_crm")
    assert job.cancel()
    assert (job.status, job.cancel_requested) == (JobStatus.RUNNING, True)


def test_cancel_ends_a_running_job_whose_worker_died(mapping):
    job = queued(mapping)
    assert job.start("to_crm")
    SyncJob.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - locks.STALE_AFTER - timedelta(minutes=1))
    assert job.cancel()
    assert job.status == JobStatus.CANCELLED and "stopped" in job.message


def test_a_job_the_page_asked_to_cancel_before_it_started_is_not_started(mapping):
    """The page's Cancel while the job waits for its task sets the flag: the run that picks
    it up ends it instead of starting it."""
    job = queued(mapping)
    SyncJob.objects.filter(pk=job.pk).update(cancel_requested=True)
    assert not job.start("to_crm")
    assert job.status == JobStatus.CANCELLED and "before it started" in job.message


def test_a_job_failed_as_dead_is_not_finished_again_by_a_worker_that_was_only_slow(mapping):
    job = queued(mapping)
    assert locks.claim(mapping, job)
    assert job.start("to_crm")
    time_passes(mapping)
    assert locks.claim(mapping, queued(mapping))
    assert not job.finish(JobStatus.SUCCEEDED)
    assert status(job) == JobStatus.FAILED


def test_open_plans_and_starts_a_job_that_runs_at_once(mapping):
    job = SyncJob.open(mapping, JobType.COUPLING)
    assert (job.type, job.status, job.mapping_name) == (
        JobType.COUPLING, JobStatus.RUNNING, "CUSTOMER")
    assert job.finish(message="1 coupled.", coupled=1)
    assert (status(job), job.coupled, job.message) == (JobStatus.SUCCEEDED, 1, "1 coupled.")


def test_a_dry_run_job_is_never_in_the_log(mapping):
    job = SyncJob.dry_run(mapping)
    assert job.pk is None and job.mapping_name == "CUSTOMER"
    assert not SyncJob.objects.exists()


def test_wait_gives_a_queued_job_handed_the_claim_a_sign_of_life_and_nothing_else(mapping):
    waiting, running = a_run(mapping)
    assert running.start("from_crm")
    long_ago = timezone.now() - timedelta(hours=1)
    SyncJob.objects.update(heartbeat_at=long_ago)
    waiting.wait()
    running.wait()
    waiting.refresh_from_db()
    running.refresh_from_db()
    assert waiting.heartbeat_at > long_ago and waiting.status == JobStatus.QUEUED
    assert running.heartbeat_at == long_ago, "a started job's sign of life is its beat"


def test_expect_says_how_many_records_the_run_reads(mapping):
    job = queued(mapping)
    job.expect(42)
    job.refresh_from_db()
    assert (job.progress_total, job.progress_done) == (42, 0)


def test_a_run_is_asked_to_stop_when_cancelled_or_no_longer_in_process(mapping):
    job = queued(mapping)
    assert job.stop_asked(), "a job not started is not to be run on"
    assert job.start("to_crm") and not job.stop_asked()
    assert job.cancel() and job.stop_asked()
    other = queued(mapping)
    assert other.start("to_crm")
    SyncJob.fail_dead(SyncJob.objects.filter(pk=other.pk))
    assert other.stop_asked()
