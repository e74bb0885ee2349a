"""A plain Python client of the Dataverse Web API (OData v4) on `requests`. No Django here.

    client = DataverseClient(
        "https://org.crm.dynamics.com/api/data/v9.2/",
        auth=ClientCredentials(token_url, client_id, client_secret, "https://org.crm.dynamics.com/.default"),
    )
    for page in client.iter_pages("accounts", select=["name"], filter="statecode eq 0"):
        ...

Modules: auth (tokens), http (session, retries), query (query strings), batch ($batch build and
parse), client (the client, made of reading and writing), resends (settling a resent request),
answers (checks of the service's answers), metadata (EntityDefinitions), values (decimals,
timestamps, literals), errors (typed errors).
"""

from .auth import ClientCredentials, StaticToken
from .batch import BatchOperation, BatchResult
from .client import DataverseClient
from .errors import (
    AuthenticationError,
    Conflict,
    DataverseError,
    DuplicateRecord,
    MalformedResponse,
    NotFound,
    NotSupported,
    PreconditionFailed,
    ServerError,
    Throttled,
    TransportError,
    ValidationError,
)
from .metadata import AttributeInfo
from .values import format_datetime, literal, parse_datetime, parse_decimal

__all__ = [
    "AttributeInfo",
    "AuthenticationError",
    "BatchOperation",
    "BatchResult",
    "ClientCredentials",
    "Conflict",
    "DataverseClient",
    "DataverseError",
    "DuplicateRecord",
    "MalformedResponse",
    "NotFound",
    "NotSupported",
    "PreconditionFailed",
    "ServerError",
    "StaticToken",
    "Throttled",
    "TransportError",
    "ValidationError",
    "format_datetime",
    "literal",
    "parse_datetime",
    "parse_decimal",
]
