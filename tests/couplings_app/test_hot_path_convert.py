"""The converters compiled once per field mapping (sync/compiled.py) give what
`mappings_app.values` gives, value for value and refusal for refusal: the fast way is only a
shortcut for plain text within its limit."""

from decimal import Decimal

import pytest

from couplings_app.sync.compare import same
from couplings_app.sync.compiled import local_converter, local_reader, remote_converter
from erp_app.models import Customer
from mappings_app.choices import Direction
from mappings_app.models import FieldMapping
from mappings_app.values import ValueProblem, local_value, to_local, to_remote

VALUES = ["Atlanta", "", None, "x" * 61, "  padded  ", 5, Decimal("1.50"), True, "Åsa Öberg"]
TEXT = {"name": "address1_city", "type": "String", "max_length": 60}


def outcome(convert, *args, **kwargs):
    try:
        return ("value", convert(*args, **kwargs))
    except ValueProblem as problem:
        return ("refused", str(problem))


@pytest.mark.parametrize("field_mapping", [
    FieldMapping(local_field="city", remote_attribute="address1_city"),
    FieldMapping(local_field="city", remote_attribute="address1_city", not_null=True),
    FieldMapping(local_field="city", remote_attribute="address1_city", constant_value="Paris"),
], ids=["plain", "not null", "constant"])
@pytest.mark.parametrize("value", VALUES)
def test_to_the_crm_a_compiled_converter_gives_what_to_remote_gives(field_mapping, value):
    compiled = remote_converter(field_mapping, TEXT)
    assert outcome(compiled, value, None) == outcome(to_remote, field_mapping, value, TEXT)


@pytest.mark.parametrize("field_mapping", [
    FieldMapping(local_field="city", remote_attribute="address1_city"),
    FieldMapping(local_field="city", remote_attribute="address1_city", not_null=True),
    FieldMapping(local_field="city", remote_attribute="address1_city", constant_value="Paris"),
], ids=["plain", "not null", "constant"])
@pytest.mark.parametrize("value", VALUES)
def test_from_the_crm_a_compiled_converter_gives_what_to_local_gives(field_mapping, value):
    field = Customer._meta.get_field("city")
    compiled = local_converter(field_mapping, field, TEXT)
    assert outcome(compiled, value, None) == \
        outcome(to_local, field_mapping, value, field, attribute=TEXT)


def test_an_option_or_a_rule_takes_the_general_way():
    option = {"name": "customertypecode", "type": "Picklist", "options": {"3": "Customer"}}
    field = Customer._meta.get_field("city")
    converter = local_converter(FieldMapping(local_field="city"), field, option)
    assert converter("3", None) == to_local(FieldMapping(local_field="city"), "3", field,
                                            attribute=option) == "Customer"
    ruled = FieldMapping(local_field="city", transformation_rule_id=1,
                         transformation_direction="both")
    assert ruled.transforms(Direction.TO_CRM)
    assert remote_converter(ruled, TEXT).__name__ == "general"


def test_a_compiled_reader_reads_what_local_value_reads():
    customer = Customer(no="C1", name="Name", city="Atlanta")
    for path in ("city", "name", "no"):
        assert local_reader(Customer, path)(customer) == local_value(customer, path)
    assert local_reader(Customer, "salesperson")(customer) is None  # an empty link
    with pytest.raises(ValueProblem):
        local_reader(Customer, "_meta")(customer)


@pytest.mark.parametrize("a, b", [
    ("abc", "abc"), ("1.0", "1.00"), ("ABC", "abc"), (Decimal("1.0"), Decimal("1.00")),
    (1, Decimal("1")), ("", None), (None, None), (True, 1), ({"a": 1, "b": 2}, {"b": 2, "a": 1}),
    ("12fc4258-a689-5350-ad9e-4e4bfeaa3941", "12FC4258-A689-5350-AD9E-4E4BFEAA3941"),
])
def test_same_answers_as_comparing_the_normalized_values(a, b):
    from couplings_app.sync.compare import normalize

    assert same(a, b) == (normalize(a) == normalize(b))


def test_a_constant_is_converted_once_and_its_refusal_repeated_for_every_record():
    too_long = FieldMapping(local_field="city", remote_attribute="address1_city",
                            constant_value="x" * 61)
    compiled = remote_converter(too_long, TEXT)
    expected = outcome(to_remote, too_long, None, TEXT)
    assert expected[0] == "refused"
    assert [outcome(compiled, v, None) for v in ("a", None, "b")] == [expected] * 3
    option = {"name": "customertypecode", "type": "Picklist", "options": {"3": "Customer"}}
    constant = FieldMapping(remote_attribute="customertypecode", constant_value="3")
    assert remote_converter(constant, option)(None, None) == to_remote(constant, None, option) == 3


@pytest.mark.parametrize("model, values", [
    ("couplings_app.Coupling", {"local_model": "erp_app.customer", "local_id": 7,
                                "remote_entity": "account", "pending_create": True,
                                "remote_id": "12fc4258-a689-5350-ad9e-4e4bfeaa3941"}),
    ("erp_app.Contact", {"no": "CT-C1", "name": "Cronus", "city": "Atlanta"}),
    ("erp_app.Customer", {}),
])
def test_a_new_instance_made_quickly_is_the_one_model_init_makes(model, values):
    from django.apps import apps

    from couplings_app.sync.bulk import new_instance as new

    cls = apps.get_model(model)
    quick, usual = new(cls, **values), cls(**values)
    called = {f.attname for f in cls._meta.concrete_fields
              if f.has_default() and callable(f.default)}
    for field in cls._meta.concrete_fields:
        if field.attname in called and field.name not in values:
            assert type(getattr(quick, field.attname)) is type(getattr(usual, field.attname))
            continue
        assert getattr(quick, field.attname) == getattr(usual, field.attname), field.name
    assert (quick._state.adding, quick._state.db, quick.pk) == (True, None, None)
    if "system_id" in called:
        assert new(cls).system_id != new(cls).system_id  # a callable default per instance
