"""What an administrator types into a mapping is data, never code: table filters, CRM filters,
transformation rules, constant values and templates cannot run Python, render templates, expand
format strings, or read any table but the mapping's own (and, through a reference, the ERP table
it points to); a regular expression cannot hang a job.

Each hostile text is either refused with a message naming the problem, or used as plain text;
CaptureQueriesContext shows which tables a filter or a constant reads.
"""

import re
import time
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dataverse import filter as odata
from erp_app.models import Contact, Customer, Salesperson
from mappings_app import local_filter, validation
from mappings_app.choices import TransformationType as T
from mappings_app.models import FieldMapping, TableMapping, TransformationRule
from mappings_app.transformations import MAX_INPUT, TransformationError
from mappings_app.values import ValueProblem, local_value, to_local, to_remote

pytestmark = pytest.mark.django_db

SECRET_TEMPLATE = "{{ settings.SECRET_KEY }}"
# Texts that would do something if anything evaluated them, formatted them or rendered them.
PAYLOADS = [
    SECRET_TEMPLATE,
    "{% load static %}{% debug %}",
    "{0.__class__.__mro__}",
    "%(password)s %s %x",
    "__import__('os').system('touch pwned')",
    "'; DROP TABLE erp_app_customer; --",
    "x' OR '1'='1",
    "${7*7} #{7*7} <%= 7*7 %>",
    r"\1 \g<0>",
]
TEXT = {"name": "name", "type": "String", "max_length": 200}


def tables_read(queries) -> set[str]:
    """The tables the captured queries name (quoted identifiers that are tables)."""
    known = set(connection.introspection.table_names())
    names = set()
    for query in queries:
        names |= {n for n in re.findall(r'"(\w+)"', query["sql"]) if n in known}
    return names


# --- table filters (mappings_app/local_filter.py) ------------------------------------------------

@pytest.mark.parametrize("text", [
    "name__startswith = A",                     # a Django lookup
    "pk__in = 1",
    "id__in = (1, 2)",
    "company__name = x",                        # a lookup into another table
    "coupling_set.remote_id = x",               # a reverse relation
    "salesperson.user.password = x",            # out of the ERP
    "salesperson._meta = x",
    "__class__ = x",
    "{0.__class__} = x",
    "name = x; DROP TABLE erp_app_customer",
    "name = x OR 1=1 --",
    "name = {{ settings.SECRET_KEY }}",
    "name = __import__('os').system('id')",
    "name = x) OR (pk > 0",
    "name = 'unclosed",
    "extra(where=['1=1']) = x",
])
def test_a_table_filter_that_is_not_about_the_tables_fields_is_refused(text):
    with pytest.raises(local_filter.FilterError, match=r"\(at position \d+\)"):
        local_filter.parse(Customer, text)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_quoted_value_of_a_table_filter_is_plain_text(payload):
    Customer.objects.create(no="C1", name=payload)
    Customer.objects.create(no="C2", name="Someone else")
    quoted = "'" + payload.replace("'", "''") + "'"
    where = local_filter.parse(Customer, f"name = {quoted} OR name contains {quoted}")
    with CaptureQueriesContext(connection) as queries:
        found = list(Customer.objects.filter(where).values_list("no", flat=True))
    assert found == ["C1"]
    assert tables_read(queries) == {"erp_app_customer"}
    assert Customer.objects.count() == 2  # and the table is still there


def test_a_reference_in_a_table_filter_reads_only_the_erp_table_it_points_to():
    where = local_filter.parse(Contact, "company.name contains 'Adatum' AND NOT company = empty")
    with CaptureQueriesContext(connection) as queries:
        list(Contact.objects.filter(where))
    assert tables_read(queries) == {"erp_app_contact"}  # the company is a contact too
    where = local_filter.parse(Customer, "salesperson = JR")
    with CaptureQueriesContext(connection) as queries:
        list(Customer.objects.filter(where))
    assert tables_read(queries) == {"erp_app_customer", "erp_app_salesperson"}


@pytest.fixture
def no_crm(monkeypatch):
    """The mapping checks without the CRM's half (its attributes): the ERP's half is tested."""
    monkeypatch.setattr(validation, "remote_attributes", lambda name: (None, "no CRM here"))


def test_a_mapping_with_a_hostile_table_filter_is_not_saved(no_crm):
    mapping = TableMapping(name="CUSTOMER", local_model="erp_app.customer",
                           remote_entity="account", local_filter="pk__in = 1")
    assert "Table filter:" in " ".join(validation.check_table_mapping(mapping)["local_filter"])


# --- CRM filters (dataverse/filter.py): sent inside $filter=(...), so they must not break out --

@pytest.mark.parametrize("text", [
    "name eq 'x') or (true",                    # closes the caller's parenthesis
    "name eq 'x'&$select=*",                    # another query option
    "name eq 'x'&$expand=owninguser($select=*)",
    "name eq 'x';drop",
    "name eq 'x' #",
    "name eq {{ settings.SECRET_KEY }}",
    "name eq {0.__class__}",
    "name eq 'unclosed",
    "name eq x/../../systemusers",
    "name eq 'x'\n$top=1",
])
def test_a_crm_filter_that_could_break_out_of_its_parentheses_is_refused(text):
    with pytest.raises(odata.FilterSyntaxError):
        odata.parse(text)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_quoted_value_of_a_crm_filter_stays_one_string(payload):
    quoted = "'" + payload.replace("'", "''") + "'"
    tree = odata.parse(f"name eq {quoted}")
    [(prop, literal)] = [(c.property, c.value) for c in odata.comparisons(tree)]
    assert prop.name == "name" and literal.value == payload


# --- transformation rules (mappings_app/transformations.py) --------------------------------------

def rule(**values):
    return TransformationRule(code="R", **values)


CATASTROPHES = [
    r"(a+)+$",
    r"(a*)*b",
    r"(a|aa)+$",
    r"(a|a?)+$",
    r"(\w+\s?)+$",
    r"^(([a-z])+.)+[A-Z]([a-z])+$",
    r"(x+x+)+y",
    r"(.*a){12}",
    r"(\d)\1+",
    r"(?P<q>a)(?P=q)",
]


@pytest.mark.parametrize("regex", CATASTROPHES)
def test_a_regular_expression_that_can_run_for_ever_is_refused_when_saved(regex):
    for kind in (T.REGEX_EXTRACT, T.REGEX_REPLACE):
        with pytest.raises(ValidationError) as refused:
            rule(type=kind, regex=regex).full_clean()
        assert "Not allowed" in " ".join(refused.value.message_dict["regex"])


@pytest.mark.parametrize("regex", CATASTROPHES)
def test_a_saved_regular_expression_that_can_run_for_ever_fails_the_value_at_once(regex):
    hostile = rule(type=T.REGEX_REPLACE, regex=regex, replace_value="")  # saved past the form
    started = time.perf_counter()
    with pytest.raises(TransformationError, match="^R: Not allowed"):
        hostile.apply("a" * 5000 + "!")
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize("regex", [r".*.*x", r"\w+@\w+\.\w+", r"\s*,\s*", r"(?=.*\d).+x"])
def test_a_long_value_is_refused_when_the_expression_could_take_too_long_on_it(regex):
    long_value = "a" * MAX_INPUT
    started = time.perf_counter()
    for kind in (T.REGEX_EXTRACT, T.REGEX_REPLACE):
        try:
            rule(type=kind, regex=regex, replace_value="-").apply(long_value)
        except TransformationError as exc:
            assert "is too long" in str(exc) and "upper bound" in str(exc)
    # bounded, whatever the outcome: a second or two on a busy machine, not hours
    assert time.perf_counter() - started < 5
    assert rule(type=T.REGEX_EXTRACT, regex=regex).apply("mail x@example.com, ok") is not None


def test_ordinary_expressions_still_work():
    assert rule(type=T.REGEX_EXTRACT, regex=r"(\d{5})").apply("Atlanta 31772 GA") == "31772"
    assert rule(type=T.REGEX_EXTRACT, regex=r"[\w.]+@(\w+)").apply("jo@cronus.example") == \
        "cronus"
    assert rule(type=T.REGEX_REPLACE, regex=r"\s+", replace_value=" ").apply("a   b") == "a b"
    assert rule(type=T.REGEX_REPLACE, regex=r"(?:Inc|Ltd)\.?$", replace_value="").apply(
        "Adatum Inc.") == "Adatum "


@pytest.mark.parametrize("payload", PAYLOADS)
def test_rule_parameters_are_plain_text(payload):
    assert rule(type=T.REPLACE, find_value="X", replace_value=payload,
                case_sensitive=True).apply("aXb") == f"a{payload}b"
    assert rule(type=T.REPLACE, find_value="x", replace_value=payload).apply("aXb") == \
        f"a{payload}b"
    assert rule(type=T.REGEX_REPLACE, regex="X", replace_value=payload).apply("aXb") == \
        f"a{payload}b"
    assert rule(type=T.REPLACE, find_value=payload, replace_value="!").apply(
        f"<{payload}>") == "<!>"
    assert rule(type=T.LOOKUP, lookup_table={"A": payload}).apply("a") == payload
    assert rule(type=T.LOOKUP, lookup_table={"A": "B"}, lookup_default=payload).apply("Z") == \
        payload


def test_a_date_format_is_strftime_and_nothing_else():
    import datetime as dt

    day = dt.date(2026, 11, 22)
    hostile = rule(type=T.DATE_FORMAT, date_format="%Y {0.__class__} {{ settings.SECRET_KEY }}")
    assert hostile.apply(day) == "2026 {0.__class__} {{ settings.SECRET_KEY }}"


# --- constant values, paths and templates (mappings_app/values.py, the engine) -----------------

@pytest.fixture
def customer_mapping():
    return TableMapping.objects.create(name="CUSTOMER", local_model="erp_app.customer",
                                       remote_entity="account", remote_entity_set="accounts")


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_constant_value_is_plain_text_both_ways(customer_mapping, payload):
    constant = FieldMapping(table_mapping=customer_mapping, local_field="name",
                            remote_attribute="name", constant_value=payload)
    with CaptureQueriesContext(connection) as queries:
        assert to_remote(constant, "ignored", TEXT) == payload
        assert to_local(constant, "ignored", Customer._meta.get_field("name")) == payload
    assert queries.captured_queries == []


def test_a_constant_for_a_reference_reads_only_the_table_it_points_to(customer_mapping):
    Salesperson.objects.create(code="JR", name="John Roberts")
    field = Customer._meta.get_field("salesperson")
    constant = FieldMapping(table_mapping=customer_mapping, local_field="salesperson",
                            remote_attribute="ownerid", constant_value="x' OR '1'='1")
    with CaptureQueriesContext(connection) as queries, pytest.raises(ValueProblem):
        to_local(constant, "ignored", field)
    assert tables_read(queries) == {"erp_app_salesperson"}
    constant.constant_value = "jr"
    assert to_local(constant, "ignored", field).code == "JR"


@pytest.mark.parametrize("path", ["__class__", "_meta.db_table", "salesperson._state",
                                  "name.__class__", "pk.__class__.__init__.__globals__"])
def test_a_field_path_reaches_fields_only(customer_mapping, path):
    record = Customer.objects.create(no="C1", name="Adatum", credit_limit_lcy=Decimal(1))
    with pytest.raises(ValueProblem, match="is not a field"):
        local_value(record, path)
    field, problem = validation.resolve_local_field(Customer, path)  # how a field mapping saves
    assert field is None and problem


def test_a_template_sets_fields_and_nothing_else(customer_mapping, no_crm):
    customer_mapping.local_template = {"__class__": "x", "_state": "y", "name": SECRET_TEMPLATE,
                                       "pk__in": [1]}
    problems = validation.check_table_mapping(customer_mapping)["local_template"]
    assert sorted(p.split(":")[0] for p in problems) == ["__class__", "_state", "pk__in"]


# --- what a person types into a search box of the CRM ---------------------------------------

class FilterSpy:
    """Stands in for the CRM client: keeps the $filter it is asked for, answers nothing."""

    def __init__(self):
        self.filters = []

    def iter_rows(self, entity_set, filter=None, **options):
        self.filters.append(filter)
        return iter([])

    def iter_pages(self, entity_set, filter=None, **options):
        self.filters.append(filter)
        return iter([[]])


@pytest.mark.parametrize("payload", [*PAYLOADS, "x') or (name ne 'y", "x'&$select=*"])
def test_a_crm_search_text_stays_one_string_inside_the_mappings_filter(customer_mapping,
                                                                       payload):
    from couplings_app.services import search_crm
    from mappings_app.models import EntityMetadata
    from mappings_app.preview import remote_records

    EntityMetadata.objects.create(logical_name="account", entity_set="accounts",
                                  primary_id="accountid", primary_name="name")
    customer_mapping.remote_key = "accountid"
    customer_mapping.remote_filter = "customertypecode eq 3"
    spy = FilterSpy()
    remote_records(customer_mapping, payload, spy)
    search_crm(customer_mapping, spy, payload)
    for sent in spy.filters:
        tree = odata.parse(sent)  # one expression: the mapping's filter AND the search
        assert tree.operator == "and" and len(tree.operands) == 2
        mapping_filter, search = tree.operands
        assert (mapping_filter.property.name, mapping_filter.value.value) == (
            "customertypecode", "3")
        # The search is one function of the name, or "starts with or contains" (Set Up
        # Coupling's search): each takes the text as one string.
        functions = search.operands if getattr(search, "operator", None) == "or" else [search]
        for function in functions:
            assert function.name in ("contains", "startswith")
            assert (function.property.name, [v.value for v in function.values]) == (
                "name", [" ".join(payload.split())])
