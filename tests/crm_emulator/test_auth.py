"""The token endpoint (client credentials) and bearer tokens on the Web API."""

import pytest
from django.core import signing

from crm_emulator.apps_registry import register_application
from crm_emulator.auth import TOKEN_SALT
from crm_emulator.models import Application, Row
from tests.crm_emulator.conftest import CLIENT_ID, ROOT, SECRET, TENANT

pytestmark = pytest.mark.django_db(databases=["default", "crm"])
TOKEN_URL = f"/crm/{TENANT}/oauth2/v2.0/token"


def token_request(client, **overrides):
    form = {"grant_type": "client_credentials", "client_id": CLIENT_ID,
            "client_secret": SECRET, "scope": "https://org.crm.dynamics.com/.default",
            **overrides}
    return client.post(TOKEN_URL, form)


def test_token_for_a_registered_application(client, app_user):
    response = token_request(client)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 3000
    assert body["access_token"]


def test_wrong_secret_is_refused(client, app_user):
    response = token_request(client, client_secret="nope")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_unknown_client_or_tenant_is_refused(client, app_user):
    assert token_request(client, client_id="other").json()["error"] == "unauthorized_client"
    response = client.post("/crm/othertenant/oauth2/v2.0/token", {
        "grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": SECRET,
        "scope": "x/.default"})
    assert response.status_code == 400


def test_other_grant_types_are_refused(client, app_user):
    response = token_request(client, grant_type="password")
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_api_without_a_token_is_401(client, app_user):
    response = client.get(ROOT + "accounts")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer authorization_uri=")
    assert client.get(ROOT + "accounts", headers={"Authorization": "Bearer forged"}
                      ).status_code == 401


def test_api_does_not_take_a_django_session(admin_client, app_user):
    assert admin_client.get(ROOT + "WhoAmI").status_code == 401


def test_expired_token_is_401(client, app_user, monkeypatch):
    token = signing.dumps({"uid": str(app_user)}, salt=TOKEN_SALT, compress=True)
    monkeypatch.setattr("crm_emulator.auth.TOKEN_LIFETIME", -1)
    assert client.get(ROOT + "WhoAmI", headers={"Authorization": f"Bearer {token}"}
                      ).status_code == 401


def test_register_application_is_idempotent_and_updates_the_secret(client, app_user):
    again = register_application(TENANT, CLIENT_ID, SECRET, "tests")
    assert again == app_user
    assert Application.objects.filter(tenant=TENANT, client_id=CLIENT_ID).count() == 1
    user = Row.objects.get(entity="systemuser", rowid=app_user)
    assert user.data["applicationid"] and user.data["isintegrationuser"] is True
    assert user.data["accessmode"] == 4
    register_application(TENANT, CLIENT_ID, "new-secret", "tests")
    assert token_request(client).status_code == 401
    assert token_request(client, client_secret="new-secret").status_code == 200
    assert Row.objects.filter(entity="systemuser", data__applicationid__isnull=False,
                              rowid=app_user).count() == 1
    assert Application.objects.filter(tenant=TENANT, client_id=CLIENT_ID).count() == 1
