"""The seeds' synchronization rules, each in one place, and the entry points the engine calls.

The engine calls `check_local` (to_crm: refuse an ERP record), `before_run` (runner: a whole-run
precondition, raising `RuleStopped` with what to do), `after_page` (runner: a step after each
page), `complete_payload` (to_crm: what a field mapping cannot say) and `remote_template`
(to_crm: the CRM config template). Each dispatches, through `registry.hooks`, to the rule modules
registered for the run's (ERP table, CRM entity, direction); a mapping no rule names runs none.
`remote_template` alone applies to every mapping. `steps.py` holds what the steps after a page
share (which couplings a step is owed, marking a record it failed for so the next run retries it).

Every rule (the seeds' words), and where it lives — a module of this package, or data of a
default mapping in mappings_app/defaults.py:

- Currencies are coupled by ISO code; one without a standard ISO code is not synchronized:
  `currency_iso_code.currency_needs_iso_code` (CURRENCY, to the CRM). Matching `code` to
  `isocurrencycode` before a create is data: the CURRENCY mapping's match field.
- The salesperson must be coupled to a user first (and every reference translated through a
  Lookup Through mapping's couplings): `salesperson.py` names it; the one decision is
  `mappings_app.values.uncoupled_reference` (couple first, or Clear Value on Failed Sync); the
  couplings are loaded per page by couplings_app/sync/lookups.py.
- A unit of measure is a unit group holding exactly one unit: `unit_group.ensure_one_unit`
  (UNIT OF MEASURE, after each page).
- Items go on the items' price list: `items_price_list.ensure_items_price_list` (before the
  run) and `items_price_list.add_to_price_list` (after each page) (ITEM-PRODUCT).
- A price list item's unit is the unit of its item's unit group:
  `price_list_item_unit.unit_of_price_list_item` (SALESPRC-PRODUCTPRICE, creates).
- A new customer gets a company contact (business relation):
  `company_contacts.company_contacts_for_new_customers` (CUSTOMER, from the CRM, after each
  page).
- A contact needs a company that is a customer: `contact_company.contact_needs_company_of_customer`
  (CONTACT, to the CRM). Persons of a company only is data: the CONTACT mapping's Table Filter
  `type = person AND company != empty`.
- Only CRM contacts with a parent account are created in the ERP: data, the CONTACT mapping's
  Integration Table Filter `_parentcustomerid_value ne null`.
- Customers and vendors are active accounts of relationship type Customer / Vendor: data, the
  CUSTOMER and VENDOR mappings' Integration Table Filter (`customertypecode eq 3` / `eq 11`,
  `statecode eq 0`), CRM config template and constant `customertypecode`.
- Salespeople are the CRM's enabled, licensed, non-integration users: data, the SALESPEOPLE
  mapping's Integration Table Filter.
- Only sales prices of a customer price group: data, the SALESPRC-PRODUCTPRICE Table Filter.
- A CRM config template may name a reference by the ERP record's code or number:
  `template_references.remote_template` (every mapping, once per run).
- Changes made by the connection's own user are not synchronized: not a rule module, the
  engine's echo decision (couplings_app/sync; ARCHITECTURE.md says where).

A new rule: a module here that registers its hooks with `registry.register(hook, model, entity,
direction)`, imported below; list it here; name the rule in its messages; a test in
tests/couplings_app/test_rules_registry.py (or a test_rule_*.py of its own).
"""

from couplings_app.sync.rules import (  # noqa: F401 - importing a rule module registers it
    company_contacts,
    contact_company,
    currency_iso_code,
    items_price_list,
    price_list_item_unit,
    salesperson,
    unit_group,
)
from couplings_app.sync.rules.company_contacts import company_contacts_for_new_customers
from couplings_app.sync.rules.items_price_list import (
    ITEMS_PRICE_LIST_NAME,
    add_to_price_list,
    ensure_items_price_list,
)
from couplings_app.sync.rules.registry import RuleStopped, hooks
from couplings_app.sync.rules.template_references import remote_template
from couplings_app.sync.rules.unit_group import ensure_one_unit

__all__ = [
    "ITEMS_PRICE_LIST_NAME",
    "RuleStopped",
    "add_to_price_list",
    "after_page",
    "before_run",
    "check_local",
    "company_contacts_for_new_customers",
    "complete_payload",
    "ensure_items_price_list",
    "ensure_one_unit",
    "remote_template",
]


def check_local(run, record) -> None:
    """Refuses an ERP record a rule excludes, with the reason (counted Failed, logged)."""
    for hook in hooks("check_local", run):
        hook(run, record)


def before_run(run) -> None:
    """A rule's precondition of the whole run; raises RuleStopped with what to do."""
    for hook in hooks("before_run", run):
        hook(run)


def after_page(run, page) -> None:
    """The rules' steps after a page is written (each costs a constant number of requests)."""
    for hook in hooks("after_page", run):
        hook(run, page)


def complete_payload(run, record, values: dict, create: bool) -> None:
    """What a field mapping cannot say, added to the values sent for a record."""
    for hook in hooks("complete_payload", run):
        hook(run, record, values, create)
