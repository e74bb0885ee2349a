"""The world the form fuzz tests work on (`world`): a connection to a CRM that does not answer,
its cached metadata, mappings, a rule, one record of every ERP table, couplings, jobs, errors and
job queue entries. test_roles_crawl.py keeps a world of its own, which overrides this one there."""

import uuid
from datetime import date
from decimal import Decimal

import pytest
from django_q.models import Schedule

from couplings_app.models import Coupling, SyncError, SyncJob
from erp_app import models as erp
from mappings_app import connection as connection_module
from mappings_app.models import (
    Connection,
    EntityMetadata,
    FieldMapping,
    TableMapping,
    TransformationRule,
)

CLOSED_CRM = "http://127.0.0.1:9/crm/api/data/v9.2/"  # the discard port: nothing answers


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


