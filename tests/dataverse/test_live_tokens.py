# ruff: noqa: F811  (fixtures imported from live_conftest, then used as arguments)
"""The Dataverse client, live: tokens refused, expired, renewed, and applications the CRM
does not know.

The CRM, the client and their helpers are in live_conftest.py.
"""

from __future__ import annotations

import time
from unittest import mock

import pytest
from django.core import signing

from crm_emulator import auth as crm_auth
from crm_emulator.server import token_url
from dataverse import (
    AuthenticationError,
    ClientCredentials,
    StaticToken,
)
from tests.dataverse.live_conftest import (  # noqa: F401  (fixtures)
    CLIENT_ID,
    SECRET,
    TENANT,
    app_user,
    connect,
    crm_process_server,
    crm_server,
    live,
)

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])


# --- tokens ----------------------------------------------------------------------------------


def expired_token() -> str:
    """A token signed by the emulator two hours ago: well-formed, but past its lifetime."""
    past = int(time.time()) - 2 * crm_auth.TOKEN_LIFETIME
    with mock.patch.object(signing.TimestampSigner, "timestamp",
                           lambda self: signing.b62_encode(past)):
        answer = crm_auth.issue_token(TENANT, {
            "grant_type": "client_credentials", "client_id": CLIENT_ID,
            "client_secret": SECRET, "scope": "x/.default"})
    token = answer["access_token"]
    assert crm_auth.user_from_token(token) is None
    return token


@pytest.mark.parametrize("stale", ["tampered", "expired"])
def test_token_refused_is_renewed_once(live, app_user, stale):
    assert live.who_am_i() == str(app_user)
    assert live.auth.token_requests == 1
    cached = live.auth._token
    live.auth._token = cached[:-4] + "AAAA" if stale == "tampered" else expired_token()
    before = live.request_count
    assert live.get_path("WhoAmI")["UserId"] == str(app_user)
    assert live.auth.token_requests == 2
    assert live.request_count - before == 2  # the refused request and its resend


def test_token_renewed_before_it_expires(connect, crm_server, app_user):
    now = [time.time()]
    auth = ClientCredentials(token_url(crm_server.url, TENANT), CLIENT_ID, SECRET,
                             crm_server.url + ".default", clock=lambda: now[0])
    client = connect(auth=auth)
    client.get_path("WhoAmI")
    client.get_path("WhoAmI")
    assert auth.token_requests == 1
    now[0] += crm_auth.TOKEN_LIFETIME - 60  # inside the renewal margin
    before = client.request_count
    assert client.get_path("WhoAmI")["UserId"] == str(app_user)
    assert auth.token_requests == 2 and client.request_count - before == 1  # no 401 met


def test_token_refused_again_after_renewal(live, monkeypatch):
    monkeypatch.setattr(crm_auth, "TOKEN_LIFETIME", -1)  # every token is born expired
    with pytest.raises(AuthenticationError) as caught:
        live.get_path("WhoAmI")
    assert caught.value.status == 401
    assert live.auth.token_requests == 2  # renewed once, then given up: no loop
    assert live.request_count == 2


def test_wrong_secret_is_authentication_error(connect):
    client = connect(secret="not-the-secret")
    with pytest.raises(AuthenticationError) as caught:
        client.who_am_i()
    assert caught.value.status == 401 and caught.value.code == "invalid_client"
    assert "AADSTS7000215" in caught.value.message
    assert client.request_count == 0 and client.auth.token_requests == 1


def test_unknown_application_is_authentication_error(connect):
    client = connect(client_id="nobody")
    with pytest.raises(AuthenticationError) as caught:
        client.who_am_i()
    assert caught.value.status == 400 and caught.value.code == "unauthorized_client"


def test_static_token_refused_is_authentication_error(connect):
    client = connect(auth=StaticToken("not-a-token"))
    with pytest.raises(AuthenticationError) as caught:
        client.get_path("WhoAmI")
    assert caught.value.status == 401 and client.request_count == 1

