"""Fixtures every test may use: users with and without rights, a logged-in client."""

import os

import pytest
from django.contrib.auth import get_user_model


def pytest_configure(config):
    """Passwords hashed the fast way: the default hasher's million PBKDF2 rounds are for real
    accounts, and cost a second of CPU each time a test creates or logs in a user."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    _empty_postgresql_tables_with_delete()


def _empty_postgresql_tables_with_delete():
    """Between transactional tests Django empties every table with one TRUNCATE, which on
    PostgreSQL makes new files for each of ~60 tables: 0.5 to 0.9 s per test, minutes per run.
    The tests' tables hold a few rows, so DELETE (foreign keys are deferred to the commit of the
    flush's transaction) empties them in a few milliseconds. Tests only."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    truncate = DatabaseOperations.sql_flush

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if reset_sequences or allow_cascade or not tables:
            return truncate(self, style, tables, reset_sequences=reset_sequences,
                            allow_cascade=allow_cascade)
        return ["SET CONSTRAINTS ALL DEFERRED;"] + [
            f"{style.SQL_KEYWORD('DELETE')} {style.SQL_KEYWORD('FROM')} "
            f"{style.SQL_FIELD(self.quote_name(table))};" for table in tables]

    DatabaseOperations.sql_flush = sql_flush


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
