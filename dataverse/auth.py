"""Authentication: OAuth 2.0 client credentials (token cached, renewed early), a static token, none.

An auth object only knows how to produce an `Authorization` header; the HTTP layer gives it a
`post_form(url, form) -> dict` callable for the token request, so token requests get the same
timeouts and retries as everything else and tests can stub one place.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from .errors import AuthenticationError

PostForm = Callable[[str, dict[str, str]], dict[str, Any]]
ENTRA_ID_AUTHORITY = "https://login.microsoftonline.com"  # Microsoft Entra ID, public cloud


def token_endpoint(authority: str, tenant: str) -> str:
    """The OAuth 2.0 v2.0 token endpoint of a tenant at an authority, e.g.
    https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token (an emulator's authority, such as
    http://127.0.0.1:8765/crm, gives its own endpoint the same way)."""
    return f"{(authority or ENTRA_ID_AUTHORITY).rstrip('/')}/{tenant}/oauth2/v2.0/token"


class StaticToken:
    """A bearer token given by the caller (it cannot be renewed)."""

    def __init__(self, token: str):
        self.token = token

    def authorization(self, post_form: PostForm) -> str:
        return f"Bearer {self.token}"

    def invalidate(self, refused: str | None = None) -> bool:
        """Forget the token after a 401; False: a new one cannot be had, do not retry."""
        return False


class ClientCredentials:
    """OAuth 2.0 client credentials grant (Microsoft Entra ID or the embedded CRM's endpoint).

    token_url: e.g. https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token, or
               http://127.0.0.1:8000/crm/<tenant>/oauth2/v2.0/token for the embedded CRM.
    scope:     the service's resource with `/.default`, e.g. https://org.crm.dynamics.com/.default
    The token is cached and renewed `refresh_margin` seconds before it expires (or at half its
    lifetime for short-lived ones), and once more if the service answers 401 anyway.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str,
        *,
        refresh_margin: float = 300.0,
        clock: Callable[[], float] = time.time,
    ):
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.scope = scope
        self.refresh_margin = refresh_margin
        self.clock = clock
        self.token_requests = 0
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never show the secret
        return f"ClientCredentials({self.token_url!r}, {self.client_id!r}, scope={self.scope!r})"

    def authorization(self, post_form: PostForm) -> str:
        with self._lock:
            if self._token is None or self.clock() >= self._renew_at:
                self._fetch(post_form)
            return f"Bearer {self._token}"

    def invalidate(self, refused: str | None = None) -> bool:
        """Forget the token after a 401 answered `refused` (the Authorization header sent).
        Threads refused the same token at once renew it once: only the first forgets it, the
        others find a new one already there."""
        with self._lock:
            if refused is None or refused == f"Bearer {self._token}":
                self._token = None
        return True

    def _fetch(self, post_form: PostForm) -> None:
        self.token_requests += 1
        now = self.clock()
        answer = post_form(
            self.token_url,
            {
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "scope": self.scope,
            },
        )
        token = answer.get("access_token")
        if not token or not isinstance(token, str):
            raise AuthenticationError(
                "the token endpoint answered without an access_token", url=self.token_url
            )
        try:
            # Entra ID v1 endpoints send expires_in as a string.
            lifetime = float(answer.get("expires_in", 3600))
        except (TypeError, ValueError):
            lifetime = 3600.0
        margin = min(self.refresh_margin, lifetime / 2)
        self._token = str(token)
        self._renew_at = now + lifetime - margin
