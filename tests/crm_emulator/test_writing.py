"""Creating, updating and deleting records, and every refusal the way Dataverse answers it."""

import pytest

from crm_emulator.models import Row
from tests.crm_emulator.conftest import ROOT, new_id

pytestmark = pytest.mark.django_db(databases=["default", "crm"])


def error_code(response):
    return response.json()["error"]["code"]


def test_create_answers_204_with_the_new_records_url(api):
    response = api.post("accounts", {"name": "Fabrikam"})
    assert response.status_code == 204
    url = response["OData-EntityId"]
    assert url.startswith("http://testserver" + ROOT + "accounts(")
    rowid = url.split("(")[1].rstrip(")")
    assert api.get(f"accounts({rowid})").json()["name"] == "Fabrikam"


def test_return_representation_answers_201_with_the_record(api, app_user):
    response = api.post("accounts?$select=name", {"name": "Fabrikam", "creditlimit": 1000},
                        {"Prefer": "return=representation"})
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Fabrikam" and "creditlimit" not in body
    assert body["accountid"]
    assert response["Preference-Applied"] == "return=representation"
    row = Row.objects.get(rowid=body["accountid"])
    assert row.createdby == app_user and row.modifiedby == app_user


def test_system_attributes_of_a_new_record(api, app_user):
    body = api.create("accounts", {"name": "Fabrikam"})
    assert body["_createdby_value"] == str(app_user)
    assert body["_modifiedby_value"] == str(app_user)
    assert body["_ownerid_value"] == str(app_user)
    assert body["statecode"] == 0 and body["statuscode"] == 1
    assert body["createdon"].endswith("Z") and body["modifiedon"] == body["createdon"]
    assert body["@odata.etag"] == f'W/"{body["versionnumber"]}"'


def test_caller_chosen_id_is_kept(api):
    rowid = new_id()
    body = api.create("accounts", {"accountid": rowid, "name": "Chosen"})
    assert body["accountid"] == rowid


def test_duplicate_id_is_refused_with_412(api):
    rowid = new_id()
    api.create("accounts", {"accountid": rowid, "name": "First"})
    response = api.post("accounts", {"accountid": rowid, "name": "Second"})
    assert response.status_code == 412
    assert error_code(response) == "0x80040237"
    assert Row.objects.get(rowid=rowid).data["name"] == "First"


def test_unknown_attribute_is_refused(api):
    response = api.post("accounts", {"name": "X", "nonsense": 1})
    assert response.status_code == 400
    assert error_code(response) == "0x80048d19"
    assert "The property 'nonsense' does not exist on type 'Microsoft.Dynamics.CRM.account'" in (
        response.json()["error"]["message"])
    assert not Row.objects.filter(entity="account").exists()


def test_lookup_value_property_cannot_be_written(api):
    response = api.post("accounts", {"name": "X", "_ownerid_value": new_id()})
    assert response.status_code == 400 and error_code(response) == "0x80048d19"


@pytest.mark.parametrize("body", [
    {"name": 12}, {"name": "X", "creditlimit": "lots"}, {"name": "X", "customertypecode": "3"},
    {"name": "X", "creditlimit": True},
])
def test_wrong_type_is_refused(api, body):
    response = api.post("accounts", body)
    assert response.status_code == 400
    assert error_code(response) == "0x80048d19"
    assert "Cannot convert the literal" in response.json()["error"]["message"]


def test_too_long_string_is_refused(api):
    response = api.post("accounts", {"name": "x" * 161})
    assert response.status_code == 400
    assert error_code(response) == "0x80044331"
    assert "maximum allowed length of '160'" in response.json()["error"]["message"]
    assert api.post("accounts", {"name": "x" * 160}).status_code == 204


def test_missing_required_attribute_is_refused(api):
    response = api.post("contacts", {"firstname": "Ann"})
    assert response.status_code == 400
    assert error_code(response) == "0x80040203"
    assert "'lastname'" in response.json()["error"]["message"]


def test_clearing_a_required_attribute_is_refused(api, account):
    response = api.patch(f"accounts({account['accountid']})", {"name": None})
    assert response.status_code == 400 and error_code(response) == "0x80040203"


def test_bad_option_value_is_refused(api):
    response = api.post("accounts", {"name": "X", "customertypecode": 99})
    assert response.status_code == 400
    assert error_code(response) == "0x8004431a"
    assert "Accepted Values: 1,2,3" in response.json()["error"]["message"]


def test_number_out_of_range_is_refused(api):
    response = api.post("transactioncurrencies", {
        "isocurrencycode": "XTS", "currencyname": "Test", "currencysymbol": "T",
        "exchangerate": 1.0, "currencyprecision": 9})
    assert response.status_code == 400 and error_code(response) == "0x8004432f"


def test_bind_sets_a_lookup(api, account):
    contact = api.create("contacts", {
        "lastname": "Larsen", "firstname": "Anna",
        "parentcustomerid_account@odata.bind": f"/accounts({account['accountid']})"})
    assert contact["_parentcustomerid_value"] == account["accountid"]
    assert contact["fullname"] == "Anna Larsen"


def test_polymorphic_lookup_reads_with_its_logical_name(api, account):
    parent = api.create("contacts", {"lastname": "Parent"})
    child = api.create("contacts", {
        "lastname": "Child",
        "parentcustomerid_contact@odata.bind": f"contacts({parent['contactid']})"})
    response = api.get(f"contacts({child['contactid']})",
                       {"$select": "_parentcustomerid_value"},
                       {"Prefer": 'odata.include-annotations="*"'})
    body = response.json()
    assert body["_parentcustomerid_value"] == parent["contactid"]
    assert body["_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "contact"
    assert body["_parentcustomerid_value@OData.Community.Display.V1.FormattedValue"] == "Parent"


def test_bind_to_a_missing_record_is_refused(api):
    missing = new_id()
    response = api.post("contacts", {
        "lastname": "Larsen", "parentcustomerid_account@odata.bind": f"/accounts({missing})"})
    assert response.status_code == 404
    assert error_code(response) == "0x80040217"
    assert f"account With Id = {missing} Does Not Exist" in response.json()["error"]["message"]
    assert not Row.objects.filter(entity="contact").exists()


def test_bind_to_the_wrong_table_is_refused(api, account):
    response = api.post("accounts", {
        "name": "X", "primarycontactid@odata.bind": f"/accounts({account['accountid']})"})
    assert response.status_code == 400 and error_code(response) == "0x80048d19"


def test_bind_null_clears_a_lookup(api, account):
    contact = api.create("contacts", {
        "lastname": "Larsen",
        "parentcustomerid_account@odata.bind": f"/accounts({account['accountid']})"})
    api.patch(f"contacts({contact['contactid']})", {"parentcustomerid_account@odata.bind": None})
    body = api.get(f"contacts({contact['contactid']})").json()
    assert body["_parentcustomerid_value"] is None


def test_update_changes_the_version_and_modifiedon(api, account):
    response = api.patch(f"accounts({account['accountid']})", {"telephone1": "555"})
    assert response.status_code == 204
    assert response["OData-EntityId"].endswith(f"accounts({account['accountid']})")
    body = api.get(f"accounts({account['accountid']})").json()
    assert body["telephone1"] == "555" and body["name"] == "Contoso Ltd."
    assert body["versionnumber"] > account["versionnumber"]
    assert body["@odata.etag"] != account["@odata.etag"]


def test_patch_of_a_missing_record_creates_it(api):
    rowid = new_id()
    response = api.patch(f"accounts({rowid})", {"name": "Upserted"})
    assert response.status_code == 204
    assert Row.objects.get(rowid=rowid).data["name"] == "Upserted"


def test_if_match_star_prevents_create(api):
    rowid = new_id()
    response = api.patch(f"accounts({rowid})", {"name": "X"}, {"If-Match": "*"})
    assert response.status_code == 404 and error_code(response) == "0x80040217"
    assert not Row.objects.filter(rowid=rowid).exists()


def test_if_none_match_star_prevents_update(api, account):
    response = api.patch(f"accounts({account['accountid']})", {"name": "Changed"},
                         {"If-None-Match": "*"})
    assert response.status_code == 412 and error_code(response) == "0x80040237"
    assert api.get(f"accounts({account['accountid']})").json()["name"] == "Contoso Ltd."


def test_stale_etag_is_refused_with_412(api, account):
    url = f"accounts({account['accountid']})"
    first = api.patch(url, {"name": "First"}, {"If-Match": account["@odata.etag"]})
    assert first.status_code == 204
    response = api.patch(url, {"name": "Second"}, {"If-Match": account["@odata.etag"]})
    assert response.status_code == 412 and error_code(response) == "0x80060882"
    assert api.get(url).json()["name"] == "First"


def test_update_with_representation_answers_200(api, account):
    response = api.patch(f"accounts({account['accountid']})?$select=name", {"name": "New"},
                         {"Prefer": "return=representation"})
    assert response.status_code == 200 and response.json()["name"] == "New"


def test_delete(api, account):
    url = f"accounts({account['accountid']})"
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404
    assert api.delete(url).status_code == 404


def test_delete_with_stale_etag_is_refused(api, account):
    url = f"accounts({account['accountid']})"
    api.patch(url, {"name": "Changed"})
    response = api.delete(url, {"If-Match": account["@odata.etag"]})
    assert response.status_code == 412
    assert api.get(url).status_code == 200


def test_read_only_attributes_in_a_body_are_ignored(api):
    body = api.create("contacts", {"lastname": "Ito", "fullname": "Someone Else",
                                   "versionnumber": 1})
    assert body["fullname"] == "Ito" and body["versionnumber"] != 1


def test_invalid_json_is_refused(api, client, token):
    response = client.post(ROOT + "accounts", b"{not json", content_type="application/json",
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400


def test_unknown_entity_set_is_404(api):
    response = api.post("Accounts", {"name": "X"})
    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": "0x8006088a", "message": "Resource not found for the segment 'Accounts'."}


def test_create_multiple_answers_the_ids(api):
    chosen = new_id()
    response = api.post("accounts/Microsoft.Dynamics.CRM.CreateMultiple", {"Targets": [
        {"@odata.type": "Microsoft.Dynamics.CRM.account", "accountid": chosen, "name": "M1"},
        {"@odata.type": "Microsoft.Dynamics.CRM.account", "name": "M2"}]})
    assert response.status_code == 200
    ids = response.json()["Ids"]
    assert ids[0] == chosen and len(ids) == 2
    assert Row.objects.filter(entity="account").count() == 2


def test_create_multiple_is_all_or_nothing(api):
    response = api.post("accounts/Microsoft.Dynamics.CRM.CreateMultiple", {"Targets": [
        {"name": "Fine"}, {"name": "x" * 161}]})
    assert response.status_code == 400 and error_code(response) == "0x80044331"
    assert not Row.objects.filter(entity="account").exists()


def test_update_multiple(api, account):
    response = api.post("accounts/Microsoft.Dynamics.CRM.UpdateMultiple", {"Targets": [
        {"accountid": account["accountid"], "telephone1": "777"}]})
    assert response.status_code == 204
    assert Row.objects.get(rowid=account["accountid"]).data["telephone1"] == "777"
    missing = api.post("accounts/Microsoft.Dynamics.CRM.UpdateMultiple", {"Targets": [
        {"accountid": new_id(), "telephone1": "1"}]})
    assert missing.status_code == 404
