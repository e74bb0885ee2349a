"""No state-changing request gets through without the CSRF token, on any URL of the project.

The embedded CRM's Web API is the exception by design: like Dataverse it takes bearer tokens,
not cookies, so CSRF does not apply (and it refuses requests without a token)."""

import pytest
from django.test import Client

from tests.syncadmin.test_login_required import PUBLIC, sample_urls

pytestmark = pytest.mark.django_db(databases=["default", "crm"])
URLS = sorted(u for u in set(sample_urls()) if not PUBLIC.match(u))


@pytest.fixture
def strict_client(admin_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    return client


@pytest.mark.parametrize("url", URLS)
def test_post_without_csrf_token_is_refused(strict_client, url):
    response = strict_client.post(url, {"name": "x", "pk": ["1"]})
    assert response.status_code == 403, f"{url} answered {response.status_code}"


def test_the_crm_api_refuses_requests_without_a_bearer_token(client):
    assert client.post("/crm/api/data/v9.2/accounts", {}, content_type="application/json") \
        .status_code == 401
