"""The client secret appears on no page, whatever the page or the outcome of an action."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from mappings_app.models import TableMapping, TransformationRule

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])

SECRET = "Very-Recognizable-Secret-4711"


def test_no_page_shows_the_client_secret(admin_client, settings):
    from crm_emulator.apps_registry import register_application

    settings.CRM_CLIENT_SECRET = SECRET
    register_application(settings.CRM_TENANT_ID, settings.CRM_CLIENT_ID, SECRET, "syncadmin")
    call_command("setup_defaults")
    call_command("seed_demo", customers=2)
    customer = TableMapping.objects.get(name="CUSTOMER")
    rule = TransformationRule.objects.first()
    pages = [
        reverse("mappings:connection"),
        reverse("mappings:connection_edit"),
        reverse("mappings:tablemapping_list"),
        reverse("mappings:tablemapping_add"),
        customer.get_absolute_url(),
        reverse("mappings:tablemapping_edit", args=[customer.pk]),
        reverse("mappings:tablemapping_delete", args=[customer.pk]),
        reverse("mappings:fieldmapping_list", args=[customer.pk]),
        reverse("mappings:tablemapping_preview", args=[customer.pk]) + "?local=C00001",
        reverse("mappings:tablemapping_preview", args=[customer.pk]) + "?remote=a",
        reverse("mappings:transformationrule_list"),
        rule.get_absolute_url() + "?sample=x",
        reverse("mappings:transformationrule_add"),
        reverse("mappings:transformationrule_edit", args=[rule.pk]),
    ]
    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert SECRET not in response.content.decode(), url
    for name in ("connection_test", "connection_enable", "default_setup", "refresh_metadata"):
        response = admin_client.post(reverse(f"mappings:{name}"), {"confirm": "yes"}, follow=True)
        assert SECRET not in response.content.decode(), name
    settings.CRM_CLIENT_SECRET = SECRET + "-wrong"  # a refused login must not echo it either
    response = admin_client.post(reverse("mappings:connection_test"), follow=True)
    assert "Failed" in response.content.decode()
    assert SECRET not in response.content.decode()
