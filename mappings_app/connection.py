"""Opening the CRM: a Dataverse client for the connection, and Test Connection.

With no service root the embedded CRM is used; when no web server serves it (a command, a test),
`crm_emulator.server.ensure_running()` starts one for the duration of the `with` block, and tokens
come from its own endpoint. Otherwise tokens come from `<authority>/<tenant>/oauth2/v2.0/token`:
the Connection's Authority URL when it is not Entra ID's default (someone chose a national cloud
on the Connection Setup page: that choice wins), else CRM_AUTHORITY_URL from the environment
(Entra ID unless set; a standalone emulator's, as `run_emulator` prints). The client secret comes
from the environment and never appears in a message: errors are scrubbed. How the client writes
(CRM_MAX_PARALLEL requests at once, CRM_BULK_MESSAGES) comes from the environment too.
"""

import json
from contextlib import contextmanager
from urllib.parse import quote, quote_plus, urlsplit

from django.conf import settings
from django.utils import timezone

from dataverse import ClientCredentials, DataverseClient
from dataverse.auth import ENTRA_ID_AUTHORITY, token_endpoint
from dataverse.errors import DataverseError, TransportError
from mappings_app.models import Connection


def scrub(text: str) -> str:
    """The text with the client secret (if any) blotted out: as it is, and as an answer that
    quotes the token request back has it (form-encoded, URL-quoted, JSON-escaped)."""
    secret = settings.CRM_CLIENT_SECRET
    if not secret:
        return text
    forms = {secret, quote_plus(secret), quote(secret, safe=""), json.dumps(secret)[1:-1]}
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "********")
    return text


def _client(connection: Connection, service_root: str, token_url: str) -> DataverseClient:
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(service_root))
    auth = ClientCredentials(
        token_url, connection.client_id, settings.CRM_CLIENT_SECRET, f"{origin}/.default"
    )
    return DataverseClient(
        service_root,
        auth=auth,
        user_agent="syncadmin",
        max_parallel=settings.CRM_MAX_PARALLEL,
        bulk=settings.CRM_BULK_MESSAGES,
    )


@contextmanager
def crm_client(connection: Connection | None = None):
    """A DataverseClient for the connection, valid inside the `with` block."""
    connection = connection or Connection.get()
    if connection.is_embedded:
        from crm_emulator import server

        with server.ensure_running() as service_root:
            token_url = server.token_url(service_root, connection.tenant_id)
            yield _client(connection, service_root, token_url)
        return
    token_url = token_endpoint(authority_of(connection), connection.tenant_id)
    yield _client(connection, connection.service_root, token_url)


def authority_of(connection: Connection) -> str:
    """The authority tokens are asked from (see the module's docstring for which one wins)."""
    chosen = (connection.authority_url or "").rstrip("/")
    if chosen and chosen != ENTRA_ID_AUTHORITY:
        return chosen
    return (settings.CRM_AUTHORITY_URL or ENTRA_ID_AUTHORITY).rstrip("/")


def check_connection(connection: Connection | None = None) -> tuple[bool, str]:
    """BC's Test Connection: authenticates, asks WhoAmI, remembers the integration user."""
    connection = connection or Connection.get()
    problems = []
    if not connection.client_id:
        problems.append("Enter the Client ID.")
    if not connection.has_secret:
        problems.append("Set CRM_CLIENT_SECRET in the server's environment.")
    if not connection.is_embedded and not connection.tenant_id:
        problems.append("Enter the Tenant ID.")
    if problems:
        ok, message = False, " ".join(problems)
    else:
        try:
            with crm_client(connection) as client:
                user_id = client.who_am_i()
            connection.integration_user_id = user_id
            ok = True
            message = f"Connected to {connection}. Integration user {user_id}."
        except TransportError as exc:
            ok, message = False, f"The CRM could not be reached: {exc}"
        except DataverseError as exc:
            ok, message = False, f"The CRM refused the connection: {exc}"
        except OSError as exc:
            ok, message = False, f"The CRM could not be reached: {exc}"
    connection.last_tested_at = timezone.now()
    connection.last_test_ok = ok
    connection.last_test_message = scrub(message)
    connection.save()
    return ok, connection.last_test_message
