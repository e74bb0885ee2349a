"""Fixtures of the live tests: the embedded CRM served over real HTTP (`BackgroundServer`) and the
project's Dataverse client talking to it, the way the sync talks to a cloud CRM. Nothing sleeps
for long: the client's `sleep` is recorded, retries and backoff are small.

Not a conftest: import the fixtures explicitly (`from tests.dataverse.live_conftest import ...`;
ruff then needs `# ruff: noqa: F811` for the fixture arguments), and mark the module
`pytest.mark.django_db(transaction=True, databases=["default", "crm"])` so the server thread
sees the rows the test commits.
"""

from __future__ import annotations

import uuid

import pytest

from crm_emulator import faults, knobs, throttle
from crm_emulator.apps_registry import register_application
from crm_emulator.server import BackgroundServer, token_url
from dataverse import BatchOperation, ClientCredentials, DataverseClient

TENANT, CLIENT_ID, SECRET = "live", "live-client", "live-secret"
APP_NAME = "live tests"
TOO_LONG = "x" * 161  # account.name allows 160


@pytest.fixture(scope="module")
def crm_process_server():
    """The embedded CRM on a free loopback port, for the tests of one module (starting and
    stopping one takes half a second). It holds no data: rows live in the test databases."""
    server = BackgroundServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def crm_server(crm_process_server):
    """The server for one test; its faults and limits are cleared after the test."""
    knobs.forget()
    try:
        yield crm_process_server
    finally:
        faults.clear_faults()
        throttle.clear_limit()
        knobs.forget()


@pytest.fixture
def app_user(crm_server):
    """The id of the registered application's CRM user."""
    return register_application(TENANT, CLIENT_ID, SECRET, APP_NAME)


@pytest.fixture
def connect(crm_server, app_user, sleeps):
    """connect(**client options) -> a DataverseClient of the registered application; its waits
    go to `sleeps` (tests/dataverse/conftest.py) unless a test gives its own `sleep`."""

    def make(*, secret: str = SECRET, client_id: str = CLIENT_ID, **kw) -> DataverseClient:
        auth = kw.pop("auth", None) or ClientCredentials(
            token_url(crm_server.url, TENANT), client_id, secret, crm_server.url + ".default"
        )
        kw.setdefault("sleep", sleeps.append)
        kw.setdefault("timeout", 10)
        kw.setdefault("max_retries", 2)
        kw.setdefault("backoff_factor", 0.01)
        return DataverseClient(crm_server.url, auth=auth, **kw)

    return make


@pytest.fixture
def live(connect):
    """A client of the registered application over real HTTP (small retries, no sleeping)."""
    return connect()


def new_id() -> str:
    return str(uuid.uuid4())


def create_accounts(client: DataverseClient, names: list[str], **data) -> list[str]:
    """Creates accounts in one $batch; returns their ids in order."""
    ids = [new_id() for _ in names]
    results = client.batch(
        [
            BatchOperation("POST", "accounts", id=i, key="accountid", data={"name": n, **data})
            for i, n in zip(ids, names, strict=True)
        ]
    )
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    return ids



def bulk_accounts(count: int, owner, *, start: int = 0, **data) -> None:
    """Inserts `count` accounts straight into the emulator's storage (no Web API, no checks):
    the fast way to get many rows to page through."""
    from django.utils import timezone

    from crm_emulator.keys import index_rows
    from crm_emulator.models import Row
    from crm_emulator.schema import BY_NAME
    from crm_emulator.store import CHUNK, UnitOfWork, next_versions

    defaults = UnitOfWork(owner).defaults(BY_NAME["account"])
    now = timezone.now()
    version = next_versions(count)
    rows = [
        Row(entity="account", rowid=uuid.uuid4(), createdon=now, modifiedon=now, createdby=owner,
            modifiedby=owner, versionnumber=version + n,
            data={**defaults, "name": f"Bulk {start + n:07d}", **data})
        for n in range(count)
    ]
    for first in range(0, count, CHUNK):
        Row.objects.bulk_create(rows[first:first + CHUNK])
        index_rows(rows[first:first + CHUNK])
