"""Faults: throttling waited out, 5xx and transport errors retried with bounded backoff."""

import pytest
import requests

from dataverse import ServerError, Throttled, TransportError, ValidationError
from dataverse.http import parse_retry_after

from .conftest import ROOT

THROTTLED = {
    "error": {
        "code": "0x80072322",
        "message": "Number of requests exceeded the limit of 6000 over time window of 300 seconds.",
    }
}
EMPTY = {"value": []}


def test_429_waits_retry_after_then_succeeds(rsps, dv, sleeps):
    rsps.get(ROOT + "accounts", status=429, headers={"Retry-After": "7"}, json=THROTTLED)
    rsps.get(ROOT + "accounts", json={"value": [{"name": "a"}]})
    assert list(dv.iter_rows("accounts")) == [{"name": "a"}]
    assert sleeps == [7.0]
    assert dv.request_count == 2


def test_429_on_a_create_without_id_is_resent(rsps, dv, sleeps):
    # Throttled requests were not run by the service: resending even a plain POST is safe.
    guid = "00aa00aa-bb11-cc22-dd33-44ee44ee44ee"
    rsps.post(ROOT + "accounts", status=429, headers={"Retry-After": "2"}, json=THROTTLED)
    rsps.post(ROOT + "accounts", status=204, headers={"OData-EntityId": ROOT + f"accounts({guid})"})
    assert dv.create("accounts", {"name": "x"}) == guid
    assert sleeps == [2.0]


def test_503_with_retry_after_is_waited_out(rsps, dv, sleeps):
    rsps.get(ROOT + "accounts", status=503, headers={"Retry-After": "3"})
    rsps.get(ROOT + "accounts", json=EMPTY)
    list(dv.iter_rows("accounts"))
    assert sleeps == [3.0]


def test_503_without_retry_after_is_retried_with_backoff(rsps, dv, sleeps):
    rsps.get(ROOT + "accounts", status=503)
    rsps.get(ROOT + "accounts", status=503)
    rsps.get(ROOT + "accounts", json=EMPTY)
    list(dv.iter_rows("accounts"))
    assert len(sleeps) == 2
    assert sleeps[1] > sleeps[0] > 0  # exponential


def read_while_throttled(rsps, dv, retry_after: str) -> Throttled:
    """Reads accounts from a service that answers every request 429 with this Retry-After."""
    rsps.get(ROOT + "accounts", status=429, headers={"Retry-After": retry_after}, json=THROTTLED)
    with pytest.raises(Throttled) as info:
        list(dv.iter_rows("accounts"))
    return info.value


def test_throttled_for_ever_ends_as_throttled(rsps, make_client, sleeps):
    dv = make_client(max_throttle_retries=3)
    error = read_while_throttled(rsps, dv, "1")
    assert error.status == 429
    assert error.code == "0x80072322"
    assert error.retry_after == 1.0
    assert sleeps == [1.0, 1.0, 1.0]
    assert dv.request_count == 4


def test_a_429_storm_outlasts_max_retries(rsps, make_client, sleeps):
    """Throttling is the service pacing its user, not a fault: more 429s in a row than
    `max_retries` are still waited out."""
    dv = make_client(max_retries=2)
    for _ in range(6):
        rsps.get(ROOT + "accounts", status=429, headers={"Retry-After": "2"}, json=THROTTLED)
    rsps.get(ROOT + "accounts", json=EMPTY)
    assert list(dv.iter_rows("accounts")) == []
    assert sleeps == [2.0] * 6
    assert dv.request_count == 7


def test_retry_after_longer_than_allowed_is_not_waited(rsps, make_client, sleeps):
    error = read_while_throttled(rsps, make_client(max_retry_after=60), "600")
    assert error.retry_after == 600.0
    assert sleeps == []


def test_500_bounded_retries_then_server_error(rsps, make_client, sleeps):
    dv = make_client(max_retries=4)
    rsps.get(
        ROOT + "accounts",
        status=500,
        json={"error": {"code": "0x80040216", "message": "An unexpected error occurred."}},
    )
    with pytest.raises(ServerError) as info:
        list(dv.iter_rows("accounts"))
    assert info.value.status == 500
    assert info.value.code == "0x80040216"
    assert info.value.retried
    assert dv.request_count == 5
    assert len(sleeps) == 4
    # exponential backoff with jitter: each wait within [base/2, base], base doubling
    for n, wait in enumerate(sleeps):
        base = 0.5 * 2**n
        assert base / 2 <= wait <= base


def test_backoff_is_capped(rsps, make_client, sleeps):
    dv = make_client(max_retries=12, backoff_factor=1.0)
    rsps.get(ROOT + "accounts", status=502)
    with pytest.raises(ServerError):
        list(dv.iter_rows("accounts"))
    assert max(sleeps) <= 60.0


@pytest.mark.parametrize(
    "exc",
    [
        requests.ReadTimeout("read timed out"),
        requests.ConnectTimeout("connect timed out"),
        requests.ConnectionError("Connection aborted: RemoteDisconnected"),
    ],
)
def test_transport_errors_retried_then_transport_error(rsps, make_client, sleeps, exc):
    dv = make_client(max_retries=2)
    rsps.get(ROOT + "accounts", body=exc)
    with pytest.raises(TransportError) as info:
        list(dv.iter_rows("accounts"))
    assert info.value.status is None
    assert info.value.retried
    assert "no answer" in info.value.message and type(exc).__name__ not in info.value.message
    assert dv.request_count == 3
    assert len(sleeps) == 2


def test_transport_error_then_success(rsps, dv, sleeps):
    rsps.get(ROOT + "accounts", body=requests.ConnectionError("reset"))
    rsps.get(ROOT + "accounts", json={"value": [{"n": 1}]})
    assert list(dv.iter_rows("accounts")) == [{"n": 1}]
    assert len(sleeps) == 1


def test_connect_timeout_is_resent_even_for_a_plain_post(rsps, dv, sleeps):
    guid = "00aa00aa-bb11-cc22-dd33-44ee44ee44ee"
    rsps.post(ROOT + "accounts", body=requests.ConnectTimeout("connect timed out"))
    rsps.post(ROOT + "accounts", status=204, headers={"OData-EntityId": ROOT + f"accounts({guid})"})
    assert dv.create("accounts", {"name": "x"}) == guid
    assert len(sleeps) == 1


def test_client_errors_are_not_retried(rsps, dv, sleeps):
    rsps.get(ROOT + "accounts", status=400, json={"error": {"code": "0x0", "message": "bad"}})
    with pytest.raises(ValidationError):
        list(dv.iter_rows("accounts"))
    assert dv.request_count == 1
    assert sleeps == []


def test_parse_retry_after_forms():
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=1445412500.0) == 10.0


@pytest.mark.parametrize("fault, words", [
    (requests.ReadTimeout("HTTPConnectionPool(host='crm', port=80): Read timed out."),
     "did not answer within"),
    (requests.ConnectionError("HTTPConnectionPool: Max retries exceeded (Caused by "
                              "NewConnectionError('<urllib3.connection.HTTPConnection object>'))"),
     "was refused or dropped"),
    (requests.TooManyRedirects("Exceeded 30 redirects."), "could not be sent"),
])
def test_no_answer_is_said_in_words_not_in_the_exception_s(rsps, dv, sleeps, fault, words):
    # What a job message or a page shows of a transport error: the request and what happened,
    # never the exception's class, its host tuple or urllib3's object reprs.
    for _ in range(dv.transport.max_retries + 1):
        rsps.get(ROOT + "accounts", body=fault)
    with pytest.raises(TransportError) as caught:
        list(dv.iter_rows("accounts"))
    text = str(caught.value)
    assert words in text and text.startswith("GET /")
    for leak in ("Timeout", "ConnectionError", "Redirects", "HTTPConnectionPool", "urllib3", "<"):
        assert leak not in text
