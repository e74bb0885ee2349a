"""Connection Setup: what it shows (never the secret), its actions and who may use them."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from mappings_app.models import Connection, TableMapping

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])

URL = reverse("mappings:connection")


def grant(user, *codenames):
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def viewer(client, plain_user):
    grant(plain_user, "view_connection")
    client.force_login(plain_user)
    return client


def test_it_shows_the_embedded_crm_and_the_secret_only_as_set(admin_client, settings):
    settings.CRM_CLIENT_SECRET = "s3cr3t-VALUE-never-shown"
    html = admin_client.get(URL).content.decode()
    assert "Embedded CRM" in html
    assert "set</span> in the environment (CRM_CLIENT_SECRET)" in html
    assert "s3cr3t-VALUE-never-shown" not in html
    assert 'name="client_secret"' not in html


def test_it_says_when_the_secret_is_not_set(admin_client, settings):
    settings.CRM_CLIENT_SECRET = ""
    assert "not set" in admin_client.get(URL).content.decode()


def test_viewer_sees_no_action_buttons(viewer):
    response = viewer.get(URL)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<form" not in html.split("<main", 1)[1]  # no action of any kind
    assert reverse("mappings:connection_edit") not in html


def test_it_requires_the_view_permission(client, plain_user):
    client.force_login(plain_user)
    assert client.get(URL).status_code == 403


def test_anonymous_visitor_is_sent_to_login(client):
    assert "/accounts/login/" in client.get(URL)["Location"]


def test_edit_saves_the_settings_without_a_secret_field(admin_client):
    url = reverse("mappings:connection_edit")
    html = admin_client.get(url).content.decode()
    assert "secret" not in html.lower().replace("crm_client_secret", "").replace(
        "client secret is not stored", "")
    response = admin_client.post(url, {"service_root": "", "tenant_id": "demo",
                                       "client_id": "other-app", "local_currency_code": "EUR"})
    assert response.status_code == 302
    conn = Connection.get()
    assert (conn.client_id, conn.local_currency_code) == ("other-app", "EUR")


def test_edit_is_refused_without_change_permission(viewer):
    assert viewer.get(reverse("mappings:connection_edit")).status_code == 403
    assert viewer.post(reverse("mappings:connection_edit"), {}).status_code == 403


def test_test_connection_reaches_the_embedded_crm(admin_client, crm_app):
    response = admin_client.post(reverse("mappings:connection_test"), follow=True)
    conn = Connection.get()
    assert conn.last_test_ok is True and conn.integration_user_id is not None
    assert "Connected to Embedded CRM" in response.content.decode()


def test_failed_test_is_shown_not_raised(admin_client, settings):
    settings.CRM_CLIENT_SECRET = ""
    response = admin_client.post(reverse("mappings:connection_test"), follow=True)
    assert "Set CRM_CLIENT_SECRET" in response.content.decode()
    assert Connection.get().last_test_ok is False


def test_enable_tests_first_then_enables(admin_client, crm_app):
    admin_client.post(reverse("mappings:connection_enable"))
    assert Connection.get().is_enabled
    admin_client.post(reverse("mappings:connection_disable"))
    assert not Connection.get().is_enabled


def test_enable_refuses_a_failing_connection(admin_client, settings):
    settings.CRM_CLIENT_SECRET = ""
    response = admin_client.post(reverse("mappings:connection_enable"), follow=True)
    assert "was not enabled" in response.content.decode()
    assert not Connection.get().is_enabled


@pytest.mark.parametrize("name", ["connection_test", "connection_enable", "connection_disable",
                                  "default_setup", "refresh_metadata"])
def test_actions_reject_get(admin_client, name):
    assert admin_client.get(reverse(f"mappings:{name}")).status_code == 405


@pytest.mark.parametrize("name", ["connection_test", "connection_enable", "connection_disable",
                                  "default_setup", "refresh_metadata"])
def test_actions_require_permission(viewer, name):
    assert viewer.post(reverse(f"mappings:{name}"), {"confirm": "yes"}).status_code == 403
    assert not TableMapping.objects.exists()


def test_default_setup_asks_first(admin_client):
    response = admin_client.post(reverse("mappings:default_setup"))
    assert "Use Default Synchronization Setup?" in response.content.decode()
    assert not TableMapping.objects.exists()


def test_default_setup_creates_the_mappings_with_counts(admin_client, crm_app):
    response = admin_client.post(reverse("mappings:default_setup"), {"confirm": "yes"},
                                 follow=True)
    assert "Default synchronization setup: 11 created, 0 reset, 0 unchanged." in (
        response.content.decode())
    assert TableMapping.objects.count() == 11


def test_default_setup_failure_is_a_message_not_a_500(admin_client, settings):
    settings.CRM_CLIENT_SECRET = "wrong-secret-XYZ"  # the CRM refuses the token request
    response = admin_client.post(reverse("mappings:default_setup"), {"confirm": "yes"},
                                 follow=True)
    html = response.content.decode()
    assert response.status_code == 200
    assert "The default setup was not applied" in html
    assert "wrong-secret-XYZ" not in html
    assert not TableMapping.objects.exists()


def test_default_setup_needs_add_permission(client, plain_user):
    grant(plain_user, "view_connection", "change_connection", "test_connection")
    client.force_login(plain_user)
    assert client.post(reverse("mappings:default_setup"), {"confirm": "yes"}).status_code == 403


def test_refresh_metadata_reads_the_mapped_entities(admin_client, crm_app):
    from django.core.management import call_command

    from mappings_app.models import EntityMetadata

    call_command("setup_defaults")
    EntityMetadata.objects.filter(logical_name="account").delete()
    response = admin_client.post(reverse("mappings:refresh_metadata"), follow=True)
    assert "Read the CRM&#x27;s description of" in response.content.decode()
    assert EntityMetadata.objects.filter(logical_name="account").exists()


def test_it_links_to_the_mapping_pages(admin_client):
    html = admin_client.get(URL).content.decode()
    assert reverse("mappings:tablemapping_list") in html
    assert reverse("mappings:transformationrule_list") in html
