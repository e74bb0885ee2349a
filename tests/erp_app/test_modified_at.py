"""`modified_at` moves on every change: the sync engine finds changed records by it."""

import time

import pytest

from erp_app.models import Currency, Customer, Salesperson


@pytest.fixture
def customer(db):
    return Customer.objects.create(no="C1", name="Adatum")


def later_than(before):
    time.sleep(0.002)
    return before


def test_it_moves_on_save(customer):
    before = later_than(customer.modified_at)
    customer.name = "Adatum Corporation"
    customer.save()
    customer.refresh_from_db()
    assert customer.modified_at > before


def test_it_moves_on_save_with_update_fields(customer):
    before = later_than(customer.modified_at)
    customer.city = "Atlanta"
    customer.save(update_fields=["city"])
    customer.refresh_from_db()
    assert customer.modified_at > before and customer.city == "Atlanta"


def test_it_moves_on_queryset_update(customer):
    before = later_than(customer.modified_at)
    Customer.objects.filter(pk=customer.pk).update(city="Miami")
    customer.refresh_from_db()
    assert customer.modified_at > before


def test_it_moves_on_bulk_update(customer):
    before = later_than(customer.modified_at)
    customer.city = "Chicago"
    Customer.objects.bulk_update([customer], ["city"])
    customer.refresh_from_db()
    assert customer.modified_at > before and customer.city == "Chicago"


def test_an_explicit_modified_at_in_update_is_kept(customer):
    stamp = customer.modified_at.replace(year=2020)
    Customer.objects.filter(pk=customer.pk).update(modified_at=stamp)
    customer.refresh_from_db()
    assert customer.modified_at == stamp


def test_every_table_has_a_unique_system_id(db):
    a = Salesperson.objects.create(code="A")
    b = Salesperson.objects.create(code="B")
    assert a.system_id and b.system_id and a.system_id != b.system_id


def test_iso_code_is_three_capital_letters():
    assert Currency(code="EUR").has_iso_code
    assert not Currency(code="LOCAL").has_iso_code
    assert not Currency(code="eu1").has_iso_code
