"""Every page requires login: anonymous requests to any URL of the project go to the login page."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from erp_app.pages import site

pytestmark = pytest.mark.django_db(databases=["default", "crm"])

# Pages that must answer anonymous visitors: logging in, and the embedded CRM's Web API and
# token endpoint, which speak OAuth bearer tokens (401) like Dataverse instead of a login page.
PUBLIC = re.compile(r"^/(accounts/login/|admin/login/|crm/api/|crm/[^/]+/oauth2/)")
SAMPLE = {
    "int": "1",
    "slug": "customer",
    "str": "demo",
    "uuid": "00000000-0000-0000-0000-000000000001",
    "path": "x",
}


def sample_urls(patterns=None, prefix=""):
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        route = str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from sample_urls(entry.url_patterns, prefix + route)
        elif isinstance(entry, URLPattern):
            yield from expand(prefix + route)


def expand(route):
    route = route.lstrip("^").rstrip("$")
    if "(?P<" in route or "\\" in route:  # the admin's regex routes: a sample of its own
        route = re.sub(r"\(\?P<(\w+)>[^)]*\)", "1", route).replace("\\", "")
        route = re.sub(r"[\^\$\?\*\+\(\)\[\]]", "", route)
    models = [page.slug for page in site] if "<slug:model>" in route else [None]
    for model in models:
        url = route.replace("<slug:model>", model or "")
        url = re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLE.get(m.group(1) or "str", "x"), url)
        yield "/" + url


def test_the_crawl_sees_every_erp_page():
    urls = set(sample_urls())
    for page in site:
        assert f"/erp/{page.slug}/1/edit/" in urls
    assert "/" in urls and "/admin/" in urls


@pytest.mark.parametrize("url", sorted(set(sample_urls())))
def test_anonymous_is_sent_to_login(client, url):
    response = client.get(url)
    if PUBLIC.match(url):
        assert response.status_code != 200 or "login" in url
        return
    assert response.status_code == 302, f"{url} answered {response.status_code}"
    assert "login" in response["Location"], f"{url} redirected to {response['Location']}"


@pytest.mark.parametrize("url", sorted(u for u in set(sample_urls()) if not PUBLIC.match(u)))
def test_anonymous_post_is_refused(client, url):
    response = client.post(url, {})
    assert response.status_code in (302, 403, 405)
    if response.status_code == 302:
        assert "login" in response["Location"]
