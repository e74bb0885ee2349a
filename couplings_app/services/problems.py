"""BC's Coupled Data Synchronization Errors: skipped and failed couplings (Retry, Retry All,
Synchronize, Delete Coupling) and couplings whose counterpart was deleted (Find for Deleted,
Restore Records, Delete Records)."""

import copy
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Q

from couplings_app.choices import JobType, SyncResult
from couplings_app.models import Coupling, SyncJob
from couplings_app.services.states import label
from couplings_app.sync.coupling import uncouple
from couplings_app.sync.runner import synchronize_records
from mappings_app.choices import DeletionConflictResolution, Direction
from mappings_app.models import TableMapping


def problem_couplings():
    """BC's Coupled Data Synchronization Errors: skipped couplings, and those whose last
    synchronization failed."""
    return Coupling.objects.filter(
        Q(skipped=True) | Q(last_result_to_crm=SyncResult.FAILURE)
        | Q(last_result_from_crm=SyncResult.FAILURE) | ~Q(deleted_side=""))


def retry_couplings(couplings) -> int:
    """BC's Retry: the skipped records are taken again by the next run (failed ones first)."""
    return Coupling.objects.filter(pk__in=[c.pk for c in couplings]).update(skipped=False)


@dataclass
class RetryAll:
    skipped: int  # no longer skipped: the next run of their mapping takes them again
    failed: list  # ids of failed couplings to synchronize now
    deleted: int  # left alone: their coupled record was deleted (Restore or Delete Records)

    @property
    def retried(self) -> int:
        return self.skipped + len(self.failed)


def retry_all(couplings=None) -> RetryAll:
    """BC's Retry All on the skipped records: every coupling listed (`couplings`, a queryset of
    problem couplings; all of them when None) is taken again. Skipped ones are no longer skipped
    (the next run synchronizes them, failed first); failed ones not skipped are returned to be
    synchronized now; those whose coupled record was deleted need Restore or Delete Records."""
    listed = problem_couplings() if couplings is None else couplings
    deleted = listed.exclude(deleted_side="").count()
    listed = listed.filter(deleted_side="")
    failed = list(listed.filter(skipped=False).filter(
        Q(last_result_to_crm=SyncResult.FAILURE) | Q(last_result_from_crm=SyncResult.FAILURE))
        .values_list("pk", flat=True))
    skipped = Coupling.objects.filter(pk__in=listed.filter(skipped=True).values("pk")).update(
        skipped=False)
    return RetryAll(skipped=skipped, failed=failed, deleted=deleted)


def _by_mapping(couplings):
    groups = defaultdict(list)
    for coupling in couplings:
        if coupling.mapping_id:
            groups[coupling.mapping_id].append(coupling)
    mappings = TableMapping.objects.in_bulk(list(groups))
    return [(mappings[m], group) for m, group in groups.items()]


def synchronize_couplings(couplings, *, client, user=None) -> list[SyncJob]:
    """BC's Synchronize on skipped records: the coupled records now, each direction of their
    mapping (a conflict stays skipped: resolve it first)."""
    jobs = []
    for mapping, group in _by_mapping(couplings):
        if Direction.TO_CRM in mapping.runs:
            jobs.append(synchronize_records(mapping, Direction.TO_CRM, client=client,
                                            local_ids=[c.local_id for c in group], user=user))
        # A CRM record not created yet (or deleted) has nothing to take data from.
        remote_ids = [c.remote_id for c in group
                      if not c.pending_create and c.deleted_side != "remote"]
        if Direction.FROM_CRM in mapping.runs and remote_ids:
            jobs.append(synchronize_records(mapping, Direction.FROM_CRM, client=client,
                                            remote_ids=remote_ids, user=user))
    return jobs


def delete_couplings(couplings, *, user=None) -> list[SyncJob]:
    return [uncouple(mapping, [c.local_id for c in group], user=user)
            for mapping, group in _by_mapping(couplings)]


def find_deleted(*, client, mappings=None, couplings=None, page_size=1000) -> int:
    """BC's Find for Deleted: marks couplings whose ERP or CRM record no longer exists (one query
    and one CRM request per page of couplings) and shows them as skipped. Returns how many."""
    found = 0
    mappings = list(mappings) if mappings is not None else list(TableMapping.objects.all())
    for mapping in mappings:
        model = mapping.local_model_class
        if model is None:
            continue
        query = Coupling.objects.filter(local_model=mapping.local_model,
                                        remote_entity=mapping.remote_entity, pending_create=False)
        if couplings is not None:
            query = query.filter(pk__in=[c.pk for c in couplings])
        last = 0
        while True:
            page = list(query.filter(pk__gt=last).order_by("pk")[:page_size])
            if not page:
                break
            last = page[-1].pk
            local = set(model._default_manager.filter(pk__in=[c.local_id for c in page])
                        .values_list("pk", flat=True))
            remote = {str(k).lower() for k in client.get_many(
                mapping.remote_entity_set, mapping.remote_key,
                [str(c.remote_id) for c in page], select=[mapping.remote_key])}
            marks = {"local": [], "remote": [], "": []}
            for coupling in page:
                side = ("local" if coupling.local_id not in local else
                        "remote" if str(coupling.remote_id).lower() not in remote else "")
                marks[side].append(coupling.pk)
            Coupling.objects.filter(pk__in=marks[""], deleted_side__gt="").update(deleted_side="")
            for side, what in (("local", "ERP"), ("remote", "CRM")):
                if marks[side]:
                    Coupling.objects.filter(pk__in=marks[side]).update(
                        deleted_side=side, skipped=True,
                        last_error=f"The {what} record of this coupling was deleted. Restore "
                                   "it, delete the other record too, or delete the coupling.")
                    found += len(marks[side])
    return found


def restore_records(couplings, *, client, user=None) -> list[SyncJob]:
    """BC's Restore Records: the deleted side is created again from the remaining one, and
    coupled (the engine's Restore Records resolution, for these couplings only)."""
    find_deleted(client=client, mappings=TableMapping.objects.filter(
        pk__in={c.mapping_id for c in couplings}), couplings=couplings)
    jobs = []
    fresh = list(Coupling.objects.filter(pk__in=[c.pk for c in couplings]).exclude(
        deleted_side=""))
    for mapping, group in _by_mapping(fresh):
        restoring = copy.copy(mapping)
        restoring.deletion_conflict_resolution = DeletionConflictResolution.RESTORE
        to_crm = [c.local_id for c in group if c.deleted_side == "remote"]
        from_crm = [c.remote_id for c in group if c.deleted_side == "local"]
        Coupling.objects.filter(pk__in=[c.pk for c in group]).update(deleted_side="",
                                                                     skipped=False)
        if to_crm:
            jobs.append(synchronize_records(restoring, Direction.TO_CRM, client=client,
                                            local_ids=to_crm, user=user))
        if from_crm:
            jobs.append(synchronize_records(restoring, Direction.FROM_CRM, client=client,
                                            remote_ids=from_crm, user=user))
    return jobs


def delete_records(couplings, *, client, user=None) -> tuple[int, list[str]]:
    """BC's Delete Records: the remaining record of a coupling whose other side was deleted is
    deleted too, and the coupling with it. Returns how many, and why some were kept (an ERP
    record still used elsewhere)."""
    from django.db.models import ProtectedError

    from dataverse import BatchOperation

    find_deleted(client=client, mappings=TableMapping.objects.filter(
        pk__in={c.mapping_id for c in couplings}), couplings=couplings)
    fresh = list(Coupling.objects.filter(pk__in=[c.pk for c in couplings]).exclude(
        deleted_side=""))
    deleted, kept = 0, []
    for mapping, group in _by_mapping(fresh):
        job = SyncJob.open(mapping, JobType.UNCOUPLING, user=user)
        local_ids = [c.local_id for c in group if c.deleted_side == "remote"]
        remote_ids = [str(c.remote_id) for c in group if c.deleted_side == "local"]
        model = mapping.local_model_class
        for record in model._default_manager.filter(pk__in=local_ids):
            try:  # one by one: the ERP's own delete rules and signals apply
                record.delete()
            except ProtectedError as exc:
                users = ", ".join(sorted({str(o) for o in exc.protected_objects})[:3])
                kept.append(f"{label(record)} was not deleted: it is still used by {users}.")
                group = [c for c in group if c.local_id != record.pk]
                continue
            deleted += 1
        if remote_ids:
            results = client.batch([BatchOperation("DELETE", mapping.remote_entity_set, id=i)
                                    for i in remote_ids], continue_on_error=True)
            deleted += sum(r.ok for r in results)
        gone, _ = Coupling.objects.filter(pk__in=[c.pk for c in group]).delete()
        job.finish(message=f"Deleted {deleted} records whose coupled record was deleted.",
                uncoupled=gone, deleted=len(group))
    return deleted, kept
