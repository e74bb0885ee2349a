"""`client.write`: parallel requests bounded by max_parallel and the service's x-ms-dop-hint, a
Retry-After that holds back every thread, bulk messages that fall back record by record, and the
sequential client unchanged. Against `FakeCrm` (tests/dataverse/fake_crm.py); nothing is timed:
requests in flight and requests sent are counted."""

from __future__ import annotations

import re
import threading

import pytest

from dataverse import BatchOperation, ClientCredentials, DataverseClient, Throttled
from dataverse.parallel import MAX_CONCURRENT, Gate, width_of

from .fake_crm import BAD, ROOT, TOKEN_URL, FakeCrm, VirtualTime


def guid(n: int) -> str:
    return f"00000000-0000-0000-0000-{n:012d}"


def creates(count: int, start: int = 0, bad=()) -> list[BatchOperation]:
    return [BatchOperation("POST", "accounts", id=guid(n), key="accountid",
                           data={"name": BAD if n in bad else f"account {n}"})
            for n in range(start, start + count)]


def client_of(crm: FakeCrm, **kw) -> DataverseClient:
    kw.setdefault("sleep", crm.time.sleep if crm.time else (lambda s: None))
    client = DataverseClient(ROOT, auth="t", session=crm, **kw)
    if crm.time:
        client.transport.gate.clock = crm.time.clock
    return client


def outcome(results):
    return [(r.status, r.id, r.error.message if r.error else None) for r in results]


def bulk_requests(crm: FakeCrm, message: str) -> int:
    return sum(1 for s in crm.sent if s.path.endswith(f"Microsoft.Dynamics.CRM.{message}"))


def batch_requests(crm: FakeCrm) -> int:
    return sum(1 for s in crm.sent if s.path == "$batch")


# --- the contract of batch(ops, continue_on_error=True) -----------------------------------------


def mixed_operations() -> list[BatchOperation]:
    """Creates (one refused), updates matching a version and updates with If-Match *, deletes."""
    return [
        *creates(5, bad={3}),
        BatchOperation("PATCH", "accounts", id=guid(100), data={"name": "v"}, etag='W/"1"'),
        BatchOperation("PATCH", "accounts", id=guid(101), data={"name": "v"}, etag='W/"7"'),
        BatchOperation("PATCH", "accounts", id=guid(102), data={"name": "star"}),
        BatchOperation("PATCH", "accounts", id=guid(103), data={"name": BAD}),
        BatchOperation("DELETE", "accounts", id=guid(104)),
        BatchOperation("PATCH", "accounts", id=guid(999), data={"name": "gone"}),
        *creates(4, start=10),
    ]


def seeded() -> FakeCrm:
    crm = FakeCrm()
    for n in range(100, 105):
        crm.records[guid(n)] = {"accountid": guid(n), "name": "old"}
        crm.versions[guid(n)] = 1
    return crm


def test_write_gives_the_results_of_batch_in_order():
    by_batch, by_write = seeded(), seeded()
    expected = client_of(by_batch, batch_size=3).batch(mixed_operations(), continue_on_error=True)
    results = client_of(by_write, batch_size=3, max_parallel=4).write(mixed_operations())
    assert outcome(results) == outcome(expected)
    assert [r.ok for r in results] == [True, True, True, False, True,
                                       True, False, True, False, True, False,
                                       True, True, True, True]
    assert by_write.records == by_batch.records
    # creates and the If-Match * updates went in bulk messages; updates with a version did not
    assert bulk_requests(by_write, "CreateMultiple") >= 1
    assert bulk_requests(by_write, "UpdateMultiple") >= 1
    versioned = [s for s in by_write.sent if 'If-Match: W/"' in s.body]
    assert versioned and all(s.path == "$batch" for s in versioned)


def test_the_sequential_client_sends_what_batch_sends():
    def requests_of(send):
        crm = seeded()
        send(client_of(crm, batch_size=4, max_parallel=1, bulk=False))
        uuids = re.compile(r"(batch|changeset)_[0-9a-f-]{36}")
        return [(s.method, s.path, uuids.sub(r"\1_x", s.body)) for s in crm.sent]

    by_write = requests_of(lambda c: c.write(mixed_operations()))
    by_batch = requests_of(lambda c: c.batch(mixed_operations(), continue_on_error=True))
    assert by_write == by_batch
    assert len(by_write) == 4 and all(path == "$batch" for _, path, _ in by_write)


def test_operations_on_one_record_twice_keep_their_order():
    crm = FakeCrm(hold=0)
    ops = [*creates(1), BatchOperation("PATCH", "accounts", id=guid(0), data={"name": "after"})]
    results = client_of(crm, batch_size=1, max_parallel=4).write(ops)
    assert [r.ok for r in results] == [True, True]
    assert crm.records[guid(0)]["name"] == "after"


# --- bounded parallelism ------------------------------------------------------------------------


def test_requests_in_flight_never_exceed_max_parallel():
    crm = FakeCrm(hold=3)
    client = client_of(crm, batch_size=10, max_parallel=3, bulk=False)
    results = client.write(creates(120))
    assert all(r.ok for r in results)
    assert batch_requests(crm) == 12
    assert crm.max_in_flight == 3


def test_requests_in_flight_follow_the_dop_hint():
    crm = FakeCrm(dop_hint=2, hold=2)
    client = client_of(crm, batch_size=10, max_parallel=8, bulk=False)
    list(client.iter_rows("accounts"))  # the service tells its hint with every answer
    assert client.transport.dop_hint == 2
    results = client.write(creates(80))
    assert all(r.ok for r in results)
    assert crm.max_in_flight == 2


def test_two_writes_at_once_share_the_bound():
    crm = FakeCrm(hold=2)
    client = client_of(crm, batch_size=10, max_parallel=2, bulk=False)
    done: list = []
    writers = [threading.Thread(target=lambda n=n: done.append(client.write(creates(40, 100 * n))))
               for n in range(2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert [all(r.ok for r in results) for results in done] == [True, True]
    assert batch_requests(crm) == 8 and crm.max_in_flight == 2


def test_never_more_than_dataverse_concurrency_limit():
    assert width_of(500, None) == MAX_CONCURRENT == 52
    assert width_of(500, 80) == 52
    assert width_of(4, 80) == 4
    assert width_of(8, 3) == 3
    assert width_of(0, None) == 1


def test_the_connection_pool_holds_max_parallel_connections():
    client = DataverseClient(ROOT, auth="t", max_parallel=24)
    adapter = client.transport.session.get_adapter(ROOT)
    assert adapter._pool_maxsize == 24


# --- 429 across threads -------------------------------------------------------------------------


def test_a_429_storm_on_several_threads_loses_nothing():
    crm = FakeCrm(hold=0, throttle_every=5, retry_after=10, time=VirtualTime())
    client = client_of(crm, batch_size=7, max_parallel=4, max_retries=20, bulk=False)
    crm.watch(client)
    results = client.write(creates(210))
    assert [r.id for r in results] == [guid(n) for n in range(210)]
    assert all(r.ok for r in results)
    assert len(crm.records) == 210
    assert crm.throttled >= 4  # the storm happened
    assert crm.sent_while_blocked == 0  # no thread sent during a Retry-After it had heard of
    assert client.request_count == len(crm.sent)


def test_a_429_holds_back_the_other_threads():
    now = [1000.0]
    gate = Gate(lambda: now[0])
    gate.close_for(30)  # this thread was told; it sleeps those 30 s itself
    mine: list[float] = []
    gate.wait(mine.append)
    theirs: list[float] = []
    other = threading.Thread(target=gate.wait, args=(theirs.append,))
    other.start()
    other.join()
    assert mine == [] and theirs == [30]


def test_a_wait_longer_than_max_retry_after_sends_nothing():
    crm = FakeCrm()
    client = client_of(crm, max_retry_after=60)
    client.transport.gate.close_for(600)
    waiter = threading.Thread(target=lambda: caught.append(_write_raises(client)))
    caught: list = []
    waiter.start()
    waiter.join()
    assert isinstance(caught[0], Throttled) and caught[0].retry_after > 500
    assert crm.sent == []


def _write_raises(client):
    try:
        client.write(creates(2))
    except Throttled as exc:
        return exc
    return None


def test_request_count_is_exact_and_the_token_renewed_once_under_threads():
    crm = FakeCrm(hold=4, refuse_token="token-1", tokens=["token-1", "token-2"])
    auth = ClientCredentials(TOKEN_URL, "id", "secret", "https://org.crm.dynamics.com/.default")
    client = DataverseClient(ROOT, auth=auth, session=crm, batch_size=10, max_parallel=4,
                             bulk=False, sleep=lambda s: None)
    results = client.write(creates(160))
    assert all(r.ok for r in results)
    assert auth.token_requests == 2  # the first token, and one renewal for every thread's 401
    assert client.request_count == len(crm.sent) == 16 + 4


# --- bulk messages ------------------------------------------------------------------------------


def test_a_bulk_request_refused_for_one_record_writes_the_others():
    crm = FakeCrm()
    client = client_of(crm, max_parallel=2)
    results = client.write(creates(6, bad={2}))
    assert [r.ok for r in results] == [True, True, False, True, True, True]
    assert "the name is BAD" in results[2].error.message
    assert results[2].id == guid(2)
    assert sorted(crm.records) == [guid(n) for n in (0, 1, 3, 4, 5)]
    # one bulk request (refused as a whole), then the same records by $batch
    assert bulk_requests(crm, "CreateMultiple") == 1 and batch_requests(crm) == 1
    assert client.no_bulk == set()  # a refused record says nothing against the message


def test_a_bulk_message_the_table_lacks_falls_back_and_is_remembered():
    crm = FakeCrm(unsupported={"CreateMultiple"})
    client = client_of(crm, max_parallel=2)
    assert all(r.ok for r in client.write(creates(3)))
    assert client.no_bulk == {("accounts", "CreateMultiple")}
    assert all(r.ok for r in client.write(creates(3, start=3)))
    assert bulk_requests(crm, "CreateMultiple") == 1  # asked once, then never again
    assert batch_requests(crm) == 2
    assert len(crm.records) == 6


def test_bulk_messages_go_in_chunks_of_batch_size_one_table_read_once():
    crm = FakeCrm()
    client = client_of(crm, batch_size=4, max_parallel=3)
    assert all(r.ok for r in client.write(creates(10)))
    assert bulk_requests(crm, "CreateMultiple") == 3
    assert sum(1 for s in crm.sent if s.path.startswith("EntityDefinitions")) == 1
    assert all(r.ok for r in client.write(creates(2, start=10)))
    assert sum(1 for s in crm.sent if s.path.startswith("EntityDefinitions")) == 1


def test_no_bulk_messages_on_a_plain_odata_service():
    crm = FakeCrm()
    client = client_of(crm, dataverse_features=False, max_parallel=2)
    assert all(r.ok for r in client.write(creates(3)))
    assert bulk_requests(crm, "CreateMultiple") == 0 and batch_requests(crm) == 1


@pytest.mark.parametrize("bulk", [True, False])
def test_write_of_nothing_sends_nothing(bulk):
    crm = FakeCrm()
    assert client_of(crm, bulk=bulk).write([]) == []
    assert crm.sent == []


def test_bulk_targets_carry_the_table_type_and_the_record_id():
    from dataverse.bulk import CREATE, UPDATE, UPSERT, Table, message_for, target

    table = Table("account", "accountid")
    create = creates(1)[0]
    update = BatchOperation("PATCH", "accounts", id=guid(1), data={"name": "n"})
    upsert = BatchOperation("UPSERT", "accounts", id=guid(2), data={"name": "u"})
    versioned = BatchOperation("PATCH", "accounts", id=guid(3), data={}, etag='W/"5"')
    headed = BatchOperation("PATCH", "accounts", id=guid(4), data={}, headers={"X": "1"})
    plain_create = BatchOperation("POST", "accounts", data={"name": "no id"})
    assert [message_for(op) for op in (create, update, upsert, versioned, headed,
                                       plain_create)] == [CREATE, UPDATE, UPSERT, None, None,
                                                          None]
    assert target(create, table, CREATE) == {"@odata.type": "Microsoft.Dynamics.CRM.account",
                                             "name": "account 0", "accountid": guid(0)}
    assert target(update, table, UPDATE)["accountid"] == guid(1)
    assert target(upsert, table, UPSERT)["@odata.id"] == f"accounts({guid(2)})"


def test_a_table_the_service_does_not_describe_goes_by_batch():
    crm = FakeCrm(describe=False)
    client = client_of(crm, max_parallel=2)
    assert all(r.ok for r in client.write(creates(3)))
    assert bulk_requests(crm, "CreateMultiple") == 0 and batch_requests(crm) == 1
    assert client.tables == {"accounts": None}


def test_a_table_told_beforehand_is_not_read_from_the_metadata():
    crm = FakeCrm()
    client = client_of(crm, max_parallel=2)
    client.know_table("accounts", "account", "accountid")
    assert all(r.ok for r in client.write(creates(3)))
    assert [s.path for s in crm.sent] == ["accounts/Microsoft.Dynamics.CRM.CreateMultiple"]
