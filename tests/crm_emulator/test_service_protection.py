"""The embedded CRM's Dataverse profile (crm_emulator/budget.py): the three service-protection
budgets, 429 + Retry-After exactly when one is exceeded, x-ms-dop-hint, usage and ceiling, the
`_emulator/profile` control, and the bulk messages (UpsertMultiple, all or nothing).

Times are tiny or zero and the window is long, or the window runs on a test clock, so the tests
count requests and refusals; none asserts a duration."""

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from crm_emulator import budget, errors, unique
from crm_emulator.apps_registry import register_application
from crm_emulator.models import Row
from crm_emulator.server import ensure_running, free_port, token_url
from dataverse.auth import ClientCredentials
from dataverse.client import DataverseClient
from tests.crm_emulator.conftest import ROOT, new_id
from tests.crm_emulator.test_batch import BASE, batch_body, request_part, responses

pytestmark = pytest.mark.django_db(databases=["default", "crm"])
FREE = {"latency_seconds": 0, "seconds_per_operation": 0, "seconds_per_bulk_request": 0,
        "seconds_per_bulk_record": 0}
LONG = 3600  # a window that does not slide during a test


@pytest.fixture(autouse=True)
def no_profile():
    budget.clear_profile()
    yield
    budget.clear_profile()


@pytest.fixture
def test_clock(monkeypatch):
    """The window on a clock of the test's own; server time spent without sleeping."""
    now = [1000.0]
    monkeypatch.setattr(budget, "clock", lambda: now[0])
    monkeypatch.setattr(budget, "sleep", lambda seconds: None)

    def at(seconds):
        now[0] = 1000.0 + seconds
    return at


def code(response):
    return response.json()["error"]["code"]


def one_request(user):
    """A request of `user` through the budget (admitted and finished) or its refusal."""
    ticket = budget.admit(user)
    budget.finish(ticket)


# --- off by default -------------------------------------------------------------------------------
def test_off_by_default_nothing_is_limited_and_no_hint(api):
    assert budget.get_profile() is None
    answers = [api.get("WhoAmI") for _ in range(30)]
    assert {r.status_code for r in answers} == {200}
    assert all("x-ms-dop-hint" not in r for r in answers)
    assert budget.admit(uuid.uuid4()) is None


def test_the_hint_is_on_every_answer_while_on_and_gone_after(api, client):
    budget.set_profile(**FREE)
    assert api.get("WhoAmI")["x-ms-dop-hint"] == "4"
    assert api.get(f"accounts({new_id()})").status_code == 404
    assert api.get(f"accounts({new_id()})")["x-ms-dop-hint"] == "4"
    assert client.get(ROOT + "WhoAmI")["x-ms-dop-hint"] == "4"  # even the bearer challenge
    budget.clear_profile()
    assert "x-ms-dop-hint" not in api.get("WhoAmI")


# --- number of requests ---------------------------------------------------------------------------
def test_the_request_budget_refuses_exactly_the_request_over_it(api):
    budget.set_profile(window_seconds=LONG, max_requests=3, **FREE)
    first = api.get("WhoAmI")
    assert first["x-ms-ratelimit-burst-remaining-xrm-requests"] == "2"
    assert [api.get("WhoAmI").status_code for _ in range(2)] == [200, 200]
    refused = api.get("WhoAmI")
    assert refused.status_code == 429 and code(refused) == "0x80072322"
    assert refused.json()["error"]["message"] == (
        "Number of requests exceeded the limit of 3 over time window of 3600 seconds.")
    assert 1 <= int(refused["Retry-After"]) <= LONG
    assert refused["x-ms-dop-hint"] == "4"
    assert budget.usage()["requests"] == 3 and budget.usage()["throttled"] == 1


def test_the_window_slides(test_clock):
    budget.set_profile(window_seconds=10, max_requests=3, **FREE)
    user = uuid.uuid4()
    for second in (0, 1, 2):
        test_clock(second)
        one_request(user)
    test_clock(5)
    with pytest.raises(errors.ApiError) as refused:
        one_request(user)
    assert refused.value.code == "0x80072322"
    assert refused.value.headers["Retry-After"] == "5"  # the request of second 0 leaves at 10
    test_clock(10)
    one_request(user)  # not a fixed window: seconds 1 and 2 still count
    test_clock(10.5)
    with pytest.raises(errors.ApiError) as again:
        one_request(user)
    assert again.value.headers["Retry-After"] == "1"  # 0.5 s, rounded up


def test_budgets_are_per_user(test_clock):
    budget.set_profile(window_seconds=10, max_requests=2, **FREE)
    first, second = uuid.uuid4(), uuid.uuid4()
    one_request(first)
    one_request(first)
    with pytest.raises(errors.ApiError):
        one_request(first)
    one_request(second)
    one_request(second)
    assert budget.usage()["requests"] == 4 and budget.usage()["throttled"] == 1


def test_retry_after_honoured_gets_through(api):
    budget.set_profile(window_seconds=1, max_requests=2, **FREE)
    assert [api.get("WhoAmI").status_code for _ in range(2)] == [200, 200]
    refused = api.get("WhoAmI")
    assert refused.status_code == 429
    time.sleep(int(refused["Retry-After"]))
    assert api.get("WhoAmI").status_code == 200


# --- execution time -------------------------------------------------------------------------------
def test_the_execution_time_budget_refuses_once_exceeded(api):
    budget.set_profile(window_seconds=LONG, max_execution_seconds=0.05,
                       **{**FREE, "seconds_per_operation": 0.03})
    assert api.get("WhoAmI").status_code == 200  # 0.03 s spent: within 0.05
    assert api.get("WhoAmI").status_code == 200  # arrived at 0.03 s: within; 0.06 s now
    refused = api.get("WhoAmI")
    assert refused.status_code == 429 and code(refused) == "0x80072321"
    assert refused.json()["error"]["message"] == (
        "Combined execution time of incoming requests exceeded limit of 50 milliseconds over "
        "time window of 3600 seconds. Decrease number of concurrent requests or reduce the "
        "duration of requests and try again later.")
    assert budget.usage()["requests"] == 2
    assert budget.usage()["execution_seconds"] == pytest.approx(0.06)


def test_retry_after_waits_until_enough_execution_time_has_slid(test_clock):
    budget.set_profile(window_seconds=10, max_execution_seconds=1.0,
                       **{**FREE, "seconds_per_operation": 0.6})
    user = uuid.uuid4()
    one_request(user)
    test_clock(1)
    one_request(user)  # 1.2 s in the window now
    test_clock(2)
    with pytest.raises(errors.ApiError) as refused:
        one_request(user)
    assert refused.value.code == "0x80072321"
    assert refused.value.headers["Retry-After"] == "8"  # the first request's 0.6 s leaves at 10
    test_clock(10)
    one_request(user)


def test_a_batch_is_one_request_whose_parts_add_up(api, account):
    budget.set_profile(window_seconds=LONG, max_execution_seconds=0.05,
                       **{**FREE, "seconds_per_operation": 0.02})
    url = f"{BASE}accounts({account['accountid']})"
    body = batch_body([request_part("GET", url) for _ in range(3)])
    assert [status for status, _, _ in responses(api.batch(body, "batch_1"))] == [200] * 3
    assert budget.usage()["requests"] == 1
    assert budget.usage()["execution_seconds"] == pytest.approx(0.06)
    assert budget.usage()["operations"] == {"read": 3}
    assert code(api.get("WhoAmI")) == "0x80072321"


def test_a_bulk_message_costs_per_record(api):
    budget.set_profile(window_seconds=LONG, **{**FREE, "seconds_per_bulk_request": 0.01,
                                               "seconds_per_bulk_record": 0.001})
    response = api.post("accounts/Microsoft.Dynamics.CRM.CreateMultiple", {"Targets": [
        {"@odata.type": "Microsoft.Dynamics.CRM.account", "name": f"B{i}"} for i in range(10)]})
    assert response.status_code == 200
    assert budget.usage()["execution_seconds"] == pytest.approx(0.02)
    assert budget.usage()["operations"] == {"bulk_records": 10}


# --- concurrency ----------------------------------------------------------------------------------
def test_a_request_over_the_concurrency_limit_is_refused_at_once(test_clock):
    budget.set_profile(max_concurrent=2, **FREE)
    user = uuid.uuid4()
    first, second = budget.admit(user), budget.admit(user)
    with pytest.raises(errors.ApiError) as refused:
        budget.admit(user)
    assert refused.value.code == "0x80072326"
    assert refused.value.message == "Number of concurrent requests exceeded the limit of 2."
    assert refused.value.headers["Retry-After"] == "1"
    budget.finish(first)
    budget.finish(budget.admit(user))  # a slot is free again
    budget.finish(second)
    assert budget.usage()["max_concurrent_seen"] == 2 and budget.usage()["throttled"] == 1


@pytest.mark.django_db(transaction=True, databases=["default", "crm"])
def test_concurrent_requests_over_http(served):
    """Four requests at once, two slots, each held one (simulated) second."""
    root, token = served
    budget.set_profile(window_seconds=LONG, max_concurrent=2,
                       **{**FREE, "seconds_per_operation": 1.0})
    start = threading.Barrier(4)

    def call(_):
        start.wait()
        return get(root + "WhoAmI", token)

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(call, range(4)))
    statuses = sorted(status for status, _, _ in answers)
    assert statuses == [200, 200, 429, 429]
    assert {body["error"]["code"] for status, _, body in answers if status == 429} == {
        "0x80072326"}
    assert all(headers["x-ms-dop-hint"] == "4" for _, headers, _ in answers)
    assert budget.usage()["max_concurrent_seen"] == 2


# --- usage, ceiling, the profile ------------------------------------------------------------------
def test_usage_counts_records_by_kind_and_busy_time(api):
    budget.set_profile(window_seconds=LONG, **{**FREE, "latency_seconds": 0.001,
                                               "seconds_per_operation": 0.002})
    created = api.create("accounts", {"name": "Counted"})
    api.patch(f"accounts({created['accountid']})", {"telephone1": "1"})
    api.get("accounts", {"$select": "name"})
    api.delete(f"accounts({created['accountid']})")
    used = budget.usage()
    assert used["requests"] == 4 and used["throttled"] == 0
    assert used["operations"] == {"create": 1, "update": 1, "read": 1, "delete": 1}
    assert used["execution_seconds"] == pytest.approx(0.008)
    assert used["busy_seconds"] == pytest.approx(0.012)
    budget.reset_usage()
    assert budget.usage()["requests"] == 0 and budget.usage()["operations"] == {}


def test_ceiling_is_the_tightest_budget():
    profile = budget.set_profile()
    assert budget.ceiling({"requests": 600, "execution_seconds": 60, "busy_seconds": 100},
                          profile) == {"seconds": 30.0, "limited_by": "requests"}
    assert budget.ceiling({"requests": 10, "execution_seconds": 400, "busy_seconds": 420},
                          profile) == {"seconds": 100.0, "limited_by": "execution time"}
    assert budget.ceiling({"requests": 10, "execution_seconds": 1, "busy_seconds": 520},
                          profile) == {"seconds": 10.0, "limited_by": "concurrency"}


def test_time_scale_shortens_the_window_and_keeps_the_ratios():
    profile = budget.set_profile(time_scale=0.01)
    assert profile["window_seconds"] == pytest.approx(3.0)
    assert profile["max_requests"] == 60
    assert profile["max_execution_seconds"] == pytest.approx(12.0)
    assert profile["max_concurrent"] == 52 and profile["dop_hint"] == 4
    assert profile["seconds_per_operation"] == pytest.approx(
        budget.DATAVERSE["seconds_per_operation"] * 0.01)
    usage = {"requests": 120, "execution_seconds": 6.0, "busy_seconds": 1.0}
    real = {"requests": 12000, "execution_seconds": 600.0, "busy_seconds": 100.0}
    assert budget.ceiling(usage, profile)["seconds"] == pytest.approx(
        budget.ceiling(real, budget.DATAVERSE)["seconds"] * 0.01)


def test_bad_profile_settings_are_refused():
    for arguments in ({"explode": 1}, {"time_scale": 0}, {"max_requests": 0},
                      {"latency_seconds": -1}, {"dop_hint": "many"}):
        with pytest.raises(ValueError):
            budget.set_profile(**arguments)
    assert budget.get_profile() is None


def post_json(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


def test_the_control_endpoint(client, admin_client, plain_user):
    response = post_json(admin_client, "/crm/_emulator/profile",
                         {"time_scale": 0.5, "max_requests": 100})
    assert response.status_code == 200
    assert response.json()["profile"]["max_requests"] == 50
    assert response.json()["usage"]["requests"] == 0
    assert budget.get_profile()["window_seconds"] == 150
    state = admin_client.get("/crm/_emulator/profile").json()
    assert set(state) == {"profile", "usage"} and state["profile"]["time_scale"] == 0.5
    assert post_json(admin_client, "/crm/_emulator/profile", {"nonsense": 1}).status_code == 400
    assert admin_client.delete("/crm/_emulator/profile").json()["profile"] is None
    assert budget.get_profile() is None
    client.force_login(plain_user)
    assert post_json(client, "/crm/_emulator/profile", {}).status_code == 403
    assert budget.get_profile() is None


# --- bulk messages --------------------------------------------------------------------------------
def account_target(**values):
    return {"@odata.type": "Microsoft.Dynamics.CRM.account", **values}


def test_upsert_multiple_creates_and_updates_by_primary_id(api, account):
    fresh = new_id()
    response = api.post("accounts/Microsoft.Dynamics.CRM.UpsertMultiple", {"Targets": [
        account_target(accountid=account["accountid"], telephone1="111"),
        account_target(accountid=fresh, name="New by id"),
        account_target(**{"@odata.id": f"accounts({account['accountid']})", "fax": "222"})]})
    assert response.status_code == 204
    existing = Row.objects.get(rowid=account["accountid"]).data
    assert existing["telephone1"] == "111" and existing["fax"] == "222"
    assert existing["name"] == "Contoso Ltd."
    assert Row.objects.get(rowid=fresh).data["name"] == "New by id"


def test_upsert_multiple_by_alternate_key(api, account, monkeypatch):
    monkeypatch.setitem(unique.ALTERNATE_KEYS, "account",
                        (unique.alternate_key("Account Number Key", "accountnumber"),))
    response = api.post("accounts/Microsoft.Dynamics.CRM.UpsertMultiple", {"Targets": [
        account_target(**{"@odata.id": "accounts(accountnumber='C00010')", "telephone1": "9"}),
        account_target(**{"@odata.id": "accounts(accountnumber='N''01')", "name": "Keyed"})]})
    assert response.status_code == 204, response.content
    assert Row.objects.get(rowid=account["accountid"]).data["telephone1"] == "9"
    created = Row.objects.get(entity="account", data__accountnumber="N'01")
    assert created.data["name"] == "Keyed"
    refused = api.post("accounts/Microsoft.Dynamics.CRM.UpsertMultiple", {"Targets": [
        account_target(**{"@odata.id": "accounts(name='Keyed')", "telephone1": "1"})]})
    assert refused.status_code == 400


@pytest.mark.parametrize("action", ["UpdateMultiple", "UpsertMultiple"])
def test_a_bulk_message_with_one_bad_record_changes_nothing(api, account, action):
    before = Row.objects.get(rowid=account["accountid"]).data
    fresh = new_id()
    targets = [account_target(accountid=account["accountid"], telephone1="changed"),
               account_target(accountid=fresh, name="x" * 161)]
    if action == "UpsertMultiple":
        targets.insert(1, account_target(accountid=new_id(), name="Would be new"))
    response = api.post(f"accounts/Microsoft.Dynamics.CRM.{action}", {"Targets": targets},
                        {"Prefer": "odata.include-annotations=*"})
    assert response.status_code in (400, 404) and response.json()["error"]["code"]
    assert Row.objects.get(rowid=account["accountid"]).data == before
    assert Row.objects.filter(entity="account").count() == 1
    details = json.loads(response.json()["error"][
        "@Microsoft.PowerApps.CDS.ErrorDetails.Plugin.BulkApiErrorDetails"])
    assert details == [{"RequestIndex": len(targets) - 1, "Id": fresh,
                        "StatusCode": response.status_code}]


def test_bulk_error_details_only_when_asked(api):
    response = api.post("accounts/Microsoft.Dynamics.CRM.CreateMultiple", {"Targets": [
        account_target(name="Fine"), account_target(name="x" * 161)]})
    assert response.status_code == 400 and code(response) == "0x80044331"
    assert set(response.json()["error"]) == {"code", "message"}


# --- the project's client against the profile -----------------------------------------------------
@pytest.fixture
def served(settings):
    """The embedded CRM over real HTTP in this process (so set_profile reaches it) and a token."""
    settings.CRM_URL = ""
    settings.SITE_URL = f"http://127.0.0.1:{free_port()}"
    register_application("demo", "profile-test", "profile-secret", "profile tests")
    with ensure_running() as root:
        form = urllib.parse.urlencode({
            "grant_type": "client_credentials", "client_id": "profile-test",
            "client_secret": "profile-secret", "scope": root + ".default"}).encode()
        with urllib.request.urlopen(token_url(root, "demo"), form) as answer:
            yield root, json.load(answer)["access_token"]


def get(url, token):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, answer.headers, json.load(answer)
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.load(error)


@pytest.mark.django_db(transaction=True, databases=["default", "crm"])
def test_the_dataverse_client_absorbs_a_429(served):
    root, _ = served
    auth = ClientCredentials(token_url(root, "demo"), "profile-test", "profile-secret",
                             root + ".default")
    client = DataverseClient(root, auth)
    client.who_am_i()
    budget.set_profile(window_seconds=1, max_requests=2, **FREE)
    for i in range(3):
        client.create("accounts", {"name": f"Through {i}"}, id=new_id(), key="accountid")
    assert budget.usage()["throttled"] >= 1
    assert Row.objects.filter(entity="account").count() == 3
