"""Change tracking (`Prefer: odata.track-changes`, `@odata.deltaLink`, `$deletedEntity`), as
Dataverse documents it: what a delta link returns, what it refuses, and when its token expires."""

import uuid
from datetime import timedelta
from urllib.parse import unquote, urlsplit

import pytest
from django.utils import timezone

from crm_emulator import changes
from crm_emulator.models import Tombstone
from crm_emulator.schema import BY_NAME
from crm_emulator.store import UnitOfWork, WriteOp
from tests.crm_emulator.conftest import ROOT

pytestmark = pytest.mark.django_db(databases=["default", "crm"])
TRACK = {"Prefer": "odata.track-changes"}


def make_accounts(n, user):
    ops = [WriteOp("POST", BY_NAME["account"], body={"name": f"Account {i:02d}"})
           for i in range(n)]
    done = UnitOfWork(user).run(ops, atomic=True, continue_on_error=False)
    assert not any(op.error for op in done)
    return [str(op.row.rowid) for op in ops]


def relative(url):
    link = urlsplit(url)
    assert link.scheme == "http" and link.netloc == "testserver"  # absolute, like Dataverse's
    return link.path.removeprefix(ROOT) + "?" + link.query


def read_all(api, url, params=None, page_size=None):
    """Follows next links to the end: (pages of values, the delta link)."""
    prefer = "odata.track-changes" + (f",odata.maxpagesize={page_size}" if page_size else "")
    pages = []
    while True:
        response = api.get(url, params, {"Prefer": prefer})
        assert response.status_code == 200, response.content
        assert "odata.track-changes" in response["Preference-Applied"]
        body = response.json()
        pages.append(body["value"])
        if "@odata.nextLink" not in body:
            return pages, body["@odata.deltaLink"]
        assert "@odata.deltaLink" not in body  # only the last page has it
        url, params = relative(body["@odata.nextLink"]), None


def changed(api, delta_link):
    pages, next_delta = read_all(api, relative(delta_link))
    return [row for page in pages for row in page], next_delta


def test_initial_load_pages_then_gives_a_delta_link(api, app_user):
    ids = make_accounts(7, app_user)
    pages, delta_link = read_all(api, "accounts", {"$select": "name"}, page_size=3)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert sorted(r["accountid"] for p in pages for r in p) == sorted(ids)
    assert set(pages[0][0]) == {"@odata.etag", "name", "accountid"}
    query = urlsplit(delta_link).query
    assert query.startswith("$select=name&$deltatoken=")
    token = unquote(query.split("$deltatoken=")[1])
    version, moment = token.split("!")  # Dataverse's shape: 919042!08/22/2017 08:10:44
    assert int(version) >= 1000
    assert timezone.datetime.strptime(moment, "%m/%d/%Y %H:%M:%S")


def test_nothing_changed_gives_an_empty_delta(api, app_user):
    make_accounts(2, app_user)
    _, delta_link = read_all(api, "accounts")
    response = api.get(relative(delta_link))
    body = response.json()
    assert body["value"] == [] and body["@odata.context"].endswith("#accounts/$delta")
    assert "$deltatoken=" in body["@odata.deltaLink"]


def test_an_update_and_a_create_show_in_the_next_delta(api, app_user):
    first, second = make_accounts(2, app_user)
    _, delta_link = read_all(api, "accounts", {"$select": "name"})
    assert api.patch(f"accounts({first})", {"name": "Renamed"}).status_code == 204
    created = api.create("accounts", {"name": "New Co"})["accountid"]
    rows, _ = changed(api, delta_link)
    assert [(r["accountid"], r["name"]) for r in rows] == [(first, "Renamed"), (created, "New Co")]
    assert set(rows[0]) == {"@odata.etag", "name", "accountid"}  # the first request's $select


def test_a_delete_comes_back_as_deleted_entity(api, app_user):
    kept, gone = make_accounts(2, app_user)
    _, delta_link = read_all(api, "accounts")
    assert api.delete(f"accounts({gone})").status_code == 204
    rows, next_delta = changed(api, delta_link)
    context = f"http://testserver{ROOT}$metadata#accounts/$deletedEntity"
    assert rows == [{"@odata.context": context, "id": gone, "reason": "deleted"}]
    assert changed(api, next_delta)[0] == []


def test_a_row_changed_twice_appears_once_with_its_last_state(api, app_user):
    (rowid,) = make_accounts(1, app_user)
    _, delta_link = read_all(api, "accounts", {"$select": "name"})
    api.patch(f"accounts({rowid})", {"name": "Once"})
    api.patch(f"accounts({rowid})", {"name": "Twice"})
    rows, _ = changed(api, delta_link)
    assert [(r["accountid"], r["name"]) for r in rows] == [(rowid, "Twice")]


def test_changes_page_rows_first_then_deletions(api, app_user):
    ids = make_accounts(5, app_user)
    _, delta_link = read_all(api, "accounts")
    for rowid in ids[:3]:
        api.delete(f"accounts({rowid})")
    for rowid in ids[3:]:
        api.patch(f"accounts({rowid})", {"name": "Changed"})
    pages, _ = read_all(api, relative(delta_link), page_size=2)
    assert [len(p) for p in pages] == [2, 2, 1]
    flat = [r for p in pages for r in p]
    assert [r.get("name") for r in flat[:2]] == ["Changed", "Changed"]
    assert sorted(r["id"] for r in flat[2:]) == sorted(ids[:3])


def test_a_row_written_while_paging_waits_for_the_next_delta(api, app_user):
    make_accounts(4, app_user)
    response = api.get("accounts", None, {"Prefer": "odata.track-changes,odata.maxpagesize=2"})
    late = api.create("accounts", {"name": "Late"})["accountid"]
    pages, delta_link = read_all(api, relative(response.json()["@odata.nextLink"]), page_size=2)
    assert late not in [r["accountid"] for p in pages for r in p]
    assert [r["accountid"] for r in changed(api, delta_link)[0]] == [late]


def test_count_of_changes(api, app_user):
    ids = make_accounts(3, app_user)
    _, delta_link = read_all(api, "accounts")
    api.delete(f"accounts({ids[0]})")
    api.patch(f"accounts({ids[1]})", {"name": "Changed"})
    token = urlsplit(delta_link).query.split("$deltatoken=")[1]
    response = api.get(f"accounts/$count?$deltatoken={token}")
    assert response.content == b"2"


@pytest.mark.parametrize("option, value", [("$filter", "name eq 'x'"), ("$orderby", "name"),
                                           ("$top", "2"), ("$expand", "primarycontactid")])
def test_query_options_dataverse_refuses_with_change_tracking(api, option, value):
    response = api.get("accounts", {option: value}, TRACK)
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "0x80060888",
        "message": f'The "{option}" query parameter isn\'t supported when Change Tracking is '
                   "enabled."}


def test_a_delta_link_refuses_them_too(api, app_user):
    make_accounts(1, app_user)
    _, delta_link = read_all(api, "accounts")
    response = api.get(relative(delta_link) + "&$filter=name eq 'x'")
    assert response.status_code == 400
    assert "isn't supported when Change Tracking is enabled" in response.json()["error"]["message"]


def test_a_table_without_change_tracking_is_refused(api):
    response = api.get("invoicedetails", None, TRACK)
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "0x80072491", "message": "Entity invoicedetail isn't enabled for change tracking."}


def test_metadata_says_which_tables_track_changes(api):
    response = api.get("EntityDefinitions", {"$select": "LogicalName",
                                              "$filter": "ChangeTrackingEnabled eq true"})
    tracked = {e["LogicalName"] for e in response.json()["value"]}
    assert {"account", "contact", "product", "transactioncurrency", "systemuser", "uom",
            "uomschedule", "pricelevel", "productpricelevel", "invoice"} == tracked
    one = api.get("EntityDefinitions(LogicalName='invoicedetail')").json()
    assert one["ChangeTrackingEnabled"] is False
    csdl = api.get("$metadata", {"annotations": "true"}).content.decode()
    assert csdl.count("Org.OData.Capabilities.V1.ChangeTracking") == len(tracked)


def test_an_expired_token_is_refused(api, app_user):
    make_accounts(1, app_user)
    _, delta_link = read_all(api, "accounts")
    changes.set_expire_days(0)
    response = api.get(relative(delta_link))
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "0x80044352",
        "message": "Version stamp associated with the client has expired. Please perform a full "
                   "sync."}


def test_a_token_within_the_expiry_is_accepted(api):
    old = (timezone.now() - timedelta(days=6)).strftime("%m/%d/%Y %H:%M:%S")
    assert api.get(f"accounts?$deltatoken=1000!{old}").status_code == 200
    older = (timezone.now() - timedelta(days=8)).strftime("%m/%d/%Y %H:%M:%S")
    assert api.get(f"accounts?$deltatoken=1000!{older}").status_code == 400  # 7 days by default


def test_a_malformed_token_is_refused(api):
    response = api.get("accounts?$deltatoken=yesterday")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "0x80060888"


def test_deletions_older_than_the_expiry_are_forgotten(api, app_user):
    first, second = make_accounts(2, app_user)
    api.delete(f"accounts({first})")
    Tombstone.objects.update(deletedon=timezone.now() - timedelta(days=8))
    api.delete(f"accounts({second})")
    assert [str(r) for r in Tombstone.objects.values_list("rowid", flat=True)] == [second]


@pytest.mark.django_db(transaction=True, databases=["default", "crm"])
def test_the_dataverse_client_follows_changes_end_to_end(crm):
    client, _ = crm
    ids = [client.create("accounts", {"name": f"Tracked {i}"}, id=str(uuid.uuid4()),
                         key="accountid") for i in range(5)]
    first = client.iter_changes("accounts", select=["name"], page_size=2)
    pages = list(first)
    assert [len(p) for p in pages] == [2, 2, 1]
    assert sorted(r["accountid"] for p in pages for r in p) == sorted(ids)
    assert "$deltatoken=" in first.delta_link

    client.update("accounts", ids[0], {"name": "Renamed"})
    client.delete("accounts", ids[1])
    created = client.create("accounts", {"name": "New"}, id=str(uuid.uuid4()), key="accountid")
    later = client.iter_changes("accounts", delta_link=first.delta_link, page_size=2)
    rows = [r for p in later for r in p]
    assert [(r["accountid"], r["name"]) for r in rows[:2]] == [(ids[0], "Renamed"),
                                                               (created, "New")]
    assert rows[2]["id"] == ids[1] and rows[2]["reason"] == "deleted"
    assert rows[2]["@odata.context"].endswith("$metadata#accounts/$deletedEntity")
    assert list(client.iter_changes("accounts", delta_link=later.delta_link)) == []


def test_a_row_deleted_then_created_again_with_its_id_comes_back_as_a_row(api, app_user):
    (rowid,) = make_accounts(1, app_user)
    _, delta_link = read_all(api, "accounts", {"$select": "name"})
    api.delete(f"accounts({rowid})")
    api.create("accounts", {"accountid": rowid, "name": "Back"})
    rows, _ = changed(api, delta_link)
    assert [(r["accountid"], r["name"]) for r in rows] == [(rowid, "Back")]


def test_a_forged_skiptoken_is_refused(api):
    response = api.get("accounts?$skiptoken=eyJjdCI6IHt9fQ")  # {"ct": {}}
    assert response.status_code == 400
