"""The engine fed malformed CRM answers: the job stops with a clear message, nothing is written
from the garbage, and the next run with a healthy CRM converges (no duplicate, nothing lost).

The answers are garbled between the real embedded CRM and the client (the client's HTTP session
is wrapped), or by the CRM's own fault knob (`malformed_rate`: the request is processed, then
the body is garbled: the write happened and the client cannot know).
"""

import json

import pytest

from couplings_app.choices import JobStatus
from couplings_app.models import Coupling, SyncError
from couplings_app.sync.runner import synchronize
from crm_emulator.faults import clear_faults, set_faults
from erp_app.models import Customer
from mappings_app.choices import DeletionConflictResolution, Direction
from mappings_app.models import FieldMapping, TableMapping
from tests.couplings_app.engine import synchronize_basics

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])

STOPPED = "The CRM did not answer as expected, so the job stopped: "


def garble(client, monkeypatch, wanted, change):
    """Answers of `client`'s requests for which `wanted(method, url)` holds go through
    `change(response)` first. Returns the URLs garbled."""
    session = client.transport.session
    real = session.request
    hits = []

    def request(method, url, **kwargs):
        response = real(method, url, **kwargs)
        if wanted(method, url):
            hits.append(url)
            change(response)
        return response

    monkeypatch.setattr(session, "request", request)
    return hits


def accounts_page(method, url):
    return method == "GET" and "/accounts?" in url and "customertypecode" in url


def set_body(body, content_type=None):
    def change(response):
        response._content = body(response.content) if callable(body) else body
        if content_type:
            response.headers["Content-Type"] = content_type
    return change


def edit_rows(edit):
    def body(content):
        page = json.loads(content)
        edit(page["value"])
        return json.dumps(page).encode()
    return set_body(body)


def erp_customers():
    return sorted(Customer.objects.values_list("pk", "no", "name", "city", "modified_at"))


def crm_account_ids(crm):
    return sorted(r["accountid"] for p in crm.iter_pages("accounts", select=["accountid"])
                  for r in p)


def from_crm(mapping, crm, full=True):
    [job] = synchronize(mapping, client=crm, direction=Direction.FROM_CRM, full=full,
                        only_coupled=False)
    return job


GARBAGE = [
    ("an HTML page", set_body(b"<html><head><title>Gateway Timeout</title></head></html>",
                              "text/html"), "with an HTML page (Gateway Timeout)"),
    ("truncated JSON", set_body(lambda c: c[: len(c) // 2]), "with something that is not JSON"),
    ("JSON that is not an object", set_body(b"[]"), "JSON that is not an object but list"),
    ("a page without value", set_body(b'{"@odata.context": "x"}'), 'with no "value"'),
    ("a row without its id", edit_rows(lambda rows: rows[1].pop("accountid")),
     "record 2 of the page has no usable id: its accountid has none"),
    ("a row without a selected attribute", edit_rows(lambda rows: rows[0].pop("name")),
     "lacks the selected attribute name"),
    ("a row whose id is not an id", edit_rows(lambda rows: rows[0].update(accountid=7)),
     "its accountid is 7"),
    ("a row twice", edit_rows(lambda rows: rows.append(dict(rows[0]))),
     "of the page are the same record"),
]


def test_a_garbled_page_from_the_crm_stops_the_job_and_writes_nothing(crm, demo, monkeypatch):
    mapping = demo["CUSTOMER"]
    before, couplings = erp_customers(), Coupling.objects.count()
    for what, change, says in GARBAGE:
        hits = garble(crm, monkeypatch, accounts_page, change)
        job = from_crm(mapping, crm)
        assert hits, what
        assert job.status == JobStatus.FAILED, what
        assert job.message.startswith(STOPPED + "GET http"), (what, job.message)
        assert says in job.message and "/accounts?$select=" in job.message, (what, job.message)
        assert "Records done so far are kept; the next run goes on from there." in job.message
        assert (job.inserted, job.modified, job.coupled) == (0, 0, 0), what
        assert erp_customers() == before, what
        assert Coupling.objects.count() == couplings, what
        mapping.refresh_from_db()
        assert mapping.remote_synced_until is None, what  # the watermark did not move past it
        monkeypatch.undo()
    # A healthy CRM: the same run takes every account, once.
    job = from_crm(mapping, crm)
    assert job.status == JobStatus.SUCCEEDED, job.message
    assert job.inserted > 0  # (and some fail on values: test_values_dont_fit.py)
    # Each new, or coupled to the customer of its name (match before create).
    assert Coupling.objects.filter(local_model="erp_app.customer").count() == job.coupled
    assert Customer.objects.count() == len(before) + job.inserted
    # Coupled now: a row without its name must not blank the ERP customer's name.
    names = erp_customers()
    garble(crm, monkeypatch, accounts_page, edit_rows(lambda rows: [r.pop("name") for r in rows]))
    job = from_crm(mapping, crm)
    assert job.status == JobStatus.FAILED and "lacks the selected attribute name" in job.message
    assert erp_customers() == names


def couple_customers_to_crm(crm, demo):
    synchronize_basics(crm, demo)


def confirmed_ids():
    """The CRM ids of the customers' couplings that are not pending a create."""
    return {str(i) for i in Coupling.objects.filter(
        local_model="erp_app.customer", pending_create=False).values_list("remote_id", flat=True)}


def to_crm(crm, full=True):
    [job] = synchronize(TableMapping.objects.get(name="CUSTOMER"), client=crm,
                        direction=Direction.TO_CRM, full=full, only_coupled=False)
    return job


def test_a_garbled_create_answer_stops_the_job_and_the_next_run_creates_nothing_twice(
        crm, demo, monkeypatch):
    couple_customers_to_crm(crm, demo)
    # Only the creates' CreateMultiple is garbled here: no request to match customers to
    # accounts first. (A garbled $batch answer: the tests below.)
    FieldMapping.objects.filter(table_mapping=demo["CUSTOMER"]).update(use_for_matching=False)
    accounts = crm_account_ids(crm)
    # The CRM writes every record of the request, then its answer is garbled.
    set_faults(malformed_rate=1.0)
    try:
        job = to_crm(crm)
    finally:
        clear_faults()
    assert job.status == JobStatus.FAILED
    assert job.message.startswith(STOPPED + "POST http")
    assert "/accounts/Microsoft.Dynamics.CRM.CreateMultiple was answered HTTP 200 with " \
        "something that is not JSON" in job.message
    created = set(crm_account_ids(crm)) - set(accounts)
    assert created  # the CRM has them; the ERP does not know it yet...
    customer_couplings = Coupling.objects.filter(local_model="erp_app.customer")
    # ...but it remembered the ids it chose, and no coupling says "done" for one of them.
    assert created <= {str(i) for i in customer_couplings.filter(
        pending_create=True).values_list("remote_id", flat=True)}
    # (A customer coupled to the account of its name before the batch is confirmed: it was there.)
    assert not created & confirmed_ids()
    job = to_crm(crm)
    assert job.status == JobStatus.SUCCEEDED, job.message
    assert job.inserted == len(created)  # confirmed, not sent again
    assert job.failed == SyncError.objects.filter(job=job, message__contains="is not coupled")\
        .count()  # the demo's salesperson RB is not coupled: those fail on their values
    assert set(crm_account_ids(crm)) - set(accounts) == created  # not one created twice
    assert confirmed_ids() - set(accounts) == created


def test_a_cut_off_batch_answer_confirms_no_record_nor_a_row_without_its_id_a_deletion(
        crm, demo, monkeypatch):
    # (Other garbled $batch answers: tests/dataverse/test_malformed.py.)
    couple_customers_to_crm(crm, demo)
    accounts = crm_account_ids(crm)
    garble(crm, monkeypatch, lambda method, url: url.endswith("/$batch"),
           set_body(lambda c: c[: len(c) * 2 // 3]))
    job = to_crm(crm)
    assert job.status == JobStatus.FAILED and "the multipart body is cut off" in job.message
    assert confirmed_ids() <= set(accounts)  # matched by name only: no create is confirmed
    monkeypatch.undo()
    job = to_crm(crm)
    assert job.status == JobStatus.SUCCEEDED, job.message
    customer_couplings = Coupling.objects.filter(local_model="erp_app.customer")
    assert set(crm_account_ids(crm)) - set(accounts) == confirmed_ids() - set(accounts)  # once
    # What is still pending failed on its values (the demo's salesperson RB is not coupled),
    # not on the garbled answer.
    assert job.failed == customer_couplings.filter(pending_create=True).count() == \
        SyncError.objects.filter(job=job, message__contains="is not coupled").count()

    # Coupled now. A coupled row read back without its id is not a deleted account: left out,
    # the engine would think it deleted and, with the Restore policy, create it a second time.
    TableMapping.objects.filter(name="CUSTOMER").update(
        deletion_conflict_resolution=DeletionConflictResolution.RESTORE)
    customer = Customer.objects.order_by("no").first()
    Customer.objects.filter(pk=customer.pk).update(fax_no="+1 555 0100")
    couplings = sorted(Coupling.objects.filter(local_model="erp_app.customer")
                       .values_list("local_id", "remote_id"))
    accounts = crm_account_ids(crm)
    hits = garble(crm, monkeypatch,
                  lambda method, url: method == "GET" and "/accounts?" in url
                  and "Microsoft.Dynamics.CRM.In" in url,
                  edit_rows(lambda rows: [r.pop("accountid") for r in rows]))
    job = to_crm(crm, full=False)
    assert hits
    assert job.status == JobStatus.FAILED and "has no usable id" in job.message, job.message
    assert crm_account_ids(crm) == accounts
    assert sorted(Coupling.objects.filter(local_model="erp_app.customer")
                  .values_list("local_id", "remote_id")) == couplings
    # The page before (the records that failed last time) went on as usual; nothing of the
    # garbled one was taken for a deletion.
    assert set(SyncError.objects.filter(job=job).values_list("local_id", flat=True)) <= set(
        Coupling.objects.filter(local_model="erp_app.customer", pending_create=True)
        .values_list("local_id", flat=True))
