"""The connection's and the mappings' state changes are methods of the models (and of a queryset
of mappings), and each keeps the job queue entries in step, a bulk statement included."""

import pytest
from django.utils import timezone
from django_q.models import Schedule

from couplings_app import schedules
from mappings_app.models import Connection, TableMapping

pytestmark = pytest.mark.django_db


def make(name, **values):
    return TableMapping.objects.create(
        name=name, local_model="erp_app.customer", remote_entity="account",
        remote_entity_set="accounts", remote_key="accountid", **values)


def sync_entries():
    entries = Schedule.objects.filter(func=schedules.SCHEDULE_FUNC)
    return sorted(entries.values_list("name", flat=True))


def test_enabling_and_disabling_the_connection_are_its_methods():
    connection = Connection.get()
    assert connection.set_enabled(True)
    assert not connection.set_enabled(True)  # already enabled: nothing written
    assert Connection.objects.get(pk=connection.pk).is_enabled
    assert connection.set_enabled(False)
    assert not Connection.objects.get(pk=connection.pk).is_enabled


def test_enabling_the_connection_keeps_a_test_result_saved_meanwhile():
    connection = Connection.get()
    Connection.objects.filter(pk=connection.pk).update(last_test_message="Connected.")
    connection.set_enabled(True)
    assert Connection.objects.get(pk=connection.pk).last_test_message == "Connected."


def test_synch_only_coupled_records_is_set_and_restored_by_methods():
    customer = make("CUSTOMER")
    vendor = make("VENDOR", sync_only_coupled=False)
    assert customer.set_sync_only_coupled(False)
    assert not customer.set_sync_only_coupled(False)
    assert TableMapping.objects.set_sync_only_coupled(True) == 2
    assert TableMapping.objects.filter(pk=vendor.pk).set_sync_only_coupled(True) == 0
    assert set(TableMapping.objects.values_list("sync_only_coupled", flat=True)) == {True}
    assert sync_entries() == ["sync:CUSTOMER", "sync:VENDOR"]


def test_resetting_the_watermarks_of_several_mappings():
    now = timezone.now()
    make("CUSTOMER", local_synced_until=now, remote_synced_until=now)
    make("VENDOR", local_synced_until=now)
    assert TableMapping.objects.reset_watermarks() == 2
    assert set(TableMapping.objects.values_list("local_synced_until", "remote_synced_until")) \
        == {(None, None)}
    assert sync_entries() == ["sync:CUSTOMER", "sync:VENDOR"]


def test_a_bulk_update_keeps_the_entries_in_step():
    mappings = [make("CUSTOMER"), make("VENDOR")]
    for mapping in mappings:
        mapping.is_enabled = False
    TableMapping.objects.bulk_update(mappings, ["is_enabled"])
    assert sync_entries() == []
    mappings[0].is_enabled = True
    mappings[0].name = "CUSTOMERS"
    TableMapping.objects.bulk_update(mappings[:1], ["is_enabled", "name"])
    assert sync_entries() == ["sync:CUSTOMERS"]
