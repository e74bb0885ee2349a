"""Reading: query options, server-driven paging, single records, many records by id."""

import json
from decimal import Decimal

import pytest
import responses
from responses import matchers

from dataverse import NotSupported, ValidationError, parse_decimal

from .conftest import ROOT

GUIDS = [f"00000000-0000-0000-0000-{n:012d}" for n in range(1, 8)]


def _page(rows, next_link=None):
    body = {"@odata.context": ROOT + "$metadata#accounts", "value": rows}
    if next_link:
        body["@odata.nextLink"] = next_link
    return body


def test_paging_follows_absolute_and_relative_next_links(rsps, dv):
    rsps.get(
        ROOT + "accounts",
        match=[matchers.query_param_matcher({"$select": "name"})],
        json=_page([{"name": "a"}, {"name": "b"}], ROOT + "accounts?$select=name&$skiptoken=p2"),
    )
    rsps.get(
        ROOT + "accounts",
        match=[matchers.query_param_matcher({"$select": "name", "$skiptoken": "p2"})],
        # relative to the service root, as some OData services send it
        json=_page([{"name": "c"}], "accounts?$select=name&$skiptoken=p3"),
    )
    rsps.get(
        ROOT + "accounts",
        match=[matchers.query_param_matcher({"$select": "name", "$skiptoken": "p3"})],
        # relative to the host
        json=_page([{"name": "d"}], "/api/data/v9.2/accounts?$select=name&$skiptoken=p4"),
    )
    rsps.get(
        ROOT + "accounts",
        match=[matchers.query_param_matcher({"$select": "name", "$skiptoken": "p4"})],
        json=_page([{"name": "e"}]),
    )
    pages = list(dv.iter_pages("accounts", select=["name"], page_size=2))
    assert [[r["name"] for r in p] for p in pages] == [["a", "b"], ["c"], ["d"], ["e"]]
    assert len(rsps.calls) == 4
    assert dv.request_count == 4
    for call in rsps.calls:
        # the page size preference goes with every request, next links included
        assert call.request.headers["Prefer"] == "odata.maxpagesize=2"
        assert call.request.headers["OData-Version"] == "4.0"
        assert call.request.url.startswith(ROOT)


def test_paging_is_lazy(rsps, dv):
    rsps.get(ROOT + "accounts", json=_page([{"n": 1}], ROOT + "accounts?$skiptoken=2"))
    pages = dv.iter_pages("accounts")
    assert len(rsps.calls) == 0
    next(pages)
    assert len(rsps.calls) == 1  # the second page is not fetched before it is wanted


def test_iter_rows_flattens_and_top_caps_across_short_pages(rsps, dv):
    # The service sends pages smaller than asked; top=3 still yields exactly 3 rows.
    rsps.get(
        ROOT + "contacts",
        match=[matchers.query_param_matcher({"$top": "3"})],
        json=_page([{"n": 1}, {"n": 2}], ROOT + "contacts?$top=3&$skiptoken=x"),
    )
    rsps.get(
        ROOT + "contacts",
        match=[matchers.query_param_matcher({"$top": "3", "$skiptoken": "x"})],
        json=_page([{"n": 3}, {"n": 4}], ROOT + "contacts?$top=3&$skiptoken=y"),
    )
    assert [r["n"] for r in dv.iter_rows("contacts", top=3, page_size=50)] == [1, 2, 3]
    assert len(rsps.calls) == 2


def test_query_options_are_percent20_encoded(rsps, dv):
    rsps.get(ROOT + "accounts", json=_page([]))
    list(
        dv.iter_pages(
            "accounts",
            select=["name", "modifiedon"],
            filter="modifiedon gt 2024-01-01T00:00:00Z and name ne 'A B'",
            orderby=["modifiedon asc", "accountid asc"],
            top=5,
        )
    )
    url = rsps.calls[0].request.url
    query = url.split("?", 1)[1]
    assert "+" not in query
    assert "$filter=modifiedon%20gt%202024-01-01T00:00:00Z%20and%20name%20ne%20'A%20B'" in query
    assert "$orderby=modifiedon%20asc,accountid%20asc" in query
    assert "$select=name,modifiedon" in query
    assert "$top=5" in query


def test_empty_result_yields_no_page(rsps, dv):
    rsps.get(ROOT + "accounts", json=_page([]))
    assert list(dv.iter_pages("accounts")) == []


def test_get_returns_record_with_decimals_exact(rsps, dv):
    gid = GUIDS[0]
    rsps.get(
        ROOT + f"accounts({gid})",
        # raw text: a float would already have rounded the number before the client saw it
        body=(
            '{"@odata.etag": "W/\\"1\\"", "accountid": "' + gid + '", '
            '"revenue": 1234567890123.4567, "creditlimit": "99.90"}'
        ),
        content_type="application/json",
    )
    record = dv.get("accounts", gid, select=["accountid", "revenue"])
    assert record["revenue"] == Decimal("1234567890123.4567")
    assert record["@odata.etag"] == 'W/"1"'
    assert parse_decimal(record["creditlimit"]) == Decimal("99.90")  # decimals sent as strings
    assert rsps.calls[0].request.url.endswith("?$select=accountid,revenue")


def test_get_many_with_dataverse_in_function(rsps, make_client):
    dv = make_client(ids_per_request=3)
    assert dv.dataverse_features  # guessed from /api/data/v9.2/
    rows = [{"accountid": g, "name": f"n{i}"} for i, g in enumerate(GUIDS)]
    rsps.get(ROOT + "accounts", json=_page(rows[:3]))
    rsps.get(ROOT + "accounts", json=_page(rows[3:6]))
    rsps.get(ROOT + "accounts", json=_page(rows[6:]))
    wanted = [g.upper() for g in GUIDS]  # the caller's spelling is kept in the answer's keys
    found = dv.get_many("accounts", "accountid", wanted + [wanted[0]], select=["name"])
    assert set(found) == set(wanted)
    assert found[wanted[4]]["name"] == "n4"
    assert len(rsps.calls) == 3
    first = rsps.calls[0].request.url
    assert "Microsoft.Dynamics.CRM.In(PropertyName='accountid',PropertyValues=%5B" in first
    assert "$select=name,accountid" in first


def test_get_many_with_or_chunks_on_plain_odata(rsps, make_client):
    dv = make_client("https://erp.example.com/odata/", ids_per_request=2)
    assert not dv.dataverse_features
    base = "https://erp.example.com/odata/"
    rsps.get(base + "Customers", json=_page([{"No": "C1"}, {"No": "C2"}]))
    rsps.get(base + "Customers", json=_page([{"No": "C3"}]))
    found = dv.get_many("Customers", "No", ["C1", "C2", "C3"])
    assert sorted(found) == ["C1", "C2", "C3"]
    first = rsps.calls[0].request.url
    assert "$filter=No%20eq%20'C1'%20or%20No%20eq%20'C2'" in first
    assert "In(" not in first


def test_get_many_falls_back_when_in_is_refused(rsps, make_client):
    dv = make_client(ids_per_request=10)

    def answer(request):
        if "In(" in request.url:
            return (400, {}, json.dumps({"error": {"code": "0x0", "message": "no In"}}))
        return (200, {}, json.dumps(_page([{"accountid": GUIDS[0]}])))

    rsps.add_callback(responses.GET, ROOT + "accounts", callback=answer)
    found = dv.get_many("accounts", "accountid", GUIDS[:2])
    assert list(found) == [GUIDS[0]]
    assert dv.use_in_function is False
    assert "accountid%20eq%20" in rsps.calls[-1].request.url


def test_get_many_with_forced_features_does_not_hide_errors(rsps, make_client):
    dv = make_client(dataverse_features=True)
    rsps.get(ROOT + "accounts", status=400, json={"error": {"code": "0x0", "message": "no"}})
    with pytest.raises(ValidationError):
        dv.get_many("accounts", "accountid", GUIDS[:2])


def test_get_many_of_nothing_sends_nothing(rsps, dv):
    assert dv.get_many("accounts", "accountid", []) == {}
    assert dv.request_count == 0


def test_who_am_i(rsps, dv):
    rsps.get(
        ROOT + "WhoAmI",
        json={
            "@odata.context": ROOT + "$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
            "BusinessUnitId": GUIDS[1],
            "UserId": GUIDS[2],
            "OrganizationId": GUIDS[3],
        },
    )
    assert dv.who_am_i() == GUIDS[2]
    assert dv.who_am_i() == GUIDS[2]
    assert len(rsps.calls) == 1  # cached


def test_who_am_i_without_dataverse(rsps, make_client):
    dv = make_client("https://erp.example.com/odata/")
    assert dv.who_am_i() is None
    assert dv.request_count == 0


def test_change_tracking_pages_and_delta_link(rsps, dv):
    delta = ROOT + "accounts?$select=name&$deltatoken=919042%2108%2f22%2f2017%2008%3a10%3a44"
    rsps.get(
        ROOT + "accounts",
        match=[matchers.query_param_matcher({"$select": "name"})],
        json=_page([{"name": "a"}], ROOT + "accounts?$select=name&$skiptoken=2"),
    )
    rsps.get(
        ROOT + "accounts",
        match=[matchers.query_param_matcher({"$select": "name", "$skiptoken": "2"})],
        json={"value": [{"name": "b"}], "@odata.deltaLink": delta},
    )
    pages = dv.iter_changes("accounts", select=["name"], page_size=1)
    assert [[r["name"] for r in p] for p in pages] == [["a"], ["b"]]
    assert pages.delta_link == delta
    assert rsps.calls[0].request.headers["Prefer"] == "odata.track-changes,odata.maxpagesize=1"

    deleted = {
        "@odata.context": ROOT + "$metadata#accounts/$deletedEntity",
        "id": GUIDS[0],
        "reason": "deleted",
    }
    rsps.reset()
    rsps.get(delta, json={"value": [deleted], "@odata.deltaLink": delta + "x"})
    later = dv.iter_changes("accounts", delta_link=pages.delta_link)
    assert list(later) == [[deleted]]
    assert later.delta_link == delta + "x"


def test_change_tracking_needs_dataverse(make_client):
    with pytest.raises(NotSupported):
        make_client("https://erp.example.com/odata/").iter_changes("Customers")
