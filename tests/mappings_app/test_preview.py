"""preview.py: what a table mapping would write for one real record, errors per field."""

import pytest
from django.core.management import call_command

from erp_app.models import Contact, Customer
from mappings_app import preview
from mappings_app.connection import crm_client
from mappings_app.models import TableMapping
from mappings_app.values import Reference

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])


@pytest.fixture
def seeded(crm_app):
    call_command("setup_defaults")
    call_command("seed_demo", customers=5)
    return {m.name: m for m in TableMapping.objects.all()}


def by_target(rows):
    return {row.target: row for row in rows}


def test_customer_to_the_crm(seeded):
    customer = Customer.objects.exclude(salesperson=None).order_by("no").first()
    rows = by_target(preview.preview_to_remote(seeded["CUSTOMER"], customer))
    assert rows["accountnumber"].result == customer.no
    assert rows["address1_city"].shown_source == customer.city
    assert rows["customertypecode"].source == "constant" and rows["customertypecode"].result == 3
    owner = rows["ownerid"]
    assert isinstance(owner.result, Reference) and owner.reference_source == (
        customer.salesperson.code)
    assert not any(row.error for row in rows.values())


def test_contact_company_path_goes_through_customer_couplings(seeded):
    person = Contact.objects.filter(type="person", company__customer__isnull=False).first()
    rows = by_target(preview.preview_to_remote(seeded["CONTACT"], person))
    parent = rows["parentcustomerid"].result
    assert isinstance(parent, Reference) and parent.mapping.name == "CUSTOMER"
    assert parent.value == person.company.customer


def test_an_error_is_reported_on_its_row_only(seeded):
    customer = Customer.objects.order_by("no").first()
    customer.home_page = "https://" + "x" * 250
    rows = by_target(preview.preview_to_remote(seeded["CUSTOMER"], customer))
    assert "websiteurl:" in rows["websiteurl"].error and "at most 200" in rows["websiteurl"].error
    assert rows["name"].error == "" and rows["name"].result == customer.name


def test_crm_account_to_the_erp(seeded):
    with crm_client() as client:
        account = preview.remote_records(seeded["CUSTOMER"], "", client, limit=1)[0]
        found = preview.remote_records(seeded["CUSTOMER"], account["accountid"], client)
    assert found[0]["accountid"] == account["accountid"]
    rows = by_target(preview.preview_to_local(seeded["CUSTOMER"], account))
    assert rows["name"].result == account["name"]
    assert "ownerid" not in {row.source for row in rows.values()}  # only to the CRM


def test_salesperson_code_from_a_crm_user_uses_the_initials_rule(seeded):
    row = {"systemuserid": "00000000-0000-4000-8000-000000000009", "fullname": "Ann Lee Smith",
           "internalemailaddress": "ann@example.com"}
    rows = preview.preview_to_local(seeded["SALESPEOPLE"], row)
    code = next(r for r in rows if r.target == "code")
    assert code.result == "ALS"


def test_finding_local_records(seeded):
    customer = Customer.objects.order_by("no").first()
    assert preview.find_local(seeded["CUSTOMER"], customer.no.lower()) == customer
    assert preview.find_local(seeded["CUSTOMER"], "nope") is None
    assert customer in preview.local_records(seeded["CUSTOMER"], customer.name[:5])
