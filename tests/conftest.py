"""Fixtures every test may use: users with and without rights, a logged-in client."""

import os

import pytest
from django.contrib.auth import get_user_model


def pytest_configure(config):
    """Passwords hashed the fast way: the default hasher's million PBKDF2 rounds are for real
    accounts, and cost a second of CPU each time a test creates or logs in a user."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def pytest_collection_modifyitems(config, items):
    """The PostgreSQL leg (DATABASE_URL set) leaves out what would run there exactly as on the
    SQLite leg: a subprocess that drops DATABASE_URL and makes its own databases."""
    if not os.environ.get("DATABASE_URL"):
        return
    skip = pytest.mark.skip(reason="own scratch SQLite databases: the SQLite leg runs it")
    for item in items:
        if item.get_closest_marker("own_databases"):
            item.add_marker(skip)


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


@pytest.fixture(autouse=True)
def isolated_crm(settings):
    """Tests never reach a CRM outside the test: not a real one, not a demo server running on
    this machine's SITE_URL. The embedded CRM is served from the test databases instead."""
    settings.CRM_URL = ""
    settings.SITE_URL = "http://127.0.0.1:9"  # the discard port: nothing answers


@pytest.fixture
def crm_app(settings):
    """The demo application registered in the embedded CRM; returns its application user id.

    Use with `pytest.mark.django_db(transaction=True, databases=["default", "crm"])`: the CRM is
    served over HTTP by a thread, which must see committed rows.
    """
    from crm_emulator.apps_registry import register_application

    return register_application(
        settings.CRM_TENANT_ID, settings.CRM_CLIENT_ID, settings.CRM_CLIENT_SECRET, "syncadmin"
    )
