"""Fixtures of the mappings tests: the default synchronization setup, and a client logged in
with only the view rights a test names."""

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command

from mappings_app.models import TableMapping


@pytest.fixture
def setup(crm_app):
    """Use Default Synchronization Setup run once: its table mappings by name."""
    call_command("setup_defaults")
    return {m.name: m for m in TableMapping.objects.all()}


@pytest.fixture
def login_with(client, plain_user):
    """login_with(*codenames) -> the test client, logged in as a user with just these rights."""

    def login(*codenames):
        plain_user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
        client.force_login(plain_user)
        return client

    return login
