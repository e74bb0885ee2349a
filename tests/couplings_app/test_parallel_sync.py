"""The engine writing as Microsoft advises for Dataverse: pages sent in parallel requests up to
the server's `x-ms-dop-hint`, creates as CreateMultiple, 429s absorbed (issue #16, part 3).

The embedded CRM runs its Dataverse profile (crm_emulator/budget.py) on a shortened clock: the
server holds each request for its simulated server time, accounts the service-protection budgets
per user over a sliding window and answers 429 with Retry-After when one is exceeded.
"""

from collections import Counter

import pytest

from couplings_app.choices import JobStatus, SyncResult
from couplings_app.models import Coupling, MappingLock, SyncError, SyncJob
from couplings_app.sync.runner import synchronize
from crm_emulator import budget, unique
from erp_app.models import Customer
from mappings_app.choices import Direction
from tests.couplings_app.engine import synchronize_basics

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])


@pytest.fixture
def profile():
    """Dataverse's profile at 1/100 of its times, each request held long enough that parallel
    requests meet in the server."""
    yield lambda **overrides: budget.set_profile(time_scale=0.01, **overrides)
    budget.clear_profile()


def accounts_by_number(crm):
    return Counter(r.get("accountnumber") for page in crm.iter_pages(
        "accounts", select=["accountid", "accountnumber"], filter="customertypecode eq 3")
        for r in page)


def fail_by_design():
    """The demo's customers whose salesperson is not coupled: they fail in every run, with
    "Couple it first" (the demo shows that error on purpose)."""
    coupled = Coupling.objects.filter(local_model="erp_app.salesperson").values("local_id")
    return Customer.objects.exclude(salesperson__isnull=True).exclude(salesperson__in=coupled)


def assert_every_customer_once_in_the_crm(crm, failed=()):
    """Every customer but `failed` (and those failing by design) in the CRM once, coupled, its
    last synchronization a success; no account number twice."""
    failing = set(fail_by_design().values_list("no", flat=True)) | set(failed)
    customers = set(Customer.objects.values_list("no", flat=True)) - failing
    numbers = accounts_by_number(crm)
    assert {n for n, count in numbers.items() if n and count > 1} == set(), "a duplicate"
    assert customers <= set(numbers), f"not in the CRM: {sorted(customers - set(numbers))}"
    couplings = Coupling.objects.filter(
        local_model="erp_app.customer",
        local_id__in=Customer.objects.filter(no__in=customers).values("pk"))
    assert couplings.count() == len(customers)
    assert not couplings.filter(pending_create=True).exists()
    assert not couplings.exclude(last_result_to_crm=SyncResult.SUCCESS).exists()


def matched(crm, mapping):
    """The customers Match-Based Coupling couples to the demo's accounts."""
    from couplings_app.sync.coupling import match_based_coupling

    match_based_coupling(mapping, client=crm)
    return set(Coupling.objects.filter(local_model="erp_app.customer")
               .values_list("local_id", flat=True))


def paths(crm, monkeypatch):
    """The paths of the requests the client sends, as they go."""
    sent, real = [], crm.transport.request

    def request(method, path, *args, **kwargs):
        sent.append(path)
        return real(method, path, *args, **kwargs)

    monkeypatch.setattr(crm.transport, "request", request)
    return sent


def test_parallel_writes_keep_one_run_per_mapping(crm, demo, profile, monkeypatch):
    """A page's creates go as several CreateMultiple requests side by side; the run stays one
    job holding the mapping's claim, and every customer is created once."""
    synchronize_basics(crm, demo)
    profile(seconds_per_bulk_request=20)  # each bulk request held 0.2 s: they meet
    crm.batch_size = 1  # one request a create, all of one page
    mapping = demo["CUSTOMER"]
    matched(crm, mapping)
    seen, real_write = [], type(crm).write

    def write(self, operations, **kwargs):
        seen.append((list(SyncJob.objects.filter(mapping=mapping, status=JobStatus.RUNNING)
                          .values_list("pk", flat=True)),
                     MappingLock.objects.get(mapping=mapping).job_id))
        return real_write(self, operations, **kwargs)

    monkeypatch.setattr(type(crm), "write", write)
    sent = paths(crm, monkeypatch)
    before = SyncJob.objects.filter(mapping=mapping).count()
    jobs = synchronize(mapping, client=crm, direction=Direction.TO_CRM, full=True,
                       only_coupled=False)

    [job] = jobs
    assert job.status == JobStatus.SUCCEEDED, job.message
    assert seen and all(running == [job.pk] and holder == job.pk for running, holder in seen)
    assert sum(p.endswith("CreateMultiple") for p in sent) == job.inserted >= 3
    assert budget.usage()["max_concurrent_seen"] > 1, "the requests were not sent side by side"
    assert SyncJob.objects.filter(mapping=mapping).count() == before + 1
    assert_every_customer_once_in_the_crm(crm)


def test_a_429_storm_loses_nothing(crm, demo, profile):
    """Four requests a one-second window: most requests of the run are refused at first; every
    one is sent again after its Retry-After and nothing fails."""
    synchronize_basics(crm, demo)
    crm.batch_size = 2
    profile(window_seconds=100, max_requests=400)  # scaled: 4 requests per 1 s window
    mapping = demo["CUSTOMER"]

    [job] = synchronize(mapping, client=crm, direction=Direction.TO_CRM, full=True,
                        only_coupled=False)

    assert budget.usage()["throttled"] > 0, "no 429 was sent: the storm did not happen"
    assert job.status == JobStatus.SUCCEEDED, job.message
    designed = fail_by_design()
    assert job.failed == designed.count()
    assert set(SyncError.objects.filter(local_model="erp_app.customer")
               .values_list("local_id", flat=True)) == {c.pk for c in designed}
    assert_every_customer_once_in_the_crm(crm)


def test_a_refused_bulk_create_fails_only_its_bad_record(crm, demo, as_crm_user, monkeypatch):
    """CreateMultiple is all or nothing: one customer whose Account Number another account holds
    (an alternate key) makes the whole request fail; its records are sent again one by one in a
    `$batch`, so that customer fails alone, with its number in the error, and the others are
    created and coupled."""
    monkeypatch.setitem(unique.ALTERNATE_KEYS, "account",
                        (unique.alternate_key("Account Number Key", "accountnumber"),))
    synchronize_basics(crm, demo)
    bad = Customer.objects.exclude(pk__in=fail_by_design()).order_by("no")[3]
    # A competitor's account holds the number: outside the mapping's filter, so not matched.
    as_crm_user.create("accounts", {"name": "Not a customer", "accountnumber": bad.no,
                                    "customertypecode": 1})
    sent = paths(crm, monkeypatch)

    [job] = synchronize(demo["CUSTOMER"], client=crm, direction=Direction.TO_CRM, full=True,
                        only_coupled=False)

    assert any(p.endswith("CreateMultiple") for p in sent)
    assert "$batch" in sent, "the refused bulk request was not sent again record by record"
    assert job.failed == 1 + fail_by_design().count()
    error = SyncError.objects.get(local_model="erp_app.customer", local_id=bad.pk)
    assert bad.no in error.message and "Account Number" in error.message, error.message
    assert "Traceback" not in error.message and "Error(" not in error.message
    assert_every_customer_once_in_the_crm(crm, failed={bad.no})
