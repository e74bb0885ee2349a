"""Use Default Synchronization Setup: the standard mappings, idempotent, in the seeds' order."""

import pytest
from django.core.management import call_command

from mappings_app.choices import Direction
from mappings_app.defaults import DEFAULT_MAPPINGS
from mappings_app.models import FieldMapping, TableMapping
from mappings_app.order import sync_order

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])

SEEDS_ORDER = [
    "CURRENCY",
    "SALESPEOPLE",
    "UNIT OF MEASURE",
    "CUSTOMER",
    "VENDOR",
    "CONTACT",
    "RESOURCE-PRODUCT",
    "ITEM-PRODUCT",
    "CUSTPRCGRP-PRICE",
    "SALESPRC-PRODUCTPRICE",
    "POSTEDSALESINV-INV",
]


def fields(mapping):
    return {(f.local_field, f.remote_attribute): f for f in mapping.field_mappings.all()}


def test_it_creates_every_standard_mapping(setup):
    assert set(setup) == set(SEEDS_ORDER)
    assert all(m.is_default and m.sync_only_coupled and m.is_enabled for m in setup.values())


def test_the_order_is_the_seeds_order(setup):
    assert [m.name for m in sync_order()] == SEEDS_ORDER


@pytest.mark.parametrize(
    ("name", "direction"),
    [
        ("SALESPEOPLE", Direction.FROM_CRM),
        ("CUSTOMER", Direction.BIDIRECTIONAL),
        ("VENDOR", Direction.BIDIRECTIONAL),
        ("CONTACT", Direction.BIDIRECTIONAL),
        ("CURRENCY", Direction.TO_CRM),
        ("UNIT OF MEASURE", Direction.TO_CRM),
        ("ITEM-PRODUCT", Direction.TO_CRM),
        ("RESOURCE-PRODUCT", Direction.TO_CRM),
        ("POSTEDSALESINV-INV", Direction.TO_CRM),
    ],
)
def test_directions_follow_the_seeds(setup, name, direction):
    assert setup[name].direction == direction


def test_filters_follow_the_seeds(setup):
    assert setup["SALESPEOPLE"].remote_filter == (
        "isdisabled eq false and islicensed eq true and isintegrationuser eq false"
    )
    assert setup["CUSTOMER"].remote_filter == "customertypecode eq 3 and statecode eq 0"
    assert setup["VENDOR"].remote_filter == "customertypecode eq 11 and statecode eq 0"
    assert setup["CONTACT"].local_filter == "type = person AND company != empty"
    assert setup["CONTACT"].remote_filter == "_parentcustomerid_value ne null"
    assert setup["CUSTOMER"].remote_template == {"customertypecode": 3}
    assert setup["VENDOR"].remote_template == {"customertypecode": 11}


def test_customer_has_bcs_standard_field_mappings(setup):
    customer = fields(setup["CUSTOMER"])
    for pair in [
        ("name", "name"),
        ("address", "address1_line1"),
        ("address_2", "address1_line2"),
        ("post_code", "address1_postalcode"),
        ("city", "address1_city"),
        ("county", "address1_stateorprovince"),
        ("country_region_code", "address1_country"),
        ("phone_no", "telephone1"),
        ("fax_no", "fax"),
        ("email", "emailaddress1"),
        ("home_page", "websiteurl"),
        ("credit_limit_lcy", "creditlimit"),
    ]:
        assert pair in customer, pair
    owner = customer[("salesperson", "ownerid")]
    assert owner.lookup_mapping == setup["SALESPEOPLE"] and owner.direction == Direction.TO_CRM
    assert customer[("currency", "transactioncurrencyid")].lookup_mapping == setup["CURRENCY"]
    assert customer[("", "customertypecode")].constant_value == "3"


def test_vendor_owner_is_the_purchaser(setup):
    assert fields(setup["VENDOR"])[("purchaser", "ownerid")].lookup_mapping == setup["SALESPEOPLE"]


def test_contact_parent_account_goes_through_customer_couplings(setup):
    parent = fields(setup["CONTACT"])[("company.customer", "parentcustomerid")]
    assert parent.lookup_mapping == setup["CUSTOMER"]


def test_currencies_couple_by_iso_code(setup):
    iso = fields(setup["CURRENCY"])[("code", "isocurrencycode")]
    assert iso.use_for_matching and iso.match_priority == 1


def mappings_as_they_are():
    """Each table mapping by name: its id and its field mappings' ids, fields and directions."""
    return {
        m.name: (
            m.pk,
            sorted(
                FieldMapping.objects.filter(table_mapping=m).values_list(
                    "pk", "local_field", "remote_attribute", "direction", "lookup_mapping_id"
                )
            ),
        )
        for m in TableMapping.objects.all()
    }


def test_second_run_changes_nothing(setup):
    before = mappings_as_they_are()
    call_command("setup_defaults")
    assert mappings_as_they_are() == before


def test_resetting_one_mapping_restores_it(setup, capsys):
    customer = setup["CUSTOMER"]
    customer.direction = Direction.TO_CRM
    customer.remote_filter = "statecode eq 0"
    customer.save()
    customer.field_mappings.filter(remote_attribute="fax").delete()
    customer.field_mappings.filter(remote_attribute="name").update(is_enabled=False)
    vendor_before = TableMapping.objects.get(name="VENDOR").remote_filter
    call_command("setup_defaults", "CUSTOMER")
    assert "1 reset" in capsys.readouterr().out
    customer.refresh_from_db()
    assert customer.direction == Direction.BIDIRECTIONAL
    assert customer.remote_filter == "customertypecode eq 3 and statecode eq 0"
    restored = fields(customer)
    assert ("fax_no", "fax") in restored and restored[("name", "name")].is_enabled
    assert TableMapping.objects.get(name="VENDOR").remote_filter == vendor_before


def test_every_default_field_mapping_passes_validation(setup):
    for mapping in TableMapping.objects.all():
        mapping.full_clean()
        for fm in mapping.field_mappings.all():
            fm.full_clean()
    assert sum(len(m.fields) for m in DEFAULT_MAPPINGS) == FieldMapping.objects.count()


def test_unknown_mapping_name_is_refused(crm_app):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No default mapping named NOPE"):
        call_command("setup_defaults", "NOPE")
