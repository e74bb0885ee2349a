"""Every change of a mapping's state keeps its job queue entry in step: one entry per enabled
mapping, found by the mapping's pk (never by name), named after its current name."""

import importlib

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from couplings_app import jobqueue, schedules
from couplings_app.models import JobQueueHold, SyncJob
from mappings_app.models import MAX_SCHEDULE_MINUTES, TableMapping

pytestmark = pytest.mark.django_db

LIST = reverse("mappings:tablemapping_list")


def make(name, **values):
    return TableMapping.objects.create(
        name=name, local_model="erp_app.customer", remote_entity="account",
        remote_entity_set="accounts", remote_key="accountid", **values)


def entries_of(mapping):
    return list(schedules.mapping_schedules(mapping.pk))


def sync_entries():
    entries = Schedule.objects.filter(func=schedules.SCHEDULE_FUNC)
    return sorted(entries.values_list("name", flat=True))


@pytest.fixture
def mapping(db):
    return make("CUSTOMER")


def test_an_enabled_mapping_has_one_entry_keyed_by_its_pk(mapping):
    [entry] = entries_of(mapping)
    assert entry.name == "sync:CUSTOMER" and entry.args == repr((mapping.pk,))
    assert entry.minutes == 30 and entry.hook == schedules.SCHEDULE_HOOK


def test_renaming_a_mapping_renames_its_entry_instead_of_adding_one(mapping):
    mapping.name = "CUSTOMERS"
    mapping.save()  # what the edit page does
    assert sync_entries() == ["sync:CUSTOMERS"]
    mapping.rename("ACCOUNTS")
    assert sync_entries() == ["sync:ACCOUNTS"]
    assert schedules.mapping_pk_of(entries_of(mapping)[0]) == mapping.pk


def test_a_rename_to_a_taken_name_is_refused_and_changes_nothing(mapping):
    other = make("VENDOR")
    with pytest.raises(ValidationError):
        other.rename("CUSTOMER")
    other.refresh_from_db()
    assert other.name == "VENDOR" and sync_entries() == ["sync:CUSTOMER", "sync:VENDOR"]


def test_a_renamed_mapping_keeps_its_hold_and_runs_by_its_new_name(mapping):
    jobqueue.hold(entries_of(mapping)[0])
    mapping.rename("CUSTOMERS")
    [entry] = entries_of(mapping)
    assert entry.repeats == 0
    assert list(JobQueueHold.objects.values_list("schedule_name", flat=True)) == [
        "sync:CUSTOMERS"]
    jobs = jobqueue.run_now(entry)
    assert {j.mapping_id for j in jobs} == {mapping.pk}
    assert {j.mapping_name for j in jobs} == {"CUSTOMERS"}


def test_a_renamed_mapping_keeps_its_last_run_on_the_job_queue(mapping):
    job = SyncJob.objects.create(mapping=mapping, mapping_name=mapping.name, status="failed")
    mapping.rename("CUSTOMERS")
    [entry] = [e for e in jobqueue.entries() if e.mapping]
    assert entry.last_job == job and entry.status == "Error"
    assert entry.caption == "CUSTOMERS - Dynamics 365 Sales synchronization job"


def test_deleting_a_renamed_mapping_leaves_no_entry_and_no_hold(mapping):
    jobqueue.hold(entries_of(mapping)[0])
    mapping.rename("CUSTOMERS")
    mapping.delete()
    assert sync_entries() == [] and not JobQueueHold.objects.exists()


def test_the_delete_page_removes_the_entry(admin_client, mapping):
    admin_client.post(reverse("mappings:tablemapping_delete", args=[mapping.pk]))
    assert not TableMapping.objects.exists() and sync_entries() == []


def test_disabling_and_enabling_removes_and_brings_back_the_entry(mapping):
    assert mapping.set_enabled(False)
    assert sync_entries() == []
    assert not mapping.set_enabled(False)  # already disabled: nothing to do
    assert mapping.set_enabled(True)
    assert sync_entries() == ["sync:CUSTOMER"]


def test_bulk_disable_and_enable_keep_the_entries_in_step(admin_client, mapping):
    other = make("VENDOR")
    third = make("CONTACT")
    response = admin_client.post(reverse("mappings:tablemapping_bulk_disable"),
                                 {"pk": [mapping.pk, other.pk]})
    assert response.status_code == 302
    assert sync_entries() == ["sync:CONTACT"]
    assert not TableMapping.objects.get(pk=other.pk).is_enabled
    admin_client.post(reverse("mappings:tablemapping_bulk_enable"),
                      {"pk": [mapping.pk, other.pk, third.pk]})
    assert sync_entries() == ["sync:CONTACT", "sync:CUSTOMER", "sync:VENDOR"]
    assert TableMapping.objects.filter(is_enabled=True).count() == 3


def test_a_queryset_update_keeps_the_entries_in_step_too(mapping):
    make("VENDOR")
    TableMapping.objects.update(is_enabled=False)
    assert sync_entries() == []
    TableMapping.objects.update(is_enabled=True, schedule_minutes=5)
    assert sync_entries() == ["sync:CUSTOMER", "sync:VENDOR"]
    assert set(Schedule.objects.filter(func=schedules.SCHEDULE_FUNC)
               .values_list("minutes", flat=True)) == {5}
    TableMapping.objects.filter(pk=mapping.pk).update(name="CUSTOMERS")
    assert sync_entries() == ["sync:CUSTOMERS", "sync:VENDOR"]


def test_a_shorter_interval_takes_effect_at_once(mapping):
    schedules.mapping_schedules(mapping.pk).update(next_run=timezone.now() + timezone.timedelta(
        hours=5))
    mapping.set_schedule_minutes(10)
    [entry] = entries_of(mapping)
    assert entry.minutes == 10
    assert entry.next_run <= timezone.now() + timezone.timedelta(minutes=10)


@pytest.mark.parametrize("minutes", [0, MAX_SCHEDULE_MINUTES + 1, "ten"])
def test_an_interval_out_of_range_is_refused(mapping, minutes):
    with pytest.raises(ValidationError):
        mapping.set_schedule_minutes(minutes)
    assert entries_of(mapping)[0].minutes == 30


def test_resetting_watermarks_keeps_the_entry(admin_client, mapping):
    TableMapping.objects.filter(pk=mapping.pk).update(local_synced_until=timezone.now(),
                                                      remote_synced_until=timezone.now())
    before = entries_of(mapping)[0]
    admin_client.post(reverse("mappings:tablemapping_reset_watermarks", args=[mapping.pk]))
    mapping.refresh_from_db()
    assert mapping.local_synced_until is None and mapping.remote_synced_until is None
    assert [(e.pk, e.name) for e in entries_of(mapping)] == [(before.pk, before.name)]


def test_the_migration_rekeys_existing_entries(mapping):
    """Entries as the name-keyed code left them: a renamed mapping with its old and new entry,
    a disabled mapping with one, an enabled one without, one of a deleted mapping."""
    migration = importlib.import_module(
        "couplings_app.migrations.0006_job_queue_entries_keyed_by_mapping")
    disabled, bare = make("VENDOR"), make("CONTACT")
    TableMapping.objects.filter(pk=disabled.pk).update(is_enabled=False)
    TableMapping.objects.filter(pk=mapping.pk).update(name="CUSTOMERS")
    # What was there before: entries keyed by name, the old one of the renamed mapping on hold.
    Schedule.objects.filter(func=schedules.SCHEDULE_FUNC).delete()
    old = dict(func=schedules.SCHEDULE_FUNC, schedule_type=Schedule.MINUTES, minutes=30)
    Schedule.objects.create(name="sync:CUSTOMER", args=repr((mapping.pk,)), repeats=0, **old)
    Schedule.objects.create(name="sync:VENDOR", args=repr((disabled.pk,)), **old)
    Schedule.objects.create(name="sync:GONE", args=repr((mapping.pk + 1000,)), **old)
    JobQueueHold.objects.create(schedule_name="sync:CUSTOMER")
    JobQueueHold.objects.create(schedule_name="sync:GONE")

    editor = type("Editor", (), {"connection": connection})()
    migration.rekey(apps, editor)

    assert sync_entries() == ["sync:CONTACT", "sync:CUSTOMERS"]
    [renamed] = entries_of(TableMapping.objects.get(pk=mapping.pk))
    assert renamed.repeats == 0 and renamed.hook == schedules.SCHEDULE_HOOK
    assert list(JobQueueHold.objects.values_list("schedule_name", flat=True)) == [
        "sync:CUSTOMERS"]
    assert len(entries_of(bare)) == 1
