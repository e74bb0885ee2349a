# ruff: noqa: F811  (fixtures imported from live_conftest, then used as arguments)
"""The Dataverse client, live: every typed error the client raises, WhoAmI and metadata.

The CRM, the client and their helpers are in live_conftest.py.
"""

from __future__ import annotations

import pytest

from crm_emulator import faults
from crm_emulator.server import free_port, token_url
from dataverse import (
    AuthenticationError,
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
    TOO_LONG,
    app_user,
    connect,
    crm_process_server,
    crm_server,
    live,
    new_id,
)

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])


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
