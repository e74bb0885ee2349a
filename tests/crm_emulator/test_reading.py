"""Reading records: by id, $select, $filter, $orderby, $top, $count and paging."""

from urllib.parse import urlsplit

import pytest

from crm_emulator.schema import BY_NAME
from crm_emulator.store import UnitOfWork, WriteOp
from tests.crm_emulator.conftest import ROOT, new_id

pytestmark = pytest.mark.django_db(databases=["default", "crm"])


def make_accounts(n, user, **extra):
    ops = [WriteOp("POST", BY_NAME["account"], body={
        "name": f"Account {i:04d}", "accountnumber": f"A{i:04d}", "creditlimit": float(i * 100),
        "customertypecode": 3 if i % 2 else 11, **extra}) for i in range(n)]
    done = UnitOfWork(user).run(ops, atomic=True, continue_on_error=False)
    assert not any(op.error for op in done)
    return [op.row for op in ops]


def names(response):
    assert response.status_code == 200, response.content
    return [r["name"] for r in response.json()["value"]]


@pytest.fixture
def seeded(api):
    ids = {}
    for name, city, relation, limit in [("Contoso", "Atlanta", 3, 5000.0),
                                        ("Fabrikam", "London", 11, 0.0),
                                        ("Litware", "London", 3, 25000.0),
                                        ("O'Neil & Sons", None, 3, None)]:
        body = {"name": name, "customertypecode": relation}
        if city:
            body["address1_city"] = city
        if limit is not None:
            body["creditlimit"] = limit
        ids[name] = api.create("accounts", body)["accountid"]
    return ids


def test_get_by_id(api, account):
    response = api.get(f"accounts({account['accountid']})")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Contoso Ltd." and body["accountid"] == account["accountid"]
    assert body["@odata.context"] == f"http://testserver{ROOT}$metadata#accounts/$entity"
    assert response["ETag"] == body["@odata.etag"]
    assert body["creditlimit"] is None  # every attribute, null when unset


def test_get_unknown_id_is_404(api):
    rowid = new_id()
    response = api.get(f"accounts({rowid})")
    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": "0x80040217", "message": f"account With Id = {rowid} Does Not Exist"}


def test_if_none_match_answers_304_when_unchanged(api, account):
    url = f"accounts({account['accountid']})"
    assert api.get(url, headers={"If-None-Match": account["@odata.etag"]}).status_code == 304
    api.patch(url, {"name": "Changed"})
    assert api.get(url, headers={"If-None-Match": account["@odata.etag"]}).status_code == 200


def test_select_returns_the_named_attributes_and_the_id(api, account):
    body = api.get(f"accounts({account['accountid']})", {"$select": "name,_ownerid_value"}).json()
    assert set(body) == {"@odata.context", "@odata.etag", "accountid", "name", "_ownerid_value"}


def test_select_of_an_unknown_property_is_refused(api):
    response = api.get("accounts", {"$select": "Name"})
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "0x80060888",
        "message": "Could not find a property named 'Name' on type "
                   "'Microsoft.Dynamics.CRM.account'."}


@pytest.mark.parametrize("expression, expected", [
    ("name eq 'Contoso'", ["Contoso"]),
    ("name eq 'contoso'", ["Contoso"]),  # case-insensitive, as Dataverse's collation
    ("name ne 'Contoso'", ["Fabrikam", "Litware", "O'Neil & Sons"]),
    ("address1_city ne 'London'", ["Contoso"]),  # ne never matches null
    ("address1_city eq null", ["O'Neil & Sons"]),
    ("address1_city ne null and creditlimit gt 1000", ["Contoso", "Litware"]),
    ("creditlimit ge 5000", ["Contoso", "Litware"]),
    ("creditlimit lt 5000", ["Fabrikam"]),
    ("creditlimit le 5000 and customertypecode eq 3", ["Contoso"]),
    ("customertypecode eq 11 or address1_city eq 'Atlanta'", ["Contoso", "Fabrikam"]),
    ("not (customertypecode eq 3)", ["Fabrikam"]),
    ("(name eq 'Contoso' or name eq 'Fabrikam') and address1_city eq 'London'", ["Fabrikam"]),
    ("contains(name,'ware')", ["Litware"]),
    ("startswith(name,'fab')", ["Fabrikam"]),
    ("endswith(name, 'SONS')", ["O'Neil & Sons"]),
    ("name eq 'O''Neil & Sons'", ["O'Neil & Sons"]),
    ("not contains(name,'o')", ["Fabrikam", "Litware"]),
    ("Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=['Contoso','Litware'])",
     ["Contoso", "Litware"]),
    ("Microsoft.Dynamics.CRM.In(PropertyName='customertypecode',PropertyValues=['11'])",
     ["Fabrikam"]),
    ("name in ('Contoso','Fabrikam')", ["Contoso", "Fabrikam"]),
    ("statecode eq 0 and modifiedon ge 2020-01-01T00:00:00Z", [
        "Contoso", "Fabrikam", "Litware", "O'Neil & Sons"]),
    ("createdon lt 2020-01-01", []),
])
def test_filter(api, seeded, expression, expected):
    response = api.get("accounts", {"$filter": expression, "$orderby": "name"})
    assert names(response) == expected


def test_filter_on_a_lookup_value(api, seeded, app_user):
    other = new_id()
    assert len(names(api.get("accounts", {"$filter": f"_ownerid_value eq {app_user}"}))) == 4
    assert names(api.get("accounts", {"$filter": f"_ownerid_value eq {other}"})) == []


def test_filter_on_the_primary_id(api, seeded):
    rowid = seeded["Litware"]
    assert names(api.get("accounts", {"$filter": f"accountid eq {rowid}"})) == ["Litware"]
    in_filter = (f"Microsoft.Dynamics.CRM.In(PropertyName='accountid',"
                 f"PropertyValues=['{seeded['Contoso']}','{rowid}'])")
    assert sorted(names(api.get("accounts", {"$filter": in_filter}))) == ["Contoso", "Litware"]


@pytest.mark.parametrize("expression", [
    "name eqq 'x'", "name eq", "(name eq 'x'", "nosuch eq 1", "name eq 5", "creditlimit eq 'x'",
    "contains(creditlimit,'1')", "name gt null", "unknownfn(name)",
])
def test_bad_filter_is_refused(api, expression):
    response = api.get("accounts", {"$filter": expression})
    assert response.status_code == 400, expression
    assert response.json()["error"]["code"] == "0x80060888"


def test_orderby_and_top(api, seeded):
    response = api.get("accounts", {"$orderby": "creditlimit desc,name", "$top": "2"})
    assert names(response) == ["Litware", "Contoso"]
    assert "@odata.nextLink" not in response.json()


def test_orderby_of_an_unknown_property_is_refused(api):
    assert api.get("accounts", {"$orderby": "nosuch"}).status_code == 400


def test_count(api, seeded):
    body = api.get("accounts", {"$count": "true", "$filter": "customertypecode eq 3",
                                "$top": "1"}).json()
    assert body["@odata.count"] == 3 and len(body["value"]) == 1
    response = api.get("accounts/$count")
    assert response.content == b"4"


def paged(api, params, page_size):
    pages, url, query = [], "accounts", params
    prefer = {"Prefer": f"odata.maxpagesize={page_size}"}
    while True:
        response = api.get(url, query, prefer)
        assert response.status_code == 200
        assert response["Preference-Applied"] == f"odata.maxpagesize={page_size}"
        body = response.json()
        pages.append([r["accountnumber"] for r in body["value"]])
        if "@odata.nextLink" not in body:
            return pages
        assert "$skiptoken=" in body["@odata.nextLink"]
        link = urlsplit(body["@odata.nextLink"])
        assert link.scheme == "http" and link.netloc == "testserver"  # absolute
        url, query = link.path.removeprefix(ROOT) + "?" + link.query, None


def test_paging_by_id_visits_every_row_once(api, app_user):
    make_accounts(23, app_user)
    pages = paged(api, {"$select": "accountnumber"}, 5)
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    numbers = [n for page in pages for n in page]
    assert sorted(numbers) == [f"A{i:04d}" for i in range(23)]


def test_paging_by_modifiedon_keeps_filter_and_order(api, app_user):
    make_accounts(12, app_user)
    pages = paged(api, {"$select": "accountnumber", "$filter": "customertypecode eq 3",
                        "$orderby": "modifiedon desc"}, 4)
    assert [len(p) for p in pages] == [4, 2]


def test_paging_sorted_on_an_attribute(api, app_user):
    make_accounts(11, app_user)
    pages = paged(api, {"$select": "accountnumber", "$orderby": "accountnumber desc"}, 3)
    assert [n for page in pages for n in page] == [f"A{i:04d}" for i in reversed(range(11))]


def test_page_size_is_capped_at_5000(api):
    response = api.get("accounts", headers={"Prefer": "odata.maxpagesize=99999"})
    assert response["Preference-Applied"] == "odata.maxpagesize=5000"


def test_bad_skiptoken_is_refused(api):
    assert api.get("accounts", {"$skiptoken": "garbage!"}).status_code == 400


def test_formatted_values_on_request(api, seeded):
    response = api.get(f"accounts({seeded['Contoso']})", {"$select": "customertypecode,name"},
                       {"Prefer": 'odata.include-annotations="OData.Community.Display.V1.'
                                  'FormattedValue"'})
    body = response.json()
    assert body["customertypecode@OData.Community.Display.V1.FormattedValue"] == "Customer"
    assert not any("lookuplogicalname" in k for k in body)
    plain = api.get(f"accounts({seeded['Contoso']})").json()
    assert not any("@OData.Community" in k for k in plain)


def test_unsupported_query_option_is_refused(api):
    assert api.get("accounts", {"$expand": "primarycontactid"}).status_code == 400


def test_service_document_lists_the_entity_sets(api):
    body = api.get("").json()
    assert {"accounts", "contacts", "products", "invoicedetails"} <= {
        v["name"] for v in body["value"]}
