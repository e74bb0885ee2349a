"""A run that cannot tell its own writes from a person's does not run.

The engine knows its own CRM writes by their author, the integration user (WhoAmI). Without it
a run reads back what it just wrote as a person's change: every ERP-only edit would come back
as a conflict, and the job would still say Success. So when the Connection does not know the
integration user and WhoAmI fails or answers no user id, the jobs fail saying what to do, and
nothing is written on either side; when WhoAmI answers, the Connection keeps the user id, so
later runs (and `manage.py sync`) do not depend on Test Connection.
"""

import pytest

from couplings_app.choices import JobStatus
from couplings_app.models import Coupling, SyncError
from couplings_app.sync.coupling import match_based_coupling
from couplings_app.sync.runner import WHO_AM_I_FAILED, synchronize, synchronize_records
from crm_emulator import faults
from dataverse.errors import MalformedResponse
from erp_app.models import Customer
from mappings_app.choices import Direction
from mappings_app.connection import crm_client
from mappings_app.models import Connection, TableMapping
from tests.couplings_app.engine import synchronize_basics
from tests.reliability.test_crash import make_every_customer_synchronizable

pytestmark = [pytest.mark.slow,
              pytest.mark.django_db(transaction=True, databases=["default", "crm"])]


class Garbled:
    """The connection's client, but WhoAmI's answer is spoiled: garbled on the way (what the
    client reports as a malformed response), or an answer that holds no user id."""

    def __init__(self, client, answer=None):
        self._client, self._answer = client, answer

    def __getattr__(self, name):
        return getattr(self._client, name)

    def who_am_i(self):
        if self._answer is None:
            raise MalformedResponse("GET WhoAmI was answered with '{\"UserId\": \"9f1c2' (cut "
                                    "off): not JSON", method="GET")
        return self._answer


@pytest.fixture
def in_sync(crm, demo):
    """CUSTOMER coupled and synchronized both ways; then the Connection forgets the integration
    user (never tested, as on a machine set up with `manage.py` only)."""
    mapping = demo["CUSTOMER"]
    make_every_customer_synchronizable(crm)
    synchronize_basics(crm, demo)
    match_based_coupling(mapping, client=crm)
    synchronize(mapping, client=crm, full=True, only_coupled=False)
    Connection.objects.update(integration_user_id=None)
    return TableMapping.objects.get(pk=mapping.pk)


def crm_state(crm):
    return {row["accountid"]: row["modifiedon"] for page in crm.iter_pages(
        "accounts", select=["accountid", "modifiedon"]) for row in page}


def erp_only_edits():
    customers = list(Customer.objects.filter(
        pk__in=Coupling.objects.filter(local_model="erp_app.customer", pending_create=False)
        .values("local_id")))
    for customer in customers:
        customer.city = f"{customer.city[:20]} (moved)"
        customer.save()
    return len(customers)


@pytest.mark.parametrize("answer", [None, "not-a-user-id"], ids=["garbled", "no-guid"])
def test_a_run_that_cannot_tell_its_own_writes_fails_and_writes_nothing(in_sync, crm, answer):
    mapping = in_sync
    edited = erp_only_edits()
    assert edited >= 5
    before = (crm_state(crm), list(Coupling.objects.values().order_by("pk")),
              list(Customer.objects.values().order_by("pk")))
    with crm_client() as fresh:
        jobs = synchronize(mapping, client=Garbled(fresh, answer))
    assert [(j.direction, j.status) for j in jobs] == [
        (Direction.TO_CRM, JobStatus.FAILED), (Direction.FROM_CRM, JobStatus.FAILED)]
    for job in jobs:
        assert job.message == WHO_AM_I_FAILED
        assert "Could not find out which CRM user the synchronization runs as" in job.message
        assert "check the connection" in job.message.lower() and "run again" in job.message
        assert job.finished_at is not None and job.counters() == dict.fromkeys(job.COUNTERS, 0)
    assert "Malformed" not in WHO_AM_I_FAILED and "Error" not in WHO_AM_I_FAILED
    assert not SyncError.objects.filter(job__in=jobs).exists()
    after = (crm_state(crm), list(Coupling.objects.values().order_by("pk")),
             list(Customer.objects.values().order_by("pk")))
    assert after == before, "nothing is written on either side"
    mapping.refresh_from_db()
    assert (mapping.local_synced_until, mapping.remote_synced_until) == (
        in_sync.local_synced_until, in_sync.remote_synced_until)
    assert Connection.get().integration_user_id is None

    # Synchronize Now of single records is refused the same way.
    one = Customer.objects.filter(city__endswith="(moved)").first()
    with crm_client() as fresh:
        job = synchronize_records(mapping, Direction.TO_CRM, client=Garbled(fresh, answer),
                                  local_ids=[one.pk])
    assert (job.status, job.message) == (JobStatus.FAILED, WHO_AM_I_FAILED)
    assert crm_state(crm) == before[0]

    # Once WhoAmI answers, the run goes on and knows its own writes: no false conflict.
    with crm_client() as fresh:
        jobs = synchronize(mapping, client=fresh)
    assert [(j.status, j.modified, j.skipped, j.failed) for j in jobs] == [
        (JobStatus.SUCCEEDED, edited, 0, 0), (JobStatus.SUCCEEDED, 0, 0, 0)], [
        j.message for j in jobs]


def test_whoami_fault_of_the_crm_stops_the_run_too(in_sync, crm):
    """The embedded CRM's fault knob garbles every answer: WhoAmI's is the first the run asks,
    so the run stops there, before any write."""
    erp_only_edits()
    before = crm_state(crm)
    faults.set_faults(malformed_rate=1)
    try:
        with crm_client() as fresh:
            jobs = synchronize(in_sync, client=fresh)
    finally:
        faults.clear_faults()
    assert [(j.status, j.message) for j in jobs] == [(JobStatus.FAILED, WHO_AM_I_FAILED)] * 2
    assert crm_state(crm) == before


def test_whoami_answer_is_kept_on_the_connection(in_sync, crm_app):
    """Later runs and `manage.py sync` do not depend on Test Connection."""
    with crm_client() as fresh:
        synchronize(in_sync, client=fresh)
    assert str(Connection.get().integration_user_id) == str(crm_app)

    class NoWhoAmI:
        def __getattr__(self, name):
            return getattr(fresh_client, name)

        def who_am_i(self):
            raise AssertionError("asked again")

    with crm_client() as fresh_client:
        jobs = synchronize(in_sync, client=NoWhoAmI())
    assert {j.status for j in jobs} == {JobStatus.SUCCEEDED}
