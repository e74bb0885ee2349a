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
