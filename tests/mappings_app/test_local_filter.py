"""The table filter: a small readable syntax, parsed into a query, refused with a position."""

import pytest

from erp_app.choices import ContactType
from erp_app.models import Contact, Customer, Salesperson
from mappings_app.local_filter import FilterError, parse


@pytest.fixture
def contacts(db):
    company = Contact.objects.create(no="CT1", type=ContactType.COMPANY, name="Adatum")
    Contact.objects.create(no="P1", type=ContactType.PERSON, name="Anna", company=company)
    Contact.objects.create(no="P2", type=ContactType.PERSON, name="Solo")
    return company


def matching(model, text):
    return sorted(model.objects.filter(parse(model, text)).values_list("no", flat=True))


def test_person_contacts_of_a_company(contacts):
    assert matching(Contact, "type = person AND company != empty") == ["P1"]


def test_or_binds_looser_than_and_and_parentheses_group(contacts):
    assert matching(Contact, "type = company OR type = person AND company = empty") == ["CT1", "P2"]
    assert matching(Contact, "(type = company OR type = person) AND name != Solo") == ["CT1", "P1"]


def test_not_and_quoted_values(contacts):
    assert matching(Contact, "NOT name = 'Anna'") == ["CT1", "P2"]
    assert matching(Contact, 'name contains "dat"') == ["CT1"]


def test_references_compare_by_code_and_paths_follow_them(db):
    jr = Salesperson.objects.create(code="JR")
    Customer.objects.create(no="C1", name="A", salesperson=jr, credit_limit_lcy=500)
    Customer.objects.create(no="C2", name="B", credit_limit_lcy=5000)
    assert matching(Customer, "salesperson = jr") == ["C1"]
    assert matching(Customer, "salesperson.code startswith J") == ["C1"]
    assert matching(Customer, "credit_limit_lcy >= 1000") == ["C2"]
    assert matching(Customer, "salesperson = empty") == ["C2"]


def test_empty_filter_means_every_record(contacts):
    assert matching(Contact, "   ") == ["CT1", "P1", "P2"]


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("compnay != empty", "Contact has no field 'compnay'", 1),
        ("type = persn", "'persn' is not an option of type", 8),
        ("type = person AND", "the filter ends where a field name was expected", 18),
        ("(type = person", "the filter ends where ')' was expected", 15),
        ("type ~ person", "unknown operator '~'", 6),
        ("type = person name = x", "expected AND, OR or the end, found 'name'", 15),
        ("name > empty", "'empty' can only be compared with = or !=", 8),
        ("company.surname.x = 1", "'surname' is not a reference", 1),
        ("type = 'person", "unexpected character", 8),
    ],
)
def test_errors_name_the_position(text, message, position):
    with pytest.raises(FilterError) as error:
        parse(Contact, text)
    assert message in str(error.value)
    assert error.value.position + 1 == position
    assert f"at position {position}" in str(error.value)


def test_wrong_value_types_are_refused():
    with pytest.raises(FilterError, match="'lots' is not a valid credit_limit_lcy"):
        parse(Customer, "credit_limit_lcy > lots")


def test_a_filter_cannot_reach_other_tables_or_run_code(contacts):
    for hostile in [
        "__import__('os').system('true') = 1",
        "id = 1; DROP TABLE erp_app_contact",
        "password = x",
        "company.people.name = x",
    ]:
        with pytest.raises(FilterError):
            parse(Contact, hostile)
    assert Contact.objects.count() == 3
