"""The question at the end of a full synchronization (seeds 003): Yes clears Synch. Only Coupled
Records on the mappings, No sets it back to what it was before. Yes is an administrator's answer,
and the page offers it to whoever may give it (the question is rendered by an inclusion tag,
whose context has no `perms` of its own)."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from couplings_app.models import SyncJob
from mappings_app.models import TableMapping

pytestmark = pytest.mark.django_db

YES = 'name="keep" value="yes"'
NO = 'name="keep" value="no"'


@pytest.fixture
def mappings(mapping):
    other = TableMapping.objects.create(
        name="VENDOR", local_model="erp_app.vendor", remote_entity="account",
        remote_entity_set="accounts", remote_key="accountid",
        remote_modified_attribute="modifiedon", direction="bidirectional",
        sync_only_coupled=False)
    return mapping, other


@pytest.fixture
def no_tasks(monkeypatch):
    queued = []
    monkeypatch.setattr("couplings_app.tasks.enqueue_all",
                        lambda **kwargs: queued.append(kwargs) or [])
    return queued


def run_full_sync(client, mappings):
    """Run Full Synchronization (confirmed), then its jobs finish."""
    response = client.post(reverse("couplings:full_sync"), {"confirm": "yes"})
    assert response.status_code == 302
    for m in mappings:
        SyncJob.objects.create(mapping=m, mapping_name=m.name, full=True, status="succeeded")


def question(client):
    return client.get(reverse("mappings:connection")).content.decode()


def said(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.mark.parametrize("who", ["admin_client", "administrator"])
def test_a_superuser_or_administrator_is_offered_yes_and_it_clears_only_coupled(
        request, who, mappings, no_tasks):
    client = request.getfixturevalue(who)
    run_full_sync(client, mappings)
    html = question(client)
    assert "The full synchronization has finished" in html
    assert YES in html and NO in html
    response = client.post(reverse("couplings:full_sync_answer"), {"keep": "yes"})
    assert response.status_code == 302
    assert not TableMapping.objects.filter(sync_only_coupled=True).exists()
    assert "cleared on" in said(response)[-1]
    assert "has finished" not in question(client)


def test_an_operator_is_not_offered_yes(operator, mappings, no_tasks):
    run_full_sync(operator, mappings)
    html = question(operator)
    assert NO in html and YES not in html
    assert "Only an administrator may answer Yes" in html


def test_no_sets_only_coupled_back_to_what_it_was_before(admin_client, mappings, no_tasks):
    customer, vendor = mappings  # before: CUSTOMER only coupled, VENDOR not
    run_full_sync(admin_client, mappings)
    # Meanwhile (as BC's full synchronization does) the option was cleared, and set on another.
    TableMapping.objects.filter(pk=customer.pk).update(sync_only_coupled=False)
    TableMapping.objects.filter(pk=vendor.pk).update(sync_only_coupled=True)
    response = admin_client.post(reverse("couplings:full_sync_answer"), {"keep": "no"})
    customer.refresh_from_db()
    vendor.refresh_from_db()
    assert customer.sync_only_coupled is True and vendor.sync_only_coupled is False
    assert "set back to what it was" in said(response)[-1]


def test_no_after_nothing_changed_says_so(admin_client, mappings, no_tasks):
    run_full_sync(admin_client, mappings)
    response = admin_client.post(reverse("couplings:full_sync_answer"), {"keep": "no"})
    assert "stays as it was" in said(response)[-1]
    assert TableMapping.objects.get(name="CUSTOMER").sync_only_coupled is True
