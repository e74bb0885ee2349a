"""Fixtures of the Dataverse client tests: a mocked HTTP service and a client that never sleeps."""

import pytest
import responses

from dataverse import DataverseClient

ROOT = "https://org.crm.dynamics.com/api/data/v9.2/"


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def sleeps():
    """The waits the client asked for, in order (nothing actually sleeps)."""
    return []


@pytest.fixture
def make_client(sleeps):
    def make(root=ROOT, **kw):
        kw.setdefault("sleep", sleeps.append)
        return DataverseClient(root, **kw)

    return make


@pytest.fixture
def dv(make_client):
    return make_client()
