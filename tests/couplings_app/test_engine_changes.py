"""End-to-end, the default setup and the demo data against the embedded CRM over HTTP: the
changes after the first synchronization. Whose change goes where (a person's, the integration
user's, the ERP's), conflict and deletion policies, watermarks, Synchronize Now, the overlap
window, an ERP change not yet sent, what a full synchronization compares again."""

from decimal import Decimal

import pytest

from couplings_app.choices import JobStatus, SyncResult
from couplings_app.models import Coupling, SyncError
from couplings_app.sync.runner import synchronize, synchronize_records
from erp_app.models import Customer
from mappings_app.choices import DeletionConflictResolution, Direction, UpdateConflictResolution
from mappings_app.models import TableMapping
from tests.couplings_app.engine import account_of, by_name, couple_and_full_sync

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])


def test_changes_made_by_the_integration_user_are_not_synchronized(crm, demo):
    couple_and_full_sync(crm, demo)
    customer = Customer.objects.filter(salesperson__code="JR").first()
    account = account_of(crm, customer)
    crm.update("accounts", account["accountid"], {"address1_city": "Echo City"})
    synchronize(demo["CUSTOMER"], client=crm, direction=Direction.FROM_CRM)
    customer.refresh_from_db()
    assert customer.city != "Echo City"


def test_a_crm_users_change_comes_back_and_is_not_echoed(crm, demo, as_crm_user):
    couple_and_full_sync(crm, demo)
    customer = Customer.objects.filter(salesperson__code="JR").first()
    account = account_of(crm, customer)
    as_crm_user.update("accounts", account["accountid"], {"address1_city": "Springfield"})
    jobs = synchronize(demo["CUSTOMER"], client=crm)
    customer.refresh_from_db()
    assert customer.city == "Springfield"
    assert by_name(jobs, "CUSTOMER", Direction.FROM_CRM)[0].modified == 1
    version = crm.get("accounts", account["accountid"])["versionnumber"]
    again = synchronize(demo["CUSTOMER"], client=crm)
    assert sum(j.modified + j.inserted for j in again) == 0
    assert crm.get("accounts", account["accountid"])["versionnumber"] == version


def test_an_erp_change_goes_to_the_crm(crm, demo):
    couple_and_full_sync(crm, demo)
    customer = Customer.objects.filter(salesperson__code="JR").first()
    customer.phone_no = "+1 555 0000"
    customer.save()
    jobs = synchronize(demo["CUSTOMER"], client=crm)
    assert by_name(jobs, "CUSTOMER", Direction.TO_CRM)[0].modified == 1
    assert account_of(crm, customer)["telephone1"] == "+1 555 0000"


@pytest.mark.parametrize("policy", [UpdateConflictResolution.NONE, UpdateConflictResolution.SEND,
                                    UpdateConflictResolution.GET])
def test_conflict_policies(crm, demo, as_crm_user, policy):
    couple_and_full_sync(crm, demo)
    TableMapping.objects.filter(name="CUSTOMER").update(update_conflict_resolution=policy)
    mapping = TableMapping.objects.get(name="CUSTOMER")
    customer = Customer.objects.filter(salesperson__code="JR").first()
    account = account_of(crm, customer)
    as_crm_user.update("accounts", account["accountid"], {"name": "Changed in CRM"})
    customer.name = "Changed in ERP"
    customer.save()
    jobs = synchronize(mapping, client=crm)
    customer.refresh_from_db()
    crm_name = crm.get("accounts", account["accountid"])["name"]
    coupling = Coupling.objects.get(local_model="erp_app.customer", local_id=customer.pk)
    if policy == UpdateConflictResolution.NONE:
        assert (customer.name, crm_name) == ("Changed in ERP", "Changed in CRM")
        assert coupling.skipped
        assert coupling.conflict_local["name"] == "Changed in ERP"
        assert by_name(jobs, "CUSTOMER", Direction.TO_CRM)[0].skipped == 1
    elif policy == UpdateConflictResolution.SEND:
        assert customer.name == crm_name == "Changed in ERP"
        assert not coupling.skipped
    else:
        assert customer.name == crm_name == "Changed in CRM"


def test_deleted_crm_record_gives_the_seeds_error(crm, demo):
    couple_and_full_sync(crm, demo)
    customer = Customer.objects.filter(salesperson__code="JR").first()
    account = account_of(crm, customer)
    crm.delete("accounts", account["accountid"])
    customer.city = "Elsewhere"
    customer.save()
    jobs = synchronize(demo["CUSTOMER"], client=crm, direction=Direction.TO_CRM)
    assert jobs[0].failed >= 1
    error = SyncError.objects.get(job=jobs[0], local_id=customer.pk)
    assert f"Customer {customer.no} is coupled to a deleted CRM account" in error.message


@pytest.mark.parametrize("policy", [DeletionConflictResolution.REMOVE_COUPLING,
                                    DeletionConflictResolution.RESTORE])
def test_deletion_policies(crm, demo, policy):
    couple_and_full_sync(crm, demo)
    TableMapping.objects.filter(name="CUSTOMER").update(deletion_conflict_resolution=policy)
    customer = Customer.objects.filter(salesperson__code="JR").first()
    old = account_of(crm, customer)["accountid"]
    crm.delete("accounts", old)
    customer.city = "Elsewhere"
    customer.save()
    synchronize(TableMapping.objects.get(name="CUSTOMER"), client=crm,
                direction=Direction.TO_CRM)
    coupling = Coupling.objects.filter(local_model="erp_app.customer", local_id=customer.pk)
    if policy == DeletionConflictResolution.REMOVE_COUPLING:
        assert not coupling.exists()
    else:
        assert str(coupling.get().remote_id) != old
        assert account_of(crm, customer)["address1_city"] == "Elsewhere"


def test_watermarks_move_forward_in_both_directions(crm, demo):
    couple_and_full_sync(crm, demo)
    mapping = TableMapping.objects.get(name="CUSTOMER")
    first = (mapping.local_synced_until, mapping.remote_synced_until)
    assert all(first)
    synchronize(mapping, client=crm)
    mapping.refresh_from_db()
    assert mapping.local_synced_until > first[0]
    assert mapping.remote_synced_until > first[1]


def test_synchronize_now_one_record(crm, demo):
    couple_and_full_sync(crm, demo)
    customer = Customer.objects.filter(salesperson__code="JR").first()
    Customer.objects.filter(pk=customer.pk).update(fax_no="+1 555 9999")
    job = synchronize_records(demo["CUSTOMER"], Direction.TO_CRM, client=crm,
                              local_ids=[customer.pk])
    assert (job.modified, job.status) == (1, JobStatus.SUCCEEDED)
    assert account_of(crm, customer)["fax"] == "+1 555 9999"


def test_records_read_again_in_the_overlap_window_are_not_candidates(crm, demo):
    couple_and_full_sync(crm, demo)
    # Right after a run every record is inside the watermark's overlap window: read again, but
    # those synchronized as they are drop out in the query, and a changed one does not.
    failed = Coupling.objects.filter(local_model="erp_app.customer",
                                     last_result_to_crm=SyncResult.FAILURE).count()
    job = synchronize(demo["CUSTOMER"], direction=Direction.TO_CRM, client=crm)[0]
    # Only the demo's failing customers (salespeople without a CRM user) are tried again.
    assert (job.status, job.progress_total, job.unchanged) == (JobStatus.SUCCEEDED, failed, 0)
    customer = Customer.objects.filter(salesperson__code="JR").first()
    customer.city = "Changed since"
    customer.save()
    job = synchronize(demo["CUSTOMER"], direction=Direction.TO_CRM, client=crm)[0]
    assert (job.progress_total, job.modified) == (failed + 1, 1)
    assert account_of(crm, customer)["address1_city"] == "Changed since"


def credit_limit_not_yet_sent(crm, demo):
    """A synchronized customer whose credit limit (synchronized to the CRM only) is then edited
    in the ERP; returns it and its account."""
    couple_and_full_sync(crm, demo)
    customer = Customer.objects.filter(salesperson__code="JR").first()
    account = account_of(crm, customer)
    customer.credit_limit_lcy = Decimal("4321.00")
    customer.save()
    return customer, account


def test_an_erp_change_not_yet_sent_survives_a_run_from_the_crm(crm, demo, as_crm_user):
    # A person edits the account meanwhile, and a run from the CRM reads it: that run must not
    # stamp the customer as synchronized, or the next run would take the credit limit for sent
    # and never send it.
    customer, account = credit_limit_not_yet_sent(crm, demo)
    as_crm_user.update("accounts", account["accountid"], {"description": "Called on Monday"})
    synchronize(demo["CUSTOMER"], client=crm, direction=Direction.FROM_CRM)
    jobs = synchronize(demo["CUSTOMER"], client=crm)
    assert by_name(jobs, "CUSTOMER", Direction.TO_CRM)[0].modified == 1
    assert Decimal(str(account_of(crm, customer)["creditlimit"])) == Decimal("4321.00")


def test_an_erp_change_not_yet_sent_survives_the_crms_change_taken_by_policy(
        crm, demo, as_crm_user):
    TableMapping.objects.filter(name="CUSTOMER").update(
        update_conflict_resolution=UpdateConflictResolution.GET)
    mapping = TableMapping.objects.get(name="CUSTOMER")
    customer, account = credit_limit_not_yet_sent(crm, demo)
    as_crm_user.update("accounts", account["accountid"], {"address1_city": "Changed in CRM"})
    synchronize(mapping, client=crm, direction=Direction.FROM_CRM)
    customer.refresh_from_db()
    assert customer.city == "Changed in CRM"
    synchronize(mapping, client=crm)
    remote = account_of(crm, customer)
    assert Decimal(str(remote["creditlimit"])) == Decimal("4321.00")
    assert remote["address1_city"] == "Changed in CRM"


@pytest.fixture
def compared_rows(monkeypatch):
    """The CRM ids whose row the CRM → ERP direction converts and compares, run after run."""
    from couplings_app.sync.from_crm import FromCrm

    seen = []
    original = FromCrm.values

    def values(self, row, *args, **kwargs):
        seen.append(str(row[self.run.key]).lower())
        return original(self, row, *args, **kwargs)

    monkeypatch.setattr(FromCrm, "values", values)
    return seen


def coupled_accounts():
    return {str(r).lower() for r in Coupling.objects.filter(
        local_model="erp_app.customer", pending_create=False).values_list("remote_id", flat=True)}


def test_a_full_synchronization_compares_again_only_rows_its_first_half_left_different(
        crm, demo, as_crm_user, compared_rows):
    couple_and_full_sync(crm, demo)
    customer = Customer.objects.filter(salesperson__code="JR").first()
    account = account_of(crm, customer)
    as_crm_user.update("accounts", account["accountid"], {"address1_city": "Changed in CRM"})
    compared_rows.clear()
    jobs = synchronize(demo["CUSTOMER"], client=crm, full=True)
    # The person's change is the only row the ERP → CRM half left different: compared, taken.
    assert set(compared_rows) & coupled_accounts() == {account["accountid"].lower()}
    customer.refresh_from_db()
    assert customer.city == "Changed in CRM"
    from_crm = by_name(jobs, "CUSTOMER", Direction.FROM_CRM)[0]
    assert (from_crm.status, from_crm.modified) == (JobStatus.SUCCEEDED, 1)
    # Nothing is left to do: the next full run changes nothing on either side.
    again = synchronize(demo["CUSTOMER"], client=crm, full=True)
    assert sum(j.modified + j.inserted for j in again) == 0


def test_a_full_synchronization_compares_every_row_when_a_field_syncs_from_the_crm_only(
        crm, demo, as_crm_user, compared_rows):
    couple_and_full_sync(crm, demo)
    demo["CUSTOMER"].field_mappings.filter(remote_attribute="fax").update(
        direction=Direction.FROM_CRM)
    customer = Customer.objects.filter(salesperson__code="JR").first()
    account = account_of(crm, customer)
    # Written by the integration user (a fax set by an earlier setup, say): a full run is what
    # brings a field that starts to sync from the CRM into the ERP.
    crm.update("accounts", account["accountid"], {"fax": "+1 555 0199"})
    compared_rows.clear()
    synchronize(demo["CUSTOMER"], client=crm, full=True)
    assert coupled_accounts() <= set(compared_rows)
    customer.refresh_from_db()
    assert customer.fax_no == "+1 555 0199"


def test_a_persons_change_survives_the_erp_restoring_a_field_only_it_sends(
        crm, demo, as_crm_user):
    # A retried customer whose account a person edited: the credit limit (sent by the ERP only)
    # is restored, which makes the sync the account's last editor; the person's new name must
    # still come back to the ERP.
    couple_and_full_sync(crm, demo)
    customer = Customer.objects.filter(salesperson__code="JR").first()
    account = account_of(crm, customer)
    Coupling.objects.filter(local_model="erp_app.customer", local_id=customer.pk).update(
        last_result_to_crm=SyncResult.FAILURE)
    as_crm_user.update("accounts", account["accountid"],
                       {"name": "Renamed in CRM", "creditlimit": 1})
    synchronize(demo["CUSTOMER"], client=crm)
    customer.refresh_from_db()
    remote = account_of(crm, customer)
    assert Decimal(str(remote["creditlimit"])) == customer.credit_limit_lcy
    assert customer.name == remote["name"] == "Renamed in CRM"
