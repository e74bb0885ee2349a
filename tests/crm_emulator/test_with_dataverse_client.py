"""The project's own Dataverse client (dataverse/) against the embedded CRM over real HTTP: the
pairing the product runs with when no cloud CRM is configured."""

import uuid

import pytest

from crm_emulator import faults

pytest.importorskip("dataverse.client")
pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])


def test_create_read_update_delete(crm):
    client, _ = crm
    assert client.who_am_i()
    rowid = str(uuid.uuid4())
    assert client.create("accounts", {"name": "Client Co"}, id=rowid, key="accountid") == rowid
    assert client.get("accounts", rowid, select=["name"])["name"] == "Client Co"
    client.update("accounts", rowid, {"telephone1": "555"})
    client.upsert("accounts", str(uuid.uuid4()), {"name": "Upserted"})
    found = client.get_many("accounts", "accountid", [rowid], select=["name", "telephone1"])
    assert found[rowid]["telephone1"] == "555"
    client.delete("accounts", rowid)
    assert [r["name"] for r in client.iter_rows("accounts", select=["name"])] == ["Upserted"]


def test_batch_and_paging(crm):
    client, BatchOperation = crm
    ops = [BatchOperation("POST", "accounts", id=str(uuid.uuid4()), key="accountid",
                          data={"name": f"Batch {i:03d}"}) for i in range(120)]
    results = client.batch(ops)
    assert all(r.status < 300 for r in results), results[:3]
    rows = list(client.iter_rows("accounts", select=["name"]))
    assert len(rows) == 120


def test_create_multiple(crm):
    client, _ = crm
    records = [{"accountid": str(uuid.uuid4()), "name": f"Multi {i}"} for i in range(5)]
    results = client.create_multiple("accounts", "account", records, key="accountid")
    assert [r.id for r in results] == [r["accountid"] for r in records]


def test_metadata(crm):
    client, _ = crm
    definitions = {d["LogicalName"]: d for d in client.entity_definitions()}
    assert definitions["account"]["EntitySetName"] == "accounts"
    attributes = {a.name: a for a in client.entity_attributes("account")}
    assert attributes["name"].max_length == 160 and attributes["name"].required
    assert attributes["customertypecode"].options[11] == "Vendor"
    assert attributes["primarycontactid"].targets == ["contact"]


def test_retries_through_transient_faults(crm):
    client, _ = crm
    faults.set_faults(error_rate=0.3, error_statuses=[503])
    try:
        for i in range(10):
            client.create("accounts", {"name": f"Retry {i}"}, id=str(uuid.uuid4()),
                          key="accountid")
    finally:
        faults.clear_faults()
    assert len(list(client.iter_rows("accounts", select=["name"]))) == 10
