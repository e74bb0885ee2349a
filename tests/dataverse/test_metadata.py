"""Metadata: AttributeMetadata items and EntityDefinitions read into plain values."""

from decimal import Decimal

from dataverse import AttributeInfo

from .conftest import ROOT

ATTRS_URL = ROOT + "EntityDefinitions(LogicalName='account')/Attributes"


def label(text):
    return {
        "LocalizedLabels": [{"Label": text, "LanguageCode": 1033}],
        "UserLocalizedLabel": {"Label": text, "LanguageCode": 1033},
    }


ITEMS = [
    {
        "@odata.type": "#Microsoft.Dynamics.CRM.StringAttributeMetadata",
        "LogicalName": "name",
        "AttributeType": "String",
        "MaxLength": 160,
        "RequiredLevel": {"Value": "ApplicationRequired", "CanBeChanged": True},
        "IsValidForCreate": True,
        "IsValidForUpdate": True,
    },
    {
        "@odata.type": "#Microsoft.Dynamics.CRM.PicklistAttributeMetadata",
        "LogicalName": "customertypecode",
        "AttributeType": "Picklist",
        "RequiredLevel": {"Value": "None"},
        "IsValidForCreate": True,
        "IsValidForUpdate": True,
        "OptionSet": {
            "Options": [
                {"Value": 3, "Label": label("Customer")},
                {
                    "Value": 11,
                    "Label": {
                        "LocalizedLabels": [{"Label": "Prospect"}],
                        "UserLocalizedLabel": None,
                    },
                },
            ]
        },
    },
    {
        "@odata.type": "#Microsoft.Dynamics.CRM.LookupAttributeMetadata",
        "LogicalName": "parentaccountid",
        "AttributeType": "Lookup",
        "RequiredLevel": {"Value": "None"},
        "Targets": ["account"],
        "IsValidForCreate": True,
        "IsValidForUpdate": True,
    },
    {
        "@odata.type": "#Microsoft.Dynamics.CRM.MoneyAttributeMetadata",
        "LogicalName": "creditlimit",
        "AttributeType": "Money",
        "RequiredLevel": {"Value": "None"},
        "MinValue": -922337203685477.0,
        "MaxValue": 922337203685477.0,
        "Precision": 2,
    },
    {
        "@odata.type": "#Microsoft.Dynamics.CRM.UniqueIdentifierAttributeMetadata",
        "LogicalName": "accountid",
        "AttributeTypeName": {"Value": "UniqueidentifierType"},
        "RequiredLevel": {"Value": "SystemRequired"},
        "IsValidForCreate": True,
        "IsValidForUpdate": False,
    },
    {
        "@odata.type": "#Microsoft.Dynamics.CRM.StateAttributeMetadata",
        "LogicalName": "statecode",
        "AttributeType": "State",
        "RequiredLevel": {"Value": "SystemRequired"},
        "IsValidForCreate": False,
        "IsValidForUpdate": True,
        "OptionSet": {
            "Options": [
                {"Value": 0, "Label": label("Active")},
                {"Value": 1, "Label": label("Inactive")},
            ]
        },
    },
    {
        "@odata.type": "#Microsoft.Dynamics.CRM.BooleanAttributeMetadata",
        "LogicalName": "creditonhold",
        "AttributeType": "Boolean",
        "RequiredLevel": {"Value": "None"},
        "OptionSet": {
            "TrueOption": {"Value": 1, "Label": label("Yes")},
            "FalseOption": {"Value": 0, "Label": label("No")},
        },
    },
]


def test_entity_attributes_parses_attribute_metadata(rsps, dv):
    rsps.get(ATTRS_URL, json={"@odata.context": "...", "value": ITEMS})
    attrs = {a.name: a for a in dv.entity_attributes("account")}
    assert len(rsps.calls) == 1  # options were inline: no extra request
    assert attrs["name"] == AttributeInfo(
        name="name",
        type="String",
        max_length=160,
        required=True,
        options=None,
        targets=None,
        min_value=None,
        max_value=None,
        precision=None,
        valid_for_create=True,
        valid_for_update=True,
    )
    assert attrs["customertypecode"].options == {3: "Customer", 11: "Prospect"}
    assert attrs["customertypecode"].required is False
    assert attrs["parentaccountid"].targets == ["account"]
    assert attrs["parentaccountid"].type == "Lookup"
    money = attrs["creditlimit"]
    assert money.min_value == Decimal("-922337203685477.0")
    assert money.max_value == Decimal("922337203685477.0")
    assert money.precision == 2
    assert attrs["accountid"].type == "Uniqueidentifier"
    assert attrs["accountid"].required is True
    assert attrs["accountid"].valid_for_update is False
    assert attrs["statecode"].options == {0: "Active", 1: "Inactive"}
    assert attrs["statecode"].valid_for_create is False
    assert attrs["creditonhold"].options == {0: "No", 1: "Yes"}


def test_options_not_inline_are_read_per_type(rsps, dv):
    # Real Dataverse does not expand OptionSet in the Attributes list.
    items = [dict(i) for i in ITEMS]
    for item in items:
        item.pop("OptionSet", None)
    rsps.get(ATTRS_URL, json={"value": items})
    rsps.get(
        ATTRS_URL + "/Microsoft.Dynamics.CRM.PicklistAttributeMetadata",
        json={
            "value": [
                {
                    "LogicalName": "customertypecode",
                    "OptionSet": {"Options": [{"Value": 3, "Label": label("Customer")}]},
                }
            ]
        },
    )
    rsps.get(
        ATTRS_URL + "/Microsoft.Dynamics.CRM.StateAttributeMetadata",
        json={
            "value": [
                {
                    "LogicalName": "statecode",
                    "OptionSet": {"Options": [{"Value": 0, "Label": label("Active")}]},
                }
            ]
        },
    )
    rsps.get(
        ATTRS_URL + "/Microsoft.Dynamics.CRM.BooleanAttributeMetadata",
        json={
            "value": [
                {
                    "LogicalName": "creditonhold",
                    "OptionSet": {
                        "TrueOption": {"Value": 1, "Label": label("On hold")},
                        "FalseOption": {"Value": 0, "Label": label("Fine")},
                    },
                }
            ]
        },
    )
    attrs = {a.name: a for a in dv.entity_attributes("account")}
    assert attrs["customertypecode"].options == {3: "Customer"}
    assert attrs["statecode"].options == {0: "Active"}
    assert attrs["creditonhold"].options == {0: "Fine", 1: "On hold"}
    assert len(rsps.calls) == 4  # one per option type, not one per column
    assert "$expand=OptionSet" in rsps.calls[1].request.url


def test_entity_definitions(rsps, dv):
    rsps.get(
        ROOT + "EntityDefinitions",
        json={
            "value": [
                {
                    "LogicalName": "account",
                    "EntitySetName": "accounts",
                    "PrimaryIdAttribute": "accountid",
                    "PrimaryNameAttribute": "name",
                    "MetadataId": "70816501-edb9-4740-a16c-6a5efbc05d84",
                },
                {
                    "LogicalName": "contact",
                    "EntitySetName": "contacts",
                    "PrimaryIdAttribute": "contactid",
                    "PrimaryNameAttribute": "fullname",
                },
            ]
        },
    )
    defs = dv.entity_definitions()
    assert defs[0] == {
        "LogicalName": "account",
        "EntitySetName": "accounts",
        "PrimaryIdAttribute": "accountid",
        "PrimaryNameAttribute": "name",
    }
    assert defs[1]["EntitySetName"] == "contacts"
    assert rsps.calls[0].request.url.endswith(
        "EntityDefinitions?$select=LogicalName,EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute"
    )


def test_entity_definition(rsps, dv):
    rsps.get(
        ROOT + "EntityDefinitions(LogicalName='contact')",
        json={
            "LogicalName": "contact",
            "EntitySetName": "contacts",
            "PrimaryIdAttribute": "contactid",
            "PrimaryNameAttribute": "fullname",
        },
    )
    assert dv.entity_definition("contact")["PrimaryIdAttribute"] == "contactid"
