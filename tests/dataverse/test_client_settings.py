"""CRM_MAX_PARALLEL and CRM_BULK_MESSAGES reach the client the connection opens."""

import pytest

from mappings_app.connection import crm_client
from mappings_app.models import Connection


@pytest.fixture
def remote_connection(db):
    connection = Connection.get()
    connection.service_root = "https://contoso.crm.dynamics.com/api/data/v9.2/"
    connection.tenant_id = "contoso"
    connection.client_id = "app-1"
    connection.save()
    return connection


def test_the_client_writes_as_the_settings_say(remote_connection, settings):
    settings.CRM_MAX_PARALLEL = 7
    settings.CRM_BULK_MESSAGES = False
    with crm_client(remote_connection) as client:
        assert (client.max_parallel, client.bulk) == (7, False)
        adapter = client.transport.session.get_adapter(client.service_root)
        assert adapter._pool_maxsize == 10  # never fewer than requests' own 10


def test_by_default_four_requests_at_once_and_bulk_messages(remote_connection):
    with crm_client(remote_connection) as client:
        assert (client.max_parallel, client.bulk) == (4, True)
