"""Every POST-only address of the project (a view under require_POST) has its caption in
syncadmin.middleware.ACTIONS, so the page a GET of it answers names the action. Found by walking
the URL patterns and opening each one by GET: a POST-only view answers 405 with Allow: POST
before it looks at anything else."""

import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from couplings_app.views import MAPPING_ACTIONS, SKIPPED_ACTIONS
from syncadmin.middleware import ACTIONS

pytestmark = pytest.mark.django_db(databases=["default", "crm"])

SAMPLE = {"int": 1, "slug": "x", "string": "x", "path": "x", "uuid": uuid.UUID(int=1)}
# The actions each address with an `action` accepts (those not importable are listed here).
ACTIONS_OF = {
    "couplings:mapping_action": set(MAPPING_ACTIONS),
    "couplings:mappings_bulk": set(MAPPING_ACTIONS),
    "couplings:records_bulk": {"match", "sync", "uncouple"},
    "couplings:skipped_action": set(SKIPPED_ACTIONS),
    "couplings:jobqueue_action": {"run", "hold", "ready", "minutes"},
}


def patterns(resolver=None, namespace=""):
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            if inner.startswith("admin:"):
                continue  # Django's own admin
            yield from patterns(entry, inner)
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{namespace}{entry.name}", entry


def post_only_names(client):
    found = {}
    for name, entry in patterns():
        kwargs = {key: SAMPLE[type(conv).__name__.removesuffix("Converter").lower()]
                  for key, conv in entry.pattern.converters.items()}
        try:
            url = reverse(name, kwargs=kwargs)
        except Exception:  # noqa: BLE001 - a pattern the sample values do not fit
            continue
        response = client.get(url)
        if response.status_code == 405 and response.get("Allow") == "POST":
            found[name] = "action" in kwargs
    return found


def test_every_post_only_address_has_a_caption(admin_client):
    found = post_only_names(admin_client)
    assert "couplings:syncerror_retry_all" in found  # the walk finds the newest one
    assert "mappings:connection_test" in found and "couplings:records_bulk" in found
    missing = []
    for name, takes_action in sorted(found.items()):
        if not takes_action:
            if name not in ACTIONS:
                missing.append(name)
            continue
        assert name in ACTIONS_OF, f"{name}: list the actions it accepts in this test"
        missing += [f"{name} {action}" for action in sorted(ACTIONS_OF[name])
                    if (name, action) not in ACTIONS]
    assert missing == [], missing


def test_retry_all_of_the_error_log_is_named_when_opened_by_get(admin_client):
    response = admin_client.get(reverse("couplings:syncerror_retry_all"))
    assert response.status_code == 405
    html = response.content.decode()
    assert "“Retry All” is an action, not a page" in html
    assert f'href="{reverse("couplings:syncerror_list")}"' in html
