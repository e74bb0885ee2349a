# ruff: noqa: F811  (fixtures imported from live_conftest, then used as arguments)
"""`client.write` against the embedded CRM over real HTTP: bulk messages where they apply, the
all-or-nothing refusal of a bulk request turned into one failed record, updates that must match
the version compared kept out of UpdateMultiple, and the same results as `batch`.

The CRM, the client and their helpers are in live_conftest.py.
"""

from __future__ import annotations

import pytest

from crm_emulator import faults
from dataverse import BatchOperation, bulk
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


def names_of(client, ids):
    rows = client.get_many("accounts", "accountid", ids, select=["name"])
    return {str(k).lower(): v["name"] for k, v in rows.items()}


def test_a_refused_create_multiple_fails_only_its_bad_record(connect):
    client = connect(max_parallel=2)
    ids = [new_id() for _ in range(5)]
    names = ["one", "two", TOO_LONG, "four", "five"]
    before = client.request_count
    ops = [BatchOperation("POST", "accounts", id=i, key="accountid", data={"name": n})
           for i, n in zip(ids, names, strict=True)]
    results = client.write(ops)
    # the table read once, the CreateMultiple refused as a whole, the same records by $batch
    assert client.request_count - before == 3
    assert [r.ok for r in results] == [True, True, False, True, True]
    assert results[2].id == ids[2] and "name" in results[2].error.message
    assert names_of(client, ids) == {ids[n]: names[n] for n in (0, 1, 3, 4)}
    assert client.no_bulk == set()


def test_write_and_batch_leave_the_crm_alike(connect):
    def run(send):
        client = connect(max_parallel=3, batch_size=2)
        existing = create_accounts(client, ["a", "b", "c", "d"])
        current = client.get("accounts", existing[1], select=["name"])["@odata.etag"]
        fresh = [new_id() for _ in range(3)]
        ops = [
            *(BatchOperation("POST", "accounts", id=i, key="accountid", data={"name": f"new {n}"})
              for n, i in enumerate(fresh)),
            BatchOperation("PATCH", "accounts", id=existing[0], data={"name": "star"}),
            BatchOperation("PATCH", "accounts", id=existing[1], data={"name": "version"},
                           etag=current),
            BatchOperation("PATCH", "accounts", id=existing[2], data={"name": "stale"},
                           etag='W/"1"'),
            BatchOperation("DELETE", "accounts", id=existing[3]),
        ]
        results = send(client, ops)
        names = names_of(client, existing + fresh)
        return ([(r.ok, type(r.error).__name__ if r.error else None) for r in results],
                [names.get(i) for i in existing + fresh])

    by_write = run(lambda c, ops: c.write(ops))
    by_batch = run(lambda c, ops: c.batch(ops, continue_on_error=True))
    assert by_write == by_batch
    assert by_write[0] == [(True, None)] * 5 + [(False, "PreconditionFailed"), (True, None)]
    assert by_write[1] == ["star", "version", "c", None, "new 0", "new 1", "new 2"]


def test_a_create_multiple_whose_answer_was_lost_creates_each_record_once(connect):
    """The CreateMultiple is written but its answer lost; its resend is refused (the ids exist),
    the records go again by $batch, and "already exists" there settles as the first attempt's
    success: every record once, no error."""

    def sleep(seconds):
        faults.clear_faults()  # the resend gets through

    client = connect(sleep=sleep, max_parallel=2)
    client.write([])
    assert bulk.table_of(client, "accounts") is not None  # the table is known beforehand
    ids = [new_id() for _ in range(4)]
    faults.set_faults(drop_rate=1.0)
    before = client.request_count
    results = client.write([BatchOperation("POST", "accounts", id=i, key="accountid",
                                           data={"name": f"once {n}"})
                            for n, i in enumerate(ids)])
    assert [(r.ok, r.id) for r in results] == [(True, i) for i in ids]
    # CreateMultiple twice (its answer lost, then refused), the $batch, reading the ids back
    assert client.request_count - before == 4
    rows = list(client.iter_rows("accounts", select=["name"]))
    assert sorted(r["name"] for r in rows) == [f"once {n}" for n in range(4)]
