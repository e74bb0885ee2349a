"""Connection Setup names the integration user by its name in the CRM (its systemuser's full
name), the id only in a tooltip; when the name cannot be read, the id is shown as before."""

import re

import pytest
from django.urls import reverse

from mappings_app.connection import crm_client
from mappings_app.models import Connection

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])

URL = reverse("mappings:connection")


def integration_user_cell(html):
    return re.search(r'data-field="integration_user_id">(.*?)</dd>', html, re.S).group(1)


def test_the_integration_user_is_shown_by_its_name(admin_client, crm_app):
    admin_client.post(reverse("mappings:connection_test"))
    conn = Connection.get()
    user_id = str(conn.integration_user_id)
    with crm_client() as client:
        fullname = client.get("systemusers", user_id, select=["fullname"])["fullname"]
    assert fullname
    cell = integration_user_cell(admin_client.get(URL).content.decode())
    assert fullname in cell
    assert f'title="User ID {user_id}"' in cell
    visible = re.sub(r"<[^>]+>", "", cell)
    assert user_id not in visible


def test_the_id_is_shown_when_the_crm_gives_no_name(admin_client, crm_app, settings):
    admin_client.post(reverse("mappings:connection_test"))
    user_id = str(Connection.get().integration_user_id)
    settings.CRM_CLIENT_SECRET = "no-longer-right"  # the CRM refuses the token now
    response = admin_client.get(URL)
    assert response.status_code == 200
    cell = integration_user_cell(response.content.decode())
    assert f"<code>{user_id}</code>" in cell
    assert "Error" not in cell and "Traceback" not in cell


def test_the_name_is_shown_before_any_test_connection(admin_client, crm_app):
    """As after `make demo`: the integration user is known (a synchronization found it) but
    Test Connection was never pressed."""
    admin_client.post(reverse("mappings:connection_test"))
    Connection.objects.update(last_tested_at=None, last_test_ok=False)
    user_id = str(Connection.get().integration_user_id)
    cell = integration_user_cell(admin_client.get(URL).content.decode())
    assert f'title="User ID {user_id}"' in cell
