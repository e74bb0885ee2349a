"""seed_crm: the demo data of the embedded CRM, idempotent."""

import pytest
from django.conf import settings

from crm_emulator.models import Application, Row
from crm_emulator.seed import seed_crm

pytestmark = pytest.mark.django_db(databases=["default", "crm"])


def rows(entity):
    return [r.data for r in Row.objects.filter(entity=entity)]


def test_seed_is_idempotent():
    first = seed_crm()
    versions = dict(Row.objects.values_list("rowid", "versionnumber"))
    assert seed_crm() == first
    assert dict(Row.objects.values_list("rowid", "versionnumber")) == versions


def test_seed_makes_the_demo_cases():
    seed_crm()
    users = rows("systemuser")
    assert any(u.get("islicensed") and not u.get("isdisabled") for u in users)
    assert any(u.get("isdisabled") for u in users)
    assert any(not u.get("islicensed") and not u.get("applicationid") for u in users)
    assert sum(1 for u in users if u.get("applicationid")) == 1
    accounts = rows("account")
    assert {a["customertypecode"] for a in accounts} >= {3, 11}
    assert {a["statecode"] for a in accounts} == {0, 1}
    contacts = rows("contact")
    assert any("parentcustomerid" in c for c in contacts)
    assert any("parentcustomerid" not in c for c in contacts)
    assert {c["isocurrencycode"] for c in rows("transactioncurrency")} >= {"EUR", "USD", "GBP"}
    numbers = {p["productnumber"] for p in rows("product")}
    assert {"1000", "1010", "1896-S"} <= numbers


def test_seed_registers_the_demo_application():
    seed_crm()
    app = Application.objects.get(client_id=settings.CRM_CLIENT_ID)
    assert app.tenant == (settings.CRM_TENANT_ID or "demo")
    assert Row.objects.filter(entity="systemuser", rowid=app.userid).exists()


def test_seeded_records_are_not_made_by_the_integration_user():
    seed_crm()
    app = Application.objects.get(client_id=settings.CRM_CLIENT_ID)
    assert not Row.objects.filter(entity="account", createdby=app.userid).exists()
