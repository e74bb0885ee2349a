"""$batch: change sets are atomic, continue-on-error goes on, Content-ID references, bulk speed."""

import json
import re

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from crm_emulator.models import Row
from tests.crm_emulator.conftest import ROOT, new_id

pytestmark = pytest.mark.django_db(databases=["default", "crm"])
BASE = "http://testserver" + ROOT


def request_part(method, url, body=None, content_id=None, headers=None):
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id:
        lines.append(f"Content-ID: {content_id}")
    lines += ["", f"{method} {url} HTTP/1.1"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body is not None:
        lines += ["Content-Type: application/json; type=entry", "", json.dumps(body)]
    else:
        lines += [""]
    return "\r\n".join(lines)


def change_set(parts, boundary="changeset_1"):
    body = "".join(f"--{boundary}\r\n{part}\r\n" for part in parts)
    return f"Content-Type: multipart/mixed; boundary={boundary}\r\n\r\n{body}--{boundary}--"


def batch_body(items, boundary="batch_1"):
    return "".join(f"--{boundary}\r\n{item}\r\n" for item in items) + f"--{boundary}--\r\n"


def responses(response):
    """[(status, headers, body text)] of every HTTP response in a batch answer, in order."""
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("multipart/mixed; boundary=batchresponse_")
    return [(int(m.group(1)), m.group(2), m.group(3).strip())
            for m in re.finditer(r"HTTP/1\.1 (\d{3})[^\r\n]*\r\n(.*?)\r\n\r\n(.*?)(?=\r\n--)",
                                 response.content.decode(), re.S)]


def test_change_set_creates_all_and_answers_each(api):
    parts = [request_part("POST", f"{BASE}accounts", {"name": f"A{i}"}, content_id=str(i + 1))
             for i in range(3)]
    answers = responses(api.batch(batch_body([change_set(parts)]), "batch_1"))
    assert [status for status, _, _ in answers] == [204, 204, 204]
    assert all("OData-EntityId: " + BASE + "accounts(" in headers for _, headers, _ in answers)
    assert [h.count("Content-ID") for _, h, _ in answers] == [0, 0, 0]  # it is on the part
    assert Row.objects.filter(entity="account").count() == 3


def test_change_set_answers_in_a_change_set_response_with_content_ids(api):
    part = request_part("POST", "accounts", {"name": "B"}, content_id="7")
    text = api.batch(batch_body([change_set([part])]), "batch_1").content.decode()
    assert "Content-Type: multipart/mixed; boundary=changesetresponse_" in text
    assert "Content-ID: 7\r\n\r\nHTTP/1.1 204 No Content" in text


def test_change_set_is_all_or_nothing(api):
    parts = [request_part("POST", f"{BASE}accounts", {"name": "Good"}, content_id="1"),
             request_part("POST", f"{BASE}accounts", {"name": "x" * 200}, content_id="2"),
             request_part("POST", f"{BASE}accounts", {"name": "Also good"}, content_id="3")]
    answers = responses(api.batch(batch_body([change_set(parts)]), "batch_1"))
    assert len(answers) == 1
    status, _, body = answers[0]
    assert status == 400 and json.loads(body)["error"]["code"] == "0x80044331"
    assert not Row.objects.filter(entity="account").exists()


def test_change_set_rolls_back_updates_too(api, account):
    parts = [request_part("PATCH", f"accounts({account['accountid']})", {"name": "Changed"},
                          content_id="1"),
             request_part("DELETE", f"accounts({new_id()})", content_id="2")]
    answers = responses(api.batch(batch_body([change_set(parts)]), "batch_1"))
    assert [a[0] for a in answers] == [404]
    assert api.get(f"accounts({account['accountid']})").json()["name"] == "Contoso Ltd."


def test_content_id_reference_binds_to_a_record_of_the_same_change_set(api):
    parts = [request_part("POST", f"{ROOT}accounts", {"name": "Parent"}, content_id="1"),
             request_part("POST", f"{ROOT}contacts", {
                 "lastname": "Child", "parentcustomerid_account@odata.bind": "$1"},
                 content_id="2"),
             request_part("PATCH", "$1", {"telephone1": "555"}, content_id="3")]
    answers = responses(api.batch(batch_body([change_set(parts)]), "batch_1"))
    assert [a[0] for a in answers] == [204, 204, 204]
    account = Row.objects.get(entity="account")
    contact = Row.objects.get(entity="contact")
    assert contact.data["parentcustomerid"] == str(account.rowid)
    assert account.data["telephone1"] == "555"


def test_without_continue_on_error_the_batch_stops_at_the_first_refusal(api):
    items = [request_part("POST", "accounts", {"name": "One"}),
             request_part("POST", "accounts", {"nosuch": 1}),
             request_part("POST", "accounts", {"name": "Three"})]
    response = api.batch(batch_body(items), "batch_1")
    assert [a[0] for a in responses(response)] == [204, 400]
    assert "Preference-Applied" not in response
    assert sorted(r.data["name"] for r in Row.objects.filter(entity="account")) == ["One"]


def test_continue_on_error_runs_every_request(api):
    items = [request_part("POST", "accounts", {"name": "One"}),
             request_part("POST", "accounts", {"nosuch": 1}),
             change_set([request_part("POST", "accounts", {"name": "x" * 200}, "1")]),
             request_part("GET", "accounts?$select=name&$orderby=name"),
             request_part("POST", "accounts", {"name": "Three"})]
    response = api.batch(batch_body(items), "batch_1", {"Prefer": "odata.continue-on-error"})
    assert response["Preference-Applied"] == "odata.continue-on-error"
    answers = responses(response)
    assert [a[0] for a in answers] == [204, 400, 400, 200, 204]
    assert [r["name"] for r in json.loads(answers[3][2])["value"]] == ["One"]
    assert sorted(r.data["name"] for r in Row.objects.filter(entity="account")) == ["One", "Three"]


def test_get_in_a_batch_sees_earlier_writes(api):
    rowid = new_id()
    items = [request_part("POST", "accounts", {"accountid": rowid, "name": "Fresh"}),
             request_part("GET", f"accounts({rowid})?$select=name")]
    answers = responses(api.batch(batch_body(items), "batch_1"))
    assert answers[1][0] == 200 and json.loads(answers[1][2])["name"] == "Fresh"


def test_representation_in_a_batch(api):
    items = [request_part("POST", "accounts?$select=name", {"name": "Shown"},
                          headers={"Prefer": "return=representation"})]
    status, _, body = responses(api.batch(batch_body(items), "batch_1"))[0]
    assert status == 201 and json.loads(body)["name"] == "Shown"


def test_get_is_not_allowed_in_a_change_set(api):
    answers = responses(api.batch(batch_body([change_set([
        request_part("GET", "accounts", content_id="1")])]), "batch_1"))
    assert answers[0][0] == 400


def test_batch_needs_a_multipart_body(api, client, token):
    response = client.post(ROOT + "$batch", b"{}", content_type="application/json",
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400


def test_a_thousand_creates_then_updates_in_one_change_set_cost_statements_per_batch(api):
    # Counted, not timed: the change set's rows are read and written in bulk, not one by one.
    ids = [new_id() for _ in range(1000)]
    creates = [request_part("POST", "accounts", {"accountid": rowid, "name": f"Bulk {i}",
                                                 "creditlimit": float(i)}, str(i + 1))
               for i, rowid in enumerate(ids)]
    with CaptureQueriesContext(connections["crm"]) as created:
        answers = responses(api.batch(batch_body([change_set(creates)]), "batch_1"))
    assert len(answers) == 1000 and {a[0] for a in answers} == {204}
    updates = [request_part("PATCH", f"accounts({rowid})", {"telephone1": "555"}, str(i + 1))
               for i, rowid in enumerate(ids)]
    with CaptureQueriesContext(connections["crm"]) as updated:
        answers = responses(api.batch(batch_body([change_set(updates)]), "batch_1"))
    assert {a[0] for a in answers} == {204}
    assert Row.objects.filter(entity="account", data__telephone1="555").count() == 1000
    assert len(created) < 100 and len(updated) < 100, (len(created), len(updated))


def test_more_than_1000_requests_are_refused(api):
    items = [request_part("GET", "WhoAmI") for _ in range(1001)]
    assert api.batch(batch_body(items), "batch_1").status_code == 400
