"""Reactions to changes made outside the engine (the engine writes in bulk: no signals).

- A table mapping saved, bulk-updated or deleted: its job queue entry follows (created, renamed,
  re-timed, removed), found by the mapping's pk (couplings_app.schedules.ensure_schedule).
- An ERP record of a mapped table saved: its mapping's next run is brought forward.
- An ERP record deleted: its couplings stay and say so, and the mapping's deletion-conflict
  resolution applies (couplings_app/sync/deletions.py); the CRM record is deleted too only when
  the mapping asks for it (Delete Coupled CRM Record).
"""

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from mappings_app.models import SCHEDULE_FIELDS, TableMapping, mappings_updated


def _follow(mapping):
    from couplings_app.schedules import ensure_schedule, ensure_statistics_schedule

    ensure_schedule(mapping)
    if mapping.local_model == "erp_app.customer" and mapping.remote_entity == "account":
        ensure_statistics_schedule()


@receiver(post_save, sender=TableMapping)
def mapping_saved(sender, instance, raw=False, update_fields=None, **kwargs):
    if raw or (update_fields is not None and not SCHEDULE_FIELDS & set(update_fields)):
        return  # e.g. the watermarks: nothing the job queue entry shows
    _follow(instance)


@receiver(mappings_updated, sender=TableMapping)
def mappings_bulk_updated(sender, pks, **kwargs):
    for mapping in TableMapping.objects.filter(pk__in=pks):
        _follow(mapping)


@receiver(post_delete, sender=TableMapping)
def mapping_deleted(sender, instance, **kwargs):
    from couplings_app.schedules import remove_schedule

    remove_schedule(instance.pk)


def _mappings_of(instance):
    label = instance._meta.label_lower
    return list(TableMapping.objects.filter(local_model=label))


def record_saved(sender, instance, raw=False, **kwargs):
    if raw:
        return
    from couplings_app.schedules import bring_forward

    for mapping in _mappings_of(instance):
        bring_forward(mapping)


def record_deleted(sender, instance, **kwargs):
    from couplings_app.sync.deletions import erp_record_deleted

    to_delete = erp_record_deleted(instance)
    if to_delete:
        from django_q.tasks import async_task

        transaction.on_commit(lambda: async_task("couplings_app.tasks.delete_remote_task",
                                                 to_delete, task_name="Delete coupled records"))


def connect_erp_models():
    from django.apps import apps

    for model in apps.get_app_config("erp_app").get_models():
        post_save.connect(record_saved, sender=model, dispatch_uid=f"sync-saved-{model}")
        post_delete.connect(record_deleted, sender=model, dispatch_uid=f"sync-deleted-{model}")
