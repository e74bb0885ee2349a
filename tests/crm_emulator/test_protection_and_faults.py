"""Service protection limits (429 + Retry-After) and the fault knobs, by Python and over HTTP."""

import json

import pytest

from crm_emulator import faults, throttle
from crm_emulator.models import Row

pytestmark = pytest.mark.django_db(databases=["default", "crm"])


def test_no_limit_by_default(api):
    for _ in range(30):
        assert api.get("WhoAmI").status_code == 200


def test_requests_over_the_limit_get_429_with_retry_after(api):
    throttle.set_limit(requests=3, window_seconds=60)
    assert [api.get("WhoAmI").status_code for _ in range(3)] == [200, 200, 200]
    response = api.get("WhoAmI")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response.json()["error"]["code"] == "0x80072322"
    throttle.clear_limit()
    assert api.get("WhoAmI").status_code == 200


def test_faults_are_off_by_default(api):
    assert faults.get_faults()["error_rate"] == 0
    assert api.get("WhoAmI").status_code == 200


def test_every_request_can_fail_with_503_before_anything_is_written(api):
    faults.set_faults(error_rate=1, error_statuses=[503])
    response = api.post("accounts", {"name": "Never"})
    assert response.status_code == 503
    assert response.json()["error"]["code"]
    assert not Row.objects.filter(entity="account").exists()
    faults.clear_faults()
    assert api.post("accounts", {"name": "Now"}).status_code == 204


def test_a_share_of_requests_fail(api):
    faults.set_faults(error_rate=0.5)
    statuses = [api.get("WhoAmI").status_code for _ in range(60)]
    assert {200} < set(statuses) <= {200, 500, 503}


def test_latency(api):
    import time

    faults.set_faults(latency_ms=150)
    started = time.perf_counter()
    api.get("WhoAmI")
    assert time.perf_counter() - started >= 0.15


def test_malformed_body_comes_after_the_write(api):
    faults.set_faults(malformed_rate=1)
    response = api.post("accounts", {"name": "Written"})
    with pytest.raises(ValueError):
        json.loads(response.content)
    assert Row.objects.filter(entity="account").count() == 1


def test_unknown_fault_setting_is_refused():
    with pytest.raises(ValueError):
        faults.set_faults(explode=True)
    with pytest.raises(ValueError):
        faults.set_faults(error_rate=2)


def test_token_endpoint_is_not_faulted(client, app_user):
    faults.set_faults(error_rate=1)
    response = client.post("/crm/demo/oauth2/v2.0/token", {
        "grant_type": "client_credentials", "client_id": "test-client",
        "client_secret": "test-secret", "scope": "x/.default"})
    assert response.status_code == 200


# --- the control endpoint ---
def post_json(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


def test_control_endpoint_is_closed_by_default(client, plain_user):
    response = post_json(client, "/crm/_emulator/faults", {"error_rate": 1})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    client.force_login(plain_user)
    assert post_json(client, "/crm/_emulator/faults", {"error_rate": 1}).status_code == 403
    assert faults.get_faults()["error_rate"] == 0


def test_staff_may_set_and_clear_faults(client, admin_client):
    response = post_json(admin_client, "/crm/_emulator/faults", {"error_rate": 0.25})
    assert response.status_code == 200 and response.json()["value"]["error_rate"] == 0.25
    assert faults.get_faults()["error_rate"] == 0.25
    assert admin_client.delete("/crm/_emulator/faults").status_code == 200
    assert faults.get_faults()["error_rate"] == 0


def test_staff_cannot_be_tricked_by_a_form_post(admin_client):
    response = admin_client.post("/crm/_emulator/faults", {"error_rate": "1"})
    assert response.status_code == 415


def test_control_setting_opens_the_endpoints(client, settings, db):
    settings.CRM_EMULATOR_CONTROL = True
    assert post_json(client, "/crm/_emulator/faults", {"drop_rate": 0.1}).status_code == 200
    assert client.get("/crm/_emulator/faults").json()["value"]["drop_rate"] == 0.1
    response = post_json(client, "/crm/_emulator/throttle", {"requests": 5, "window_seconds": 10})
    assert response.json()["value"] == {"requests": 5, "window_seconds": 10}
    assert post_json(client, "/crm/_emulator/faults", {"nonsense": 1}).status_code == 400
    client.delete("/crm/_emulator/throttle")
    assert throttle.get_limit() is None
