"""`manage.py seed_demo` gives varied, realistic data and is idempotent."""

import pytest
from django.core.management import call_command

from erp_app import models as m
from erp_app.choices import ContactType

pytestmark = pytest.mark.django_db(databases=["default", "crm"])

TABLES = [
    m.Salesperson,
    m.Currency,
    m.UnitOfMeasure,
    m.PaymentTerms,
    m.ShipmentMethod,
    m.ShippingAgent,
    m.CustomerPriceGroup,
    m.Customer,
    m.Vendor,
    m.Contact,
    m.Item,
    m.Resource,
    m.SalesPrice,
    m.PostedSalesInvoice,
    m.PostedSalesInvoiceLine,
]


def snapshot():
    return {t.__name__: sorted(t.objects.values_list("system_id", "modified_at")) for t in TABLES}


def test_second_run_changes_nothing():
    call_command("seed_demo", customers=15, stdout=None)
    first = snapshot()
    call_command("seed_demo", customers=15)
    assert snapshot() == first


def test_it_creates_what_the_synchronization_rules_need():
    call_command("seed_demo", customers=15)
    assert m.Customer.objects.count() == 15
    assert m.Customer.objects.filter(salesperson__isnull=True).exists()
    assert m.Customer.objects.filter(salesperson__isnull=False).exists()
    assert any(not c.has_iso_code for c in m.Currency.objects.all())
    assert sum(c.has_iso_code for c in m.Currency.objects.all()) >= 3
    assert m.Contact.objects.filter(type=ContactType.COMPANY).exists()
    assert m.Contact.objects.filter(type=ContactType.PERSON, company__isnull=False).exists()
    assert m.Contact.objects.filter(type=ContactType.PERSON, company__isnull=True).exists()
    for table in (m.Vendor, m.Item, m.Resource, m.SalesPrice, m.PostedSalesInvoiceLine):
        assert table.objects.exists(), table.__name__


def test_statistics_follow_the_posted_invoices():
    call_command("seed_demo", customers=5)
    customer = m.PostedSalesInvoice.objects.first().sell_to_customer
    invoices = customer.posted_invoices.all()
    assert customer.sales_lcy == sum(i.amount_including_vat for i in invoices)
    assert customer.balance_lcy == sum(i.remaining_amount for i in invoices)


def test_more_customers_can_be_added_later():
    call_command("seed_demo", customers=5)
    call_command("seed_demo", customers=8)
    assert m.Customer.objects.count() == 8
    assert len(set(m.Customer.objects.values_list("name", flat=True))) == 8


def test_negative_count_is_refused():
    with pytest.raises(SystemExit):
        call_command("seed_demo", customers=-1)


def test_every_seeded_record_passes_its_own_validation():
    call_command("seed_demo", customers=30)
    for table in TABLES:
        for record in table.objects.all():
            record.full_clean()
