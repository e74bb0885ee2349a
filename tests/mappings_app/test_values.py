"""values.py: a field mapping's value on its way across, without HTTP or a CRM."""

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.db import models

from erp_app.models import (
    Contact,
    Currency,
    Customer,
    Item,
    PostedSalesInvoiceLine,
    Salesperson,
    ShippingAgent,
)
from mappings_app.choices import Direction, TransformationDirection, TransformationType
from mappings_app.models import FieldMapping, TableMapping, TransformationRule
from mappings_app.values import (
    Reference,
    ValueProblem,
    local_value,
    remote_value,
    to_local,
    to_remote,
)

pytestmark = pytest.mark.django_db

SHIPPING = {"name": "address1_shippingmethodcode", "type": "Picklist",
            "options": {"1": "Airborne", "2": "DHL", "4": "UPS"}}
STATE = {"name": "statecode", "type": "State", "options": {"0": "Active", "1": "Inactive"}}
CITY = {"name": "address1_city", "type": "String", "max_length": 80}
MONEY = {"name": "creditlimit", "type": "Money", "precision": 2,
         "min_value": -922337203685477.0, "max_value": 922337203685477.0}
INTEGER = {"name": "currencyprecision", "type": "Integer", "min_value": 0, "max_value": 4}
BOOL = {"name": "donotemail", "type": "Boolean", "options": {"0": "No", "1": "Yes"}}
DATE = {"name": "duedate", "type": "DateTime"}
OWNER = {"name": "ownerid", "type": "Owner", "targets": ["systemuser"]}
GUID = {"name": "applicationid", "type": "Uniqueidentifier"}


def mapping(model="erp_app.customer", name="CUSTOMER"):
    return TableMapping(name=name, local_model=model, remote_entity="account")


def fm(local="", remote="", table=None, **kwargs):
    return FieldMapping(table_mapping=table or mapping(), local_field=local,
                        remote_attribute=remote, **kwargs)


def rule(code, type, **kwargs):
    return TransformationRule.objects.create(code=code, type=type, **kwargs)


def field(model, name):
    return model._meta.get_field(name)


@pytest.fixture
def customer():
    sp = Salesperson.objects.create(code="JR", name="John Roberts")
    return Customer.objects.create(no="C1", name="Contoso", city="Springfield", salesperson=sp,
                                   credit_limit_lcy=Decimal("1500.50"))


# --- local_value / remote_value --------------------------------------------------------------


def test_local_value_reads_a_field_and_follows_foreign_keys(customer):
    assert local_value(customer, "city") == "Springfield"
    assert local_value(customer, "salesperson") == customer.salesperson
    assert local_value(customer, "salesperson.name") == "John Roberts"


def test_local_value_is_none_when_a_link_is_empty(customer):
    person = Contact.objects.create(no="K1", first_name="Ann")
    assert local_value(person, "company.customer") is None
    assert local_value(person, "company.name") is None


def test_remote_value_reads_lookups_by_their_web_api_name():
    row = {"name": "A", "_ownerid_value": "abc"}
    assert remote_value(row, "name") == "A"
    assert remote_value(row, "ownerid") == "abc"
    assert remote_value(row, "fax") is None


# --- to the CRM ------------------------------------------------------------------------------


def test_text_passes_and_empty_becomes_none(customer):
    assert to_remote(fm("city", "address1_city"), "Springfield", CITY) == "Springfield"
    assert to_remote(fm("city", "address1_city"), "", CITY) is None


def test_text_too_long_names_field_value_and_limit():
    with pytest.raises(ValueProblem) as exc:
        to_remote(fm("address", "address1_city"), "x" * 95, CITY)
    message = str(exc.value)
    assert message.startswith("address1_city: 'xxxx")
    assert "…' is 95 characters; the CRM holds at most 80." in message


def test_constant_replaces_the_value_and_converts_to_an_option():
    mapping_ = fm("", "customertypecode", constant_value="3", direction=Direction.TO_CRM)
    attribute = {"name": "customertypecode", "type": "Picklist",
                 "options": {"3": "Customer", "11": "Vendor"}}
    assert to_remote(mapping_, None, attribute) == 3


def test_option_value_that_the_crm_does_not_have_is_a_problem():
    with pytest.raises(ValueProblem, match=r"customertypecode: 99 is not an option"):
        to_remote(fm("", "customertypecode", constant_value="99"),
                  None, {"name": "customertypecode", "type": "Picklist", "options": {"3": "C"}})


def test_foreign_key_code_matches_an_option_label_ignoring_case():
    agent = ShippingAgent.objects.create(code="dhl")
    assert to_remote(fm("shipping_agent", "address1_shippingmethodcode"), agent, SHIPPING) == 2


def test_foreign_key_code_without_a_matching_option_is_a_problem():
    agent = ShippingAgent.objects.create(code="OWN")
    with pytest.raises(ValueProblem, match="'OWN' matches no option of the CRM"):
        to_remote(fm("shipping_agent", "address1_shippingmethodcode"), agent, SHIPPING)


def test_a_choice_matches_an_option_by_its_label():
    attribute = {"name": "x", "type": "Picklist", "options": {"1": "Person", "2": "Company"}}
    table = mapping("erp_app.contact", "CONTACT")
    assert to_remote(fm("type", "x", table=table), "company", attribute) == 2


def test_lookup_table_result_becomes_the_option_value():
    blocked = rule("B2S", TransformationType.LOOKUP, lookup_table={"true": "1", "false": "0"})
    table = mapping("erp_app.item", "ITEM-PRODUCT")
    mapping_ = fm("blocked", "statecode", table=table, transformation_rule=blocked)
    assert to_remote(mapping_, True, STATE) == 1
    assert to_remote(mapping_, False, STATE) == 0


def test_transformation_applies_only_in_its_direction():
    upper = rule("UP", TransformationType.UPPERCASE)
    both = fm("city", "address1_city", transformation_rule=upper)
    only_from = fm("city", "address1_city", transformation_rule=upper,
                   transformation_direction=TransformationDirection.FROM_CRM)
    assert to_remote(both, "Oslo", CITY) == "OSLO"
    assert to_remote(only_from, "Oslo", CITY) == "Oslo"
    assert to_local(only_from, "Oslo", field(Customer, "city")) == "OSLO"


def test_transformation_failure_is_a_value_problem():
    rounding = rule("R", TransformationType.ROUND, precision=Decimal("0.01"))
    with pytest.raises(ValueProblem, match="R: 'abc' is not a number to round"):
        to_remote(fm("name", "creditlimit", transformation_rule=rounding), "abc", MONEY)


def test_numbers_become_decimals_rounded_to_the_crms_precision():
    assert to_remote(fm("credit_limit_lcy", "creditlimit"), Decimal("10.005"), MONEY) == (
        Decimal("10.01"))
    assert to_remote(fm("", "currencyprecision", constant_value="2"), None, INTEGER) == 2


def test_numbers_outside_the_crms_range_are_problems():
    with pytest.raises(ValueProblem, match="currencyprecision: 7 is above the CRM's maximum 4"):
        to_remote(fm("", "currencyprecision", constant_value="7"), None, INTEGER)
    with pytest.raises(ValueProblem, match="not a whole number"):
        to_remote(fm("", "currencyprecision", constant_value="2.5"), None, INTEGER)
    with pytest.raises(ValueProblem, match="'lots' is not a number"):
        to_remote(fm("name", "creditlimit"), "lots", MONEY)


def test_booleans():
    assert to_remote(fm("blocked", "donotemail"), True, BOOL) is True
    assert to_remote(fm("", "donotemail", constant_value="no"), None, BOOL) is False
    with pytest.raises(ValueProblem, match="neither Yes nor No"):
        to_remote(fm("", "donotemail", constant_value="maybe"), None, BOOL)


def test_dates_and_timestamps_become_iso_strings():
    assert to_remote(fm("due_date", "duedate"), dt.date(2026, 3, 1), DATE) == "2026-03-01"
    moment = dt.datetime(2026, 3, 1, 12, 30, tzinfo=dt.UTC)
    assert to_remote(fm("modified_at", "duedate"), moment, DATE) == "2026-03-01T12:30:00Z"
    with pytest.raises(ValueProblem, match="is not a date"):
        to_remote(fm("", "duedate", constant_value="first of May"), None, DATE)


def test_number_to_text_and_ids():
    assert to_remote(fm("credit_limit_lcy", "address1_city"), Decimal("5.50"), CITY) == "5.50"
    some = uuid.uuid4()
    assert to_remote(fm("system_id", "applicationid"), some, GUID) == str(some)
    with pytest.raises(ValueProblem, match="not an id"):
        to_remote(fm("name", "applicationid"), "nope", GUID)


def test_reference_without_resolver_says_which_couplings_translate_it(customer):
    salespeople = mapping("erp_app.salesperson", "SALESPEOPLE")
    result = to_remote(fm("salesperson", "ownerid", lookup_mapping=salespeople),
                       customer.salesperson, OWNER)
    assert isinstance(result, Reference)
    assert str(result) == "JR via SALESPEOPLE couplings"


def test_reference_with_resolver(customer):
    salespeople = mapping("erp_app.salesperson", "SALESPEOPLE")
    owner = "5b1c0d1e-0000-4000-8000-000000000001"
    mapping_ = fm("salesperson", "ownerid", lookup_mapping=salespeople)
    assert to_remote(mapping_, customer.salesperson, OWNER,
                     resolve=lambda m, record: owner) == owner
    with pytest.raises(ValueProblem, match="JR is not coupled to a CRM record.*SALESPEOPLE"):
        to_remote(mapping_, customer.salesperson, OWNER, resolve=lambda m, r: None)
    mapping_.clear_value_on_failed_sync = True
    assert to_remote(mapping_, customer.salesperson, OWNER, resolve=lambda m, r: None) is None


def test_not_null_refuses_an_empty_value():
    with pytest.raises(ValueProblem, match="Not Null"):
        to_remote(fm("city", "address1_city", not_null=True), "", CITY)


# --- from the CRM ----------------------------------------------------------------------------


def test_text_into_a_char_field_respects_its_max_length():
    assert to_local(fm("city", "address1_city"), "Oslo", field(Customer, "city")) == "Oslo"
    assert to_local(fm("city", "address1_city"), None, field(Customer, "city")) == ""
    too_long = "city: 'x.*' is 31 characters; the ERP holds at most 30"
    with pytest.raises(ValueProblem, match=too_long):
        to_local(fm("city", "address1_city"), "x" * 31, field(Customer, "city"))


def test_decimals_are_rounded_to_the_fields_places_and_checked_for_size():
    target = field(Customer, "credit_limit_lcy")
    assert to_local(fm("credit_limit_lcy", "creditlimit"), "12.345", target) == Decimal("12.35")
    assert to_local(fm("credit_limit_lcy", "creditlimit"), None, target) == Decimal(0)
    with pytest.raises(ValueProblem, match="too large"):
        to_local(fm("credit_limit_lcy", "creditlimit"), Decimal("1e20"), target)


def test_option_value_becomes_a_choice_by_its_label():
    attribute = {"name": "x", "type": "Picklist", "options": {"1": "Person", "2": "Company"}}
    table = mapping("erp_app.contact", "CONTACT")
    assert to_local(fm("type", "x", table=table), 2, field(Contact, "type"),
                    attribute=attribute) == "company"
    with pytest.raises(ValueProblem, match="'robot' is not one of Company, Person"):
        to_local(fm("type", "x", table=table), "robot", field(Contact, "type"))


def test_option_value_finds_the_related_record_by_its_code():
    agent = ShippingAgent.objects.create(code="DHL")
    target = field(Customer, "shipping_agent")
    mapping_ = fm("shipping_agent", "address1_shippingmethodcode")
    assert to_local(mapping_, 2, target, attribute=SHIPPING) == agent
    with pytest.raises(ValueProblem, match="there is no shipping agent 'UPS'"):
        to_local(mapping_, 4, target, attribute=SHIPPING)


def test_crm_reference_needs_the_couplings(customer):
    salespeople = mapping("erp_app.salesperson", "SALESPEOPLE")
    mapping_ = fm("salesperson", "ownerid", lookup_mapping=salespeople)
    owner = "5B1C0D1E-0000-4000-8000-000000000001"
    target = field(Customer, "salesperson")
    assert to_local(mapping_, owner, target) == Reference(salespeople, owner.lower())
    assert to_local(mapping_, owner, target, resolve=lambda m, i: customer.salesperson) == (
        customer.salesperson)
    with pytest.raises(ValueProblem, match="not coupled to a salesperson/purchaser"):
        to_local(mapping_, owner, target, resolve=lambda m, i: None)


def test_booleans_dates_and_timestamps_from_the_crm():
    assert to_local(fm("blocked", "x"), "true", field(Item, "blocked")) is True
    assert to_local(fm("blocked", "x"), None, field(Item, "blocked")) is False
    from erp_app.models import PostedSalesInvoice

    due = field(PostedSalesInvoice, "due_date")
    assert to_local(fm("due_date", "duedate"), "2026-03-01", due) == dt.date(2026, 3, 1)
    assert to_local(fm("due_date", "duedate"), "2026-03-01T23:00:00Z", due) == dt.date(2026, 3, 1)
    with pytest.raises(ValueProblem, match="is not a date"):
        to_local(fm("due_date", "duedate"), "soon", due)
    moment = to_local(fm("modified_at", "modifiedon"), "2026-03-01T12:00:00Z",
                      field(Customer, "modified_at"))
    assert moment == dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)


def test_lookup_table_from_the_crm_then_the_choice():
    states = rule("S2B", TransformationType.LOOKUP, lookup_table={"0": "false", "1": "true"})
    mapping_ = fm("blocked", "statecode", table=mapping("erp_app.item"),
                  transformation_rule=states)
    assert to_local(mapping_, 1, field(Item, "blocked")) is True


def test_currency_code_from_text():
    eur = Currency.objects.create(code="EUR")
    assert to_local(fm("currency", "x"), "eur", field(Customer, "currency")) == eur


@pytest.mark.parametrize("value", ["1E999998", "-1E999999", "9" * 400])
def test_a_huge_whole_number_is_refused_at_once_on_either_side(value):
    # int() of 1E999998 alone takes seconds: the bounds are checked before it.
    big = {"name": "importsequencenumber", "type": "Integer"}
    with pytest.raises(ValueProblem, match="importsequencenumber: .* the most the CRM holds"
                       if not value.startswith("-") else "the least the CRM holds"):
        to_remote(fm("name", "importsequencenumber"), value, big)
    line_no = field(PostedSalesInvoiceLine, "line_no")
    with pytest.raises(ValueProblem, match="line_no: .* the ERP holds"):
        to_local(fm("line_no", "x"), value, line_no)
    with pytest.raises(ValueProblem, match="is not an option of the CRM|the CRM holds"):
        to_remote(fm("name", "address1_shippingmethodcode"), value, SHIPPING)


def test_a_whole_number_within_the_erps_range_passes_and_beyond_it_is_refused():
    line_no = field(PostedSalesInvoiceLine, "line_no")
    assert to_local(fm("line_no", "x"), "2147483647", line_no) == 2147483647
    with pytest.raises(ValueProblem, match="line_no: -1 is below 0, the least the ERP holds"):
        to_local(fm("line_no", "x"), "-1", line_no)


def test_a_float_too_large_for_the_erp_is_refused():
    amount = models.FloatField(name="amount")
    assert to_local(fm("amount", "x"), "1.5", amount) == 1.5
    with pytest.raises(ValueProblem, match="amount: '1E999998' is too large for the ERP"):
        to_local(fm("amount", "x"), "1E999998", amount)
