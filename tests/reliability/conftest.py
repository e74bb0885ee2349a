"""The engine tests' fixtures (demo data on both sides, the default setup, a CRM client over
HTTP), shared rather than written again."""

from contextlib import contextmanager

from crm_emulator import faults
from crm_emulator.server import BackgroundServer
from mappings_app.models import Connection
from tests.couplings_app.conftest import as_crm_user, crm, demo  # noqa: F401
from tests.reliability.unasked_writes import settled  # noqa: F401  (test_no_unasked_writes)


@contextmanager
def background_crm():
    """The embedded CRM served over HTTP where other processes reach it too, the connection
    pointed at it; its faults are cleared and it stops at the end."""
    server = BackgroundServer()
    connection = Connection.get()
    connection.service_root = server.url
    connection.authority_url = server.url.split("/api/data/")[0]
    connection.save()
    try:
        yield server
    finally:
        faults.clear_faults()
        server.stop()
