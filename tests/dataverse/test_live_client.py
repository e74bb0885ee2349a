# ruff: noqa: F811  (fixtures imported from live_conftest, then used as arguments)
"""The Dataverse client against the embedded CRM over real HTTP (`BackgroundServer`, a threaded
WSGI server on a loopback port): reads and paging, writes, `$batch`, ETags, throttling, token
renewal, and every typed error the client raises, as the sync meets them against a cloud CRM.

Nothing sleeps for long: the client's `sleep` is recorded (and moves the emulator's throttle
clock where a test needs time to pass), retries and backoff are small.
"""

from __future__ import annotations

import time
import types
from decimal import Decimal
from unittest import mock

import pytest
from django.core import signing

from crm_emulator import auth as crm_auth
from crm_emulator import faults, throttle
from crm_emulator.server import free_port, token_url
from dataverse import (
    AuthenticationError,
    BatchOperation,
    ClientCredentials,
    DataverseClient,
    DataverseError,
    DuplicateRecord,
    NotFound,
    PreconditionFailed,
    ServerError,
    StaticToken,
    Throttled,
    TransportError,
    ValidationError,
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
    new_id,
)

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])

TOO_LONG = "x" * 161  # account.name allows 160


def create_accounts(client: DataverseClient, names: list[str], **data) -> list[str]:
    """Creates accounts in one $batch; returns their ids in order."""
    ids = [new_id() for _ in names]
    results = client.batch(
        [
            BatchOperation("POST", "accounts", id=i, key="accountid", data={"name": n, **data})
            for i, n in zip(ids, names, strict=True)
        ]
    )
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    return ids


def record_urls(client: DataverseClient) -> list[str]:
    """The URLs of every HTTP answer the client receives from now on (token requests too)."""
    urls: list[str] = []
    client.transport.session.hooks["response"].append(
        lambda response, *args, **kwargs: urls.append(response.request.url)
    )
    return urls


# --- reading and writing ----------------------------------------------------------------------


def test_create_with_chosen_id_and_read_back(live, app_user):
    rowid = new_id()
    assert live.create("accounts", {"name": "Live Co", "creditlimit": 1500}, id=rowid,
                     key="accountid") == rowid
    record = live.get("accounts", rowid, select=["name", "creditlimit", "_ownerid_value"])
    assert record["accountid"] == rowid and record["name"] == "Live Co"
    assert record["creditlimit"] == Decimal("1500") and isinstance(record["creditlimit"], Decimal)
    assert record["@odata.etag"].startswith('W/"')
    assert record["_ownerid_value"] == str(app_user)
    # without a key attribute: a create-only upsert (PATCH with If-None-Match: *) to the same end
    other = new_id()
    assert live.create("accounts", {"name": "Upserted Co"}, id=other) == other
    assert live.get("accounts", other, select=["name"])["name"] == "Upserted Co"


def test_paging_follows_next_links_past_several_pages(live):
    ids = create_accounts(live, [f"Page {i:02d}" for i in range(23)])
    urls = record_urls(live)
    before = live.request_count
    pages = list(live.iter_pages("accounts", select=["name"], page_size=5))
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    seen = [r["accountid"] for page in pages for r in page]
    assert sorted(seen) == sorted(ids) and len(set(seen)) == 23  # every row exactly once
    assert live.request_count - before == 5
    api_urls = [u for u in urls if "/oauth2/" not in u]
    assert len(api_urls) == 5
    assert "skiptoken" not in api_urls[0]
    assert all("skiptoken" in u for u in api_urls[1:])  # the service's nextLink, followed
    assert len(set(api_urls)) == 5


def test_paging_with_filter_and_order(live):
    create_accounts(live, [f"Sorted {i:02d}" for i in range(13)], accountnumber="A")
    create_accounts(live, [f"Other {i:02d}" for i in range(4)], accountnumber="B")
    pages = list(
        live.iter_pages("accounts", select=["name"], filter="accountnumber eq 'A'",
                      orderby=["name desc"], page_size=5)
    )
    assert [len(p) for p in pages] == [5, 5, 3]
    assert [r["name"] for p in pages for r in p] == [f"Sorted {i:02d}" for i in range(12, -1, -1)]
    rows = list(live.iter_rows("accounts", select=["name"], page_size=4))
    assert len(rows) == 17


def test_top_larger_than_page_size(live):
    """Dataverse does not page a query with $top: the client asks for the rows at once and
    hands them out in pages of the size asked."""
    create_accounts(live, [f"Top {i:02d}" for i in range(12)])
    before = live.request_count
    pages = list(live.iter_pages("accounts", select=["name"], top=7, page_size=5))
    assert [len(p) for p in pages] == [5, 2]
    assert live.request_count - before == 1


def test_get_many(connect):
    live = connect(ids_per_request=2)  # several requests, one `In` filter each
    ids = create_accounts(live, [f"Many {i}" for i in range(7)])
    missing = new_id()
    wanted = [ids[0], ids[2].upper(), ids[4], ids[5], ids[6], missing]
    before = live.request_count
    found = live.get_many("accounts", "accountid", wanted, select=["name"])
    assert set(found) == {ids[0], ids[2].upper(), ids[4], ids[5], ids[6]}  # keyed as given
    assert found[ids[2].upper()]["name"] == "Many 2"
    assert missing not in found
    assert live.request_count - before == 3
    assert live.get_many("accounts", "accountid", []) == {}


# --- $batch ----------------------------------------------------------------------------------


def test_batch_continue_on_error_carries_the_failure(live):
    existing = create_accounts(live, ["Existing"])[0]
    good1, bad, good2 = new_id(), new_id(), new_id()
    ops = [
        BatchOperation("POST", "accounts", id=good1, key="accountid", data={"name": "Good 1"}),
        BatchOperation("POST", "accounts", id=bad, key="accountid", data={"name": TOO_LONG}),
        BatchOperation("PATCH", "accounts", id=existing, data={"telephone1": "555-0100"}),
        BatchOperation("POST", "accounts", id=good2, key="accountid", data={"name": "Good 2"}),
    ]
    before = live.request_count
    results = live.batch(ops, continue_on_error=True)
    assert live.request_count - before == 1
    assert [r.ok for r in results] == [True, False, True, True]
    error = results[1].error
    assert isinstance(error, ValidationError)
    assert error.status == 400 and error.code == "0x80044331" and "160" in error.message
    assert results[0].id == good1 and results[3].id == good2
    assert live.get("accounts", existing, select=["telephone1"])["telephone1"] == "555-0100"
    assert live.get("accounts", good2, select=["name"])["name"] == "Good 2"
    with pytest.raises(NotFound):
        live.get("accounts", bad)


def test_batch_without_continue_on_error_stops_at_the_failure(live):
    first, bad, last = new_id(), new_id(), new_id()
    results = live.batch(
        [
            BatchOperation("POST", "accounts", id=first, key="accountid", data={"name": "One"}),
            BatchOperation("POST", "accounts", id=bad, key="accountid",
                           data={"customertypecode": 99, "name": "Bad option"}),
            BatchOperation("POST", "accounts", id=last, key="accountid", data={"name": "Three"}),
        ],
        continue_on_error=False,
    )
    assert results[0].ok
    assert isinstance(results[1].error, ValidationError) and results[1].error.code == "0x8004431a"
    assert results[2].error is not None and results[2].error.code == "NotExecuted"
    assert live.get("accounts", first)["name"] == "One"
    with pytest.raises(NotFound):
        live.get("accounts", last)


def test_atomic_change_set_with_a_bad_operation_writes_nothing(live):
    existing = create_accounts(live, ["Before"])[0]
    new1, new2 = new_id(), new_id()
    results = live.batch(
        [
            BatchOperation("POST", "accounts", id=new1, key="accountid", data={"name": "A"}),
            BatchOperation("PATCH", "accounts", id=existing, data={"name": "After"}),
            BatchOperation("POST", "accounts", id=new2, key="accountid", data={"name": TOO_LONG}),
        ],
        atomic=True,
    )
    assert len(results) == 3 and not any(r.ok for r in results)
    assert all(isinstance(r.error, ValidationError) for r in results)
    assert {r.error.code for r in results} == {"0x80044331"}
    with pytest.raises(NotFound):
        live.get("accounts", new1)
    assert live.get("accounts", existing, select=["name"])["name"] == "Before"
    # the same change set without the bad operation goes through as a whole
    ok = live.batch(
        [
            BatchOperation("POST", "accounts", id=new1, key="accountid", data={"name": "A"}),
            BatchOperation("PATCH", "accounts", id=existing, data={"name": "After"}),
        ],
        atomic=True,
    )
    assert all(r.ok for r in ok)
    assert live.get("accounts", existing, select=["name"])["name"] == "After"


# --- ETags -----------------------------------------------------------------------------------


def test_stale_etag_is_precondition_failed(live):
    rowid = create_accounts(live, ["Versioned"])[0]
    etag = live.get("accounts", rowid)["@odata.etag"]
    new_etag = live.update("accounts", rowid, {"telephone1": "1"}, etag=etag)
    assert new_etag is None or new_etag != etag
    with pytest.raises(PreconditionFailed) as caught:
        live.update("accounts", rowid, {"telephone1": "2"}, etag=etag)
    assert caught.value.status == 412 and caught.value.code == "0x80060882"
    assert not caught.value.retried
    with pytest.raises(PreconditionFailed):
        live.delete("accounts", rowid, etag=etag)
    current = live.get("accounts", rowid)
    assert current["telephone1"] == "1"
    live.update("accounts", rowid, {"telephone1": "3"}, etag=current["@odata.etag"])
    live.delete("accounts", rowid, etag=live.get("accounts", rowid)["@odata.etag"])
    with pytest.raises(NotFound):
        live.get("accounts", rowid)


# --- service protection limits ----------------------------------------------------------------


@pytest.fixture
def throttle_clock(monkeypatch):
    """The emulator's throttle clock, moved only by the client's (recorded) sleeps."""
    now = [1_800_000.0]  # the start of a window for every window length used below
    monkeypatch.setattr(throttle, "time", types.SimpleNamespace(time=lambda: now[0]))
    return now


def test_throttled_then_success_after_retry_after(connect, throttle_clock):
    waits: list[float] = []

    def sleep(seconds):
        waits.append(seconds)
        throttle_clock[0] += seconds

    client = connect(sleep=sleep)
    create_accounts(client, ["Throttled Co"])  # 1 request of the window
    throttle.set_limit(requests=3, window_seconds=10)
    for _ in range(3):
        assert len(list(client.iter_rows("accounts", select=["name"]))) == 1
    assert waits == []
    before = client.request_count
    rows = list(client.iter_rows("accounts", select=["name"]))  # the 4th: 429, wait, resend
    assert [r["name"] for r in rows] == ["Throttled Co"]
    assert waits == [10.0]  # as the Retry-After said: the rest of the window
    assert client.request_count - before == 2


def test_throttled_write_is_resent_too(connect, throttle_clock):
    waits: list[float] = []

    def sleep(seconds):
        waits.append(seconds)
        throttle_clock[0] += seconds

    client = connect(sleep=sleep)
    throttle.set_limit(requests=1, window_seconds=5)
    client.who_am_i()
    # a POST without an id of ours: not idempotent, but a 429 means it did not run
    rowid = client.create("accounts", {"name": "After the wait"})
    assert waits == [5.0]
    assert client.get("accounts", rowid)["name"] == "After the wait"
    assert len(list(client.iter_rows("accounts", select=["name"]))) == 1


def test_throttled_beyond_retries(connect, sleeps, throttle_clock):
    client = connect(max_retries=2)  # sleeps are recorded, the throttle clock stands still
    throttle.set_limit(requests=1, window_seconds=60)
    client.who_am_i()
    before = client.request_count
    with pytest.raises(Throttled) as caught:
        client.get_path("WhoAmI")
    error = caught.value
    assert error.status == 429 and error.code == "0x80072322" and error.retry_after == 60
    assert error.retried
    assert sleeps == [60.0, 60.0]
    assert client.request_count - before == 3


def test_retry_after_longer_than_allowed_is_not_waited_out(connect, sleeps, throttle_clock):
    client = connect(max_retry_after=30)
    throttle.set_limit(requests=1, window_seconds=300)
    client.who_am_i()
    with pytest.raises(Throttled) as caught:
        client.get_path("WhoAmI")
    assert caught.value.retry_after == 300 and sleeps == []


def test_throttled_in_real_time(connect):
    """No fake clock: a one-second window really passes while the client waits."""
    waits: list[float] = []

    def sleep(seconds):
        waits.append(seconds)
        time.sleep(seconds)

    client = connect(sleep=sleep, max_retries=3)
    client.who_am_i()
    throttle.set_limit(requests=2, window_seconds=1)
    for _ in range(6):  # a window may turn between requests: go on until refused once
        client.get_path("WhoAmI")
        if waits:
            break
    assert waits and all(0 < w <= 1 for w in waits)


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


# --- typed errors ----------------------------------------------------------------------------


def test_not_found(live):
    missing = new_id()
    with pytest.raises(NotFound) as caught:
        live.get("accounts", missing)
    assert caught.value.status == 404 and caught.value.code == "0x80040217"
    assert missing in caught.value.message
    with pytest.raises(NotFound) as caught:
        list(live.iter_rows("widgets"))
    assert caught.value.code == "0x8006088a" and "widgets" in caught.value.message
    with pytest.raises(NotFound):
        live.update("accounts", missing, {"name": "Nobody"})  # If-Match: * never creates
    with pytest.raises(NotFound):
        live.delete("accounts", missing)


@pytest.mark.parametrize(
    ("data", "code", "words"),
    [
        ({"name": "A", "nosuch": 1}, "0x80048d19", "'nosuch' does not exist"),
        ({"name": 5}, "0x80048d19", "Edm.String"),
        ({"name": "A", "creditlimit": "lots"}, "0x80048d19", "Edm.Decimal"),
        ({"name": TOO_LONG}, "0x80044331", "maximum allowed length of '160'"),
        ({"accountnumber": "No name"}, "0x80040203", "'name'"),
        ({"name": "A", "customertypecode": 99}, "0x8004431a", "Accepted Values"),
    ],
    ids=["unknown-attribute", "wrong-type", "wrong-type-money", "too-long", "missing-required",
         "bad-option"],
)
def test_validation_errors_on_write(live, data, code, words):
    rowid = new_id()
    with pytest.raises(ValidationError) as caught:
        live.create("accounts", data, id=rowid, key="accountid")
    assert caught.value.status == 400 and caught.value.code == code
    assert words in caught.value.message
    with pytest.raises(NotFound):
        live.get("accounts", rowid)


@pytest.mark.parametrize(
    "bad_filter", ["nosuch eq 1", "name eq", "name eq 5"], ids=["unknown", "syntax", "types"]
)
def test_validation_error_on_bad_filter(live, bad_filter):
    with pytest.raises(ValidationError) as caught:
        list(live.iter_rows("accounts", filter=bad_filter))
    assert caught.value.status == 400 and caught.value.code == "0x80060888"


def test_validation_error_on_unknown_select(live):
    with pytest.raises(ValidationError):
        list(live.iter_rows("accounts", select=["nosuch"]))


@pytest.mark.parametrize("with_key", [True, False], ids=["post-with-key", "patch-if-none-match"])
def test_duplicate_id_is_duplicate_record(live, with_key):
    rowid = new_id()
    key = "accountid" if with_key else None
    live.create("accounts", {"name": "First"}, id=rowid, key=key)
    with pytest.raises(DuplicateRecord) as caught:
        live.create("accounts", {"name": "Second"}, id=rowid, key=key)
    assert caught.value.status == 412 and caught.value.code == "0x80040237"
    assert not caught.value.retried
    assert live.get("accounts", rowid, select=["name"])["name"] == "First"


def test_server_error_after_bounded_retries(live, sleeps):
    live.who_am_i()
    faults.set_faults(error_rate=1.0, error_statuses=[500])
    before = live.request_count
    with pytest.raises(ServerError) as caught:
        list(live.iter_rows("accounts"))
    assert caught.value.status == 500 and caught.value.code == "0x80040216"
    assert caught.value.retried
    assert live.request_count - before == 3 and len(sleeps) == 2  # max_retries=2
    # a POST without an id of ours may have run: it is not resent
    before, waits = live.request_count, len(sleeps)
    with pytest.raises(ServerError) as caught:
        live.create("accounts", {"name": "Maybe"})
    assert live.request_count - before == 1 and len(sleeps) == waits
    assert not caught.value.retried


def test_unavailable_is_retried_then_server_error(live, sleeps):
    live.who_am_i()
    faults.set_faults(error_rate=1.0, error_statuses=[503])
    with pytest.raises(ServerError) as caught:
        live.get("accounts", new_id())
    assert caught.value.status == 503 and len(sleeps) == 2


def test_transport_error_on_dropped_connections(live, sleeps):
    live.who_am_i()
    faults.set_faults(drop_rate=1.0)
    before = live.request_count
    with pytest.raises(TransportError) as caught:
        list(live.iter_rows("accounts"))
    assert caught.value.status is None and caught.value.retried
    assert live.request_count - before == 3 and len(sleeps) == 2


def test_create_with_id_survives_a_lost_answer(connect):
    """The first attempt is written but its answer lost; the resend meets "already exists",
    which for a create with our own id means success: one record, no error."""

    def sleep(seconds):
        faults.clear_faults()  # the resend gets through

    client = connect(sleep=sleep)
    client.who_am_i()
    rowid = new_id()
    faults.set_faults(drop_rate=1.0)
    assert client.create("accounts", {"name": "Once"}, id=rowid, key="accountid") == rowid
    rows = list(client.iter_rows("accounts", select=["name"]))
    assert [r["name"] for r in rows] == ["Once"]


def test_transport_error_on_a_closed_port(sleeps):
    root = f"http://127.0.0.1:{free_port()}/crm/api/data/v9.2/"
    client = DataverseClient(root, auth=StaticToken("t"), sleep=sleeps.append, max_retries=1,
                             timeout=2)
    with pytest.raises(TransportError) as caught:
        client.get_path("WhoAmI")
    assert caught.value.status is None and len(sleeps) == 1
    token_client = DataverseClient(
        root, auth=ClientCredentials(token_url(root, TENANT), CLIENT_ID, SECRET, root),
        sleep=sleeps.append, max_retries=0, timeout=2)
    with pytest.raises(TransportError):  # the token request cannot be sent either
        token_client.who_am_i()


def test_every_error_is_a_dataverse_error():
    for cls in (AuthenticationError, DuplicateRecord, NotFound, PreconditionFailed, ServerError,
                Throttled, TransportError, ValidationError):
        assert issubclass(cls, DataverseError)


# --- WhoAmI and metadata ---------------------------------------------------------------------


def test_who_am_i_is_the_application_user(live, app_user):
    assert live.who_am_i() == str(app_user)
    user = live.get("systemusers", app_user, select=["applicationid", "isintegrationuser"])
    assert user["isintegrationuser"] is True and user["applicationid"]


def test_account_attributes(live):
    attributes = {a.name: a for a in live.entity_attributes("account")}
    name = attributes["name"]
    assert name.type == "String" and name.max_length == 160 and name.required
    kinds = attributes["customertypecode"]
    assert kinds.type == "Picklist"
    assert kinds.options[3] == "Customer" and kinds.options[11] == "Vendor"
    assert len(kinds.options) == 12
    assert attributes["primarycontactid"].targets == ["contact"]
