"""What happens after a record's first synchronization: values the ERP gives a record the CRM
created reach the CRM, and a conflict is no longer listed once both sides agree."""

import pytest

from couplings_app.choices import JobStatus
from couplings_app.models import Coupling
from couplings_app.sync.coupling import match_based_coupling
from couplings_app.sync.runner import synchronize
from erp_app.models import Customer
from mappings_app.choices import Direction
from tests.couplings_app.engine import synchronize_basics

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])


@pytest.fixture
def ready(crm, demo):
    synchronize_basics(crm, demo)
    return demo


def test_the_number_the_erp_gives_a_crm_created_customer_reaches_the_crm(crm, ready,
                                                                         as_crm_user):
    made = as_crm_user.create("accounts", {"name": "Tailspin Toys", "customertypecode": 3})
    [_, pulled] = synchronize(ready["CUSTOMER"], client=crm, only_coupled=False)
    assert pulled.status == JobStatus.SUCCEEDED and pulled.inserted >= 1, pulled.message
    coupling = Coupling.objects.get(local_model="erp_app.customer", remote_id=made)
    customer = Customer.objects.get(pk=coupling.local_id)
    assert customer.no.startswith("CRM")  # from the series: the CRM had no number
    # ...and the same run gave it to the account: the sides agree when the run ends.
    assert crm.get("accounts", str(made))["accountnumber"] == customer.no

    [again, back] = synchronize(ready["CUSTOMER"], client=crm, only_coupled=False)

    assert (again.modified, back.modified, back.inserted) == (0, 0, 0)  # nothing left, no echo


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


def test_updates_whose_answer_was_lost_are_not_reported_failed(crm, ready, monkeypatch):
    """The CRM carries out an update `$batch`, then the connection drops before its answer; the
    client sends it again and every PATCH meets 412 (the first attempt changed the version). The
    rows hold what was sent, changed by the sync's own user: written, not failed."""
    from crm_emulator import faults

    match_based_coupling(ready["CUSTOMER"], client=crm)
    Customer.objects.filter(salesperson__code="RB").update(salesperson=None)
    synchronize(ready["CUSTOMER"], client=crm, direction=Direction.TO_CRM)
    coupled = list(Coupling.objects.filter(local_model="erp_app.customer",
                                           pending_create=False).values_list("local_id",
                                                                             flat=True))
    Customer.objects.filter(pk__in=coupled).update(fax_no="+1 555 0177")
    slept = []
    monkeypatch.setattr(crm.transport, "sleep",
                        lambda seconds: (slept.append(seconds), faults.clear_faults()))
    real_write = crm.write

    def write(operations, **options):
        faults.set_faults(drop_rate=1.0)  # carried out, then the connection dropped
        return real_write(operations, **options)

    monkeypatch.setattr(crm, "write", write)
    try:
        [job] = synchronize(ready["CUSTOMER"], client=crm, direction=Direction.TO_CRM)
    finally:
        faults.clear_faults()

    assert slept, "no answer was lost"
    assert job.status == JobStatus.SUCCEEDED, job.message
    assert (job.modified, job.failed) == (len(coupled), 0)
    for coupling in Coupling.objects.filter(local_model="erp_app.customer", local_id__in=coupled):
        assert crm.get("accounts", str(coupling.remote_id))["fax"] == "+1 555 0177"
        assert coupling.last_result_to_crm == "success"
