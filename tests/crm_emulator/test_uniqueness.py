"""Unique values, as strict as Dataverse: currency codes, product numbers, unit group and unit
names, price list names, price list items, user names and alternate keys; over single requests,
upserts, CreateMultiple and $batch (change sets all or nothing, continue-on-error one by one)."""

import json

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from crm_emulator import unique
from crm_emulator.models import Row
from tests.crm_emulator.conftest import new_id
from tests.crm_emulator.test_batch import batch_body, change_set, request_part, responses

pytestmark = pytest.mark.django_db(databases=["default", "crm"])


def refusal(response):
    return response.status_code, response.json()["error"]["code"]


def currency(api, code="EUR", **extra):
    return api.create("transactioncurrencies", {
        "isocurrencycode": code, "currencyname": f"{code} name", "currencysymbol": code[:1],
        "exchangerate": 1.0, **extra})


def currency_body(code, **extra):
    return {"isocurrencycode": code, "currencyname": f"{code} name", "currencysymbol": "x",
            "exchangerate": 1.0, **extra}


def product_body(number, name="Bike", **extra):
    return {"productnumber": number, "name": name, **extra}


@pytest.fixture
def group(api):
    return api.create("uomschedules", {"name": "Default Unit", "baseuomname": "Primary Unit"})


def unit_body(name, group_id):
    return {"name": name, "uomscheduleid@odata.bind": f"/uomschedules({group_id})"}


# --- transactioncurrency.isocurrencycode ------------------------------------------------------
def test_a_second_currency_with_the_same_iso_code_is_refused(api):
    currency(api, "EUR")
    response = api.post("transactioncurrencies", currency_body("EUR"))
    assert refusal(response) == (400, "0x80048cf3")
    assert "Currency with the same currency code already exist" in response.json()["error"][
        "message"]
    assert Row.objects.filter(entity="transactioncurrency").count() == 1


@pytest.mark.parametrize("code", ["eur", "Eur", "EUR  "])
def test_iso_codes_compare_as_sql_server_does(api, code):
    currency(api, "EUR")
    assert refusal(api.post("transactioncurrencies", currency_body(code))) == (400, "0x80048cf3")


def test_an_update_to_another_currencys_code_is_refused(api):
    currency(api, "EUR")
    usd = currency(api, "USD")
    response = api.patch(f"transactioncurrencies({usd['transactioncurrencyid']})",
                         {"isocurrencycode": "eur"})
    assert refusal(response) == (400, "0x80048cf3")
    assert Row.objects.get(rowid=usd["transactioncurrencyid"]).data["isocurrencycode"] == "USD"


def test_an_update_keeping_its_own_code_is_accepted(api):
    eur = currency(api, "EUR")
    url = f"transactioncurrencies({eur['transactioncurrencyid']})"
    assert api.patch(url, {"isocurrencycode": "EUR", "currencyname": "Euro"}).status_code == 204
    assert api.patch(url, {"exchangerate": 0.9}).status_code == 204


def test_an_upsert_that_creates_a_duplicate_is_refused(api):
    currency(api, "EUR")
    response = api.patch(f"transactioncurrencies({new_id()})", currency_body("EUR"))
    assert refusal(response) == (400, "0x80048cf3")


def test_a_code_is_free_again_once_its_currency_is_deleted(api):
    eur = currency(api, "EUR")
    assert api.delete(f"transactioncurrencies({eur['transactioncurrencyid']})").status_code == 204
    assert api.post("transactioncurrencies", currency_body("EUR")).status_code == 204


# --- product.productnumber --------------------------------------------------------------------
def test_a_duplicate_product_number_is_refused(api):
    api.create("products", product_body("1000"))
    response = api.post("products", product_body("1000", "Other bike"))
    assert refusal(response) == (400, "0x80043b06")
    assert "conflicts with the product ID of an existing record" in response.json()["error"][
        "message"]


def test_a_product_number_compares_case_insensitively(api):
    api.create("products", product_body("ABC-1"))
    assert refusal(api.post("products", product_body("abc-1"))) == (400, "0x80043b06")


def test_create_multiple_with_a_duplicate_product_number_creates_nothing(api):
    response = api.post("products/Microsoft.Dynamics.CRM.CreateMultiple", {"Targets": [
        product_body("1"), product_body("2"), product_body("1")]})
    assert refusal(response) == (400, "0x80043b06")
    assert not Row.objects.filter(entity="product").exists()


# --- uomschedule.name, uom (name, unit group) -------------------------------------------------
def test_a_duplicate_unit_group_name_is_refused(api, group):
    response = api.post("uomschedules", {"name": "default unit", "baseuomname": "Each"})
    assert refusal(response) == (412, "0x80040237")


def test_unit_names_are_unique_within_their_group_only(api, group):
    other = api.create("uomschedules", {"name": "Weight", "baseuomname": "kg"})
    api.create("uoms", unit_body("PCS", group["uomscheduleid"]))
    assert refusal(api.post("uoms", unit_body("pcs", group["uomscheduleid"]))) == (
        412, "0x80040237")
    assert api.post("uoms", unit_body("PCS", other["uomscheduleid"])).status_code == 204


def test_moving_a_unit_into_a_group_that_has_its_name_is_refused(api, group):
    other = api.create("uomschedules", {"name": "Weight", "baseuomname": "kg"})
    api.create("uoms", unit_body("BOX", group["uomscheduleid"]))
    box = api.create("uoms", unit_body("BOX", other["uomscheduleid"]))
    response = api.patch(f"uoms({box['uomid']})", {
        "uomscheduleid@odata.bind": f"/uomschedules({group['uomscheduleid']})"})
    assert refusal(response) == (412, "0x80040237")


# --- pricelevel.name, productpricelevel (price list, product, unit) ---------------------------
@pytest.fixture
def price_setup(api, group):
    eur = currency(api, "EUR")
    pcs = api.create("uoms", unit_body("PCS", group["uomscheduleid"]))
    box = api.create("uoms", unit_body("BOX", group["uomscheduleid"]))
    bike = api.create("products", product_body("1000"))
    eur_ref = f"/transactioncurrencies({eur['transactioncurrencyid']})"
    price_list = api.create("pricelevels", {
        "name": "Standard", "transactioncurrencyid@odata.bind": eur_ref})
    return {"eur": eur, "pcs": pcs, "box": box, "bike": bike, "list": price_list}


def test_a_duplicate_price_list_name_is_refused(api, price_setup):
    eur = price_setup["eur"]["transactioncurrencyid"]
    response = api.post("pricelevels", {
        "name": "STANDARD", "transactioncurrencyid@odata.bind": f"/transactioncurrencies({eur})"})
    assert refusal(response) == (400, "0x80043b0f")


def item_body(setup, unit="pcs", amount=10.0):
    return {"pricelevelid@odata.bind": f"/pricelevels({setup['list']['pricelevelid']})",
            "productid@odata.bind": f"/products({setup['bike']['productid']})",
            "uomid@odata.bind": f"/uoms({setup[unit]['uomid']})", "amount": amount}


def test_a_second_price_for_the_same_product_unit_and_list_is_refused(api, price_setup):
    api.create("productpricelevels", item_body(price_setup))
    response = api.post("productpricelevels", item_body(price_setup, amount=12.0))
    assert refusal(response) == (400, "0x80043b08")
    assert api.post("productpricelevels", item_body(price_setup, "box")).status_code == 204


# --- systemuser.domainname --------------------------------------------------------------------
def test_a_second_user_with_the_same_user_name_is_refused(api):
    api.create("systemusers", {"lastname": "Roberts", "domainname": "jr@cronus.example"})
    response = api.post("systemusers", {"lastname": "Other", "domainname": "JR@cronus.example"})
    assert refusal(response) == (400, "0x80041d2c")


# --- alternate keys ---------------------------------------------------------------------------
@pytest.fixture
def account_number_key(monkeypatch):
    monkeypatch.setitem(unique.ALTERNATE_KEYS, "account",
                        (unique.alternate_key("Account Number Key", "accountnumber"),))


def test_a_declared_alternate_key_refuses_duplicates(api, account_number_key):
    api.create("accounts", {"name": "Contoso", "accountnumber": "C1"})
    response = api.post("accounts", {"name": "Other", "accountnumber": "c1"})
    assert refusal(response) == (412, "0x80060892")
    assert response.json()["error"]["message"].startswith(
        "Entity Key Account Number Key violated. A record with the same value for accountnumber "
        "already exists.")


def test_records_without_alternate_key_values_are_not_compared(api, account_number_key):
    api.create("accounts", {"name": "Contoso"})
    assert api.post("accounts", {"name": "Contoso"}).status_code == 204


def test_tables_without_rules_accept_equal_values(api):
    api.create("accounts", {"name": "Contoso", "accountnumber": "C1"})
    assert api.post("accounts", {"name": "Contoso", "accountnumber": "C1"}).status_code == 204


# --- $batch -----------------------------------------------------------------------------------
def test_a_change_set_with_two_equal_codes_fails_as_a_whole(api):
    parts = [request_part("POST", "transactioncurrencies", currency_body("EUR"), str(i + 1))
             for i in range(2)] + [
        request_part("POST", "transactioncurrencies", currency_body("USD"), "3")]
    answers = responses(api.batch(batch_body([change_set(parts)]), "batch_1"))
    assert len(answers) == 1
    status, _, body = answers[0]
    assert (status, json.loads(body)["error"]["code"]) == (400, "0x80048cf3")
    assert not Row.objects.filter(entity="transactioncurrency").exists()


def test_a_change_set_conflicting_with_a_stored_record_fails_as_a_whole(api):
    api.create("products", product_body("7"))
    parts = [request_part("POST", "products", product_body(str(n)), str(n)) for n in range(1, 9)]
    answers = responses(api.batch(batch_body([change_set(parts)]), "batch_1"))
    assert [(s, json.loads(b)["error"]["code"]) for s, _, b in answers] == [(400, "0x80043b06")]
    assert Row.objects.filter(entity="product").count() == 1


def test_continue_on_error_fails_only_the_duplicate(api):
    api.create("products", product_body("2"))
    items = [request_part("POST", "products", product_body(str(n))) for n in (1, 2, 3, 3)]
    response = api.batch(batch_body(items), "batch_1", {"Prefer": "odata.continue-on-error"})
    answers = responses(response)
    assert [a[0] for a in answers] == [204, 400, 204, 400]
    assert json.loads(answers[1][2])["error"]["code"] == "0x80043b06"
    assert sorted(r.data["productnumber"] for r in Row.objects.filter(entity="product")) == [
        "1", "2", "3"]


def test_without_continue_on_error_the_batch_stops_at_the_duplicate(api):
    items = [request_part("POST", "products", product_body(str(n))) for n in (1, 1, 2)]
    answers = responses(api.batch(batch_body(items), "batch_1"))
    assert [a[0] for a in answers] == [204, 400]
    assert [r.data["productnumber"] for r in Row.objects.filter(entity="product")] == ["1"]


def test_a_value_given_up_earlier_in_a_change_set_may_be_taken(api):
    old = api.create("products", product_body("1000"))
    parts = [request_part("PATCH", f"products({old['productid']})", {"productnumber": "1000-OLD"},
                          "1"),
             request_part("POST", "products", product_body("1000", "New bike"), "2")]
    answers = responses(api.batch(batch_body([change_set(parts)]), "batch_1"))
    assert [a[0] for a in answers] == [204, 204]
    assert sorted(r.data["productnumber"] for r in Row.objects.filter(entity="product")) == [
        "1000", "1000-OLD"]


def test_a_delete_then_create_in_one_change_set_is_accepted(api):
    eur = currency(api, "EUR")
    parts = [request_part("DELETE", f"transactioncurrencies({eur['transactioncurrencyid']})",
                          content_id="1"),
             request_part("POST", "transactioncurrencies", currency_body("EUR"), "2")]
    answers = responses(api.batch(batch_body([change_set(parts)]), "batch_1"))
    assert [a[0] for a in answers] == [204, 204]


def test_units_of_a_group_created_in_the_same_change_set_are_checked(api):
    parts = [request_part("POST", "uomschedules", {"name": "G", "baseuomname": "P"}, "1"),
             request_part("POST", "uoms", {"name": "P", "uomscheduleid@odata.bind": "$1"}, "2"),
             request_part("POST", "uoms", {"name": "p", "uomscheduleid@odata.bind": "$1"}, "3")]
    answers = responses(api.batch(batch_body([change_set(parts)]), "batch_1"))
    assert [(s, json.loads(b)["error"]["code"]) for s, _, b in answers] == [(412, "0x80040237")]
    assert not Row.objects.filter(entity__in=["uom", "uomschedule"]).exists()


# --- cost -------------------------------------------------------------------------------------
def crm_queries(api, body):
    with CaptureQueriesContext(connections["crm"]) as queries:
        answers = responses(api.batch(body, "batch_1"))
    assert {a[0] for a in answers} == {204}
    return len(queries)


def test_checking_costs_the_same_queries_for_10_or_1000_creates(api):
    small = crm_queries(api, batch_body([change_set([
        request_part("POST", "products", product_body(f"S{n}"), str(n + 1)) for n in range(10)])]))
    large = crm_queries(api, batch_body([change_set([
        request_part("POST", "products", product_body(f"L{n}"), str(n + 1))
        for n in range(1000)])]))
    # the 1,000 values are probed in one query; nothing else grows with the batch
    assert large <= small, (small, large)


@pytest.mark.slow
def test_five_thousand_product_creates_in_batches_cost_the_same_per_batch(api):
    # The uniqueness checks look up what a batch needs, not every row the table holds: the
    # fifth batch of 1,000 creates costs the CRM's database no more statements than the first.
    # (Counted, not timed: a busy machine makes a timing say nothing.)
    statements = []
    for batch in range(5):
        parts = [request_part("POST", "products", product_body(f"P{batch}-{n}"), str(n + 1))
                 for n in range(1000)]
        with CaptureQueriesContext(connections["crm"]) as queries:
            responses(api.batch(batch_body([change_set(parts)]), "batch_1"))
        statements.append(len(queries))
    assert Row.objects.filter(entity="product").count() == 5000
    assert statements[-1] <= statements[0], statements
    assert statements[0] < 100, statements  # per batch, not per record
