"""Malformed answers: the client raises a typed, clear error and uses nothing of them.

Every case ends as `MalformedResponse` (or the typed error of its HTTP status) whose message says
what was wrong and which request got it: never a raw KeyError, JSONDecodeError or IndexError,
never a page silently empty, never an endless loop, never a token sent to another host.
"""

import json

import pytest

from dataverse import BatchOperation, DataverseError, MalformedResponse, ServerError

from .conftest import ROOT
from .test_batch import BATCH_URL, batch_answer, created, failed, http_part, multipart, no_content

G1 = "00000000-0000-0000-0000-000000000001"
G2 = "00000000-0000-0000-0000-000000000002"
G3 = "00000000-0000-0000-0000-000000000003"
HTML = (
    "<!DOCTYPE html><html><head><title>Sign in to your account</title></head>"
    "<body><form>...</form></body></html>"
)
BOUNDARY = "batchresponse_1"


def read_all(dv, *args, **kwargs):
    return [row for page in dv.iter_pages(*args, **kwargs) for row in page]


def raised(call) -> DataverseError:
    with pytest.raises(DataverseError) as info:
        call()
    return info.value


# --- pages -------------------------------------------------------------------------------------


def test_html_page_with_200_is_no_answer(rsps, dv):
    rsps.get(ROOT + "accounts", body=HTML, status=200, content_type="text/html")
    err = raised(lambda: read_all(dv, "accounts", select=["name"]))
    assert isinstance(err, MalformedResponse)
    assert "GET " + ROOT + "accounts?$select=name" in str(err)
    assert "HTML page (Sign in to your account)" in str(err)
    assert err.status == 200


def test_html_page_with_200_is_no_answer_to_a_write_either(rsps, dv):
    # A PATCH answered with a proxy's page did not reach the CRM: it must not count as done.
    rsps.patch(f"{ROOT}accounts({G1})", body=HTML, status=200, content_type="text/html")
    err = raised(lambda: dv.update("accounts", G1, {"name": "x"}))
    assert isinstance(err, MalformedResponse)
    assert f"PATCH {ROOT}accounts({G1})" in str(err)


def test_html_error_page_with_502_says_so_in_a_few_words(rsps, dv, sleeps):
    page = "<html><head><title>502 Bad Gateway</title></head><body>" + "x" * 50_000 + "</body>"
    rsps.get(ROOT + "accounts", body=page, status=502, content_type="text/html")
    err = raised(lambda: read_all(dv, "accounts"))
    assert isinstance(err, ServerError) and err.status == 502
    assert err.message == "the service answered an HTML page: 502 Bad Gateway"
    assert (err.method, err.url) == ("GET", ROOT + "accounts")
    assert len(sleeps) == 5  # a GET was retried, within bounds


def test_non_json_body_that_is_not_html_either(rsps, dv):
    rsps.get(ROOT + "accounts", body="Service Unavailable\n" * 10, status=200)
    err = raised(lambda: read_all(dv, "accounts"))
    assert isinstance(err, MalformedResponse)
    assert f"GET {ROOT}accounts was answered HTTP 200 with something that is not JSON" in str(err)
    assert "'Service Unavailable\\n" in str(err)


def test_truncated_json(rsps, dv):
    whole = json.dumps({"value": [{"accountid": G1, "name": "A"}, {"accountid": G2}]})
    rsps.get(ROOT + "accounts", body=whole[: len(whole) // 2], status=200,
             content_type="application/json")
    err = raised(lambda: read_all(dv, "accounts"))
    assert isinstance(err, MalformedResponse)
    assert "not JSON" in str(err) and f"GET {ROOT}accounts" in str(err)
    assert isinstance(err.__cause__, ValueError)  # the parser's own error stays the cause


@pytest.mark.parametrize(
    "payload, says",
    [
        ([{"accountid": G1}], "JSON that is not an object but list"),
        ("value", "JSON that is not an object but str"),
        (None, "JSON that is not an object but NoneType"),
        ({"@odata.context": "x"}, 'no "value"'),
        ({"value": None}, 'a "value" that is NoneType, not a list'),
        ({"value": {"accountid": G1}}, 'a "value" that is dict, not a list'),
        ({"value": [{"accountid": G1}, 7]}, "record 2 of the page is not an object but int"),
    ],
)
def test_a_page_that_is_not_an_odata_collection(rsps, dv, payload, says):
    rsps.get(ROOT + "accounts", body=json.dumps(payload), content_type="application/json")
    err = raised(lambda: read_all(dv, "accounts"))
    assert isinstance(err, MalformedResponse)
    assert says in str(err)
    assert f"GET {ROOT}accounts" in str(err)


def test_an_empty_body_is_not_an_empty_page(rsps, dv):
    rsps.get(ROOT + "accounts", body="", status=200)
    err = raised(lambda: read_all(dv, "accounts"))
    assert isinstance(err, MalformedResponse) and 'no "value"' in str(err)


def test_a_bad_page_after_good_ones_stops_the_reading(rsps, dv):
    first = {"value": [{"n": 1}], "@odata.nextLink": ROOT + "accounts?p=2"}
    rsps.get(ROOT + "accounts", json=first)
    pages = dv.iter_pages("accounts")
    assert next(pages) == [{"n": 1}]
    rsps.replace("GET", ROOT + "accounts", body="<html>oops</html>", status=200,
                 content_type="text/html")
    with pytest.raises(MalformedResponse):
        next(pages)


@pytest.mark.parametrize(
    "row, says",
    [
        ({"name": "A"}, "record 1 of the page has no usable id: its accountid has none"),
        ({"accountid": None, "name": None}, "its accountid has none"),
        ({"accountid": 12, "name": "A"}, "its accountid is 12"),
        ({"accountid": "not-a-guid", "name": "A"}, "its accountid is 'not-a-guid'"),
        ({"accountid": {"id": G1}, "name": "A"}, "its accountid is {'id'"),
        ({"accountid": G1}, f"record 1 of the page (accountid {G1}) lacks the selected attribute "
                            "name"),
    ],
)
def test_get_many_refuses_a_row_without_its_id_or_a_selected_attribute(rsps, dv, row, says):
    # Left out, such a row would read as "the record was deleted in the CRM".
    rsps.get(ROOT + "accounts", json={"value": [row]})
    err = raised(lambda: dv.get_many("accounts", "accountid", [G1], select=["name"]))
    assert isinstance(err, MalformedResponse)
    assert says in str(err)
    assert f"GET {ROOT}accounts?$select=name,accountid&$filter=" in str(err)


def test_a_page_holding_one_record_twice(rsps, dv):
    rows = [{"accountid": G1, "name": "A"}, {"accountid": G2, "name": "B"},
            {"accountid": G1.upper(), "name": "A"}]
    rsps.get(ROOT + "accounts", json={"value": rows})
    with pytest.raises(MalformedResponse) as info:
        read_all(dv, "accounts", select=["name"], key="accountid")
    assert f"records 1 and 3 of the page are the same record (accountid {G1.upper()})" in str(
        info.value)


def test_null_everywhere_is_fine_where_the_attributes_are_there(rsps, dv):
    rsps.get(ROOT + "accounts", json={
        "@odata.context": None, "@odata.nextLink": None,
        "value": [{"accountid": G1, "name": None, "_ownerid_value": None, "creditlimit": None}]})
    rows = dv.get_many("accounts", "accountid", [G1], select=["name", "ownerid", "creditlimit"])
    assert rows[G1]["name"] is None and rows[G1]["creditlimit"] is None


def test_iter_pages_with_a_key_checks_every_page(rsps, dv):
    rsps.get(ROOT + "accounts", json={"value": [{"accountid": G1, "name": "A"}],
                                      "@odata.nextLink": ROOT + "accounts?$skiptoken=2"})
    rsps.get(ROOT + "accounts?$skiptoken=2", json={"value": [{"name": "B"}]})
    pages = dv.iter_pages("accounts", select=["name"], key="accountid")
    assert next(pages) == [{"accountid": G1, "name": "A"}]
    with pytest.raises(MalformedResponse, match="record 1 of the page has no usable id"):
        next(pages)


def test_wrong_types_where_the_client_reads_them(rsps, dv):
    rsps.get(ROOT + "accounts", json={"value": [], "@odata.nextLink": {"href": "accounts?p=2"}})
    err = raised(lambda: read_all(dv, "accounts"))
    assert isinstance(err, MalformedResponse)
    assert "@odata.nextLink that is not a link: {'href'" in str(err)


def test_wrong_types_in_a_record_pass_through_for_the_caller_to_judge(rsps, dv):
    # A string where a number belongs is the data's problem, not the protocol's: the engine
    # reports it for that record alone (tests/couplings_app/test_values_dont_fit.py).
    rsps.get(ROOT + "accounts", json={"value": [{"accountid": G1, "creditlimit": "lots"}]})
    assert dv.get_many("accounts", "accountid", [G1], select=["creditlimit"]) == {
        G1: {"accountid": G1, "creditlimit": "lots"}}


def test_get_of_a_record_that_is_no_record(rsps, dv):
    rsps.get(f"{ROOT}accounts({G1})", json=[1, 2])
    err = raised(lambda: dv.get("accounts", G1))
    assert isinstance(err, MalformedResponse)
    assert f"GET {ROOT}accounts({G1}) was answered with [1, 2], not a record" in str(err)


def test_who_am_i_without_a_user_id(rsps, dv):
    rsps.get(ROOT + "WhoAmI", json=["UserId"])
    err = raised(dv.who_am_i)
    assert isinstance(err, MalformedResponse) and "no UserId" in str(err)


# --- huge values ---------------------------------------------------------------------------------


def test_a_10_mb_value_is_data_but_a_10_mb_error_message_is_cut(rsps, dv):
    huge = "x" * 10_000_000
    rsps.get(ROOT + "accounts", json={"value": [{"accountid": G1, "name": huge}]})
    assert read_all(dv, "accounts")[0]["name"] == huge  # the data is the caller's to judge
    rsps.patch(f"{ROOT}accounts({G1})", status=400,
               json={"error": {"code": huge, "message": huge}})
    err = raised(lambda: dv.update("accounts", G1, {"name": "y"}))
    assert len(err.message) < 1100 and "10,000,000 characters in all" in err.message
    assert len(err.code) < 300
    assert len(str(err)) < 1500


def test_a_10_mb_body_that_is_not_json_is_summed_up(rsps, dv):
    rsps.get(ROOT + "accounts", body="y" * 10_000_000, status=200)
    err = raised(lambda: read_all(dv, "accounts"))
    assert isinstance(err, MalformedResponse)
    assert "10,000,000 bytes" in str(err) and len(str(err)) < 600


# --- next links ----------------------------------------------------------------------------------


def test_a_next_link_to_another_host_is_not_followed(rsps, dv):
    rsps.get(ROOT + "accounts", json={"value": [{"n": 1}],
                                      "@odata.nextLink": "https://evil.example/steal?$skiptoken=2"})
    pages = dv.iter_pages("accounts")
    assert next(pages) == [{"n": 1}]
    with pytest.raises(MalformedResponse) as info:
        next(pages)
    assert "https://evil.example/steal" in str(info.value)
    assert "org.crm.dynamics.com" in str(info.value)
    assert len(rsps.calls) == 1  # nothing was sent there, the token least of all


@pytest.mark.parametrize("link", [
    "http://org.crm.dynamics.com/api/data/v9.2/accounts?p=2",  # https downgraded
    "https://org.crm.dynamics.com:8443/api/data/v9.2/accounts?p=2",  # another port
    "https://org.crm.dynamics.com.evil.example/api/data/v9.2/accounts?p=2",
])
def test_a_next_link_to_another_origin_is_not_followed(rsps, dv, link):
    rsps.get(ROOT + "accounts", json={"value": [], "@odata.nextLink": link})
    with pytest.raises(MalformedResponse, match="not on the service's host"):
        read_all(dv, "accounts")
    assert len(rsps.calls) == 1


def test_same_host_links_are_followed(rsps, dv):
    rsps.get(ROOT + "accounts", json={
        "value": [{"n": 1}],
        "@odata.nextLink": "HTTPS://ORG.crm.dynamics.com/api/data/v9.2/accounts?p=2"})
    rsps.get(ROOT + "accounts?p=2", json={"value": [{"n": 2}]})
    assert [r["n"] for r in read_all(dv, "accounts")] == [1, 2]


def test_a_next_link_loop_ends(rsps, dv):
    link = ROOT + "accounts?$skiptoken=2"
    rsps.get(ROOT + "accounts", json={"value": [{"n": 1}], "@odata.nextLink": link})
    rsps.get(link, json={"value": [{"n": 2}], "@odata.nextLink": link})  # the same again
    err = raised(lambda: read_all(dv, "accounts"))
    assert isinstance(err, MalformedResponse)
    assert "a next link already followed" in str(err) and "never end" in str(err)
    assert len(rsps.calls) == 2


def test_a_next_link_loop_back_to_the_first_page_ends(rsps, dv):
    rsps.get(ROOT + "accounts", json={"value": [{"n": 1}], "@odata.nextLink": "accounts?p=2"})
    rsps.get(ROOT + "accounts?p=2", json={"value": [{"n": 2}], "@odata.nextLink": "accounts"})
    with pytest.raises(MalformedResponse, match="already followed"):
        read_all(dv, "accounts")
    assert len(rsps.calls) == 2


def test_a_change_tracking_loop_ends(rsps, dv):
    link = ROOT + "accounts?$skiptoken=2"
    rsps.get(ROOT + "accounts", json={"value": [{"n": 1}], "@odata.nextLink": link})
    rsps.get(link, json={"value": [{"n": 2}], "@odata.nextLink": link})
    with pytest.raises(MalformedResponse, match="already followed"):
        [row for page in dv.iter_changes("accounts") for row in page]


def test_a_change_tracking_page_without_value(rsps, dv):
    rsps.get(ROOT + "accounts", json={"@odata.deltaLink": ROOT + "accounts?$deltatoken=1"})
    pages = dv.iter_changes("accounts")
    with pytest.raises(MalformedResponse, match='no "value"'):
        list(pages)
    assert pages.delta_link is None  # never "all caught up" on a garbled answer


# --- $batch --------------------------------------------------------------------------------------

OPS = [
    BatchOperation("POST", "accounts", id=G1, data={"name": "A"}, key="accountid"),
    BatchOperation("PATCH", "accounts", id=G2, data={"name": "B"}),
    BatchOperation("DELETE", "accounts", id=G3),
]


def whole_answer():
    return multipart(BOUNDARY, [created(G1), no_content(), no_content()])


def test_a_whole_batch_answer_reads(rsps, dv):
    batch_answer(rsps, whole_answer(), boundary=BOUNDARY)
    assert [r.ok for r in dv.batch(OPS)] == [True, True, True]


def batch_error(rsps, dv, body, boundary=BOUNDARY, ops=OPS, **kwargs) -> MalformedResponse:
    batch_answer(rsps, body, boundary=boundary)
    with pytest.raises(MalformedResponse) as info:
        dv.batch(ops, **kwargs)
    err = info.value
    assert f"POST {BATCH_URL} ({len(ops)} operations) was answered HTTP 200" in str(err)
    return err


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.9, -len(f"--{BOUNDARY}--\r\n")])
def test_a_truncated_batch_answer(rsps, dv, cut):
    body = whole_answer()
    body = body[: int(len(body) * cut)] if cut > 0 else body[:cut]
    err = batch_error(rsps, dv, body)
    assert "cut off" in str(err) or "responses for 3 operations" in str(err)


def test_a_batch_answer_with_another_boundary(rsps, dv):
    body = whole_answer().replace(BOUNDARY, "batchresponse_other")
    err = batch_error(rsps, dv, body)
    assert f"no delimiter of its boundary '{BOUNDARY}'" in str(err)


def test_a_batch_answer_without_multipart(rsps, dv):
    rsps.post(BATCH_URL, json={"responses": []})
    with pytest.raises(MalformedResponse, match="without a multipart boundary"):
        dv.batch(OPS)


def test_a_batch_answer_that_is_an_html_page(rsps, dv):
    rsps.post(BATCH_URL, body=HTML, status=200, content_type="text/html")
    with pytest.raises(MalformedResponse, match="HTML page"):
        dv.batch(OPS)


@pytest.mark.parametrize("continue_on_error", [True, False])
def test_fewer_responses_than_requests(rsps, dv, continue_on_error):
    # Which one is missing is unknown: matching by position would pin one record's result on
    # another.
    body = multipart(BOUNDARY, [created(G1), no_content()])
    err = batch_error(rsps, dv, body, continue_on_error=continue_on_error)
    assert "2 responses for 3 operations" in str(err)


def test_fewer_responses_after_a_failure_without_continue_on_error_is_the_protocol(rsps, dv):
    body = multipart(BOUNDARY, [created(G1), failed("HTTP/1.1 400 Bad Request", "0x1", "no")])
    batch_answer(rsps, body, boundary=BOUNDARY)
    results = dv.batch(OPS, continue_on_error=False)
    assert [r.ok for r in results] == [True, False, False]
    assert results[2].error.code == "NotExecuted"


def test_more_responses_than_requests(rsps, dv):
    body = multipart(BOUNDARY, [created(G1), no_content(), no_content(), no_content()])
    assert "4 responses for 3 operations" in str(batch_error(rsps, dv, body))


def test_a_response_part_without_a_status_line(rsps, dv):
    bad = http_part("I am not HTTP", [], "")
    body = multipart(BOUNDARY, [created(G1), bad, no_content()])
    assert "not an HTTP status line: 'I am not HTTP'" in str(batch_error(rsps, dv, body))


def change_set(parts, boundary="changesetresponse_1"):
    inner = multipart(boundary, parts)
    return f"Content-Type: multipart/mixed; boundary={boundary}\r\n\r\n{inner}"


def test_a_change_set_part_without_content_id(rsps, dv):
    body = multipart(BOUNDARY, [change_set([created(G1, "1"), no_content(), no_content("3")])])
    err = batch_error(rsps, dv, body, atomic=True)
    assert "response 2 of 3 in the change set has no Content-ID" in str(err)


def test_a_change_set_with_content_ids_out_of_order_reads(rsps, dv):
    body = multipart(BOUNDARY, [change_set([no_content("3"), created(G1, "1"), no_content("2")])])
    batch_answer(rsps, body, boundary=BOUNDARY)
    results = dv.batch(OPS, atomic=True)
    assert [r.ok for r in results] == [True, True, True] and results[0].id == G1


def test_a_change_set_with_a_missing_or_unknown_content_id(rsps, dv):
    body = multipart(BOUNDARY, [change_set([created(G1, "1"), no_content("2"), no_content("9")])])
    assert "carry Content-IDs ['1', '2', '9']" in str(batch_error(rsps, dv, body, atomic=True))


def test_a_change_set_answered_by_one_success_for_many(rsps, dv):
    body = multipart(BOUNDARY, [no_content()])
    err = batch_error(rsps, dv, body, atomic=True)
    assert "one success response (HTTP 204) for a change set of 3 operations" in str(err)


def test_a_truncated_change_set(rsps, dv):
    body = multipart(BOUNDARY, [change_set([created(G1, "1"), no_content("2")])])
    body = body.replace("--changesetresponse_1--", "")
    assert "cut off" in str(batch_error(rsps, dv, body, atomic=True))


# --- CreateMultiple ------------------------------------------------------------------------------


@pytest.mark.parametrize("answer, says", [
    ({"Ids": "abc"}, "answered 'abc' as their ids"),
    ({"Ids": [G1]}, "created 2 records but answered"),
    ({"Ids": [G1, None]}, "not a list of 2 ids"),
    ([G1, G2], "answered None as their ids"),
])
def test_create_multiple_with_ids_that_are_not_the_ids(rsps, dv, answer, says):
    rsps.post(ROOT + "accounts/Microsoft.Dynamics.CRM.CreateMultiple", json=answer)
    with pytest.raises(MalformedResponse) as info:
        dv.create_multiple("accounts", "account", [{"name": "a"}, {"name": "b"}])
    assert says in str(info.value)


def test_create_multiple_with_an_answer_that_is_not_json(rsps, dv):
    rsps.post(ROOT + "accounts/Microsoft.Dynamics.CRM.CreateMultiple", body="{\"Ids\": [",
              status=200)
    with pytest.raises(MalformedResponse, match="not JSON"):
        dv.create_multiple("accounts", "account", [{"name": "a"}])


def test_create_multiple_with_our_own_ids_needs_no_echo(rsps, dv):
    rsps.post(ROOT + "accounts/Microsoft.Dynamics.CRM.CreateMultiple", status=204)
    results = dv.create_multiple("accounts", "account", [{"accountid": G1}, {"accountid": G2}],
                                 key="accountid")
    assert [r.id for r in results] == [G1, G2]


# --- metadata ------------------------------------------------------------------------------------

ATTRS_URL = ROOT + "EntityDefinitions(LogicalName='account')/Attributes"


@pytest.mark.parametrize("item, says", [
    ({"LogicalName": "name", "AttributeType": "String", "MaxLength": "long"},
     "the attribute name has MaxLength 'long', not a whole number"),
    ({"LogicalName": "name", "AttributeType": "String", "MaxLength": 160.5},
     "the attribute name has MaxLength 160.5, not a whole number"),
    ({"LogicalName": "creditlimit", "AttributeType": "Money", "MaxValue": "a lot"},
     "the attribute creditlimit has MaxValue 'a lot', not a number"),
    ({"LogicalName": "ownerid", "AttributeType": "Owner", "Targets": "systemuser"},
     "the attribute ownerid has Targets 'systemuser', not a list of table names"),
    ({"LogicalName": "statecode", "AttributeType": "State",
      "OptionSet": {"Options": [{"Value": "Active"}]}},
     "the attribute statecode has option value 'Active', not a whole number"),
    ({"LogicalName": "statecode", "AttributeType": "State", "OptionSet": {"Options": "0,1"}},
     "the attribute statecode has Options '0,1', not a list"),
    ({"LogicalName": "x", "AttributeTypeName": "String", "MaxLength": True},
     "the attribute x has MaxLength True, not a whole number"),
])
def test_metadata_of_the_wrong_types(rsps, dv, item, says):
    rsps.get(ATTRS_URL, json={"value": [item]})
    with pytest.raises(MalformedResponse) as info:
        dv.entity_attributes("account")
    assert str(info.value) == "the CRM's description of " + says


# --- the token endpoint --------------------------------------------------------------------------

TOKEN_URL = "https://login.example/tenant/oauth2/v2.0/token"


@pytest.mark.parametrize("answer, says", [
    ({"body": "<html><title>Sign in</title></html>", "content_type": "text/html"},
     "HTML page (Sign in)"),
    ({"body": '{"access_token": "ab', "content_type": "application/json"}, "answered no JSON"),
    ({"json": ["access_token"]}, "answered list JSON, not an object"),
    ({"json": {"access_token": {"value": "x"}}}, "answered without an access_token"),
])
def test_a_garbled_token_answer(rsps, make_client, answer, says):
    from dataverse import AuthenticationError, ClientCredentials

    rsps.post(TOKEN_URL, **answer)
    dv = make_client(auth=ClientCredentials(TOKEN_URL, "id", "secret", "scope"))
    with pytest.raises(AuthenticationError) as info:
        dv.get("accounts", G1)
    assert says in str(info.value)
    assert len(rsps.calls) == 1  # the API was never asked without a token
