"""Writing: create, update, upsert, delete; the answers standard OData services may give."""

import json
import re

import pytest
import requests

from dataverse import DataverseError, DuplicateRecord, NotFound, TransportError

from .conftest import ROOT

GUID = "00aa00aa-bb11-cc22-dd33-44ee44ee44ee"
OWNER = "11111111-2222-3333-4444-555555555555"


def test_create_answered_204_with_odata_entityid(rsps, dv):
    rsps.post(ROOT + "accounts", status=204, headers={"OData-EntityId": ROOT + f"accounts({GUID})"})
    new_id = dv.create(
        "accounts", {"name": "Contoso", "ownerid@odata.bind": f"/systemusers({OWNER})"}
    )
    assert new_id == GUID
    request = rsps.calls[0].request
    assert json.loads(request.body) == {
        "name": "Contoso",
        "ownerid@odata.bind": f"/systemusers({OWNER})",
    }
    assert request.headers["Content-Type"].startswith("application/json")


def test_create_answered_204_with_relative_location(rsps, make_client):
    dv = make_client("https://erp.example.com/odata/")
    rsps.post(
        "https://erp.example.com/odata/Customers",
        status=204,
        headers={"Location": "Customers('C10000')"},
    )
    assert dv.create("Customers", {"Name": "Adatum"}) == "C10000"


def test_create_answered_201_with_body(rsps, make_client):
    dv = make_client("https://erp.example.com/odata/")
    rsps.post(
        "https://erp.example.com/odata/Items",
        status=201,
        json={"@odata.context": "$metadata#Items/$entity", "ItemId": 42, "Name": "Bolt"},
    )
    assert dv.create("Items", {"Name": "Bolt"}, key="ItemId") == "42"


def test_create_answered_201_with_odata_id_only(rsps, dv):
    rsps.post(ROOT + "accounts", status=201, json={"@odata.id": ROOT + f"accounts({GUID})"})
    assert dv.create("accounts", {"name": "x"}) == GUID


def test_create_without_any_id_in_answer_is_an_error(rsps, dv):
    rsps.post(ROOT + "accounts", status=204)
    with pytest.raises(DataverseError, match="did not say its id"):
        dv.create("accounts", {"name": "x"})


def test_create_with_caller_id_puts_it_in_the_body(rsps, dv):
    rsps.post(ROOT + "accounts", status=204, headers={"OData-EntityId": ROOT + f"accounts({GUID})"})
    assert dv.create("accounts", {"name": "x"}, id=GUID, key="accountid") == GUID
    assert json.loads(rsps.calls[0].request.body) == {"name": "x", "accountid": GUID}


def test_create_with_caller_id_and_no_key_is_a_create_only_upsert(rsps, dv):
    rsps.patch(ROOT + f"accounts({GUID})", status=204)
    assert dv.create("accounts", {"name": "x"}, id=GUID) == GUID
    request = rsps.calls[0].request
    assert request.method == "PATCH"
    assert request.headers["If-None-Match"] == "*"
    assert "If-Match" not in request.headers


def test_create_with_caller_id_is_retried_and_duplicate_on_retry_is_success(rsps, dv, sleeps):
    # First attempt: the connection drops after sending (the record was created);
    # the resend is told the id exists - which proves the first attempt worked.
    rsps.post(ROOT + "accounts", body=requests.ConnectionError("connection reset"))
    rsps.post(
        ROOT + "accounts",
        status=412,
        json={
            "error": {
                "code": "0x80040237",
                "message": "A record with matching key values already exists.",
            }
        },
    )
    # ...once a read shows the record with that id (not another one holding a unique value).
    rsps.get(re.compile(re.escape(ROOT + "accounts?")), json={"value": [{"accountid": GUID}]})
    assert dv.create("accounts", {"name": "x"}, id=GUID, key="accountid") == GUID
    assert len(rsps.calls) == 3
    assert len(sleeps) == 1


def test_duplicate_on_retry_of_another_records_value_is_reported(rsps, dv, sleeps):
    rsps.post(ROOT + "accounts", body=requests.ConnectionError("connection reset"))
    rsps.post(ROOT + "accounts", status=412, json={"error": {
        "code": "0x80040237", "message": "A record with matching key values already exists."}})
    rsps.get(re.compile(re.escape(ROOT + "accounts?")), json={"value": []})
    with pytest.raises(DuplicateRecord) as caught:
        dv.create("accounts", {"name": "x"}, id=GUID, key="accountid")
    assert caught.value.retried


def test_duplicate_on_first_attempt_is_reported(rsps, dv):
    rsps.post(
        ROOT + "accounts",
        status=412,
        json={"error": {"code": "0x80040237", "message": "A record with matching key values"}},
    )
    with pytest.raises(DuplicateRecord) as info:
        dv.create("accounts", {"name": "x"}, id=GUID, key="accountid")
    assert not info.value.retried


def test_create_without_caller_id_is_not_blindly_resent(rsps, dv, sleeps):
    rsps.post(ROOT + "accounts", body=requests.ConnectionError("connection reset"))
    with pytest.raises(TransportError):
        dv.create("accounts", {"name": "x"})
    assert len(rsps.calls) == 1
    assert sleeps == []


def test_create_without_caller_id_not_resent_on_500(rsps, dv):
    rsps.post(ROOT + "accounts", status=500, json={"error": {"code": "0x80040216", "message": "?"}})
    with pytest.raises(DataverseError) as info:
        dv.create("accounts", {"name": "x"})
    assert info.value.status == 500
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("status", [200, 204])
def test_update_sends_if_match_and_accepts_200_or_204(rsps, dv, status):
    kwargs = {"status": status, "headers": {"ETag": 'W/"101"'}}
    if status == 200:
        kwargs["json"] = {"@odata.etag": 'W/"101"', "accountid": GUID, "name": "new"}
    rsps.patch(ROOT + f"accounts({GUID})", **kwargs)
    etag = dv.update("accounts", GUID, {"name": "new"}, etag='W/"100"')
    assert etag == 'W/"101"'
    request = rsps.calls[0].request
    assert request.method == "PATCH"
    assert request.headers["If-Match"] == 'W/"100"'
    assert json.loads(request.body) == {"name": "new"}  # only the changed attributes


def test_update_without_etag_uses_if_match_star(rsps, dv):
    rsps.patch(ROOT + f"accounts({GUID})", status=204)
    assert dv.update("accounts", GUID, {"name": "new"}) is None
    assert rsps.calls[0].request.headers["If-Match"] == "*"


@pytest.mark.parametrize("method, call", [
    ("PATCH", lambda dv: dv.update("accounts", GUID, {"name": "new"})),
    ("DELETE", lambda dv: dv.delete("accounts", GUID)),
], ids=["update", "delete"])
def test_update_or_delete_of_missing_record_is_not_found(rsps, dv, method, call):
    rsps.add(
        method,
        ROOT + f"accounts({GUID})",
        status=404,
        json={"error": {"code": "0x80040217", "message": "Does Not Exist"}},
    )
    with pytest.raises(NotFound):
        call(dv)


def test_upsert_sends_no_if_match(rsps, dv):
    rsps.patch(ROOT + f"accounts({GUID})", status=204)
    dv.upsert("accounts", GUID, {"name": "x"})
    headers = rsps.calls[0].request.headers
    assert "If-Match" not in headers and "If-None-Match" not in headers


def test_update_with_string_key_on_plain_odata(rsps, make_client):
    dv = make_client("https://erp.example.com/odata/")
    rsps.patch("https://erp.example.com/odata/Customers('O''Neil%20Ltd')", status=204)
    dv.update("Customers", "O'Neil Ltd", {"Name": "x"})
    assert rsps.calls[0].request.url == "https://erp.example.com/odata/Customers('O''Neil%20Ltd')"


def test_delete_with_and_without_etag(rsps, dv):
    rsps.delete(ROOT + f"accounts({GUID})", status=204)
    dv.delete("accounts", GUID)
    dv.delete("accounts", GUID, etag='W/"7"')
    assert "If-Match" not in rsps.calls[0].request.headers
    assert rsps.calls[1].request.headers["If-Match"] == 'W/"7"'


def test_delete_resent_after_timeout_and_then_not_found_is_success(rsps, dv):
    rsps.delete(ROOT + f"accounts({GUID})", body=requests.ReadTimeout("read timed out"))
    rsps.delete(
        ROOT + f"accounts({GUID})",
        status=404,
        json={"error": {"code": "0x80040217", "message": "no"}},
    )
    dv.delete("accounts", GUID)
    assert len(rsps.calls) == 2


def test_create_multiple_uses_dataverse_action(rsps, dv):
    rsps.post(ROOT + "accounts/Microsoft.Dynamics.CRM.CreateMultiple", json={"Ids": [GUID, OWNER]})
    results = dv.create_multiple(
        "accounts", "account", [{"accountid": GUID, "name": "a"}, {"accountid": OWNER}], "accountid"
    )
    assert [r.id for r in results] == [GUID, OWNER] and all(r.ok for r in results)
    body = json.loads(rsps.calls[0].request.body)
    assert body["Targets"][0] == {
        "@odata.type": "Microsoft.Dynamics.CRM.account",
        "accountid": GUID,
        "name": "a",
    }


def test_create_multiple_failure_fails_every_record(rsps, dv):
    rsps.post(
        ROOT + "accounts/Microsoft.Dynamics.CRM.CreateMultiple",
        status=400,
        json={"error": {"code": "0x80044331", "message": "bad"}},
    )
    results = dv.create_multiple("accounts", "account", [{"name": "a"}, {"name": "b"}])
    assert [r.error.code for r in results] == ["0x80044331", "0x80044331"]


def test_create_multiple_without_dataverse_is_a_batch(rsps, make_client):
    base = "https://erp.example.com/odata/"
    dv = make_client(base)
    part = (
        "--b\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 201 Created\r\n"
        'Content-Type: application/json\r\n\r\n{"No": "C1"}\r\n--b--\r\n'
    )
    rsps.post(base + "$batch", body=part, content_type="multipart/mixed; boundary=b")
    [result] = dv.create_multiple("Customers", "customer", [{"No": "C1"}], key="No")
    assert result.ok and result.id == "C1" and result.status == 201
