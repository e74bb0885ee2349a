"""An action's address opened by GET (a reload, a bookmark) answers a page of the site that names
the action and links back, still with status 405; /favicon.ico is never a 404."""

import pytest
from django.conf import settings
from django.urls import reverse

from mappings_app.models import TableMapping

pytestmark = pytest.mark.django_db


@pytest.fixture
def mapping(db):
    return TableMapping.objects.create(
        name="CUSTOMER", local_model="erp_app.customer", remote_entity="account",
        remote_entity_set="accounts", remote_key="accountid")


def test_the_settings_install_both_middlewares():
    assert "syncadmin.middleware.FaviconMiddleware" in settings.MIDDLEWARE
    assert "syncadmin.middleware.ActionPageMiddleware" in settings.MIDDLEWARE


def test_a_reloaded_run_now_shows_a_page_of_the_site(admin_client, mapping):
    from couplings_app.schedules import mapping_schedules

    schedule = mapping_schedules(mapping.pk).get()
    response = admin_client.get(reverse("couplings:jobqueue_action", args=[schedule.pk, "run"]))
    assert response.status_code == 405 and response["Allow"] == "POST"
    html = response.content.decode()
    assert "“Run Now” is an action, not a page" in html and "nothing was done now" in html
    assert 'href="/integration/job-queue/"' in html  # back to the Job Queue Entries
    assert 'aria-label="Main"' in html  # inside the site's layout


def test_a_bookmarked_bulk_enable_links_back_to_the_table_mappings(admin_client):
    response = admin_client.get(reverse("mappings:tablemapping_bulk_enable"))
    assert response.status_code == 405
    html = response.content.decode()
    assert "Enable (selected table mappings)" in html
    assert f'href="{reverse("mappings:tablemapping_list")}"' in html


def test_reset_watermarks_links_back_to_its_mapping(admin_client, mapping):
    url = reverse("mappings:tablemapping_reset_watermarks", args=[mapping.pk])
    response = admin_client.get(url)
    assert response.status_code == 405 and "Reset watermarks" in response.content.decode()
    assert f'href="{mapping.get_absolute_url()}"' in response.content.decode()


def test_the_page_it_came_from_is_the_way_back(admin_client):
    response = admin_client.get(reverse("couplings:full_sync"),
                                HTTP_REFERER="http://testserver/integration/jobs/")
    assert response.status_code == 405
    assert 'href="http://testserver/integration/jobs/"' in response.content.decode()
    response = admin_client.get(reverse("couplings:full_sync"),
                                HTTP_REFERER="https://elsewhere.example/")
    assert "elsewhere.example" not in response.content.decode()
    assert f'href="{reverse("mappings:connection")}"' in response.content.decode()


def test_a_post_only_url_still_refuses_a_get_and_does_nothing(admin_client, mapping):
    admin_client.get(reverse("mappings:tablemapping_bulk_disable") + f"?pk={mapping.pk}")
    assert TableMapping.objects.get(pk=mapping.pk).is_enabled


def test_htmx_and_the_crm_api_keep_their_plain_405(admin_client):
    response = admin_client.get(reverse("couplings:full_sync"), HTTP_HX_REQUEST="true")
    assert response.status_code == 405 and response.content == b""


def test_favicon_is_served(client, admin_client):
    for who in (client, admin_client):
        response = who.get("/favicon.ico")
        assert response.status_code == 301
        assert response["Location"].endswith("syncadmin/favicon.ico")
        icon = who.get(response["Location"])
        assert icon.status_code == 200
        assert b"".join(icon.streaming_content if icon.streaming else [icon.content])[:4] == \
            b"\x00\x00\x01\x00"


def test_pages_reference_the_icon(client, admin_client):
    for who, url in ((client, reverse("login")), (admin_client, reverse("home"))):
        html = who.get(url).content.decode()
        assert 'rel="icon"' in html and "syncadmin/favicon.svg" in html, url
