"""Metadata shaped like Dataverse's: EntityDefinitions, AttributeMetadata, WhoAmI, $metadata."""

import pytest

pytestmark = pytest.mark.django_db(databases=["default", "crm"])


def test_entity_definitions_with_select(api):
    response = api.get("EntityDefinitions", {
        "$select": "LogicalName,EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute"})
    assert response.status_code == 200
    by_name = {e["LogicalName"]: e for e in response.json()["value"]}
    assert by_name["account"]["EntitySetName"] == "accounts"
    assert by_name["account"]["PrimaryIdAttribute"] == "accountid"
    assert by_name["account"]["PrimaryNameAttribute"] == "name"
    assert by_name["transactioncurrency"]["EntitySetName"] == "transactioncurrencies"
    assert set(by_name["contact"]) == {"@odata.type", "MetadataId", "LogicalName",
                                       "EntitySetName", "PrimaryIdAttribute",
                                       "PrimaryNameAttribute"}
    assert len(by_name) == 11


def test_entity_definitions_filter(api):
    body = api.get("EntityDefinitions", {"$filter": "LogicalName eq 'product'"}).json()
    assert [e["EntitySetName"] for e in body["value"]] == ["products"]


def test_one_entity_definition(api):
    body = api.get("EntityDefinitions(LogicalName='account')").json()
    assert body["LogicalName"] == "account" and body["OwnershipType"] == "UserOwned"
    assert api.get("EntityDefinitions(LogicalName='nosuch')").status_code == 404


def attributes(api, logical_name):
    response = api.get(f"EntityDefinitions(LogicalName='{logical_name}')/Attributes")
    assert response.status_code == 200
    return {a["LogicalName"]: a for a in response.json()["value"]}


def test_string_attribute(api):
    name = attributes(api, "account")["name"]
    assert name["@odata.type"] == "#Microsoft.Dynamics.CRM.StringAttributeMetadata"
    assert name["AttributeType"] == "String"
    assert name["MaxLength"] == 160
    assert name["RequiredLevel"]["Value"] == "ApplicationRequired"
    assert name["IsValidForCreate"] is True and name["IsValidForUpdate"] is True
    assert name["IsPrimaryName"] is True


def test_lookup_attributes_name_their_targets(api):
    contact = attributes(api, "contact")
    assert contact["parentcustomerid"]["AttributeType"] == "Customer"
    assert contact["parentcustomerid"]["Targets"] == ["account", "contact"]
    assert contact["ownerid"]["AttributeType"] == "Owner"
    assert contact["fullname"]["IsValidForCreate"] is False
    uom = attributes(api, "uom")
    assert uom["uomscheduleid"]["Targets"] == ["uomschedule"]
    assert uom["uomscheduleid"]["RequiredLevel"]["Value"] == "SystemRequired"


def test_picklist_attribute_has_its_options(api):
    code = attributes(api, "account")["customertypecode"]
    assert code["@odata.type"] == "#Microsoft.Dynamics.CRM.PicklistAttributeMetadata"
    options = {o["Value"]: o["Label"]["UserLocalizedLabel"]["Label"]
               for o in code["OptionSet"]["Options"]}
    assert options[3] == "Customer" and options[11] == "Vendor" and len(options) == 12
    state = attributes(api, "product")["statecode"]
    assert state["AttributeType"] == "State"
    assert [o["Value"] for o in state["OptionSet"]["Options"]] == [0, 1, 2, 3]


def test_number_attributes_have_their_range(api):
    account = attributes(api, "account")
    assert account["creditlimit"]["AttributeType"] == "Money"
    assert account["creditlimit"]["Precision"] == 2
    assert "MinValue" in account["creditlimit"] and "MaxValue" in account["creditlimit"]
    assert attributes(api, "transactioncurrency")["exchangerate"]["Precision"] == 10
    assert attributes(api, "product")["quantitydecimal"]["MaxValue"] == 5


def test_attributes_cast_and_single(api):
    body = api.get("EntityDefinitions(LogicalName='account')/Attributes/"
                   "Microsoft.Dynamics.CRM.PicklistAttributeMetadata",
                   {"$select": "LogicalName"}).json()
    assert {a["LogicalName"] for a in body["value"]} == {
        "customertypecode", "paymenttermscode", "address1_shippingmethodcode"}
    single = api.get("EntityDefinitions(LogicalName='account')/Attributes(LogicalName='name')")
    assert single.json()["MaxLength"] == 160


def test_who_am_i(api, app_user):
    body = api.get("WhoAmI").json()
    assert body["UserId"] == str(app_user)
    assert body["BusinessUnitId"] and body["OrganizationId"]
    assert api.post("WhoAmI", {}).status_code == 405


def test_csdl_document(api):
    response = api.get("$metadata")
    assert response.status_code == 200
    assert b'<EntitySet Name="accounts" EntityType="mscrm.account" />' in response.content
