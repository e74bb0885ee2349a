"""Every form and action, fed random and hostile values by an administrator (so permission is
never what refuses): no server error, a refusal names the field it refuses, nothing half-saved.

The CRM answers nothing here (its address is a closed port): the forms fall back on the cached
metadata, and the actions that would reach the CRM say so in a message. Each hypothesis example
runs in a savepoint rolled back afterwards, so examples never see each other's writes.
"""

import html
import uuid
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.contrib.messages import get_messages
from django.db import models, transaction
from django.forms import modelform_factory
from django.urls import reverse
from django_q.models import Schedule
from hypothesis import given
from hypothesis import strategies as st

from couplings_app.models import Coupling, SyncError, SyncJob
from erp_app import models as erp
from erp_app.pages import site as erp_site
from mappings_app import connection as connection_module
from mappings_app.models import (
    Connection,
    EntityMetadata,
    FieldMapping,
    TableMapping,
    TransformationRule,
)
from syncadmin.forms import BootstrapModelForm, formfield
from tests.security.strategies import (
    HOSTILE,
    IDS,
    MISSING,
    NUMBERS,
    SCALAR,
    VALUE,
    apply,
    few,
    overrides,
)

pytestmark = pytest.mark.django_db

CLOSED_CRM = "http://127.0.0.1:9/crm/api/data/v9.2/"  # the discard port: nothing answers
PREFIX = "field_mappings"


# --- what every answer must satisfy -------------------------------------------------------------
class _Fields(HTMLParser):
    """The form controls of a page: name -> [attributes of each element with that name]."""

    def __init__(self):
        super().__init__()
        self.controls = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("input", "select", "textarea") and attrs.get("name"):
            self.controls.setdefault(attrs["name"], []).append(attrs)


def controls(response) -> dict:
    parser = _Fields()
    parser.feed(response.content.decode())
    return parser.controls


def said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def assert_names_the_fields(response, form):
    """The refusal shows each error, and marks the field it belongs to or names it."""
    page = response.content.decode()
    found = controls(response)
    assert form.errors, "refused without an error"
    for name, messages in form.errors.items():
        assert name == "__all__" or name in form.fields, f"error on an unknown field {name!r}"
        field = form.fields.get(name)
        for message in messages:
            assert html.escape(message) in page, f"{name}: {message!r} is not shown"
        if field is None:
            continue
        label = str(field.label or name)
        named = any(html.escape(f"{label}: {m}") in page or label.lower() in m.lower()
                    for m in messages)
        marked = not field.widget.is_hidden and any(
            e.get("aria-invalid") == "true" for e in found.get(form.add_prefix(name), []))
        assert named or marked, f"the error of {name!r} neither marks nor names the field"


def assert_answered(response, *allowed):
    """No server error (the test client raises one), and an expected status."""
    assert response.status_code in (allowed or (200, 302)), response.status_code


def rows(*model_classes):
    """Everything stored in these tables, to show that a refusal saved nothing."""
    return {m.__name__: list(m.objects.order_by("pk").values()) for m in model_classes}


@contextmanager
def rolled_back():
    """One hypothesis example: its writes are undone when it ends."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def post_form(client, url, data, tables, context_key="form"):
    """Posts a form; a refusal must name its fields and leave every table as it was."""
    before = rows(*tables)
    response = client.post(url, data)
    assert_answered(response)
    form = response.context[context_key] if response.status_code == 200 else None
    if form is not None and form.is_bound and form.is_valid():
        assert said(response), "a valid form was shown again without a word"  # e.g. CRM away
    elif form is not None:
        assert_names_the_fields(response, form)
        assert rows(*tables) == before, "a refused form saved something"
    return response


def post_data(form) -> dict:
    """What a browser posts for an unbound form as it is shown."""
    data = {}
    for name in form.fields:
        value = form[name].value()
        if isinstance(value, bool):
            if value:
                data[form.add_prefix(name)] = "on"
            continue
        if value is None:
            value = ""
        if isinstance(value, (list, tuple)):
            value = [str(v) for v in value]
        elif hasattr(value, "pk"):
            value = value.pk
        data[form.add_prefix(name)] = value if isinstance(value, list) else str(value)
    return data


# --- the world the forms work on ----------------------------------------------------------------
ACCOUNT = [
    {"name": "accountid", "type": "Uniqueidentifier"},
    {"name": "name", "type": "String", "max_length": 160},
    {"name": "accountnumber", "type": "String", "max_length": 20},
    {"name": "emailaddress1", "type": "String", "max_length": 100},
    {"name": "creditlimit", "type": "Money"},
    {"name": "customertypecode", "type": "Picklist", "options": {"3": "Customer"}},
    {"name": "donotemail", "type": "Boolean"},
    {"name": "ownerid", "type": "Owner", "targets": ["systemuser"]},
    {"name": "modifiedon", "type": "DateTime"},
]
SYSTEMUSER = [
    {"name": "systemuserid", "type": "Uniqueidentifier"},
    {"name": "fullname", "type": "String", "max_length": 200},
    {"name": "internalemailaddress", "type": "String", "max_length": 100},
    {"name": "modifiedon", "type": "DateTime"},
]


@pytest.fixture
def world(settings, monkeypatch, isolated_crm, admin_user):
    """A connection to a CRM that does not answer, its cached metadata, two mappings with field
    mappings, a rule, ERP records, couplings, jobs, errors and job queue entries."""
    Connection.objects.create(pk=1, service_root="", client_id="syncadmin-demo")
    settings.CRM_URL = CLOSED_CRM
    opening = connection_module._client

    def without_retries(*args, **kwargs):  # a closed port is refused at once, not retried
        client = opening(*args, **kwargs)
        client.transport.max_retries = 0
        return client

    monkeypatch.setattr(connection_module, "_client", without_retries)
    EntityMetadata.objects.create(logical_name="account", entity_set="accounts",
                                  primary_id="accountid", primary_name="name",
                                  attributes=ACCOUNT)
    EntityMetadata.objects.create(logical_name="systemuser", entity_set="systemusers",
                                  primary_id="systemuserid", primary_name="fullname",
                                  attributes=SYSTEMUSER)
    people = TableMapping.objects.create(
        name="SALESPEOPLE", local_model="erp_app.salesperson", remote_entity="systemuser",
        remote_entity_set="systemusers", remote_key="systemuserid", direction="from_crm")
    customers = TableMapping.objects.create(
        name="CUSTOMER", local_model="erp_app.customer", remote_entity="account",
        remote_entity_set="accounts", remote_key="accountid", direction="bidirectional")
    customers.dependencies.add(people)
    FieldMapping.objects.create(table_mapping=people, position=1, local_field="name",
                                remote_attribute="fullname", direction="from_crm")
    FieldMapping.objects.create(table_mapping=customers, position=1, local_field="name",
                                remote_attribute="name")
    FieldMapping.objects.create(table_mapping=customers, position=2, local_field="email",
                                remote_attribute="emailaddress1", use_for_matching=True)
    FieldMapping.objects.create(table_mapping=customers, position=3, local_field="salesperson",
                                remote_attribute="ownerid", lookup_mapping=people)
    rule = TransformationRule.objects.create(code="UPPER", type="uppercase")
    records = erp_records()
    customer = records[erp.Customer]
    job = SyncJob.objects.create(mapping=customers, mapping_name="CUSTOMER", direction="to_crm",
                                 status="running")
    coupling = Coupling.objects.create(
        mapping=customers, local_model="erp_app.customer", local_id=customer.pk,
        remote_entity="account", remote_id=uuid.uuid4(), skipped=True,
        conflict_local={"name": "a"}, conflict_remote={"name": "b"}, last_job_to_crm=job)
    error = SyncError.objects.create(
        job=job, mapping=customers, direction="to_crm", local_model="erp_app.customer",
        local_id=customer.pk, local_label=f"Customer {customer.no}", remote_entity="account",
        message="something failed")
    return {"customers": customers, "people": people, "rule": rule, "records": records,
            "customer": customer, "coupling": coupling, "job": job, "error": error,
            "schedule": Schedule.objects.get(name="sync:CUSTOMER"), "user": admin_user}


def erp_records() -> dict:
    """One record of every ERP table, each reference filled."""
    uom = erp.UnitOfMeasure.objects.create(code="PCS", description="Piece")
    group = erp.CustomerPriceGroup.objects.create(code="RETAIL")
    currency = erp.Currency.objects.create(code="EUR", symbol="€")
    person = erp.Salesperson.objects.create(code="JR", name="John Roberts", email="jr@x.test")
    terms = erp.PaymentTerms.objects.create(code="14D", due_date_calculation="14D")
    method = erp.ShipmentMethod.objects.create(code="EXW")
    agent = erp.ShippingAgent.objects.create(code="DHL", internet_address="https://dhl.test")
    company = erp.Contact.objects.create(no="CT1", type="company", name="Adatum")
    customer = erp.Customer.objects.create(
        no="C1", name="Adatum", salesperson=person, currency=currency,
        customer_price_group=group, payment_terms=terms, shipment_method=method,
        shipping_agent=agent, primary_contact=company, credit_limit_lcy=Decimal("100.00"))
    company.customer = customer
    company.save()
    contact = erp.Contact.objects.create(no="CT2", type="person", first_name="Ann",
                                         company=company, salesperson=person)
    vendor = erp.Vendor.objects.create(no="V1", name="Fabrikam", purchaser=person)
    item = erp.Item.objects.create(no="1000", description="Bicycle", base_unit_of_measure=uom,
                                   unit_price=Decimal("10.00"))
    resource = erp.Resource.objects.create(no="R1", name="Lina", base_unit_of_measure=uom)
    price = erp.SalesPrice.objects.create(item=item, customer_price_group=group,
                                          unit_price=Decimal("9.50"),
                                          starting_date=date(2024, 1, 1))
    invoice = erp.PostedSalesInvoice.objects.create(no="I1", sell_to_customer=customer,
                                                    salesperson=person)
    return {erp.UnitOfMeasure: uom, erp.CustomerPriceGroup: group, erp.Currency: currency,
            erp.Salesperson: person, erp.PaymentTerms: terms, erp.ShipmentMethod: method,
            erp.ShippingAgent: agent, erp.Contact: contact, erp.Customer: customer,
            erp.Vendor: vendor, erp.Item: item, erp.Resource: resource,
            erp.SalesPrice: price, erp.PostedSalesInvoice: invoice}


MAPPING_TABLES = (TableMapping, FieldMapping, TransformationRule, Connection)


# --- Connection Setup, table mappings, transformation rules -------------------------------------
CONNECTION = {"service_root": "", "tenant_id": "demo", "client_id": "syncadmin-demo",
              "local_currency_code": "USD"}


@few(25)
@given(changes=overrides(CONNECTION))
def test_connection_setup_refuses_by_field(admin_client, world, changes):
    with rolled_back():
        post_form(admin_client, reverse("mappings:connection_edit"),
                  apply(CONNECTION, changes), [Connection])


@pytest.mark.parametrize("name, edit", [
    ("mappings:connection_edit", False),
    ("mappings:tablemapping_add", False),
    ("mappings:tablemapping_edit", True),
    ("mappings:transformationrule_add", False),
    ("mappings:transformationrule_edit", True),
])
def test_an_empty_post_is_refused_with_its_errors(admin_client, world, name, edit):
    """A POST with no fields at all is a refusal that says why, never a blank form shown again."""
    target = world["customers"] if "tablemapping" in name else world["rule"]
    url = reverse(name, args=[target.pk] if edit else [])
    post_form(admin_client, url, {}, [Connection, TableMapping, TransformationRule])
    assert "Nothing was saved" in " ".join(said(admin_client.post(url, {})))


def table_mapping_data(mapping=None):
    from mappings_app.forms import TableMappingForm

    form = TableMappingForm(instance=mapping or TableMapping(
        name="NEW", local_model="erp_app.vendor", remote_entity="account",
        remote_entity_set="accounts", remote_key="accountid"))
    data = post_data(form)
    data.update({"local_template": "{}", "remote_template": "{}"})
    return data


TABLE_MAPPING_FIELDS = [
    "name", "description", "local_model", "remote_entity", "remote_entity_set", "remote_key",
    "remote_modified_attribute", "direction", "is_enabled", "priority", "dependencies",
    "sync_only_coupled", "update_conflict_resolution", "deletion_conflict_resolution",
    "local_filter", "remote_filter", "local_template", "remote_template", "schedule_minutes",
    "inactivity_timeout_minutes",
]


@few(45)
@given(edit=st.booleans(), changes=overrides(TABLE_MAPPING_FIELDS))
def test_table_mapping_form_refuses_by_field(admin_client, world, edit, changes):
    mapping = world["customers"] if edit else None
    url = (reverse("mappings:tablemapping_edit", args=[mapping.pk]) if edit
           else reverse("mappings:tablemapping_add"))
    with rolled_back():
        post_form(admin_client, url, apply(table_mapping_data(mapping), changes),
                  [*MAPPING_TABLES, Schedule])


@pytest.mark.parametrize("field, value", [
    ("local_template", '{"name": "a\\u0000b"}'),
    ("remote_template", '{"name": "\\u0000"}'),
    ("local_template", '{"\\u0000": 1}'),
    ("local_template", '{"name": "\\ud800"}'),  # shown again as typed, not as a lone surrogate
    ("remote_template", '{"\\udfff": 1}'),
    ("priority", "99999999999999999999"),
    ("schedule_minutes", "9" * 30),
    ("inactivity_timeout_minutes", "-1"),
    ("dependencies", ["999999", "abc"]),
    ("dependencies", "9223372036854775808"),
    ("local_filter", "name = 'x\x00'"),
    ("name", "x" * 51),
])
def test_table_mapping_form_refuses_values_no_database_takes(admin_client, world, field, value):
    data = table_mapping_data(world["customers"])
    data[field] = value
    response = post_form(admin_client, reverse("mappings:tablemapping_edit",
                                                args=[world["customers"].pk]),
                         data, [*MAPPING_TABLES, Schedule])
    assert response.status_code == 200 and field in response.context["form"].errors


RULE = {"code": "NEW", "description": "", "type": "replace", "find_value": "a",
        "replace_value": "b", "regex": "", "start_position": "1", "length": "",
        "precision": "", "rounding_direction": "nearest", "date_format": "",
        "lookup_table": "{}", "lookup_default": ""}


@few(40)
@given(edit=st.booleans(), kind=st.sampled_from(
    ["replace", "regex_extract", "regex_replace", "substring", "round", "date_format", "lookup",
     "trim"]), changes=overrides(RULE))
def test_transformation_rule_form_refuses_by_field(admin_client, world, edit, kind, changes):
    rule = world["rule"]
    url = (reverse("mappings:transformationrule_edit", args=[rule.pk]) if edit
           else reverse("mappings:transformationrule_add"))
    with rolled_back():
        post_form(admin_client, url, apply({**RULE, "type": kind}, changes), MAPPING_TABLES)


@pytest.mark.parametrize("field, value", [
    ("lookup_table", '{"a": "\\u0000"}'),
    ("lookup_table", '{"\\u0000": "b"}'),
    ("precision", "1" * 20),
    ("precision", "0.0000001"),
    ("start_position", "9" * 25),
    ("length", "-5"),
    ("regex", "(" * 300),
])
def test_transformation_rule_form_refuses_values_no_database_takes(admin_client, world, field,
                                                                    value):
    kind = {"lookup_table": "lookup", "precision": "round", "regex": "regex_extract"}.get(
        field, "substring")
    data = {**RULE, "type": kind, "lookup_table": '{"a": "b"}', "precision": "0.01",
            "regex": "a", field: value}
    response = post_form(admin_client, reverse("mappings:transformationrule_add"), data,
                         MAPPING_TABLES)
    assert response.status_code == 200 and field in response.context["form"].errors


@few(20)
@given(sample=st.one_of(HOSTILE, NUMBERS, st.lists(HOSTILE, min_size=2, max_size=2)),
       kind=st.sampled_from(["regex_replace", "round", "date_format", "lookup", "substring"]))
def test_trying_a_rule_on_a_sample_never_fails(admin_client, world, sample, kind):
    rule = world["rule"]
    with rolled_back():
        TransformationRule.objects.filter(pk=rule.pk).update(
            type=kind, regex="(a+)+$", replace_value="x", precision=Decimal("0.01"),
            date_format="%d.%m.%Y", lookup_table={"a": "b"}, start_position=3, length=2)
        url = reverse("mappings:transformationrule_detail", args=[rule.pk])
        assert_answered(admin_client.get(url, {"sample": sample}), 200)
        assert_answered(admin_client.get(url, {"sample": sample}, HTTP_HX_REQUEST="true"), 200)


@few(20)
@given(local=SCALAR, remote=SCALAR)
def test_the_preview_never_fails(admin_client, world, local, remote):
    url = reverse("mappings:tablemapping_preview", args=[world["customers"].pk])
    assert_answered(admin_client.get(url, {"local": local}), 200)
    assert_answered(admin_client.get(url, {"remote": remote}), 200)


# --- Integration Field Mappings: a formset, its management form included ------------------------
def field_mapping_data(mapping):
    from mappings_app.forms import FieldMappingFormSet

    formset = FieldMappingFormSet(instance=mapping, queryset=mapping.field_mappings.all())
    data = post_data(formset.management_form)
    for form in formset.forms:
        data.update(post_data(form))
    return data, len(formset.forms)


ROW_FIELDS = ["id", "table_mapping", "position", "is_enabled", "local_field", "direction",
              "remote_attribute", "constant_value", "transformation_rule",
              "transformation_direction", "lookup_mapping", "use_for_matching",
              "match_priority", "DELETE"]
MANAGEMENT = ["TOTAL_FORMS", "INITIAL_FORMS", "MIN_NUM_FORMS", "MAX_NUM_FORMS"]


def post_formset(client, mapping, data):
    url = reverse("mappings:fieldmapping_list", args=[mapping.pk])
    before = rows(*MAPPING_TABLES)
    response = client.post(url, data)
    assert_answered(response)
    if response.status_code == 200:
        formset = response.context["formset"]
        page = response.content.decode()
        assert not formset.is_valid()
        for message in formset.non_form_errors():
            assert html.escape(message) in page, f"{message!r} is not shown"
        for form in formset.forms:
            if form.errors:
                assert_names_the_fields(response, form)
        assert rows(*MAPPING_TABLES) == before, "a refused formset saved something"
    return response


TAMPERED = st.sampled_from(["-1", "0", "1", "3", "301", "1001", "9" * 30, "abc", "²", "", MISSING])


@few(20)
@given(row=st.integers(min_value=0, max_value=3), changes=overrides(ROW_FIELDS),
       management=st.dictionaries(st.sampled_from(MANAGEMENT), TAMPERED, max_size=2))
def test_field_mappings_refuse_by_row_and_field(admin_client, world, row, changes, management):
    mapping = world["customers"]
    data, _ = field_mapping_data(mapping)
    data = apply(data, {f"{PREFIX}-{row}-{k}": v for k, v in changes.items()})
    data = apply(data, {f"{PREFIX}-{k}": v for k, v in management.items()})
    with rolled_back():
        post_formset(admin_client, mapping, data)


def test_field_mappings_refuse_a_tampered_management_form(admin_client, world):
    mapping, people = world["customers"], world["people"]
    data, count = field_mapping_data(mapping)
    other = people.field_mappings.get()
    first = mapping.field_mappings.order_by("position").first()
    cases = [
        {f"{PREFIX}-TOTAL_FORMS": "100000000"}, {f"{PREFIX}-TOTAL_FORMS": "-5"},
        {f"{PREFIX}-TOTAL_FORMS": MISSING}, {f"{PREFIX}-INITIAL_FORMS": MISSING},
        {f"{PREFIX}-TOTAL_FORMS": "9" * 30}, {f"{PREFIX}-INITIAL_FORMS": "50"},
        {f"{PREFIX}-TOTAL_FORMS": "1001", f"{PREFIX}-MAX_NUM_FORMS": "100000"},
        {f"{PREFIX}-INITIAL_FORMS": "-1"}, {f"{PREFIX}-TOTAL_FORMS": ["2", "3"]},
        {f"{PREFIX}-1-id": str(first.pk)},  # one field mapping in two rows
        {f"{PREFIX}-0-id": str(other.pk)},  # a field mapping of another table mapping
        {f"{PREFIX}-0-id": "999999"}, {f"{PREFIX}-0-id": MISSING},
        {f"{PREFIX}-0-table_mapping": str(people.pk)},
        {f"{PREFIX}-0-id": [str(first.pk), str(other.pk)]},
        {f"{PREFIX}-{count - 1}-local_field": "name", f"{PREFIX}-{count - 1}-remote_attribute":
         "name"},  # the new row duplicates a mapped field: allowed or refused, never a 500
    ]
    for case in cases:
        with rolled_back():
            response = post_formset(admin_client, mapping, apply(data, case))
        if "TOTAL_FORMS" in str(case) and response.status_code == 200:
            assert len(response.context["formset"].forms) <= 300, case
    assert other.table_mapping_id == people.pk
    assert FieldMapping.objects.get(pk=other.pk).table_mapping_id == people.pk


# --- the records' Dynamics 365 Sales menu: Set Up Coupling, Match, Synchronize Now, Uncouple ----
@few(20)
@given(remote_id=st.one_of(IDS, HOSTILE, st.uuids().map(str), st.just(MISSING)),
       after=st.one_of(st.sampled_from(["", "to_crm", "from_crm"]), SCALAR, st.just(MISSING)),
       create=st.one_of(st.just(MISSING), st.just("yes"), SCALAR), q=HOSTILE)
def test_set_up_coupling_refuses_by_field(admin_client, world, remote_id, after, create, q):
    url = reverse("couplings:record_couple", args=[world["customers"].pk, world["customer"].pk])
    data = apply({}, {"remote_id": remote_id, "after": after, "create": create})
    with rolled_back():
        post_form(admin_client, url, data, [Coupling, SyncJob, TableMapping])
        assert_answered(admin_client.get(url, {"q": q}), 200)


@few(25)
@given(direction=st.one_of(st.sampled_from(["to_crm", "from_crm"]), SCALAR, st.just(MISSING)),
       next_url=st.one_of(HOSTILE, st.sampled_from(["//evil.test/", "https://evil.test/",
                                                    "/a\r\nSet-Cookie: x=1", "\x00/",
                                                    "javascript:alert(1)"]), st.just(MISSING)))
def test_synchronize_now_never_fails(admin_client, world, direction, next_url):
    url = reverse("couplings:record_sync", args=[world["customers"].pk, world["customer"].pk])
    with rolled_back():
        response = admin_client.post(url, apply({}, {"direction": direction, "next": next_url}))
        assert_answered(response)
        if response.status_code == 302:
            assert not response.url.startswith(("//", "http", "javascript")), response.url
        else:  # asked again: the page says why
            assert said(response), "Synchronize Now refused without a word"


HUGE_PK = "9" * 25


@pytest.mark.parametrize("name, method", [
    ("record_couple", "get"), ("record_couple", "post"), ("record_match", "post"),
    ("record_sync", "get"), ("record_sync", "post"), ("record_uncouple", "post"),
    ("record_log", "get"), ("record_crm", "get"),
])
def test_record_actions_on_missing_records_are_not_found(admin_client, world, name, method):
    mapping, customer = world["customers"], world["customer"]
    for args in ([mapping.pk, HUGE_PK], [HUGE_PK, customer.pk], [mapping.pk, 999999],
                 [world["people"].pk, customer.pk + 1000]):
        response = getattr(admin_client, method)(reverse(f"couplings:{name}", args=args))
        assert_answered(response, 404)


def test_record_actions_answer_with_a_message_when_the_crm_is_away(admin_client, world):
    mapping, customer = world["customers"], world["customer"]
    for name in ("record_match", "record_uncouple"):
        response = admin_client.post(reverse(f"couplings:{name}", args=[mapping.pk, customer.pk]),
                                     {"next": "/\x00"})
        assert_answered(response, 302)
        assert said(response)


# --- bulk actions on lists, conflict resolution, the job queue ----------------------------------
PKS = st.lists(st.one_of(IDS, st.just("1")), max_size=4)


def bulk_urls(world):
    mapping = world["customers"]
    return (
        [reverse("couplings:records_bulk", args=[mapping.pk, a])
         for a in ("match", "sync", "uncouple")]
        + [reverse("couplings:mappings_bulk", args=[a])
           for a in ("sync", "full", "match", "uncouple", "reset")]
        + [reverse(f"mappings:tablemapping_bulk_{a}") for a in ("reset", "enable", "disable")]
        + [reverse(f"couplings:syncerror_{a}") for a in ("retry", "uncouple")]
        + [reverse("couplings:skipped_action", args=[a])
           for a in ("retry", "sync", "restore", "delete_records", "uncouple")]
    )


@few(30)
@given(pks=PKS, extra=st.dictionaries(st.sampled_from(["next", "action", "confirm", "all"]),
                                      SCALAR, max_size=2))
def test_bulk_actions_take_only_ids_that_exist(admin_client, world, pks, extra):
    for url in bulk_urls(world):
        with rolled_back():
            response = admin_client.post(url, {"pk": pks, **extra})
            assert_answered(response, 302)
            assert said(response), f"{url} answered without a word"


@few(20)
@given(side=st.one_of(st.sampled_from(["local", "remote", "fields"]), SCALAR, st.just(MISSING)),
       takes=st.dictionaries(st.one_of(HOSTILE, st.sampled_from(["name", "no", "pk", "id"])),
                             st.one_of(st.just("remote"), SCALAR), max_size=3))
def test_conflict_resolution_never_fails(admin_client, world, side, takes):
    coupling = world["coupling"]
    data = apply({f"take_{k}": v for k, v in takes.items()}, {"side": side})
    with rolled_back():
        response = admin_client.post(reverse("couplings:skipped_resolve", args=[coupling.pk]),
                                     data)
        # 400: a hostile field name can make a body Django's multipart parser refuses itself.
        assert_answered(response, 302, 400, 404)
        if response.status_code == 302:
            assert said(response)


@few(15)
@given(action=st.one_of(st.sampled_from(["hold", "ready", "run"]), HOSTILE), pk=IDS,
       next_url=HOSTILE)
def test_job_queue_and_job_actions_never_fail(admin_client, world, action, pk, next_url):
    schedule, job = world["schedule"], world["job"]
    with rolled_back():
        if action.isascii() and action.replace("-", "").replace("_", "").isalnum():
            response = admin_client.post(
                reverse("couplings:jobqueue_action", args=[schedule.pk, action]),
                {"next": next_url})
            assert_answered(response, 302, 404)
        if pk.isascii() and pk.isdigit():
            for name in ("syncjob_cancel",):
                assert_answered(admin_client.post(reverse(f"couplings:{name}", args=[pk])),
                                302, 404)
            assert_answered(admin_client.get(reverse("couplings:syncjob_detail", args=[pk])),
                            200, 404)
        assert_answered(admin_client.post(reverse("couplings:syncjob_cancel", args=[job.pk]),
                                          {"next": next_url}), 302)


@few(15)
@given(values=st.dictionaries(st.sampled_from(["confirm", "keep", "next", "names", "full"]),
                              VALUE, max_size=3))
def test_synchronization_and_setup_actions_never_fail(admin_client, world, values):
    data = apply({}, values)
    for name in ("couplings:sync_modified", "couplings:full_sync", "couplings:full_sync_answer",
                 "mappings:default_setup", "mappings:refresh_metadata",
                 "mappings:connection_disable"):
        with rolled_back():
            assert_answered(admin_client.post(reverse(name), data), 200, 302)


# --- the lists' filters -------------------------------------------------------------------------
LIST_PARAMS = ["q", "name", "local_model", "remote_entity", "direction", "is_enabled", "type",
               "mapping", "status", "trigger", "with_errors", "job", "since", "local_id",
               "result", "skipped", "kind", "page", "sort", "per_page", "coupled"]


@few(25)
@given(params=st.dictionaries(st.sampled_from(LIST_PARAMS), SCALAR, min_size=1, max_size=4))
def test_list_filters_never_fail(admin_client, world, params):
    for name in ("mappings:tablemapping_list", "mappings:transformationrule_list",
                 "couplings:syncjob_list", "couplings:syncerror_list", "couplings:coupling_list",
                 "couplings:skipped_list", "couplings:jobqueue_list"):
        assert_answered(admin_client.get(reverse(name), params), 200, 404)
    for model in ("customer", "item"):
        assert_answered(admin_client.get(reverse("erp:list", kwargs={"model": model}), params),
                        200, 404)


# --- every ERP table's edit page ----------------------------------------------------------------
ERP_PAGES = sorted(erp_site, key=lambda page: page.slug)


def erp_form(page, instance):
    form_class = modelform_factory(page.model, form=BootstrapModelForm,
                                   fields=page.form_fields, formfield_callback=formfield)
    return form_class(instance=instance)


def erp_tables():
    return [page.model for page in ERP_PAGES]


@few(60)
@given(page=st.sampled_from(ERP_PAGES), edit=st.booleans(), data=st.data())
def test_every_erp_form_refuses_by_field(admin_client, world, page, edit, data):
    instance = world["records"].get(page.model)
    if instance is None:  # a table without a record here: only its New page
        edit = False
    values = post_data(erp_form(page, instance))
    if not edit:
        values = {k: v for k, v in values.items()}
    changes = data.draw(overrides(page.form_fields))
    url = (reverse("erp:edit", kwargs={"model": page.slug, "pk": instance.pk}) if edit
           else reverse("erp:add", kwargs={"model": page.slug}))
    with rolled_back():
        post_form(admin_client, url, apply(values, changes), erp_tables())


def too_big(field):
    """A value of the right type that no column of this field holds, or None."""
    if isinstance(field, models.DecimalField):
        return "9" * (field.max_digits - field.decimal_places + 1)
    if isinstance(field, models.CharField) and field.max_length:
        if isinstance(field, models.EmailField):
            return "a" * field.max_length + "@example.com"
        if isinstance(field, models.URLField):
            return "https://example.com/" + "a" * field.max_length
        return "a" * (field.max_length + 1)
    if isinstance(field, models.IntegerField):
        return "9" * 25
    if isinstance(field, models.DateField):
        return "10000-01-01"
    if isinstance(field, models.ForeignKey):
        return "9" * 25
    return None


def test_every_erp_edit_form_refuses_values_out_of_range(admin_client, world):
    checked = 0
    for page in ERP_PAGES:
        instance = world["records"].get(page.model)
        if instance is None:
            continue
        url = reverse("erp:edit", kwargs={"model": page.slug, "pk": instance.pk})
        values = post_data(erp_form(page, instance))
        for name in page.form_fields:
            field = page.model._meta.get_field(name)
            for bad in filter(None, [too_big(field), "\x00" if field.get_internal_type() in
                                     ("CharField", "EmailField", "URLField") else None]):
                with rolled_back():
                    response = post_form(admin_client, url, {**values, name: bad}, erp_tables())
                assert response.status_code == 200, f"{page.slug}.{name} took {bad[:30]!r}"
                assert name in response.context["form"].errors, f"{page.slug}.{name}"
                checked += 1
    assert checked > 100
