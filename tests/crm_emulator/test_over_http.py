"""The embedded CRM over real HTTP: its own threaded server (`ensure_running`) and the project's
server (pytest-django's live_server), reached with `requests` like the sync reaches a real CRM."""

import pytest
import requests

from crm_emulator import faults
from crm_emulator.apps_registry import register_application
from crm_emulator.server import ensure_running, free_port, token_url

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])


@pytest.fixture
def no_site(settings):
    settings.CRM_URL = ""
    settings.SITE_URL = f"http://127.0.0.1:{free_port()}"  # nothing listens there


def bearer(root, tenant="demo"):
    register_application(tenant, "http-client", "http-secret", "http tests")
    response = requests.post(token_url(root, tenant), data={
        "grant_type": "client_credentials", "client_id": "http-client",
        "client_secret": "http-secret", "scope": root + ".default"}, timeout=10)
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_own_server_serves_the_web_api(no_site):
    with ensure_running() as root:
        assert root.startswith("http://127.0.0.1:") and root.endswith("/crm/api/data/v9.2/")
        session = requests.Session()
        session.headers.update(bearer(root))
        assert session.get(root + "accounts", timeout=10).status_code == 200
        created = session.post(root + "accounts", json={"name": "Over HTTP"}, timeout=10)
        assert created.status_code == 204
        assert created.headers["OData-EntityId"].startswith(root + "accounts(")
        body = session.get(root + "accounts", params={"$filter": "name eq 'over http'"},
                           timeout=10).json()
        assert [r["name"] for r in body["value"]] == ["Over HTTP"]
        batch = ("--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
                 "\r\nGET accounts?$select=name HTTP/1.1\r\nAccept: application/json\r\n\r\n"
                 "--b--\r\n")
        answer = session.post(root + "$batch", data=batch,
                              headers={"Content-Type": "multipart/mixed; boundary=b"}, timeout=10)
        assert answer.status_code == 200 and b"Over HTTP" in answer.content
        # the controls are closed to anonymous callers there too
        control = root.replace("/api/data/v9.2/", "/_emulator/faults")
        assert requests.post(control, json={"error_rate": 1}, timeout=10).status_code == 403
        # only the CRM is served there
        assert requests.get(root.replace("/crm/api/data/v9.2/", "/admin/"),
                            timeout=10).status_code == 404
    with pytest.raises(requests.ConnectionError):
        requests.get(root, timeout=2)


def test_dropped_connection(no_site):
    with ensure_running() as root:
        headers = bearer(root)
        faults.set_faults(drop_rate=1)
        try:
            with pytest.raises(requests.ConnectionError):
                requests.post(root + "accounts", json={"name": "Lost answer"}, headers=headers,
                              timeout=10)
        finally:
            faults.clear_faults()
        # the write happened although the answer was lost
        body = requests.get(root + "accounts", headers=headers, timeout=10).json()
        assert [r["name"] for r in body["value"]] == ["Lost answer"]


def test_project_server_is_used_when_it_answers(live_server, settings):
    settings.CRM_URL = ""
    settings.SITE_URL = live_server.url
    with ensure_running() as root:
        assert root == live_server.url + "/crm/api/data/v9.2/"
        headers = bearer(root)
        who = requests.get(root + "WhoAmI", headers=headers, timeout=10)
        assert who.status_code == 200 and who.json()["UserId"]
        assert requests.get(root + "WhoAmI", timeout=10).status_code == 401


def test_configured_crm_url_wins(settings):
    settings.CRM_URL = "https://contoso.crm4.dynamics.com/api/data/v9.2"
    with ensure_running() as root:
        assert root == "https://contoso.crm4.dynamics.com/api/data/v9.2/"
    assert token_url(root, "t1") == "https://login.microsoftonline.com/t1/oauth2/v2.0/token"
