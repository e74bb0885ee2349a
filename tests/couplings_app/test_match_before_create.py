"""Match before create: a synchronization never creates a record whose natural key (the
mapping's match fields) already exists on the other side; it couples to it instead.

Seed 002: "Currencies are coupled to transaction currencies in Dynamics 365 Sales based on ISO
codes." Seed 000: contacts synchronize when "the contact is assigned to a company and the parent
customer type is Account".
"""

from collections import Counter

import pytest

from couplings_app.choices import JobStatus, SyncResult
from couplings_app.models import Coupling, SyncError
from couplings_app.sync.coupling import match_based_coupling
from couplings_app.sync.full import synchronize_all
from couplings_app.sync.runner import synchronize
from erp_app.choices import ContactType
from erp_app.models import Contact, Currency, Customer, Item, Salesperson
from mappings_app.choices import Direction

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])


def rows(crm, entity_set, select, filter=None):
    return [r for page in crm.iter_pages(entity_set, select=select, filter=filter) for r in page]


def repeated(values):
    return {k: n for k, n in Counter(v for v in values if v not in (None, "")).items() if n > 1}


def test_a_full_synchronization_couples_currencies_by_iso_code_instead_of_creating_them(
        crm, demo):
    before = {r["isocurrencycode"]: r["transactioncurrencyid"]
              for r in rows(crm, "transactioncurrencies",
                            ["transactioncurrencyid", "isocurrencycode"])}
    assert {"EUR", "USD"} <= set(before)

    [job] = synchronize(demo["CURRENCY"], client=crm, full=True, only_coupled=False)

    assert job.status == JobStatus.SUCCEEDED, job.message
    after = rows(crm, "transactioncurrencies", ["transactioncurrencyid", "isocurrencycode"])
    assert repeated(r["isocurrencycode"] for r in after) == {}
    eur = Coupling.objects.get(local_model="erp_app.currency",
                               local_id=Currency.objects.get(code="EUR").pk)
    assert str(eur.remote_id) == before["EUR"]
    assert job.coupled >= len(before) and job.inserted == len(after) - len(before)


def test_a_full_synchronization_of_everything_leaves_no_duplicate_on_either_side(crm, demo):
    """The seeds' procedure as a new admin runs it: default setup, match-based coupling on
    customers only, then Run Full Synchronization."""
    match_based_coupling(demo["CUSTOMER"], client=crm)

    jobs = synchronize_all(client=crm, full=True)

    assert all(j.status == JobStatus.SUCCEEDED for j in jobs), [j.message for j in jobs]
    for entity_set, key in [("transactioncurrencies", "isocurrencycode"),
                            ("products", "productnumber"), ("uomschedules", "name"),
                            ("systemusers", "internalemailaddress"), ("pricelevels", "name"),
                            ("invoices", "invoicenumber")]:
        values = [r[key] for r in rows(crm, entity_set, [key])]
        assert repeated(values) == {}, entity_set
    for relation in (3, 11):  # customers, vendors: one account per name within a type
        accounts = rows(crm, "accounts", ["name", "accountnumber"],
                        f"customertypecode eq {relation} and statecode eq 0")
        assert repeated(a["accountnumber"] for a in accounts) == {}
        assert repeated(a["name"] for a in accounts) == {}
    assert repeated(Salesperson.objects.values_list("email", flat=True)) == {}
    assert repeated(Customer.objects.values_list("name", flat=True)) == {}
    # The CRM users of the ERP's salespeople were coupled by e-mail, not created a second time
    # (the ERP refused those with "UNIQUE constraint failed" before).
    assert not SyncError.objects.filter(message__icontains="unique").exists()
    assert not SyncError.objects.filter(message__icontains="constraint").exists()


def test_a_product_is_coupled_by_its_number_not_created_again(crm, demo):
    numbers = {r["productnumber"]: r["productid"]
               for r in rows(crm, "products", ["productid", "productnumber"])}
    item = Item.objects.filter(no__in=list(numbers)).order_by("no").first()
    assert item is not None, "the demo CRM holds products of some of the ERP's items"
    for name in ("CURRENCY", "UNIT OF MEASURE", "ITEM-PRODUCT"):
        [job] = synchronize(demo[name], client=crm, full=True, only_coupled=False)
        assert job.status == JobStatus.SUCCEEDED, job.message
    coupling = Coupling.objects.get(local_model="erp_app.item", local_id=item.pk)
    assert str(coupling.remote_id) == numbers[item.no]
    assert repeated(r["productnumber"] for r in rows(crm, "products", ["productnumber"])) == {}


def test_a_record_that_matches_several_is_reported_and_nothing_is_created(crm, demo,
                                                                            as_crm_user):
    synchronize(demo["CURRENCY"], client=crm, full=True, only_coupled=False)
    customer = Customer.objects.filter(salesperson__isnull=True).order_by("no").first() or \
        Customer.objects.order_by("no").first()
    Customer.objects.filter(pk=customer.pk).update(salesperson=None, name="Twice Trading")
    for _ in range(2):
        as_crm_user.create("accounts", {"name": "Twice Trading", "customertypecode": 3})
    accounts = len(rows(crm, "accounts", ["accountid"]))

    [job, _] = synchronize(demo["CUSTOMER"], client=crm, full=True, only_coupled=False)

    assert len(rows(crm, "accounts", ["accountid"])) - accounts == job.inserted
    assert not rows(crm, "accounts", ["accountid"], f"accountnumber eq '{customer.no}'")
    [error] = SyncError.objects.filter(job=job, local_id=customer.pk)
    assert error.message.startswith(f"Customer {customer.no}: 2 CRM account records match it")
    assert "Set Up Coupling" in error.message


def test_a_create_that_failed_is_coupled_to_the_record_that_now_exists(crm, demo, as_crm_user):
    """A customer whose create failed (its coupling waits with the id it chose) is coupled to
    the account a person made meanwhile, not created next to it."""
    synchronize(demo["CURRENCY"], client=crm, full=True, only_coupled=False)
    customer = Customer.objects.filter(salesperson__code="RB").order_by("no").first()
    [job, _] = synchronize(demo["CUSTOMER"], client=crm, full=True, only_coupled=False)
    coupling = Coupling.objects.get(local_model="erp_app.customer", local_id=customer.pk)
    assert coupling.pending_create and coupling.last_result_to_crm == SyncResult.FAILURE
    made = as_crm_user.create("accounts", {"name": customer.name, "accountnumber": customer.no,
                                           "customertypecode": 3})
    Customer.objects.filter(pk=customer.pk).update(salesperson=None)

    synchronize(demo["CUSTOMER"], client=crm, only_coupled=False)

    coupling.refresh_from_db()
    assert (str(coupling.remote_id), coupling.pending_create) == (str(made).lower(), False)
    assert len(rows(crm, "accounts", ["accountid"], f"accountnumber eq '{customer.no}'")) == 1


def test_a_contact_whose_company_is_no_customer_fails_and_keeps_its_company(crm, demo):
    for name in ("CURRENCY", "SALESPEOPLE", "CUSTOMER"):
        match_based_coupling(demo[name], client=crm)
    company = Contact.objects.create(no="CT-LONE", type=ContactType.COMPANY, name="Lone Firm")
    person = Contact.objects.create(no="CP-LONE", type=ContactType.PERSON, first_name="Ada",
                                    surname="Lone", company=company, email="ada@lone.example")
    contacts = len(rows(crm, "contacts", ["contactid"]))

    jobs = synchronize_all(client=crm, full=True)

    [error] = SyncError.objects.filter(local_model="erp_app.contact", local_id=person.pk)
    assert error.message.startswith("Contact CP-LONE: its company CT-LONE (Lone Firm) is not "
                                    "linked to a customer")
    assert "contacts synchronize only when they are assigned to a company of a customer" in \
        error.message
    assert not rows(crm, "contacts", ["contactid"], "emailaddress1 eq 'ada@lone.example'")
    assert not Coupling.objects.filter(local_model="erp_app.contact", local_id=person.pk,
                                       pending_create=False).exists()
    person.refresh_from_db()
    assert person.company_id == company.pk  # nobody changed it: still there after the run
    contact_jobs = [j for j in jobs if j.mapping_name == "CONTACT"]
    created = sum(j.inserted for j in contact_jobs if j.direction == Direction.TO_CRM)
    assert len(rows(crm, "contacts", ["contactid"])) - contacts == created
