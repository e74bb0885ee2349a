"""Fixtures of the engine's end-to-end tests: demo data on both sides, the default setup, and a
client of the embedded CRM over real HTTP."""

import pytest
from django.core.management import call_command

from mappings_app.connection import crm_client
from mappings_app.models import TableMapping


@pytest.fixture
def demo(crm_app):
    call_command("seed_demo", customers=10)
    call_command("setup_defaults")
    return {m.name: m for m in TableMapping.objects.all()}


@pytest.fixture
def crm(demo):
    with crm_client() as client:
        yield client


@pytest.fixture
def as_crm_user(crm):
    """A client acting as a regular CRM user (not the integration user): the demo's seeded
    licensed user's application stands in for a person editing in the CRM."""
    from django.conf import settings

    from crm_emulator.apps_registry import register_application
    from dataverse import ClientCredentials, DataverseClient

    register_application(settings.CRM_TENANT_ID, "a-person", "person-secret", "A person")
    from crm_emulator.server import token_url

    return DataverseClient(crm.service_root, auth=ClientCredentials(
        token_url(crm.service_root, settings.CRM_TENANT_ID), "a-person", "person-secret",
        "http://localhost/.default"))


# The pages' tests: a client per role, a mapping without a CRM (see page_fixtures.py).
from tests.couplings_app.page_fixtures import (  # noqa: E402, F401
    administrator,
    mapping,
    operator,
    viewer,
)
