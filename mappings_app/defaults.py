"""The default synchronization setup: the seeds' standard mappings with BC's field mappings.

`apply_default_setup()` creates them, or resets them to these values; running it twice changes
nothing. Couplings and watermarks are state, not setup: a reset keeps them.
"""

import uuid
from dataclasses import dataclass, field

from django.db import transaction

from mappings_app import metadata
from mappings_app.choices import Direction, TransformationType
from mappings_app.models import FieldMapping, TableMapping, TransformationRule

BI, TO, FROM = Direction.BIDIRECTIONAL, Direction.TO_CRM, Direction.FROM_CRM
# The CRM price list of the items' products, created once by the ITEM-PRODUCT job (fixed id).
ITEMS_PRICE_LIST_ID = uuid.uuid5(uuid.NAMESPACE_URL, "syncadmin:items-price-list")

RULES = [
    {
        "code": "TRIM",
        "description": "Remove leading and trailing spaces",
        "type": TransformationType.TRIM,
    },
    {"code": "UPPERCASE", "description": "Capital letters", "type": TransformationType.UPPERCASE},
    {"code": "LOWERCASE", "description": "Small letters", "type": TransformationType.LOWERCASE},
    {
        "code": "INITIALS",
        "description": "Initials of a name (salesperson codes)",
        "type": TransformationType.INITIALS,
    },
    {
        "code": "BLOCKED-TO-STATE",
        "description": "Blocked Yes/No to the CRM's Status",
        "type": TransformationType.LOOKUP,
        "lookup_table": {"true": "1", "false": "0"},
    },
]


@dataclass
class F:
    """One default field mapping."""

    local: str
    remote: str
    direction: str = BI
    constant: str = ""
    lookup: str = ""
    rule: str = ""
    match: int = 0  # match priority; > 0 marks the field for match-based coupling
    clear_on_fail: bool = False
    validate: bool = False

    @property
    def key(self):
        return (self.local, self.remote, self.constant)


@dataclass
class M:
    """One default table mapping."""

    name: str
    model: str
    entity: str
    entity_set: str
    direction: str
    priority: int
    fields: list[F]
    description: str = ""
    local_filter: str = ""
    remote_filter: str = ""
    local_template: dict = field(default_factory=dict)
    remote_template: dict = field(default_factory=dict)
    dependencies: list[str] = field(default_factory=list)


ADDRESS = [
    F("address", "address1_line1"),
    F("address_2", "address1_line2"),
    F("post_code", "address1_postalcode"),
    F("city", "address1_city"),
    F("county", "address1_stateorprovince"),
    F("country_region_code", "address1_country"),
]


def party_fields(person_field: str, person_mapping: str) -> list[F]:
    """Customer and vendor ↔ account: BC's standard field mappings."""
    return [
        F("no", "accountnumber", match=1),
        F("name", "name", match=2),
        *ADDRESS,
        F("phone_no", "telephone1"),
        F("fax_no", "fax"),
        F("email", "emailaddress1"),
        F("home_page", "websiteurl"),
        F(person_field, "ownerid", TO, lookup="SALESPEOPLE"),
        F("currency", "transactioncurrencyid", TO, lookup="CURRENCY"),
        F("shipping_agent", "address1_shippingmethodcode", TO, clear_on_fail=True),
    ]


DEFAULT_MAPPINGS = [
    M(
        "CURRENCY",
        "erp_app.currency",
        "transactioncurrency",
        "transactioncurrencies",
        TO,
        10,
        description="Currencies are coupled to transaction currencies by ISO code.",
        fields=[
            F("code", "isocurrencycode", TO, rule="UPPERCASE", match=1),
            F("description", "currencyname", TO),
            F("symbol", "currencysymbol", TO),
            F("", "exchangerate", TO, constant="1"),
            F("", "currencyprecision", TO, constant="2"),
        ],
    ),
    M(
        "SALESPEOPLE",
        "erp_app.salesperson",
        "systemuser",
        "systemusers",
        FROM,
        20,
        description="Salespeople from the CRM's licensed, enabled, non-integration users.",
        remote_filter="isdisabled eq false and islicensed eq true and isintegrationuser eq false",
        fields=[
            F("code", "fullname", FROM, rule="INITIALS", validate=True),
            F("name", "fullname", FROM),
            F("email", "internalemailaddress", FROM, match=1),
            F("phone_no", "mobilephone", FROM),
            F("job_title", "title", FROM),
        ],
    ),
    M(
        "UNIT OF MEASURE",
        "erp_app.unitofmeasure",
        "uomschedule",
        "uomschedules",
        TO,
        30,
        description="Each unit of measure becomes a unit group holding exactly one unit.",
        fields=[
            F("code", "name", TO, match=1),
            F("code", "baseuomname", TO),
            F("description", "description", TO),
        ],
    ),
    M(
        "CUSTOMER",
        "erp_app.customer",
        "account",
        "accounts",
        BI,
        40,
        description="Customers and the accounts of relationship type Customer.",
        remote_filter="customertypecode eq 3 and statecode eq 0",
        remote_template={"customertypecode": 3},
        fields=[
            *party_fields("salesperson", "SALESPEOPLE"),
            F("credit_limit_lcy", "creditlimit", TO),
            F("", "customertypecode", TO, constant="3"),
        ],
    ),
    M(
        "VENDOR",
        "erp_app.vendor",
        "account",
        "accounts",
        BI,
        50,
        description="Vendors and the accounts of relationship type Vendor.",
        remote_filter="customertypecode eq 11 and statecode eq 0",
        remote_template={"customertypecode": 11},
        fields=[
            *party_fields("purchaser", "SALESPEOPLE"),
            F("", "customertypecode", TO, constant="11"),
        ],
    ),
    M(
        "CONTACT",
        "erp_app.contact",
        "contact",
        "contacts",
        BI,
        60,
        description="Person contacts of a company and CRM contacts with a parent account.",
        local_filter="type = person AND company != empty",
        remote_filter="_parentcustomerid_value ne null",
        local_template={"type": "person"},
        fields=[
            F("first_name", "firstname"),
            F("middle_name", "middlename"),
            F("surname", "lastname"),
            F("job_title", "jobtitle"),
            F("email", "emailaddress1", match=1),
            F("phone_no", "telephone1"),
            F("mobile_phone_no", "mobilephone"),
            F("fax_no", "fax"),
            F("home_page", "websiteurl"),
            *[f for f in ADDRESS],
            F("company.customer", "parentcustomerid", BI, lookup="CUSTOMER"),
            F("salesperson", "ownerid", TO, lookup="SALESPEOPLE"),
            F("currency", "transactioncurrencyid", TO, lookup="CURRENCY"),
        ],
    ),
    M(
        "RESOURCE-PRODUCT",
        "erp_app.resource",
        "product",
        "products",
        TO,
        70,
        description="Resources become products of type Services.",
        remote_template={"producttypecode": 3, "quantitydecimal": 2},
        fields=[
            F("no", "productnumber", TO, match=1),
            F("name", "name", TO),
            F("unit_price", "price", TO),
            F("unit_cost", "standardcost", TO),
            F("unit_cost", "currentcost", TO),
            F("base_unit_of_measure", "defaultuomscheduleid", TO, lookup="UNIT OF MEASURE"),
            F("blocked", "statecode", TO, rule="BLOCKED-TO-STATE"),
            F("", "producttypecode", TO, constant="3"),
        ],
    ),
    M(
        "ITEM-PRODUCT",
        "erp_app.item",
        "product",
        "products",
        TO,
        80,
        description="Items become products of type Sales Inventory, on the items' price list.",
        remote_template={"producttypecode": 1, "quantitydecimal": 2},
        fields=[
            F("no", "productnumber", TO, match=1),
            F("description", "name", TO),
            F("unit_price", "price", TO),
            F("unit_cost", "standardcost", TO),
            F("unit_cost", "currentcost", TO),
            F("inventory", "quantityonhand", TO),
            F("gross_weight", "stockweight", TO),
            F("unit_volume", "stockvolume", TO),
            F("vendor_no", "vendorname", TO),
            F("vendor_item_no", "vendorpartnumber", TO),
            F("base_unit_of_measure", "defaultuomscheduleid", TO, lookup="UNIT OF MEASURE"),
            F("blocked", "statecode", TO, rule="BLOCKED-TO-STATE"),
            F("", "producttypecode", TO, constant="1"),
        ],
    ),
    M(
        "CUSTPRCGRP-PRICE",
        "erp_app.customerpricegroup",
        "pricelevel",
        "pricelevels",
        TO,
        90,
        description="Customer price groups become price lists (in the local currency).",
        dependencies=["CURRENCY"],
        remote_template={"transactioncurrencyid": "USD"},
        fields=[F("code", "name", TO, match=1), F("description", "description", TO)],
    ),
    M(
        "SALESPRC-PRODUCTPRICE",
        "erp_app.salesprice",
        "productpricelevel",
        "productpricelevels",
        TO,
        100,
        description="Sales prices of a customer price group become price list items.",
        local_filter="customer_price_group != empty",
        fields=[
            F("customer_price_group", "pricelevelid", TO, lookup="CUSTPRCGRP-PRICE"),
            F("item", "productid", TO, lookup="ITEM-PRODUCT"),
            F("currency", "transactioncurrencyid", TO, lookup="CURRENCY"),
            F("unit_price", "amount", TO),
            F("", "pricingmethodcode", TO, constant="1"),
        ],
        dependencies=["UNIT OF MEASURE"],
    ),
    M(
        "POSTEDSALESINV-INV",
        "erp_app.postedsalesinvoice",
        "invoice",
        "invoices",
        TO,
        110,
        description="Posted sales invoices are pushed to the CRM's invoices.",
        remote_template={"pricelevelid": str(ITEMS_PRICE_LIST_ID)},
        fields=[
            F("no", "invoicenumber", TO, match=1),
            F("no", "name", TO),
            F("sell_to_customer", "customerid", TO, lookup="CUSTOMER"),
            F("currency", "transactioncurrencyid", TO, lookup="CURRENCY"),
            F("salesperson", "ownerid", TO, lookup="SALESPEOPLE", clear_on_fail=True),
            F("amount", "totallineitemamount", TO),
            F("amount_including_vat", "totalamount", TO),
            F("due_date", "duedate", TO),
            F("posting_date", "datedelivered", TO),
        ],
        dependencies=["CUSTPRCGRP-PRICE", "ITEM-PRODUCT", "RESOURCE-PRODUCT"],
    ),
]
BY_NAME = {m.name: m for m in DEFAULT_MAPPINGS}


def _mapping_values(spec: M) -> dict:
    model_name = spec.model
    entity = metadata.entity(spec.entity, fetch=False)
    return {
        "description": spec.description,
        "local_model": model_name,
        "remote_entity": spec.entity,
        "remote_entity_set": spec.entity_set,
        "remote_key": entity.primary_id,
        "remote_modified_attribute": "modifiedon",
        "direction": spec.direction,
        "sync_only_coupled": True,
        "local_filter": spec.local_filter,
        "remote_filter": spec.remote_filter,
        "local_template": spec.local_template,
        "remote_template": spec.remote_template,
        "update_conflict_resolution": "none",
        "deletion_conflict_resolution": "none",
        "delete_remote_with_local": False,
        "priority": spec.priority,
        "create_new_if_no_match": False,
        "sync_after_coupling": True,
        "disable_event_rescheduling": False,
        "is_enabled": True,
        "schedule_minutes": 30,
        "inactivity_timeout_minutes": 1440,
        "is_default": True,
    }


def _field_values(spec: F, position: int, mappings: dict, rules: dict) -> dict:
    return {
        "position": position * 10,
        "local_field": spec.local,
        "remote_attribute": spec.remote,
        "direction": spec.direction,
        "constant_value": spec.constant,
        "transformation_rule": rules.get(spec.rule),
        "transformation_direction": "both",
        "lookup_mapping": mappings.get(spec.lookup),
        "validate_field": spec.validate,
        "clear_value_on_failed_sync": spec.clear_on_fail,
        "is_enabled": True,
        "not_null": False,
        "use_for_matching": spec.match > 0,
        "case_sensitive_matching": False,
        "match_priority": spec.match,
    }


def _sync_object(obj, values: dict) -> bool:
    """Sets the values that differ; returns whether anything changed."""
    changed = False
    for key, value in values.items():
        current = getattr(obj, key)
        if current != value:
            setattr(obj, key, value)
            changed = True
    return changed


@transaction.atomic
def apply_default_setup(names=None, client=None) -> dict[str, int]:
    """Creates or resets the default mappings (all, or those named). Returns counts."""
    specs = [BY_NAME[n] for n in names] if names else DEFAULT_MAPPINGS
    metadata.refresh(sorted({s.entity for s in DEFAULT_MAPPINGS}), client=client)
    rules = {}
    for values in RULES:
        rule, _ = TransformationRule.objects.get_or_create(code=values["code"], defaults=values)
        rules[rule.code] = rule
    mappings = {m.name: m for m in TableMapping.objects.filter(name__in=BY_NAME)}
    state = {}
    # First every mapping row, so lookups can point at mappings created later in the list.
    for spec in specs:
        values = _mapping_values(spec)
        mapping = mappings.get(spec.name)
        if mapping is None:
            mapping = mappings[spec.name] = TableMapping(name=spec.name, **values)
            state[spec.name] = "created"
        else:
            state[spec.name] = "reset" if _sync_object(mapping, values) else "unchanged"
        if state[spec.name] != "unchanged":
            mapping.full_clean(exclude=["dependencies"])
            mapping.save()
    for spec in specs:
        mapping = mappings[spec.name]
        changed = _sync_fields(mapping, spec, mappings, rules)
        wanted = {mappings[d].pk for d in spec.dependencies if d in mappings}
        if set(mapping.dependencies.values_list("pk", flat=True)) != wanted:
            mapping.dependencies.set(wanted)
            changed = True
        if changed and state[spec.name] == "unchanged":
            state[spec.name] = "reset"
    from mappings_app.order import sync_order

    sync_order()  # a cycle raises and rolls the whole setup back
    counts = {"created": 0, "reset": 0, "unchanged": 0}
    for outcome in state.values():
        counts[outcome] += 1
    return counts


def _sync_fields(mapping: TableMapping, spec: M, mappings: dict, rules: dict) -> bool:
    existing = {
        (f.local_field, f.remote_attribute, f.constant_value): f
        for f in mapping.field_mappings.select_related("table_mapping")
    }
    changed = False
    for position, fspec in enumerate(spec.fields, start=1):
        values = _field_values(fspec, position, mappings, rules)
        fm = existing.pop(fspec.key, None)
        if fm is None:
            fm = FieldMapping(table_mapping=mapping, **values)
        elif not _sync_object(fm, values):
            continue
        fm.full_clean()
        fm.save()
        changed = True
    if existing:
        FieldMapping.objects.filter(pk__in=[f.pk for f in existing.values()]).delete()
        changed = True
    return changed
