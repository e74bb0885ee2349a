"""End-to-end: the default setup and the demo data against the embedded CRM over HTTP."""

from decimal import Decimal

import pytest

from couplings_app.choices import JobStatus, SyncResult
from couplings_app.models import Coupling, SyncError
from couplings_app.sync.coupling import match_based_coupling
from couplings_app.sync.full import duplicate_warnings, keep_creating_new_records, synchronize_all
from couplings_app.sync.runner import synchronize, synchronize_records
from dataverse.batch import BatchResult
from dataverse.errors import ServerError, TransportError
from erp_app.models import Contact, Currency, Customer, Item, Salesperson, UnitOfMeasure
from mappings_app.choices import DeletionConflictResolution, Direction, UpdateConflictResolution
from mappings_app.defaults import ITEMS_PRICE_LIST_ID
from mappings_app.models import TableMapping

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])


def couple_and_full_sync(crm, demo):
    for name in ("CURRENCY", "SALESPEOPLE", "CUSTOMER", "ITEM-PRODUCT"):
        match_based_coupling(demo[name], client=crm)
    return synchronize_all(client=crm, full=True)


def account_of(crm, customer):
    coupling = Coupling.objects.get(local_model="erp_app.customer", local_id=customer.pk,
                                    remote_entity="account")
    return crm.get("accounts", str(coupling.remote_id))


def by_name(jobs, name, direction=None):
    return [j for j in jobs if j.mapping_name == name and (direction is None or
                                                           j.direction == direction)]


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
    for name in ("CURRENCY", "SALESPEOPLE", "CUSTOMER", "ITEM-PRODUCT"):
        match_based_coupling(demo[name], client=crm)
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


def test_a_crash_between_crm_create_and_coupling_creates_no_duplicate(crm, demo, monkeypatch):
    for name in ("CURRENCY", "SALESPEOPLE"):
        match_based_coupling(demo[name], client=crm)
        synchronize(demo[name], client=crm, full=True, only_coupled=False)
    real_batch = type(crm).batch

    def batch_then_die(self, operations, **kwargs):
        real_batch(self, operations, **kwargs)  # the CRM has the records...
        raise ConnectionError("worker killed before the couplings were saved")

    monkeypatch.setattr(type(crm), "batch", batch_then_die)
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


def test_synchronize_now_one_record(crm, demo):
    couple_and_full_sync(crm, demo)
    customer = Customer.objects.filter(salesperson__code="JR").first()
    Customer.objects.filter(pk=customer.pk).update(fax_no="+1 555 9999")
    job = synchronize_records(demo["CUSTOMER"], Direction.TO_CRM, client=crm,
                              local_ids=[customer.pk])
    assert (job.modified, job.status) == (1, JobStatus.SUCCEEDED)
    assert account_of(crm, customer)["fax"] == "+1 555 9999"


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
