"""Runs from the CRM read by Dataverse change tracking (the mapping's delta link), end to end
against the embedded CRM over HTTP: what a person changed is taken, nothing outside the
Integration Table Filter, no echo of the sync's own writes; a deletion is seen without a scan;
an expired token or a table without change tracking falls back to the watermark; a run that dies
before its link is saved reads the same changes again without a duplicate."""

from urllib.parse import unquote

import pytest

from couplings_app.choices import JobStatus
from couplings_app.models import Coupling, SyncError
from couplings_app.sync import runner
from couplings_app.sync.runner import synchronize
from crm_emulator import changes
from crm_emulator.errors import ApiError
from erp_app.models import Customer
from mappings_app.choices import DeletionConflictResolution, Direction
from mappings_app.models import TableMapping
from tests.couplings_app.engine import account_of, couple_and_full_sync

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])


@pytest.fixture
def synced(crm, demo):
    """The demo coupled and synchronized in full (which establishes the delta links)."""
    couple_and_full_sync(crm, demo)
    yield TableMapping.objects.get(name="CUSTOMER")
    changes.set_expire_days(None)


@pytest.fixture
def requests_sent(crm, monkeypatch):
    """The paths of the requests the sync's client sends, decoded."""
    sent = []
    request = crm.transport.request

    def spy(method, path, *args, **kwargs):
        sent.append(unquote(str(path)))
        return request(method, path, *args, **kwargs)

    monkeypatch.setattr(crm.transport, "request", spy)
    return sent


def a_customer():
    return Customer.objects.filter(salesperson__code="JR").order_by("pk").first()


def from_crm(mapping, crm, **kwargs):
    [job] = synchronize(mapping, client=crm, direction=Direction.FROM_CRM, **kwargs)
    return job


def by_link(sent) -> bool:
    return any("$deltatoken" in path for path in sent)


def watermark_read(sent) -> bool:
    return any("modifiedon gt" in path for path in sent)


def test_a_full_run_establishes_the_delta_link(synced):
    assert "$deltatoken" in unquote(synced.remote_delta_link)


def test_a_crm_users_change_is_taken_through_the_delta_link(crm, synced, as_crm_user,
                                                             requests_sent):
    customer = a_customer()
    account = account_of(crm, customer)
    old_link = synced.remote_delta_link
    as_crm_user.update("accounts", account["accountid"], {"address1_city": "Springfield"})
    job = from_crm(synced, crm)
    customer.refresh_from_db()
    assert customer.city == "Springfield"
    assert job.modified == 1
    assert by_link(requests_sent) and not watermark_read(requests_sent)
    synced.refresh_from_db()
    assert synced.remote_delta_link and synced.remote_delta_link != old_link


def test_a_change_outside_the_integration_table_filter_is_not_taken(crm, synced, as_crm_user,
                                                                     requests_sent):
    customer = a_customer()
    account = account_of(crm, customer)
    TableMapping.objects.filter(pk=synced.pk).update(
        remote_filter=f"{synced.remote_filter} and address1_city ne 'Outside'")
    synced.refresh_from_db()
    as_crm_user.update("accounts", account["accountid"], {"address1_city": "Outside"})
    job = from_crm(synced, crm)
    customer.refresh_from_db()
    assert customer.city != "Outside"
    assert (job.status, job.modified) == (JobStatus.SUCCEEDED, 0)
    assert by_link(requests_sent)


def test_the_syncs_own_writes_are_not_taken_back(crm, synced, requests_sent):
    customer = a_customer()
    account = account_of(crm, customer)
    crm.update("accounts", account["accountid"], {"address1_city": "Echo City"})
    job = from_crm(synced, crm)
    customer.refresh_from_db()
    assert customer.city != "Echo City"
    assert job.modified == 0
    assert by_link(requests_sent)


def test_a_crm_delete_is_seen_without_a_scan_and_reported(crm, synced, requests_sent):
    customer = a_customer()
    coupling = Coupling.objects.get(local_model="erp_app.customer", local_id=customer.pk)
    crm.delete("accounts", str(coupling.remote_id))
    job = from_crm(synced, crm)
    coupling.refresh_from_db()
    assert (coupling.deleted_side, coupling.skipped) == ("remote", True)
    [error] = SyncError.objects.filter(job=job)
    assert "is coupled to a deleted CRM account" in error.message
    assert by_link(requests_sent) and not watermark_read(requests_sent)
    # Reported once: the next run says nothing new.
    again = from_crm(synced, crm)
    assert again.failed == 0


def test_a_crm_delete_with_remove_coupling_removes_it(crm, synced):
    TableMapping.objects.filter(pk=synced.pk).update(
        deletion_conflict_resolution=DeletionConflictResolution.REMOVE_COUPLING)
    synced.refresh_from_db()
    customer = a_customer()
    coupling = Coupling.objects.get(local_model="erp_app.customer", local_id=customer.pk)
    crm.delete("accounts", str(coupling.remote_id))
    from_crm(synced, crm)
    assert not Coupling.objects.filter(pk=coupling.pk).exists()
    assert Customer.objects.filter(pk=customer.pk).exists()


def test_a_crm_delete_with_restore_records_is_created_again(crm, synced):
    TableMapping.objects.filter(pk=synced.pk).update(
        deletion_conflict_resolution=DeletionConflictResolution.RESTORE)
    synced.refresh_from_db()
    customer = a_customer()
    coupling = Coupling.objects.get(local_model="erp_app.customer", local_id=customer.pk)
    crm.delete("accounts", str(coupling.remote_id))
    from_crm(synced, crm)  # sees the deletion: the next run to the CRM restores it
    synchronize(synced, client=crm)
    coupling.refresh_from_db()
    restored = crm.get("accounts", str(coupling.remote_id))
    assert restored["name"] == customer.name
    assert not coupling.skipped and not coupling.deleted_side


def test_an_expired_token_falls_back_to_the_watermark_and_renews(crm, synced, as_crm_user,
                                                                requests_sent):
    customer = a_customer()
    account = account_of(crm, customer)
    old_link = synced.remote_delta_link
    as_crm_user.update("accounts", account["accountid"], {"address1_city": "Expired"})
    changes.set_expire_days(0)
    job = from_crm(synced, crm)
    customer.refresh_from_db()
    assert (job.status, customer.city) == (JobStatus.SUCCEEDED, "Expired")
    assert watermark_read(requests_sent)
    synced.refresh_from_db()
    assert synced.remote_delta_link and synced.remote_delta_link != old_link
    changes.set_expire_days(None)
    requests_sent.clear()
    as_crm_user.update("accounts", account["accountid"], {"address1_city": "Renewed"})
    from_crm(synced, crm)
    customer.refresh_from_db()
    assert customer.city == "Renewed"
    assert by_link(requests_sent) and not watermark_read(requests_sent)


def test_a_table_without_change_tracking_still_synchronizes_by_watermark(
        crm, synced, as_crm_user, requests_sent, monkeypatch):
    def not_tracked(entity, params):
        raise ApiError(400, "0x80072491",
                       f"Entity {entity.logical_name} isn't enabled for change tracking.")

    monkeypatch.setattr(changes, "check_request", not_tracked)
    customer = a_customer()
    account = account_of(crm, customer)
    as_crm_user.update("accounts", account["accountid"], {"address1_city": "Untracked"})
    job = from_crm(synced, crm)
    customer.refresh_from_db()
    assert (job.status, customer.city) == (JobStatus.SUCCEEDED, "Untracked")
    assert watermark_read(requests_sent)
    synced.refresh_from_db()
    assert synced.remote_delta_link == ""
    as_crm_user.update("accounts", account["accountid"], {"address1_city": "Still"})
    from_crm(synced, crm)
    customer.refresh_from_db()
    assert customer.city == "Still"


def test_a_run_that_dies_before_its_link_is_saved_reads_the_changes_again(
        crm, synced, as_crm_user, monkeypatch):
    customer = a_customer()
    account = account_of(crm, customer)
    as_crm_user.update("accounts", account["accountid"], {"address1_city": "Twice"})
    new_id = as_crm_user.create("accounts", {
        "name": "Created in the CRM", "accountnumber": "NEW-1", "customertypecode": 3,
        "address1_city": "Boston"})
    old_link = synced.remote_delta_link

    def dies(*args, **kwargs):
        raise RuntimeError("killed")

    monkeypatch.setattr(runner, "move_watermark", dies)
    job = from_crm(synced, crm, only_coupled=False)
    assert job.status == JobStatus.FAILED
    customer.refresh_from_db()
    assert customer.city == "Twice"  # its pages were done
    synced.refresh_from_db()
    assert synced.remote_delta_link == old_link
    monkeypatch.undo()

    again = from_crm(synced, crm, only_coupled=False)
    assert again.status == JobStatus.SUCCEEDED
    assert again.inserted == 0 and again.modified == 0
    assert Customer.objects.filter(name="Created in the CRM").count() == 1
    assert Coupling.objects.filter(remote_id=new_id).count() == 1
    synced.refresh_from_db()
    assert synced.remote_delta_link != old_link
