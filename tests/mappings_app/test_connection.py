"""Test Connection: authenticates with the secret from the environment, finds the integration
user by WhoAmI, and never lets the secret into a message."""

import pytest

from mappings_app.connection import check_connection
from mappings_app.models import Connection

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])


def test_it_finds_the_integration_user(crm_app):
    ok, message = check_connection()
    connection = Connection.get()
    assert ok, message
    assert str(connection.integration_user_id) == str(crm_app)
    assert connection.last_test_ok and connection.last_tested_at
    assert "Integration user" in connection.last_test_message


def test_a_wrong_secret_fails_without_showing_it(crm_app, settings):
    settings.CRM_CLIENT_SECRET = "s3cr3t-wrong-value"
    ok, message = check_connection()
    assert not ok
    assert "refused" in message
    assert "s3cr3t-wrong-value" not in message
    assert "s3cr3t-wrong-value" not in Connection.get().last_test_message


def test_missing_settings_are_named(crm_app, settings):
    settings.CRM_CLIENT_SECRET = ""
    connection = Connection.get()
    connection.client_id = ""
    connection.save()
    ok, message = check_connection()
    assert not ok
    assert message == "Enter the Client ID. Set CRM_CLIENT_SECRET in the server's environment."


def test_an_unreachable_crm_is_reported(crm_app):
    connection = Connection.get()
    connection.service_root = "http://127.0.0.1:9/api/data/v9.2/"
    connection.tenant_id = "contoso"
    connection.authority_url = "http://127.0.0.1:9"
    connection.save()
    ok, message = check_connection()
    assert not ok
    assert message.startswith("The CRM could not be reached")
    assert "127.0.0.1" in message


# --- which authority gives the tokens ---------------------------------------------------------
CRM = "https://org.example.test/api/data/v9.2/"
USER = "8f2a8f5c-0c1e-4e7a-9a57-1d7f3c1b2a01"


@pytest.fixture
def remote_connection(db):
    connection = Connection.get()
    connection.service_root = CRM
    connection.tenant_id = "contoso"
    connection.client_id = "app-1"
    connection.save()
    return connection


def fake_crm(rsps, token_url):
    rsps.post(token_url, json={"token_type": "Bearer", "expires_in": 3600, "access_token": "t"})
    rsps.get(CRM + "WhoAmI", json={"UserId": USER, "BusinessUnitId": USER,
                                   "OrganizationId": USER})


@pytest.mark.parametrize("authority, expected", [
    (None, "https://login.microsoftonline.com/contoso/oauth2/v2.0/token"),
    ("http://127.0.0.1:8765/crm", "http://127.0.0.1:8765/crm/contoso/oauth2/v2.0/token"),
    ("https://login.example.test/", "https://login.example.test/contoso/oauth2/v2.0/token"),
])
def test_tokens_come_from_crm_authority_url(remote_connection, settings, authority, expected):
    import responses

    if authority is not None:
        settings.CRM_AUTHORITY_URL = authority
    with responses.RequestsMock() as rsps:
        fake_crm(rsps, expected)
        ok, message = check_connection(remote_connection)
        assert ok, message
        assert rsps.calls[0].request.url == expected
    assert str(Connection.get().integration_user_id) == USER


def test_a_national_cloud_chosen_on_the_connection_wins(remote_connection, settings):
    import responses

    settings.CRM_AUTHORITY_URL = "https://login.example.test"
    remote_connection.authority_url = "https://login.microsoftonline.us"
    remote_connection.save()
    expected = "https://login.microsoftonline.us/contoso/oauth2/v2.0/token"
    with responses.RequestsMock() as rsps:
        fake_crm(rsps, expected)
        ok, message = check_connection(remote_connection)
        assert ok, message
        assert rsps.calls[0].request.url == expected


def test_the_embedded_crm_keeps_its_own_token_endpoint(crm_app, settings):
    settings.CRM_AUTHORITY_URL = "http://127.0.0.1:9"  # nothing listens there
    ok, message = check_connection()
    assert ok, message
