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


def test_seed_keeps_unique_values_unique_next_to_records_made_before_it(app_user):
    """The sync (or a person) may have created a currency, a product or the browse pages' user
    before the seed runs: the seed uses those records and creates no duplicate."""
    from crm_emulator.browse import browse_user_id
    from crm_emulator.schema import BY_NAME
    from crm_emulator.store import WriteOp, write_one

    admin = browse_user_id()
    usd = write_one(WriteOp("POST", BY_NAME["transactioncurrency"], body={
        "isocurrencycode": "usd", "currencyname": "Dollar", "currencysymbol": "$",
        "exchangerate": 1.0}), app_user).row.rowid
    write_one(WriteOp("POST", BY_NAME["product"], body={
        "productnumber": "1000", "name": "Bicycle (from the ERP)"}), app_user)
    seed_crm()
    assert sorted(c["isocurrencycode"].upper() for c in rows("transactioncurrency")) == [
        "DKK", "EUR", "GBP", "USD"]
    assert [p["name"] for p in rows("product") if p["productnumber"] == "1000"] == [
        "Bicycle (from the ERP)"]
    assert Row.objects.filter(entity="systemuser",
                              data__domainname="crmadmin@cronus.example").count() == 1
    assert {p["transactioncurrencyid"] for p in rows("pricelevel")} == {str(usd)}
    assert Row.objects.get(entity="account", data__name="Adatum Corporation").createdby == admin
    assert seed_crm()  # and again, still without a refusal
