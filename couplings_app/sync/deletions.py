"""A coupled record deleted on one side: the coupling is kept and says so, and the mapping's
deletion-conflict resolution decides what follows, the same way whichever side it was deleted on.

Seed 002: "Deleting a coupled record on either end will create error messages that the product is
unable to update the deleted records."

- No resolution (BC's default): the coupling stays, marked with the side whose record is gone
  (`Coupling.deleted_side`) and listed with the skipped records (Coupled Data Synchronization
  Errors), with one entry in the error log. The other record is not updated any more; the admin
  restores the deleted one, deletes the other too, or deletes the coupling there.
- Remove Coupling: the coupling is deleted; the other record stays, uncoupled.
- Restore Records: the deleted record is created again from the other one by the next run that
  reads it (an ERP record: by the next run from the CRM, so only a mapping that runs from it).

Deleting the CRM record with the ERP record is an explicit choice of the mapping (Delete Coupled
CRM Record) and then comes before all this. Found while deleting (an ERP record's signal) or
while synchronizing (ToCrm / FromCrm read a coupled record that is gone): both call `mark()`.
"""

from django.db import transaction

from couplings_app.choices import SyncResult
from couplings_app.models import Coupling, SyncError
from mappings_app.choices import DeletionConflictResolution, Direction
from mappings_app.values import record_key

LOCAL, REMOTE = "local", "remote"


def message(coupling, *, label: str, side: str, mapping_name: str) -> str:
    """What the error log and the coupling say about a coupling whose `side` record is gone."""
    if side == LOCAL:
        return (f"{label} was deleted in the ERP; it stays coupled to CRM {coupling.remote_entity}"
                f" {coupling.remote_id}, which is not updated any more. On Coupled Data "
                "Synchronization Errors, restore the record, delete the CRM record too, or delete "
                f"the coupling (or set the {mapping_name} mapping's deletion-conflict "
                "resolution).")
    return (f"{label} is coupled to a deleted CRM {coupling.remote_entity} "
            f"({coupling.remote_id}), which cannot be updated. On Coupled Data Synchronization "
            "Errors, restore it, delete the ERP record too, or delete the coupling (or set the "
            f"{mapping_name} mapping's deletion-conflict resolution).")


def mark(coupling, side: str, text: str) -> None:
    """The coupling says which record is gone and is listed with the skipped records (not
    retried by every run: a change of the remaining record reports it again)."""
    coupling.deleted_side = side
    coupling.skipped = True
    coupling.last_error = text[:2000]


def report(coupling, side: str, *, label: str, mapping_name: str) -> str:
    """No resolution: the coupling is marked (`mark`) and the message returned, for the error
    log."""
    text = message(coupling, label=label, side=side, mapping_name=mapping_name)
    mark(coupling, side, text)
    return text


def uncouple(run, coupling) -> None:
    """Remove Coupling: the remaining record stays, uncoupled."""
    coupling.delete()
    run.counts["uncoupled"] += 1


def reported(coupling, side: str, modified) -> bool:
    """Already reported for the remaining record as it is now: not failed again by every run."""
    stamp = coupling.local_modified_at if side == REMOTE else coupling.remote_modified_at
    return coupling.skipped and coupling.deleted_side == side and stamp is not None and \
        stamp == modified


def erp_record_deleted(instance) -> list[tuple[str, str]]:
    """An ERP record was deleted (post_delete). Returns the CRM records to delete with it
    (entity set, id): those of mappings that ask for it."""
    label = instance._meta.label_lower
    couplings = list(Coupling.objects.filter(local_model=label, local_id=instance.pk)
                     .select_related("mapping"))
    to_delete, removed, kept = [], [], []
    caption = f"{str(instance._meta.verbose_name).capitalize()} {record_key(instance)}"
    for coupling in couplings:
        mapping = coupling.mapping
        policy = mapping.deletion_conflict_resolution if mapping else ""
        if coupling.pending_create or mapping is None:
            removed.append(coupling)  # its CRM record was never created (or nothing maps it)
        elif mapping.delete_remote_with_local:
            to_delete.append((mapping.remote_entity_set, str(coupling.remote_id)))
            removed.append(coupling)
        elif policy == DeletionConflictResolution.REMOVE_COUPLING:
            removed.append(coupling)
        elif policy == DeletionConflictResolution.RESTORE and \
                mapping.direction != Direction.TO_CRM:
            # The next run from the CRM reads it first and creates the record again.
            coupling.deleted_side = LOCAL
            coupling.last_result_from_crm = SyncResult.FAILURE
            coupling.last_error = f"{caption} was deleted in the ERP; the next run restores it."
            kept.append(coupling)
        else:
            text = message(coupling, label=caption, side=LOCAL, mapping_name=mapping.name)
            mark(coupling, LOCAL, text)
            kept.append(coupling)
            SyncError.objects.create(
                mapping=mapping, direction=Direction.TO_CRM, local_model=label,
                local_id=instance.pk, local_label=caption[:200],
                remote_entity=coupling.remote_entity, remote_id=coupling.remote_id,
                message=text)
    with transaction.atomic():
        Coupling.objects.filter(pk__in=[c.pk for c in removed]).delete()
        for coupling in kept:
            coupling.save(update_fields=["deleted_side", "skipped", "last_error",
                                         "last_result_from_crm"])
    return to_delete
