"""django-q2 entry points of the pages' actions on many records (couplings_app.tasks holds the
engine's: mapping runs, full synchronization, statistics, schedules). Each opens the CRM and
calls one function of couplings_app.services or the engine; `enqueue()` queues one by name
through couplings_app.tasks.enqueue (after the transaction commits)."""

from couplings_app import services, tasks
from couplings_app.models import Coupling, SyncError
from mappings_app.connection import crm_client
from mappings_app.models import TableMapping


def enqueue(func: str, *args, user=None, name: str = "", **kwargs) -> None:
    """Queues the function of this module named `func` (its jobs are planned when it runs)."""
    tasks.enqueue(f"couplings_app.page_tasks.{func}", *args, user=user, name=name or func,
                  **kwargs)


def synchronize_selected(mapping_id, local_ids, user_id=None):
    mapping = TableMapping.objects.get(pk=mapping_id)
    with crm_client() as client:
        return [j.pk for j in services.synchronize_selected(mapping, local_ids, client=client,
                                                            user=tasks.user_of(user_id))]


def match_selected(mapping_id, local_ids=None, user_id=None):
    """Match-Based Coupling; a mapping without match fields is left alone (its reason logged
    on the task)."""
    from couplings_app.sync.coupling import CouplingRefused, match_based_coupling

    mapping = TableMapping.objects.get(pk=mapping_id)
    try:
        with crm_client() as client:
            outcome = match_based_coupling(mapping, client=client, local_ids=local_ids,
                                           user=tasks.user_of(user_id))
    except CouplingRefused as exc:
        return str(exc)
    return outcome.job.pk if outcome.job else None


def retry_errors(error_ids, user_id=None):
    errors = list(SyncError.objects.filter(pk__in=error_ids))
    with crm_client() as client:
        return [j.pk for j in services.retry_errors(errors, client=client,
                                                    user=tasks.user_of(user_id))]


def synchronize_couplings(coupling_ids, user_id=None):
    couplings = list(Coupling.objects.filter(pk__in=coupling_ids))
    with crm_client() as client:
        return [j.pk for j in services.synchronize_couplings(couplings, client=client,
                                                             user=tasks.user_of(user_id))]


def find_deleted(mapping_ids=None, user_id=None):
    mappings = TableMapping.objects.filter(pk__in=mapping_ids) if mapping_ids else None
    with crm_client() as client:
        return services.find_deleted(client=client, mappings=mappings)
