"""A mapping naming a field that does not exist, or mapping incompatible types, is refused when
saved, with a message naming it."""

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from mappings_app.choices import Direction, TransformationType
from mappings_app.models import FieldMapping, TableMapping, TransformationRule
from mappings_app.order import check_no_cycle, sync_order

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])


@pytest.fixture
def customer(crm_app):
    call_command("setup_defaults")
    return TableMapping.objects.get(name="CUSTOMER")


def errors_of(obj):
    with pytest.raises(ValidationError) as error:
        obj.full_clean()
    return error.value.message_dict


def test_unknown_table_is_refused(customer):
    customer.local_model = "erp_app.nothing"
    assert "There is no table 'erp_app.nothing'" in errors_of(customer)["local_model"][0]


def test_bad_table_filter_is_refused_with_its_position(customer):
    customer.local_filter = "city = Atlanta AND"
    message = errors_of(customer)["local_filter"][0]
    assert message.startswith("Table filter: the filter ends where a field name was expected")
    assert "at position 19" in message


def test_crm_filter_naming_an_unknown_attribute_is_refused(customer):
    customer.remote_filter = "customertypecode eq 3 and relationship eq 1"
    message = errors_of(customer)["remote_filter"][0]
    assert "account has no attribute 'relationship' (at position 27)" in message


def test_crm_filter_syntax_error_is_refused(customer):
    customer.remote_filter = "statecode eq"
    assert "the filter ends where a value was expected" in errors_of(customer)["remote_filter"][0]


def test_crm_filter_accepts_lookup_value_names(customer):
    customer.remote_filter = "_ownerid_value ne null and contains(name, 'a')"
    customer.full_clean()


def test_unknown_entity_is_refused(customer):
    customer.remote_entity = "opportunityx"
    assert "opportunityx" in errors_of(customer)["remote_entity"][0]


def test_templates_name_their_bad_keys(customer):
    customer.local_template = {"credit_limit_lcy": "lots", "colour": "red"}
    customer.remote_template = {"customertypecode": 3, "relationship": 1}
    found = errors_of(customer)
    assert any(
        m.startswith("credit_limit_lcy: 'lots' is not a valid value")
        for m in found["local_template"]
    )
    assert any("Customer has no field 'colour'" in m for m in found["local_template"])
    assert found["remote_template"] == ["relationship: account has no such attribute."]


def new_field(mapping, **values):
    return FieldMapping(table_mapping=mapping, **values)


def test_unknown_local_field_is_refused(customer):
    found = errors_of(new_field(customer, local_field="colour", remote_attribute="name"))
    assert found["local_field"] == ["Customer has no field 'colour'."]


def test_unknown_crm_attribute_is_refused(customer):
    found = errors_of(new_field(customer, local_field="name", remote_attribute="nmae"))
    assert found["remote_attribute"] == ["account has no attribute 'nmae'."]


def test_incompatible_types_are_refused(customer):
    found = errors_of(new_field(customer, local_field="name", remote_attribute="creditlimit"))
    assert "name (text) cannot be mapped to creditlimit (number)" in found["remote_attribute"][0]
    found = errors_of(new_field(customer, local_field="email", remote_attribute="ownerid"))
    assert "email (text) cannot be mapped to ownerid (reference)" in found["remote_attribute"][0]
    found = errors_of(
        new_field(customer, local_field="credit_limit_lcy", remote_attribute="statecode")
    )
    assert "(number) cannot be mapped to statecode (option)" in found["remote_attribute"][0]


def test_compatible_types_pass(customer):
    # A number may be written as text; a code or a choice becomes an option by its label.
    for local, remote in [
        ("credit_limit_lcy", "description"),
        ("city", "statecode"),
        ("shipping_agent", "address1_shippingmethodcode"),
    ]:
        new_field(
            customer, local_field=local, remote_attribute=remote, direction=Direction.TO_CRM
        ).full_clean()


def test_a_lookup_table_rule_allows_any_types(customer):
    rule = TransformationRule.objects.create(
        code="YESNO", type=TransformationType.LOOKUP, lookup_table={"true": "1"}
    )
    new_field(
        customer,
        local_field="blocked",
        remote_attribute="statecode",
        direction=Direction.TO_CRM,
        transformation_rule=rule,
    ).full_clean()


def test_a_reference_needs_the_mapping_that_translates_it(customer):
    def lookup_error(**lookup):
        """The error on the lookup mapping of a salesperson sent to the CRM's owner."""
        field = new_field(customer, local_field="salesperson", remote_attribute="ownerid",
                          direction=Direction.TO_CRM, **lookup)
        return errors_of(field)["lookup_mapping"][0]

    assert "choose the table mapping whose couplings translate it" in lookup_error()
    wrong = TableMapping.objects.get(name="CURRENCY")
    assert ("ownerid refers to systemuser, but CURRENCY couples transactioncurrency"
            in lookup_error(lookup_mapping=wrong))


def test_constant_must_suit_the_attribute(customer):
    def constant_errors(attribute, value):
        """The errors on a constant sent to the CRM's `attribute`."""
        field = new_field(customer, remote_attribute=attribute, direction=Direction.TO_CRM,
                          constant_value=value)
        return errors_of(field)["constant_value"]

    assert "'99' is not an option of customertypecode" in constant_errors("customertypecode",
                                                                            "99")[0]
    assert constant_errors("creditlimit", "much") == [
        "creditlimit takes a number; 'much' is not one."]


def test_field_direction_must_fit_the_table_mapping(customer):
    currency = TableMapping.objects.get(name="CURRENCY")
    found = errors_of(
        new_field(
            currency,
            local_field="description",
            remote_attribute="currencyname",
            direction=Direction.FROM_CRM,
        )
    )
    assert found["direction"] == ["The table mapping only runs To Integration Table."]


def test_neither_side_is_refused(customer):
    assert (
        "Enter the ERP field, the CRM attribute, or both."
        in errors_of(new_field(customer))["local_field"]
    )


def test_a_dependency_cycle_is_refused(customer):
    salespeople = TableMapping.objects.get(name="SALESPEOPLE")
    with pytest.raises(ValidationError, match="CUSTOMER"):
        check_no_cycle(salespeople, [customer])
    salespeople.dependencies.add(customer)  # saved behind the check's back
    with pytest.raises(ValidationError, match="cycle: (SALESPEOPLE|CUSTOMER) → "):
        sync_order()
