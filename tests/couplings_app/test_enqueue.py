"""tasks.enqueue: the one way work is queued. Its jobs are in the log ("Queued") at once; its task
reaches django-q2 only when the transaction commits, carrying the jobs' ids."""

import pytest

from couplings_app import page_tasks, tasks
from couplings_app.choices import JobStatus, JobTrigger, JobType
from couplings_app.models import SyncJob

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued_tasks(monkeypatch):
    sent = []
    monkeypatch.setattr(tasks, "async_task", lambda func, *args, **kwargs: sent.append(
        (func, args, kwargs)))
    return sent


def test_the_jobs_are_queued_at_once_and_the_task_after_the_commit(
        mapping, queued_tasks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        jobs = tasks.enqueue_mapping(mapping, full=True)
        assert [j.status for j in jobs] == [JobStatus.QUEUED] * len(mapping.runs)
        assert not queued_tasks, "a worker must not read jobs not yet committed"
    [(func, args, kwargs)] = queued_tasks
    assert func == "couplings_app.tasks.run_mapping_task" and args == (mapping.pk,)
    assert kwargs["job_ids"] == [j.pk for j in jobs] and kwargs["full"] is True
    assert [j.direction for j in jobs] == mapping.runs and all(j.full for j in jobs)


def test_statistics_are_queued_with_their_job(mapping, queued_tasks,
                                               django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = tasks.enqueue_statistics(trigger=JobTrigger.SCHEDULE)
    assert (job.type, job.mapping_name, job.trigger) == (
        JobType.STATISTICS, "CUSTOMER STATISTICS", JobTrigger.SCHEDULE)
    [(func, _, kwargs)] = queued_tasks
    assert func == "couplings_app.tasks.statistics_task" and kwargs["job_ids"] == [job.pk]


def test_a_pages_task_plans_no_job_here(mapping, queued_tasks, admin_user,
                                        django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        page_tasks.enqueue("find_deleted", user=admin_user, name="Find for deleted")
    [(func, _, kwargs)] = queued_tasks
    assert func == "couplings_app.page_tasks.find_deleted"
    assert kwargs == {"user_id": admin_user.pk, "task_name": "Find for deleted"}
    assert not SyncJob.objects.exists()
