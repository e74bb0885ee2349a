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


SIZED = [m.Customer, m.Vendor, m.Item, m.Resource, m.CustomerPriceGroup, m.PostedSalesInvoice]


def test_size_fills_every_synchronized_table_and_changes_nothing_the_second_time():
    call_command("seed_demo", customers=5, size=60)
    for table in SIZED:
        assert table.objects.count() >= 60, table.__name__
    persons = m.Contact.objects.filter(type=ContactType.PERSON, company__customer__isnull=False)
    assert persons.count() >= 60
    assert m.SalesPrice.objects.filter(customer_price_group__isnull=False).count() >= 60
    first = snapshot()
    call_command("seed_demo", customers=5, size=60)
    assert snapshot() == first
    for table in TABLES:
        for record in table.objects.all():
            record.full_clean()


def test_size_keeps_the_demo_as_it_is():
    """The default demo's records are the same with or without --size (other tests rely on
    them): --size only adds records."""

    def demo_rows():
        return {
            "customers": sorted(m.Customer.objects.filter(no__lte="C00030").values_list(
                "no", "name", "salesperson__code", "currency__code", "blocked")),
            "vendors": sorted(m.Vendor.objects.filter(no__lte="V00008").values_list(
                "no", "name", "purchaser__code", "currency__code")),
            "items": sorted(m.Item.objects.exclude(no__startswith="ITEM-").values_list(
                "no", "description", "unit_price")),
            "invoices": sorted(m.PostedSalesInvoice.objects.exclude(no__startswith="PSI-S")
                               .values_list("no", "sell_to_customer__no", "amount")),
        }

    call_command("seed_demo", customers=30)
    plain = demo_rows()
    call_command("seed_demo", customers=30, size=30)
    assert demo_rows() == plain


def test_size_records_have_what_the_crm_knows():
    """The added records' salespeople and purchasers are ones the CRM's users match, so a size
    test measures synchronization, not the demo's deliberate failures."""
    call_command("seed_demo", customers=0, size=40)
    added = m.Vendor.objects.exclude(no__lte="V00008")
    assert set(added.values_list("purchaser__code", flat=True)) <= {"JR", "KH", "LT", "PS"}
    invoices = m.PostedSalesInvoice.objects.filter(no__startswith="PSI-S")
    assert set(invoices.values_list("salesperson__code", flat=True)) <= {
        "JR", "KH", "LT", "PS", None}


def test_negative_size_is_refused():
    with pytest.raises(SystemExit):
        call_command("seed_demo", size=-1)
