"""The seeds' synchronization rules, each decided by its own module and applied only to the
mappings it names: unit tests that need no CRM (and, but for the reference rule's field mapping
objects, no database)."""

import uuid
from collections import defaultdict
from types import SimpleNamespace

import pytest

from couplings_app.sync import rules
from couplings_app.sync.rules import registry, salesperson
from erp_app.models import Customer, Salesperson
from mappings_app.choices import Direction
from mappings_app.defaults import BY_NAME
from mappings_app.models import FieldMapping, TableMapping
from mappings_app.values import ValueProblem, to_local, to_remote

OWNER = {"name": "ownerid", "type": "Owner", "targets": ["systemuser"]}


def run_of(model, entity, direction=Direction.TO_CRM, fields=()):
    return SimpleNamespace(
        mapping=SimpleNamespace(local_model=model, name=model.upper()), entity=entity,
        direction=direction, fields=list(fields),
        local_label=lambda record: f"Contact {record.no}")


def contact_run():
    parent = SimpleNamespace(local_field="company.customer", remote_attribute="parentcustomerid")
    return run_of("erp_app.contact", "contact", fields=[parent])


# --- currency by ISO code ------------------------------------------------------------------------


def test_currency_without_iso_code_is_refused_naming_the_rule():
    run = run_of("erp_app.currency", "transactioncurrency")
    with pytest.raises(ValueProblem) as refused:
        rules.check_local(run, SimpleNamespace(code="EURO", has_iso_code=False))
    message = str(refused.value)
    assert message.startswith("Currency EURO has no standard ISO 4217 code")
    assert "Change its code to an ISO code" in message


def test_currency_with_iso_code_is_synchronized():
    run = run_of("erp_app.currency", "transactioncurrency")
    rules.check_local(run, SimpleNamespace(code="EUR", has_iso_code=True))


def test_the_iso_code_rule_applies_only_to_currencies_to_the_crm():
    record = SimpleNamespace(code="EURO", has_iso_code=False)
    rules.check_local(run_of("erp_app.currency", "transactioncurrency", Direction.FROM_CRM),
                      record)
    rules.check_local(run_of("erp_app.customer", "account"), record)


# --- a contact needs a company that is a customer ------------------------------------------------


def test_contact_without_company_is_not_created():
    with pytest.raises(ValueProblem) as refused:
        rules.check_local(contact_run(), SimpleNamespace(no="KT1", company=None))
    message = str(refused.value)
    assert message.startswith("Contact KT1: it has no company")
    assert "contacts synchronize only when they are assigned to a company of a customer" in message


def test_contact_of_a_company_without_customer_is_not_created():
    company = SimpleNamespace(no="KT9", name="Fabrikam", customer_id=None)
    with pytest.raises(ValueProblem) as refused:
        rules.check_local(contact_run(), SimpleNamespace(no="KT1", company=company))
    assert "its company KT9 (Fabrikam) is not linked to a customer" in str(refused.value)


def test_contact_of_a_customer_company_is_synchronized():
    company = SimpleNamespace(no="KT9", name="Fabrikam", customer_id=7)
    rules.check_local(contact_run(), SimpleNamespace(no="KT1", company=company))


def test_the_contact_rule_applies_only_when_the_mapping_sends_the_parent_account():
    rules.check_local(run_of("erp_app.contact", "contact"), SimpleNamespace(no="KT1", company=None))


# --- salesperson coupled to a user ---------------------------------------------------------------


def owner_mapping(clear=False):
    salespeople = TableMapping(name="SALESPEOPLE", local_model="erp_app.salesperson",
                               remote_entity="systemuser")
    return FieldMapping(table_mapping=TableMapping(name="CUSTOMER", local_model="erp_app.customer",
                                                   remote_entity="account"),
                        local_field="salesperson", remote_attribute="ownerid",
                        direction=Direction.BIDIRECTIONAL, lookup_mapping=salespeople,
                        clear_value_on_failed_sync=clear)


def test_a_salesperson_not_coupled_to_a_user_fails_the_customer():
    with pytest.raises(ValueProblem) as refused:
        to_remote(owner_mapping(), Salesperson(code="JR"), OWNER, resolve=lambda *_: None)
    message = str(refused.value)
    assert "JR is not coupled to a CRM record" in message
    assert message.endswith("Couple it first (SALESPEOPLE mapping).")


def test_an_owner_not_coupled_to_a_salesperson_fails_the_account():
    field = Customer._meta.get_field("salesperson")
    owner = str(uuid.uuid4())
    with pytest.raises(ValueProblem) as refused:
        to_local(owner_mapping(), owner, field, resolve=lambda *_: None)
    assert f"the CRM systemuser {owner} is not coupled" in str(refused.value)
    assert str(refused.value).endswith("Couple it first (SALESPEOPLE mapping).")


def test_clear_value_on_failed_sync_clears_an_uncoupled_salesperson():
    field = Customer._meta.get_field("salesperson")
    assert to_remote(owner_mapping(clear=True), Salesperson(code="JR"), OWNER,
                     resolve=lambda *_: None) is None
    assert to_local(owner_mapping(clear=True), str(uuid.uuid4()), field,
                    resolve=lambda *_: None) is None


def test_a_coupled_salesperson_becomes_the_owner():
    user = uuid.uuid4()
    assert to_remote(owner_mapping(), Salesperson(code="JR"), OWNER,
                     resolve=lambda *_: user) == str(user)


def test_the_salesperson_rule_names_the_lookups_through_salespeople():
    assert salesperson.applies_to(owner_mapping())
    assert salesperson.uncoupled_reference is rules.salesperson.uncoupled_reference
    other = owner_mapping()
    other.lookup_mapping = TableMapping(name="CURRENCY", remote_entity="transactioncurrency")
    assert not salesperson.applies_to(other)


# --- a price list item's unit --------------------------------------------------------------------


def test_a_price_without_a_unit_of_measure_is_refused():
    run = run_of("erp_app.salesprice", "productpricelevel")
    price = SimpleNamespace(no="P1", unit_of_measure=None,
                            item=SimpleNamespace(base_unit_of_measure=None))
    with pytest.raises(ValueProblem, match="neither the price nor its item has a unit"):
        rules.complete_payload(run, price, {}, create=True)
    rules.complete_payload(run, price, {}, create=False)  # an update keeps its unit


# --- the registry --------------------------------------------------------------------------------


@pytest.fixture
def empty_registry(monkeypatch):
    monkeypatch.setattr(registry, "_registered", defaultdict(list))


def test_a_rule_runs_only_for_the_mappings_and_direction_it_registered(empty_registry):
    seen = []

    @registry.register("after_page", "erp_app.item", "product", Direction.TO_CRM)
    def step(run, page):
        seen.append((run.mapping.local_model, run.entity, run.direction))

    rules.after_page(run_of("erp_app.item", "product"), [])
    rules.after_page(run_of("erp_app.item", "product", Direction.FROM_CRM), [])
    rules.after_page(run_of("erp_app.resource", "product"), [])
    rules.check_local(run_of("erp_app.item", "product"), object())
    assert seen == [("erp_app.item", "product", Direction.TO_CRM)]


def test_a_mapping_no_rule_names_runs_none():
    run = run_of("erp_app.vendor", "account")
    for hook in registry.HOOKS:
        assert registry.hooks(hook, run) == []


def test_registering_twice_runs_a_rule_once(empty_registry):
    def check(run, record):
        pass

    registry.register("check_local", "erp_app.item", "product", Direction.TO_CRM)(check)
    registry.register("check_local", "erp_app.item", "product", Direction.TO_CRM)(check)
    assert registry.hooks("check_local", run_of("erp_app.item", "product")) == [check]


def test_an_unknown_hook_is_refused():
    with pytest.raises(ValueError, match="is not a rule hook"):
        registry.register("before_page", "erp_app.item", "product", Direction.TO_CRM)


def test_the_seed_rules_apply_to_their_mappings():
    applied = {key: [f.__name__ for f in functions]
               for key, functions in registry.registered().items()}
    to, back = str(Direction.TO_CRM), str(Direction.FROM_CRM)
    assert applied == {
        ("check_local", "erp_app.currency", "transactioncurrency", to): ["currency_needs_iso_code"],
        ("check_local", "erp_app.contact", "contact", to): ["contact_needs_company_of_customer"],
        ("after_page", "erp_app.unitofmeasure", "uomschedule", to): ["one_unit_per_group"],
        ("before_run", "erp_app.item", "product", to): ["price_list_first"],
        ("after_page", "erp_app.item", "product", to): ["products_on_price_list"],
        ("complete_payload", "erp_app.salesprice", "productpricelevel", to):
            ["unit_of_price_list_item"],
        ("after_page", "erp_app.customer", "account", back): ["company_contacts_of_page"],
    }


def test_every_rule_module_is_listed_in_the_package_docstring():
    modules = {f.__module__.rsplit(".", 1)[-1]
               for functions in registry.registered().values() for f in functions}
    modules |= {"salesperson", "template_references"}
    for module in modules:
        assert f"`{module}." in rules.__doc__ or f"`{module}.py`" in rules.__doc__, module
    contact, customer = BY_NAME["CONTACT"], BY_NAME["CUSTOMER"]
    for data in (contact.local_filter, contact.remote_filter, "customertypecode eq 3"):
        assert data in rules.__doc__
    assert customer.remote_filter.startswith("customertypecode eq 3")
