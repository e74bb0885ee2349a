"""What happens after a record's first synchronization: values the ERP gives a record the CRM
created reach the CRM, and a conflict is no longer listed once both sides agree."""

import pytest

from couplings_app.choices import JobStatus
from couplings_app.models import Coupling
from couplings_app.sync.coupling import match_based_coupling
from couplings_app.sync.runner import synchronize
from erp_app.models import Customer
from mappings_app.choices import Direction

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])


@pytest.fixture
def ready(crm, demo):
    for name in ("CURRENCY", "SALESPEOPLE"):
        match_based_coupling(demo[name], client=crm)
        synchronize(demo[name], client=crm, full=True, only_coupled=False)
    return demo


def test_the_number_the_erp_gives_a_crm_created_customer_reaches_the_crm(crm, ready,
                                                                         as_crm_user):
    made = as_crm_user.create("accounts", {"name": "Tailspin Toys", "customertypecode": 3})
    [_, pulled] = synchronize(ready["CUSTOMER"], client=crm, only_coupled=False)
    assert pulled.status == JobStatus.SUCCEEDED and pulled.inserted >= 1, pulled.message
    coupling = Coupling.objects.get(local_model="erp_app.customer", remote_id=made)
    customer = Customer.objects.get(pk=coupling.local_id)
    assert customer.no.startswith("CRM")  # from the series: the CRM had no number

    [pushed, _] = synchronize(ready["CUSTOMER"], client=crm, only_coupled=False)

    assert pushed.modified == pulled.inserted, pushed.message  # each new customer's number
    assert crm.get("accounts", str(made))["accountnumber"] == customer.no
    [again, back] = synchronize(ready["CUSTOMER"], client=crm, only_coupled=False)
    assert (again.modified, back.modified, back.inserted) == (0, 0, 0)  # no echo


def test_a_conflict_is_no_longer_listed_once_both_sides_agree(crm, ready, as_crm_user):
    match_based_coupling(ready["CUSTOMER"], client=crm)
    coupling = Coupling.objects.filter(local_model="erp_app.customer").order_by("pk").first()
    Customer.objects.filter(pk=coupling.local_id).update(salesperson=None)
    synchronize(ready["CUSTOMER"], client=crm)
    # Both sides change the phone number: a conflict, listed with both versions.
    Customer.objects.filter(pk=coupling.local_id).update(phone_no="+1 555 0101")
    as_crm_user.update("accounts", str(coupling.remote_id), {"telephone1": "+1 555 0202"})
    [job, _] = synchronize(ready["CUSTOMER"], client=crm)
    coupling.refresh_from_db()
    assert job.skipped == 1 and coupling.skipped and coupling.conflict_remote
    # A person makes them agree in the CRM; the next run finds nothing left to decide.
    as_crm_user.update("accounts", str(coupling.remote_id), {"telephone1": "+1 555 0101"})

    synchronize(ready["CUSTOMER"], client=crm, direction=Direction.FROM_CRM)

    coupling.refresh_from_db()
    assert not coupling.skipped
    assert coupling.conflict_local is None and coupling.conflict_remote is None
