"""The actions that reach the CRM, end to end against the embedded CRM over HTTP. django-q2 runs
in sync mode here (`Conf.SYNC`): a queued task runs at once, in the request that queued it."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from couplings_app.models import Coupling, SyncError, SyncJob
from erp_app.models import Customer, Salesperson
from tests.couplings_app.engine import account_of, couple_and_full_sync
from tests.couplings_app.page_fixtures import client_for, user_with_role

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])


@pytest.fixture
def sync_tasks(monkeypatch):
    monkeypatch.setattr("django_q.conf.Conf.SYNC", True)


@pytest.fixture
def operator(demo, sync_tasks):
    return client_for(user_with_role("operator"))


@pytest.fixture
def synced(crm, demo):
    couple_and_full_sync(crm, demo)
    return demo


def said(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def jr_customer():
    return Customer.objects.filter(salesperson__code="JR").order_by("pk").first()


def test_set_up_coupling_searches_the_crm_and_couples_the_chosen_record(operator, demo, crm):
    mapping = demo["CUSTOMER"]
    customer = Customer.objects.order_by("pk").first()
    url = reverse("couplings:record_couple", args=[mapping.pk, customer.pk])
    page = operator.get(url)
    candidates = page.context["candidates"]
    assert candidates and page.status_code == 200
    chosen = candidates[0]
    narrowed = operator.get(url, {"q": chosen.name}).context["candidates"]
    assert chosen.id in [c.id for c in narrowed]
    response = operator.post(url, {"remote_id": chosen.id, "after": ""})
    assert response.status_code == 302
    coupling = Coupling.objects.get(local_model="erp_app.customer", local_id=customer.pk)
    assert str(coupling.remote_id) == chosen.id
    # The account's name, not its GUID.
    assert f"is coupled to account {chosen.name}." in said(response)[0]
    assert chosen.id not in said(response)[0]


def test_create_new_in_the_crm_couples_a_new_account(operator, synced, crm):
    customer = Customer.objects.create(no="C77777", name="Fresh Customer Ltd.",
                                       salesperson=Salesperson.objects.get(code="JR"))
    url = reverse("couplings:record_couple", args=[synced["CUSTOMER"].pk, customer.pk])
    operator.post(url, {"create": "yes"})
    assert account_of(crm, customer)["name"] == "Fresh Customer Ltd."


def test_synchronize_now_suggests_the_erp_after_an_erp_change_and_sends_it(operator, synced,
                                                                            crm):
    customer = jr_customer()
    customer.name = "Renamed in the ERP"
    customer.save()
    url = reverse("couplings:record_sync", args=[synced["CUSTOMER"].pk, customer.pk])
    assert operator.get(url).context["suggested"] == "to_crm"
    response = operator.post(url, {"direction": "to_crm"})
    assert account_of(crm, customer)["name"] == "Renamed in the ERP"
    assert said(response)[0].startswith(f"Synchronized Customer {customer.no}: 1 modified.")
    assert operator.get(url).context["suggested"] == "from_crm"


def test_match_based_coupling_of_one_record(operator, demo, crm):
    match_customer = Customer.objects.order_by("pk").first()
    operator.post(reverse("couplings:record_match", args=[demo["CUSTOMER"].pk,
                                                         match_customer.pk]))
    assert Coupling.objects.filter(local_model="erp_app.customer",
                                   local_id=match_customer.pk).exists()


def test_bulk_synchronize_selected_records(operator, synced, crm):
    customers = list(Customer.objects.filter(salesperson__code="JR")[:2])
    for customer in customers:
        customer.city = "Bulkville"
        customer.save()
    operator.post(reverse("couplings:records_bulk", args=[synced["CUSTOMER"].pk, "sync"]),
                  {"pk": [c.pk for c in customers]})
    assert [account_of(crm, c)["address1_city"] for c in customers] == ["Bulkville"] * 2


def test_a_fixed_error_is_retried_and_leaves_the_error_log(operator, demo, crm):
    seller = Salesperson.objects.create(code="NEW", name="New Seller")
    customer = Customer.objects.create(no="C99999", name="Broken Ltd.", salesperson=seller)
    couple_and_full_sync(crm, demo)
    error = SyncError.objects.get(local_model="erp_app.customer", local_id=customer.pk)
    page = operator.get(reverse("couplings:syncerror_list"), {"q": "C99999"}).content.decode()
    assert "salesperson/purchaser NEW is not coupled" in page
    operator.post(reverse("couplings:syncerror_retry"), {"pk": [error.pk]})
    # Not fixed yet: the retry's job logs it again (one error, not two).
    again = SyncError.objects.get(local_model="erp_app.customer", local_id=customer.pk)
    assert again.pk != error.pk
    Customer.objects.filter(pk=customer.pk).update(salesperson=None)
    operator.post(reverse("couplings:syncerror_retry"), {"pk": [again.pk]})
    assert not SyncError.objects.filter(local_id=customer.pk,
                                        local_model="erp_app.customer").exists()
    assert account_of(crm, customer)["name"] == "Broken Ltd."


def make_conflict(crm, as_crm_user):
    customer = jr_customer()
    account = account_of(crm, customer)
    as_crm_user.update("accounts", account["accountid"], {"name": "Changed in CRM",
                                                          "telephone1": "+1 555 1111"})
    customer.name = "Changed in ERP"
    customer.phone_no = "+1 555 2222"
    customer.save()
    from couplings_app.sync.runner import synchronize
    from mappings_app.models import TableMapping

    synchronize(TableMapping.objects.get(name="CUSTOMER"), client=crm)
    coupling = Coupling.objects.get(local_model="erp_app.customer", local_id=customer.pk)
    assert coupling.skipped
    return customer, account["accountid"], coupling


def test_a_conflict_shows_both_versions_and_takes_values_field_by_field(operator, synced, crm,
                                                                         as_crm_user):
    customer, account_id, coupling = make_conflict(crm, as_crm_user)
    page = operator.get(reverse("couplings:skipped_detail", args=[coupling.pk]))
    html = page.content.decode()
    assert "Changed in ERP" in html and "Changed in CRM" in html
    differing = {v.name for v in page.context["versions"] if v.differs}
    assert {"name", "phone_no"} <= differing
    response = operator.post(reverse("couplings:skipped_resolve", args=[coupling.pk]),
                             {"side": "fields", "take_name": "remote", "take_phone_no": "local"})
    assert "Conflict resolved" in said(response)[0]
    customer.refresh_from_db()
    row = crm.get("accounts", account_id)
    assert customer.name == row["name"] == "Changed in CRM"
    assert customer.phone_no == row["telephone1"] == "+1 555 2222"
    coupling.refresh_from_db()
    assert not coupling.skipped and coupling.conflict_local is None


@pytest.mark.parametrize("side", ["local", "remote"])
def test_a_conflict_takes_one_whole_version(operator, synced, crm, as_crm_user, side):
    customer, account_id, coupling = make_conflict(crm, as_crm_user)
    operator.post(reverse("couplings:skipped_resolve", args=[coupling.pk]), {"side": side})
    customer.refresh_from_db()
    row = crm.get("accounts", account_id)
    expected = "Changed in ERP" if side == "local" else "Changed in CRM"
    assert customer.name == row["name"] == expected
    assert not Coupling.objects.get(pk=coupling.pk).skipped


def test_find_for_deleted_then_restore_records(operator, synced, crm):
    customer = jr_customer()
    old = account_of(crm, customer)["accountid"]
    crm.delete("accounts", old)
    operator.post(reverse("couplings:skipped_action", args=["find_deleted"]))
    coupling = Coupling.objects.get(local_model="erp_app.customer", local_id=customer.pk)
    assert coupling.deleted_side == "remote" and coupling.skipped
    html = operator.get(reverse("couplings:skipped_list"), {"kind": "deleted"}).content.decode()
    assert "CRM record deleted" in html
    operator.post(reverse("couplings:skipped_action", args=["restore"]), {"pk": [coupling.pk]})
    coupling.refresh_from_db()
    assert str(coupling.remote_id) != old and not coupling.deleted_side
    assert account_of(crm, customer)["name"] == customer.name


def test_delete_records_whose_crm_record_was_deleted(operator, synced, crm):
    customer = Customer.objects.create(no="C77778", name="Short-lived Ltd.",
                                       salesperson=Salesperson.objects.get(code="JR"))
    operator.post(reverse("couplings:record_couple", args=[synced["CUSTOMER"].pk, customer.pk]),
                  {"create": "yes"})
    crm.delete("accounts", account_of(crm, customer)["accountid"])
    coupling = Coupling.objects.get(local_model="erp_app.customer", local_id=customer.pk)
    operator.post(reverse("couplings:skipped_action", args=["delete_records"]),
                  {"pk": [coupling.pk]})
    assert not Customer.objects.filter(pk=customer.pk).exists()
    assert not Coupling.objects.filter(pk=coupling.pk).exists()


def test_run_full_synchronization_warns_then_runs_then_asks(operator, demo, crm):
    confirm = operator.post(reverse("couplings:full_sync"))
    html = confirm.content.decode()
    assert "only one of the solutions contains data" in html
    assert confirm.context["warnings"]  # both sides hold uncoupled records in the demo
    response = operator.post(reverse("couplings:full_sync"), {"confirm": "yes"})
    assert response["Location"] == reverse("mappings:connection")
    assert SyncJob.objects.filter(full=True, status="succeeded").exists()
    html = operator.get(reverse("mappings:connection")).content.decode()
    assert "The full synchronization has finished" in html


def test_delete_records_keeps_an_erp_record_still_in_use(operator, synced, crm):
    customer = Customer.objects.filter(salesperson__code="JR", posted_invoices__isnull=False) \
        .first()
    crm.delete("accounts", account_of(crm, customer)["accountid"])
    coupling = Coupling.objects.get(local_model="erp_app.customer", local_id=customer.pk)
    response = operator.post(reverse("couplings:skipped_action", args=["delete_records"]),
                             {"pk": [coupling.pk]})
    assert Customer.objects.filter(pk=customer.pk).exists()
    assert any("was not deleted: it is still used by" in m for m in said(response))
