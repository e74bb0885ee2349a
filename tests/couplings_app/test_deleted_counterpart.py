"""A coupled record deleted on either side keeps its coupling, is reported, and the mapping's
deletion-conflict resolution applies the same way (seed 002: "Deleting a coupled record on either
end will create error messages that the product is unable to update the deleted records")."""

import pytest

from couplings_app.choices import JobStatus
from couplings_app.models import Coupling, SyncError
from couplings_app.sync.coupling import match_based_coupling
from couplings_app.sync.runner import synchronize
from erp_app.models import Customer
from mappings_app.choices import DeletionConflictResolution, Direction
from tests.couplings_app.engine import synchronize_basics

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])


@pytest.fixture
def coupled(crm, demo):
    """A customer coupled to its account, synchronized once."""
    synchronize_basics(crm, demo)
    match_based_coupling(demo["CUSTOMER"], client=crm)
    coupling = Coupling.objects.filter(local_model="erp_app.customer").order_by("pk").first()
    customer = Customer.objects.get(pk=coupling.local_id)
    Customer.objects.filter(pk=customer.pk).update(salesperson=None)
    synchronize(demo["CUSTOMER"], client=crm)
    customer.refresh_from_db()
    coupling.refresh_from_db()
    return customer, coupling


def delete(customer):
    pk = customer.pk
    customer.posted_invoices.all().delete()
    customer.delete()
    customer.pk = pk  # (Django clears it)


def set_policy(demo, policy):
    demo["CUSTOMER"].deletion_conflict_resolution = policy
    demo["CUSTOMER"].save()


def test_an_erp_delete_keeps_the_coupling_and_reports_it(crm, demo, coupled, as_crm_user):
    customer, coupling = coupled
    delete(customer)

    coupling.refresh_from_db()  # still there
    assert (coupling.deleted_side, coupling.skipped) == ("local", True)
    [error] = SyncError.objects.filter(local_model="erp_app.customer", local_id=customer.pk)
    assert error.message.startswith(f"Customer {customer.no} was deleted in the ERP; it stays "
                                    "coupled to CRM account")
    assert crm.get("accounts", str(coupling.remote_id))  # the CRM record is left alone
    # A person's later change of the account does not vanish without a word.
    as_crm_user.update("accounts", str(coupling.remote_id), {"telephone1": "+1 555 0199"})
    [_, job] = synchronize(demo["CUSTOMER"], client=crm)
    assert job.status == JobStatus.SUCCEEDED and job.failed == 1
    [error] = SyncError.objects.filter(job=job)
    assert "was deleted in the ERP" in error.message and "cannot" not in error.message
    assert not Customer.objects.filter(name=customer.name, no__startswith="CRM").exists()


def test_an_erp_delete_with_remove_coupling_removes_it(crm, demo, coupled):
    customer, coupling = coupled
    set_policy(demo, DeletionConflictResolution.REMOVE_COUPLING)
    delete(customer)
    assert not Coupling.objects.filter(pk=coupling.pk).exists()
    assert crm.get("accounts", str(coupling.remote_id))


def test_an_erp_delete_with_restore_is_created_again_by_the_next_run(crm, demo, coupled):
    customer, coupling = coupled
    set_policy(demo, DeletionConflictResolution.RESTORE)
    delete(customer)
    [_, job] = synchronize(demo["CUSTOMER"], client=crm)
    assert job.status == JobStatus.SUCCEEDED, job.message
    assert job.inserted == 1, list(SyncError.objects.filter(job=job).values_list("message"))
    restored = Coupling.objects.get(local_model="erp_app.customer",
                                    remote_id=coupling.remote_id)
    assert Customer.objects.get(pk=restored.local_id).name == customer.name
    assert restored.deleted_side == ""


def test_a_crm_delete_is_reported_once_not_by_every_run(crm, demo, coupled):
    customer, coupling = coupled
    crm.delete("accounts", str(coupling.remote_id))
    Customer.objects.filter(pk=customer.pk).update(phone_no="+1 555 0142")
    [job, _] = synchronize(demo["CUSTOMER"], client=crm, direction=None)
    assert job.direction == Direction.TO_CRM and job.failed == 1
    [error] = SyncError.objects.filter(job=job)
    assert error.message.startswith(f"Customer {customer.no} is coupled to a deleted CRM account")
    coupling.refresh_from_db()
    assert (coupling.deleted_side, coupling.skipped) == ("remote", True)
    [again, _] = synchronize(demo["CUSTOMER"], client=crm)
    assert again.failed == 0  # listed with the skipped records, not failed by every run
