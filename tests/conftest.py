"""Fixtures every test may use: users with and without rights, a logged-in client."""

import pytest
from django.contrib.auth import get_user_model


@pytest.fixture
def admin_user(db):
    return get_user_model().objects.create_superuser("admin", "admin@example.com", "pw-admin-1")


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def plain_user(db):
    """A logged-in user without any permission."""
    return get_user_model().objects.create_user("nobody", "nobody@example.com", "pw-nobody-1")
