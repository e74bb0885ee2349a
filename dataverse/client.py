"""`DataverseClient`: reads (paged), writes, `$batch`, WhoAmI and metadata over one service root.

Reading lives in dataverse.reading, writing in dataverse.writing (settling resent requests in
dataverse.resends), checks of the answers in dataverse.answers; this module puts them together.

The client speaks standard OData v4 and uses Dataverse-only features (WhoAmI, the `In` query
function, the bulk messages CreateMultiple, UpdateMultiple, UpsertMultiple) only when
`dataverse_features` is on. Left as None it is guessed from the
service root (`.../api/data/v9.x/` is Dataverse, the embedded CRM included) and switched off
for a feature the service turns out not to have.

Numbers that are not integers come back as `Decimal` (money must not be rounded through float).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import requests

from . import bulk as bulk_module
from . import metadata
from .answers import text_of
from .auth import ClientCredentials, StaticToken
from .batch import MAX_BATCH_OPERATIONS
from .errors import MalformedResponse, NotFound, NotSupported, ValidationError, shorten
from .http import Transport
from .parallel import Width, width_of
from .reading import MAX_PAGE_SIZE, ChangePages, Reading
from .writing import Writing

__all__ = ["MAX_PAGE_SIZE", "ChangePages", "DataverseClient"]
_DATAVERSE_ROOT = re.compile(r"/api/data/v\d+(\.\d+)*/?$")


class DataverseClient(Reading, Writing):
    """The client: reading (dataverse.reading), writing (dataverse.writing), WhoAmI, metadata."""

    def __init__(
        self,
        service_root: str,
        auth: ClientCredentials | StaticToken | str | None = None,
        *,
        timeout: float = 30,
        max_retries: int = 5,
        page_size: int = MAX_PAGE_SIZE,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
        user_agent: str = "syncadmin",
        dataverse_features: bool | None = None,
        batch_size: int = MAX_BATCH_OPERATIONS,
        ids_per_request: int | None = None,
        max_retry_after: float = 300.0,
        backoff_factor: float = 0.5,
        max_parallel: int = 4,
        bulk: bool = True,
    ):
        if isinstance(auth, str):
            auth = StaticToken(auth)
        self.transport = Transport(
            service_root,
            auth=auth,
            timeout=timeout,
            max_retries=max_retries,
            sleep=sleep,
            session=session,
            user_agent=user_agent,
            max_retry_after=max_retry_after,
            backoff_factor=backoff_factor,
            max_parallel=max_parallel,
        )
        # `write`: requests in flight at once (narrowed by the service's x-ms-dop-hint), and
        # whether Dataverse's bulk messages are used (dataverse.bulk).
        self.max_parallel = max(1, max_parallel)
        self.bulk = bulk
        self.width = Width(lambda: width_of(self.max_parallel, self.transport.dop_hint))
        self.tables: dict[str, bulk_module.Table | None] = {}  # entity set -> its table
        self.no_bulk: set[tuple[str, str]] = set()  # (entity set, message) refused
        self.page_size = page_size
        self.batch_size = min(batch_size, MAX_BATCH_OPERATIONS)
        self.ids_per_request = ids_per_request
        self._features_given = dataverse_features is not None
        if dataverse_features is None:
            dataverse_features = bool(_DATAVERSE_ROOT.search(self.transport.service_root))
        self.dataverse_features = dataverse_features
        self.use_in_function = dataverse_features
        self._user_id: str | None = None

    def __repr__(self) -> str:
        return f"DataverseClient({self.service_root!r})"

    @property
    def service_root(self) -> str:
        return self.transport.service_root

    @property
    def request_count(self) -> int:
        """HTTP requests sent to the service (retries included, token requests not)."""
        return self.transport.request_count

    @property
    def auth(self) -> Any:
        return self.transport.auth

    # --- Dataverse functions and metadata -----------------------------------------------------

    def who_am_i(self) -> str | None:
        """The calling (integration) user's id, or None on a service without WhoAmI."""
        if self._user_id is None and self.dataverse_features:
            try:
                payload = self._get_json("WhoAmI")
            except (NotFound, NotSupported, ValidationError):
                if self._features_given:
                    raise
                return None
            if not isinstance(payload, dict) or not payload.get("UserId"):
                raise MalformedResponse(
                    f"GET WhoAmI was answered with {shorten(repr(payload), 100)}: no UserId",
                    method="GET",
                    url=self.transport.url("WhoAmI"),
                )
            self._user_id = text_of(payload.get("UserId"))
        return self._user_id

    def entity_attributes(self, logical_name: str) -> list[metadata.AttributeInfo]:
        """Column definitions of a table, from EntityDefinitions(LogicalName=..)/Attributes."""
        return metadata.entity_attributes(self, logical_name)

    def entity_definitions(self) -> list[dict[str, Any]]:
        """{LogicalName, EntitySetName, PrimaryIdAttribute, PrimaryNameAttribute} per table."""
        return metadata.entity_definitions(self)

    def entity_definition(self, logical_name: str) -> dict[str, Any]:
        return metadata.entity_definition(self, logical_name)
