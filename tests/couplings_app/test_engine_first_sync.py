"""End-to-end, the default setup and the demo data against the embedded CRM over HTTP: the first
synchronization. What a full synchronization creates and couples, what it refuses and reports,
the items' price list, duplicates warned of, a crash that creates no duplicate, failed records
retried. The changes that follow are in test_engine_changes.py."""

from decimal import Decimal

import pytest

from couplings_app.choices import JobStatus, SyncResult
from couplings_app.models import Coupling, SyncError
from couplings_app.sync.full import duplicate_warnings, keep_creating_new_records, synchronize_all
from couplings_app.sync.runner import synchronize
from dataverse.batch import BatchResult
from dataverse.errors import ServerError, TransportError
from erp_app.models import Contact, Currency, Customer, Item, Salesperson, UnitOfMeasure
from mappings_app.choices import Direction
from mappings_app.defaults import ITEMS_PRICE_LIST_ID
from mappings_app.models import TableMapping
from tests.couplings_app.engine import (
    account_of,
    by_name,
    couple_and_full_sync,
    match_demo,
    synchronize_basics,
)

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])


def test_full_synchronization_creates_and_couples_field_by_field(crm, demo):
    jobs = couple_and_full_sync(crm, demo)
    assert [(j.mapping_name, j.message) for j in jobs if j.status != JobStatus.SUCCEEDED] == []
    customer = Customer.objects.filter(salesperson__code="JR").first()
    account = account_of(crm, customer)
    assert account["name"] == customer.name
    assert account["address1_line1"] == customer.address
    assert account["address1_city"] == customer.city
    assert account["address1_postalcode"] == customer.post_code
    assert account["telephone1"] == customer.phone_no
    assert account["emailaddress1"] == customer.email
    assert Decimal(str(account["creditlimit"])) == customer.credit_limit_lcy
    assert account["customertypecode"] == 3
    owner = Coupling.objects.get(local_model="erp_app.salesperson",
                                 local_id=customer.salesperson_id)
    assert account["_ownerid_value"] == str(owner.remote_id)
    to_crm = by_name(jobs, "CUSTOMER", Direction.TO_CRM)[0]
    assert to_crm.inserted > 0 and to_crm.coupled == to_crm.inserted


def test_second_run_without_changes_is_all_unchanged(crm, demo):
    couple_and_full_sync(crm, demo)
    before_erp = sorted(Customer.objects.values_list("pk", "modified_at"))
    before_crm = {r["accountid"]: r["versionnumber"] for page in crm.iter_pages(
        "accounts", select=["accountid", "versionnumber"]) for r in page}
    jobs = synchronize_all(client=crm)
    assert sum(j.inserted + j.modified + j.deleted for j in jobs) == 0
    assert sorted(Customer.objects.values_list("pk", "modified_at")) == before_erp
    after_crm = {r["accountid"]: r["versionnumber"] for page in crm.iter_pages(
        "accounts", select=["accountid", "versionnumber"]) for r in page}
    assert after_crm == before_crm


def test_customer_salesperson_must_be_coupled_before_the_customer_syncs(crm, demo):
    Salesperson.objects.create(code="NEW", name="New Seller")
    customer = Customer.objects.first()
    customer.salesperson = Salesperson.objects.get(code="NEW")
    customer.save()
    couple_and_full_sync(crm, demo)
    error = SyncError.objects.get(local_model="erp_app.customer", local_id=customer.pk,
                                  direction=Direction.TO_CRM)
    assert error.message == (f"Customer {customer.no}: ownerid: salesperson/purchaser NEW is not "
                             "coupled to a CRM record. Couple it first (SALESPEOPLE mapping).")
    coupling = Coupling.objects.get(local_model="erp_app.customer", local_id=customer.pk)
    assert coupling.last_result_to_crm == SyncResult.FAILURE


def test_customer_only_takes_accounts_of_relationship_type_customer(crm, demo):
    couple_and_full_sync(crm, demo)
    vendor_ids = {r["accountid"] for p in crm.iter_pages("accounts", select=["accountid"],
                  filter="customertypecode eq 11") for r in p}
    customer_couplings = {str(c) for c in Coupling.objects.filter(
        local_model="erp_app.customer").values_list("remote_id", flat=True)}
    vendor_couplings = {str(c) for c in Coupling.objects.filter(
        local_model="erp_app.vendor", pending_create=False).values_list("remote_id", flat=True)}
    assert not vendor_ids & customer_couplings
    assert vendor_couplings <= vendor_ids


def test_contact_without_company_is_not_created(crm, demo):
    couple_and_full_sync(crm, demo)
    solo = Contact.objects.filter(company__isnull=True, type="person")
    assert solo.exists()
    assert not Coupling.objects.filter(local_model="erp_app.contact",
                                       local_id__in=solo.values("pk")).exists()
    companies = Contact.objects.filter(type="company")
    assert not Coupling.objects.filter(local_model="erp_app.contact",
                                       local_id__in=companies.values("pk")).exists()
    orphans = [r for p in crm.iter_pages("contacts", select=["contactid"],
               filter="_parentcustomerid_value eq null") for r in p]
    assert orphans, "the demo CRM has contacts without a parent account"
    assert not Coupling.objects.filter(remote_id__in=[r["contactid"] for r in orphans]).exists()


def test_currency_without_iso_code_is_reported_not_synchronized(crm, demo):
    couple_and_full_sync(crm, demo)
    local = Currency.objects.get(code="LOCAL")
    assert not Coupling.objects.filter(local_model="erp_app.currency", local_id=local.pk,
                                       pending_create=False).exists()
    assert SyncError.objects.filter(local_model="erp_app.currency", local_id=local.pk,
                                    message__contains="no standard ISO 4217 code").exists()
    eur = Currency.objects.get(code="EUR")
    coupling = Coupling.objects.get(local_model="erp_app.currency", local_id=eur.pk)
    assert crm.get("transactioncurrencies", str(coupling.remote_id))["isocurrencycode"] == "EUR"


def test_unit_of_measure_becomes_a_unit_group_with_exactly_one_unit(crm, demo):
    couple_and_full_sync(crm, demo)
    synchronize(demo["UNIT OF MEASURE"], client=crm, full=True, only_coupled=False)
    for unit in UnitOfMeasure.objects.all():
        group = Coupling.objects.get(local_model="erp_app.unitofmeasure", local_id=unit.pk)
        units = [r for p in crm.iter_pages("uoms", select=["uomid", "name"],
                 filter=f"_uomscheduleid_value eq {group.remote_id}") for r in p]
        assert [u["name"] for u in units] == [unit.code]


def test_items_price_list_is_created_once_and_products_are_on_it(crm, demo):
    couple_and_full_sync(crm, demo)
    synchronize(demo["ITEM-PRODUCT"], client=crm, full=True, only_coupled=False)
    lists = [r for p in crm.iter_pages("pricelevels", select=["pricelevelid"],
             filter="name eq 'Business Central items'") for r in p]
    assert len(lists) == 1
    items = [r for p in crm.iter_pages("productpricelevels", select=["productpricelevelid"],
             filter=f"_pricelevelid_value eq {lists[0]['pricelevelid']}") for r in p]
    created = Coupling.objects.filter(local_model="erp_app.item").count()
    matched = 5  # the demo CRM's products that match items were coupled, not created
    assert len(items) == created - matched


def on_price_list(crm):
    return {str(r["_productid_value"]).lower() for p in crm.iter_pages(
        "productpricelevels", select=["_productid_value"],
        filter=f"_pricelevelid_value eq {ITEMS_PRICE_LIST_ID}") for r in p}


@pytest.mark.parametrize("how", ["refused", "no answer"])
def test_a_product_the_price_list_step_failed_for_is_retried_by_the_next_run(
        crm, demo, monkeypatch, how):
    """Adding new products to the items' price list happens after their page is written; if the
    CRM refuses it or stops answering, the items are marked failed with their error, and the next
    run -- though nothing changed -- puts their products on the list."""
    match_demo(crm, demo)
    matched = set(Coupling.objects.filter(local_model="erp_app.item").values_list("pk", flat=True))
    batch = crm.batch

    def spoiled(operations, *args, **kwargs):
        if not any(op.entity_set == "productpricelevels" for op in operations):
            return batch(operations, *args, **kwargs)
        if how == "no answer":
            raise TransportError("ConnectionError: the CRM dropped the connection")
        return [BatchResult(status=500, error=ServerError("The price list is busy."))
                for _ in operations]

    monkeypatch.setattr(crm, "batch", spoiled)
    synchronize_all(client=crm, full=True)
    monkeypatch.undo()
    created = list(Coupling.objects.filter(local_model="erp_app.item").exclude(pk__in=matched))
    assert len(created) == 10  # the demo's 15 items, 5 of which matched existing products
    assert on_price_list(crm) & {str(c.remote_id).lower() for c in created} == set()
    assert {c.last_result_to_crm for c in created} == {SyncResult.FAILURE}
    for coupling in created:
        item = Item.objects.get(pk=coupling.local_id)
        error = SyncError.objects.get(local_model="erp_app.item", local_id=item.pk)
        assert item.no in error.message and "price list" in error.message, error.message

    jobs = synchronize(demo["ITEM-PRODUCT"], client=crm)  # modified records only: none changed
    assert {j.status for j in jobs} == {JobStatus.SUCCEEDED}
    listed = on_price_list(crm)
    assert [c.local_id for c in created if str(c.remote_id).lower() not in listed] == []
    assert not Coupling.objects.filter(local_model="erp_app.item",
                                       last_result_to_crm=SyncResult.FAILURE).exists()


def test_a_crash_between_crm_create_and_coupling_creates_no_duplicate(crm, demo, monkeypatch):
    synchronize_basics(crm, demo)
    real_write = type(crm).write

    def write_then_die(self, operations, **kwargs):
        real_write(self, operations, **kwargs)  # the CRM has the records...
        raise ConnectionError("worker killed before the couplings were saved")

    monkeypatch.setattr(type(crm), "write", write_then_die)
    crashed = synchronize(demo["CUSTOMER"], client=crm, direction=Direction.TO_CRM, full=True,
                          only_coupled=False)
    assert crashed[0].status == JobStatus.FAILED
    monkeypatch.undo()
    count = sum(len(p) for p in crm.iter_pages("accounts", select=["accountid"]))
    again = synchronize(demo["CUSTOMER"], client=crm, direction=Direction.TO_CRM, full=True,
                        only_coupled=False)
    assert again[0].status == JobStatus.SUCCEEDED
    assert sum(len(p) for p in crm.iter_pages("accounts", select=["accountid"])) == count
    assert not Coupling.objects.filter(pending_create=True, local_model="erp_app.customer",
                                       last_result_to_crm="").exists()


def test_full_synchronization_warns_of_duplicates_first(crm, demo):
    warnings = duplicate_warnings(crm)
    assert any(w.startswith("CUSTOMER:") and "Match-Based Coupling" in w for w in warnings)


def test_full_synchronization_ends_with_the_choice_to_keep_creating(crm, demo):
    couple_and_full_sync(crm, demo)
    assert TableMapping.objects.filter(sync_only_coupled=True).count() == len(demo)
    assert keep_creating_new_records(False) == 0
    assert TableMapping.objects.filter(sync_only_coupled=True).count() == len(demo)
    keep_creating_new_records(True)
    assert not TableMapping.objects.filter(sync_only_coupled=True, is_enabled=True).exists()


def test_failed_records_are_retried_first_and_succeed_once_fixed(crm, demo):
    seller = Salesperson.objects.create(code="NEW", name="New Seller")
    customer = Customer.objects.create(no="C99999", name="Brand New Ltd.", salesperson=seller)
    couple_and_full_sync(crm, demo)
    coupling = Coupling.objects.get(local_model="erp_app.customer", local_id=customer.pk)
    assert coupling.last_result_to_crm == SyncResult.FAILURE
    Customer.objects.filter(pk=customer.pk).update(salesperson=None)
    Customer.objects.filter(pk=customer.pk).update(modified_at=coupling.created_at)  # not "new"
    jobs = synchronize(TableMapping.objects.get(name="CUSTOMER"), client=crm,
                       direction=Direction.TO_CRM)
    coupling.refresh_from_db()
    assert coupling.last_result_to_crm == SyncResult.SUCCESS and not coupling.pending_create
    assert jobs[0].inserted == 1


def test_a_customer_made_from_an_account_gets_its_company_contact(crm, demo, as_crm_user):
    from erp_app.choices import ContactType

    couple_and_full_sync(crm, demo)
    accounts = [{"name": f"Pulled {i}", "accountnumber": f"PULL{i}", "customertypecode": 3}
                for i in range(2)]
    for account in accounts:
        as_crm_user.create("accounts", account)
    # A contact already holds the number the first company contact would take: it is kept.
    Contact.objects.create(no="CT-PULL0", name="Kept as it is", type=ContactType.PERSON)
    jobs = synchronize(demo["CUSTOMER"], direction=Direction.FROM_CRM, client=crm,
                       only_coupled=False)
    assert jobs[0].status == JobStatus.SUCCEEDED, jobs[0].message
    first, second = (Customer.objects.get(name=f"Pulled {i}") for i in range(2))
    assert Contact.objects.get(no="CT-PULL0").name == "Kept as it is"
    company = Contact.objects.get(customer=second)
    assert (company.no, company.type, company.name) == ("CT-PULL1", ContactType.COMPANY,
                                                         "Pulled 1")
    assert not Contact.objects.filter(customer=first).exists()
