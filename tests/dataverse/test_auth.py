"""Authentication: client credentials token cached, renewed before expiry and once on 401."""

from urllib.parse import parse_qs

import pytest

from dataverse import AuthenticationError, ClientCredentials, StaticToken

from .conftest import ROOT

TOKEN_URL = "https://login.microsoftonline.com/tenant-1/oauth2/v2.0/token"
EMPTY = {"value": []}


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        return self.now


def _token(rsps, token, expires_in=3600):
    rsps.post(
        TOKEN_URL,
        json={"token_type": "Bearer", "expires_in": expires_in, "access_token": token},
    )


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def creds(clock):
    return ClientCredentials(
        TOKEN_URL, "app-id", "s3cret", "https://org.crm.dynamics.com/.default", clock=clock
    )


def _auth_headers(rsps):
    return [
        c.request.headers.get("Authorization") for c in rsps.calls if c.request.url != TOKEN_URL
    ]


def test_token_request_is_a_client_credentials_grant(rsps, make_client, creds):
    _token(rsps, "tok-1")
    rsps.get(ROOT + "accounts", json=EMPTY)
    dv = make_client(auth=creds)
    list(dv.iter_rows("accounts"))
    token_call = rsps.calls[0]
    assert token_call.request.url == TOKEN_URL
    assert parse_qs(token_call.request.body) == {
        "grant_type": ["client_credentials"],
        "client_id": ["app-id"],
        "client_secret": ["s3cret"],
        "scope": ["https://org.crm.dynamics.com/.default"],
    }
    assert _auth_headers(rsps) == ["Bearer tok-1"]
    assert dv.request_count == 1  # token requests are not counted as service requests
    assert "s3cret" not in repr(creds)


def test_token_is_cached_and_renewed_before_expiry(rsps, make_client, creds, clock):
    rsps.post(TOKEN_URL, json={"expires_in": 3600, "access_token": "tok-1"})
    rsps.post(TOKEN_URL, json={"expires_in": "3600", "access_token": "tok-2"})  # v1: a string
    rsps.get(ROOT + "accounts", json=EMPTY)
    dv = make_client(auth=creds)
    list(dv.iter_rows("accounts"))
    clock.now += 3000  # 10 minutes left: still more than the 5-minute margin
    list(dv.iter_rows("accounts"))
    assert creds.token_requests == 1
    clock.now += 400  # 3 minutes 20 left: renewed before it expires
    list(dv.iter_rows("accounts"))
    assert creds.token_requests == 2
    assert _auth_headers(rsps) == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]


def test_401_renews_token_once_then_succeeds(rsps, make_client, creds, sleeps):
    rsps.post(TOKEN_URL, json={"expires_in": 3600, "access_token": "old"})
    rsps.post(TOKEN_URL, json={"expires_in": 3600, "access_token": "new"})
    rsps.get(
        ROOT + "accounts", status=401, json={"error": {"code": "0x80072560", "message": "expired"}}
    )
    rsps.get(ROOT + "accounts", json={"value": [{"n": 1}]})
    dv = make_client(auth=creds)
    assert list(dv.iter_rows("accounts")) == [{"n": 1}]
    assert _auth_headers(rsps) == ["Bearer old", "Bearer new"]
    assert creds.token_requests == 2
    assert sleeps == []


def test_401_twice_is_an_authentication_error(rsps, make_client, creds):
    rsps.post(TOKEN_URL, json={"expires_in": 3600, "access_token": "t"})
    rsps.get(
        ROOT + "accounts",
        status=401,
        json={"error": {"code": "0x80072560", "message": "no access"}},
    )
    dv = make_client(auth=creds)
    with pytest.raises(AuthenticationError) as info:
        list(dv.iter_rows("accounts"))
    assert info.value.status == 401
    assert creds.token_requests == 2  # renewed once, not in a loop
    assert dv.request_count == 2


def test_token_endpoint_refusal_is_an_authentication_error(rsps, make_client, creds):
    rsps.post(
        TOKEN_URL,
        status=401,
        json={"error": "invalid_client", "error_description": "AADSTS7000215: Invalid secret"},
    )
    dv = make_client(auth=creds)
    with pytest.raises(AuthenticationError) as info:
        dv.get("accounts", "00aa00aa-bb11-cc22-dd33-44ee44ee44ee")
    assert info.value.code == "invalid_client"
    assert "Invalid secret" in info.value.message
    assert dv.request_count == 0


def test_token_endpoint_400_is_an_authentication_error(rsps, make_client, creds):
    rsps.post(TOKEN_URL, status=400, json={"error": "invalid_scope", "error_description": "bad"})
    with pytest.raises(AuthenticationError) as info:
        make_client(auth=creds).who_am_i()
    assert info.value.code == "invalid_scope"


def test_token_endpoint_answer_without_token(rsps, make_client, creds):
    rsps.post(TOKEN_URL, json={"token_type": "Bearer"})
    with pytest.raises(AuthenticationError):
        make_client(auth=creds).who_am_i()


def test_static_token_and_no_auth(rsps, make_client):
    rsps.get(ROOT + "accounts", json=EMPTY)
    list(make_client(auth=StaticToken("abc")).iter_rows("accounts"))
    list(make_client(auth="xyz").iter_rows("accounts"))
    list(make_client().iter_rows("accounts"))
    assert [c.request.headers.get("Authorization") for c in rsps.calls] == [
        "Bearer abc",
        "Bearer xyz",
        None,
    ]


def test_static_token_401_is_not_retried(rsps, make_client):
    rsps.get(ROOT + "accounts", status=401, json={"error": {"code": "x", "message": "no"}})
    dv = make_client(auth=StaticToken("abc"))
    with pytest.raises(AuthenticationError):
        list(dv.iter_rows("accounts"))
    assert dv.request_count == 1


def test_embedded_crm_urls(rsps, make_client):
    root = "http://127.0.0.1:8000/crm/api/data/v9.2"  # no trailing slash: added
    token_url = "http://127.0.0.1:8000/crm/demo/oauth2/v2.0/token"
    rsps.post(token_url, json={"expires_in": 3600, "access_token": "local"})
    rsps.get(root + "/WhoAmI", json={"UserId": "u-1"})
    creds = ClientCredentials(
        token_url, "syncadmin-demo", "demo-secret", "http://127.0.0.1:8000/crm/.default"
    )
    dv = make_client(root, auth=creds)
    assert dv.service_root == root + "/"
    assert dv.dataverse_features
    assert dv.who_am_i() == "u-1"


def test_token_endpoint_of_an_authority():
    from dataverse.auth import token_endpoint

    assert token_endpoint("https://login.microsoftonline.com", "t1") == TOKEN_URL.replace(
        "tenant-1", "t1")
    assert token_endpoint("http://127.0.0.1:8765/crm/", "demo") == (
        "http://127.0.0.1:8765/crm/demo/oauth2/v2.0/token")
    assert token_endpoint("", "t1").startswith("https://login.microsoftonline.com/t1/")
