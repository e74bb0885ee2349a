# ruff: noqa: F811  (fixtures imported from live_conftest, then used as arguments)
"""The Dataverse client, live: reads and paging, writes, `$batch` and ETags.

The CRM, the client and their helpers are in live_conftest.py.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from dataverse import (
    BatchOperation,
    DataverseClient,
    NotFound,
    PreconditionFailed,
    ValidationError,
)
from tests.dataverse.live_conftest import (  # noqa: F401  (fixtures)
    TOO_LONG,
    app_user,
    connect,
    create_accounts,
    crm_process_server,
    crm_server,
    live,
    new_id,
)

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])


TOO_LONG = "x" * 161  # account.name allows 160


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

