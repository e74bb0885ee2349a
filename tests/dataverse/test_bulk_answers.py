"""A bulk message's success is trusted only when its answer reads as Dataverse documents it:
CreateMultiple answers the ids of the records it created (a garbled or foreign answer stops the
write with MalformedResponse; the records' couplings stay pending for the next run to settle)."""

import uuid

import pytest

from dataverse import BatchOperation
from dataverse.errors import MalformedResponse
from tests.dataverse.conftest import ROOT

CREATE_MULTIPLE = ROOT + "accounts/Microsoft.Dynamics.CRM.CreateMultiple"


@pytest.fixture
def client(make_client):
    client = make_client(max_parallel=1)
    client.know_table("accounts", "account", "accountid")
    return client


def creates(n=2):
    ids = [str(uuid.uuid4()) for _ in range(n)]
    return ids, [BatchOperation("POST", "accounts", id=i, data={"name": f"A {i}"},
                                key="accountid") for i in ids]


def test_the_ids_sent_answered_back_confirm_every_create(rsps, client):
    ids, ops = creates()
    rsps.post(CREATE_MULTIPLE, json={"Ids": [i.upper() for i in reversed(ids)]})
    results = client.write(ops)
    assert [r.ok for r in results] == [True, True]
    assert [r.id for r in results] == ids


@pytest.mark.parametrize("answer", [
    {"Ids": []},
    {"Ids": ["not-one-of-ours", "nor-this"]},
    {"ids": None},
    ["a list"],
])
def test_an_answer_with_other_ids_confirms_nothing(rsps, client, answer):
    _, ops = creates()
    rsps.post(CREATE_MULTIPLE, json=answer)
    with pytest.raises(MalformedResponse) as caught:
        client.write(ops)
    assert "CreateMultiple" in str(caught.value) and "ids" in str(caught.value)


def test_a_garbled_answer_confirms_nothing(rsps, client):
    _, ops = creates()
    rsps.post(CREATE_MULTIPLE, body=b'{"Ids": ["74b8e392-8e5c', status=200,
              content_type="application/json")
    with pytest.raises(MalformedResponse) as caught:
        client.write(ops)
    assert "not JSON" in str(caught.value)


def test_update_multiple_answers_no_content(rsps, client):
    rsps.post(ROOT + "accounts/Microsoft.Dynamics.CRM.UpdateMultiple", status=204)
    ops = [BatchOperation("PATCH", "accounts", id=str(uuid.uuid4()), data={"name": "B"},
                          etag="*") for _ in range(2)]
    assert [r.ok for r in client.write(ops)] == [True, True]
