"""django-q2 entry points and `enqueue()`, the one way work is queued.

Every trigger — a button, Run Now, a command — goes through `enqueue()`: it plans the task's
SyncJob rows at once (so the job log shows them "Queued") and hands the task to django-q2 after
the transaction commits; the task calls the one engine function. Nothing syncs inside a web
request. The job queue entries' schedules are in couplings_app.schedules; the paths of the task
functions here are stored in Schedule and Task rows, so they stay where they are.
"""

from django.contrib.auth import get_user_model
from django.db import transaction
from django_q.tasks import async_task

from couplings_app import locks, schedules
from couplings_app.choices import JobTrigger, JobType
from couplings_app.models import SyncJob
from couplings_app.sync.statistics import STATISTICS_NAME, statistics_mapping
from mappings_app.connection import crm_client
from mappings_app.models import TableMapping


def user_of(user_id):
    """The user a queued task acts for (tasks carry the id: a user is not serializable)."""
    return get_user_model().objects.filter(pk=user_id).first() if user_id else None


# --- tasks (run by the cluster) ------------------------------------------------------------------
def run_mapping_task(mapping_id, job_ids, direction=None, full=False, trigger=JobTrigger.USER,
                     user_id=None):
    from couplings_app.sync.runner import synchronize

    mapping = TableMapping.objects.get(pk=mapping_id)
    jobs = list(SyncJob.objects.filter(pk__in=job_ids).order_by("pk"))
    with crm_client() as client:
        done = synchronize(mapping, direction=direction, full=full,
                           only_coupled=False if full else None, trigger=trigger,
                           user=user_of(user_id), client=client, jobs=jobs)
    return [job.pk for job in done]


def run_all_task(full=False, trigger=JobTrigger.USER, user_id=None):
    from couplings_app.sync.full import synchronize_all

    with crm_client() as client:
        jobs = synchronize_all(client=client, full=full, user=user_of(user_id), trigger=trigger)
    return [job.pk for job in jobs]


def scheduled_sync(mapping_id, trigger=JobTrigger.SCHEDULE):
    """A job queue entry's run: modified records of one mapping. A run brought forward by a
    record change says so once; the entry then goes back to plain scheduled runs."""
    # Jobs of every mapping whose worker died are failed here too: a mapping that never runs
    # again (on hold, disabled) would otherwise show its dead job "In Process" forever.
    locks.fail_dead_jobs()
    mapping = TableMapping.objects.filter(pk=mapping_id, is_enabled=True).first()
    if mapping is None:
        return []
    if trigger != JobTrigger.SCHEDULE:
        schedules.back_to_schedule(mapping)
    jobs = [SyncJob.plan(**job) for job in _runs(mapping, trigger=trigger)]
    return run_mapping_task(mapping.pk, [j.pk for j in jobs], trigger=trigger)


def statistics_task(trigger=JobTrigger.SCHEDULE, user_id=None, job_id=None, job_ids=()):
    """Customer Statistics; `job_id` is how tasks queued before `enqueue` named their job."""
    from couplings_app.sync.statistics import push_customer_statistics

    job_id = job_ids[0] if job_ids else job_id
    job = SyncJob.objects.filter(pk=job_id).first() if job_id else None
    with crm_client() as client:
        return push_customer_statistics(client=client, trigger=trigger, user=user_of(user_id),
                                        job=job).pk


# --- enqueueing (called by views, commands, signals) ---------------------------------------------
def enqueue(task: str, *args, plan=(), user=None, name: str = "", **kwargs) -> list[SyncJob]:
    """The one way a trigger queues work. The jobs `plan` lists (SyncJob.plan's arguments, one
    dict per job) are planned now, so the job log shows them "Queued" at once; `task` (a path,
    "couplings_app.tasks.run_mapping_task") is handed to django-q2 once the transaction commits,
    so a worker never reads a row not yet committed, with the planned jobs' ids as `job_ids`."""
    jobs = [SyncJob.plan(user=user, **job) for job in plan]
    if jobs:
        kwargs["job_ids"] = [job.pk for job in jobs]
    user_id = getattr(user, "pk", None)
    transaction.on_commit(lambda: async_task(task, *args, user_id=user_id,
                                             task_name=name or task.rpartition(".")[2], **kwargs))
    return jobs


def _runs(mapping, direction=None, *, full=False, trigger=JobTrigger.USER) -> list[dict]:
    """The jobs of one run of a mapping: one per direction (to the CRM first)."""
    return [{"mapping": mapping, "direction": run, "full": full, "trigger": trigger}
            for run in ([direction] if direction else mapping.runs)]


def enqueue_mapping(mapping, *, direction=None, full=False, trigger=JobTrigger.USER,
                    user=None) -> list[SyncJob]:
    return enqueue("couplings_app.tasks.run_mapping_task", mapping.pk, direction=direction,
                   full=full, trigger=trigger, user=user,
                   plan=_runs(mapping, direction, full=full, trigger=trigger),
                   name=f"{mapping.name} synchronization")


def enqueue_all(*, full=False, trigger=JobTrigger.USER, user=None) -> None:
    enqueue("couplings_app.tasks.run_all_task", full=full, trigger=trigger, user=user,
            name="Full synchronization" if full else "Synchronize modified records")


def enqueue_statistics(*, trigger=JobTrigger.USER, user=None) -> SyncJob:
    [job] = enqueue(schedules.STATISTICS_FUNC, trigger=trigger, user=user,
                    name="Customer statistics",
                    plan=[{"mapping": statistics_mapping(), "direction": "to_crm",
                           "type": JobType.STATISTICS, "trigger": trigger,
                           "mapping_name": STATISTICS_NAME}])
    return job


def delete_remote_task(records):
    """Deletes CRM records whose ERP records were deleted (mappings that ask for it)."""
    from dataverse import BatchOperation

    with crm_client() as client:
        results = client.batch([BatchOperation("DELETE", entity_set, id=remote_id)
                                for entity_set, remote_id in records])
    return sum(result.ok for result in results)
