"""Match before create asks the CRM once for all match priorities (`In(no) or In(name)`), in as
few requests as Dataverse's URL length allows, and still couples by the first priority that
finds exactly one free row. Counted in requests, never timed."""

import pytest

from couplings_app.models import Coupling
from couplings_app.sync import matching
from couplings_app.sync.runner import synchronize_records
from dataverse import BatchOperation
from dataverse.query import encode
from erp_app.models import Customer, Salesperson
from mappings_app.choices import Direction
from tests.couplings_app.test_cost_per_page import coupled_basics  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])


@pytest.fixture
def match_reads(crm, monkeypatch):
    """The URLs of the CRM reads that look for match candidates (by a match field, not by id)."""
    seen = []
    transport = type(crm.transport)
    real = transport.request

    def spy(self, method, path, **kwargs):
        if method == "GET" and "CRM.In(" in path and "PropertyName='accountid'" not in path:
            seen.append(path)
        return real(self, method, path, **kwargs)

    monkeypatch.setattr(transport, "request", spy)
    return seen


def new_customers(n, prefix, **fields):
    seller = Salesperson.objects.get(code="JR")
    return [c.pk for c in Customer.objects.bulk_create([
        Customer(no=f"{prefix}{i:05d}", name=f"{prefix} customer {i}", salesperson=seller,
                 **fields) for i in range(n)])]


def coupled_account(pk):
    return str(Coupling.objects.get(local_model="erp_app.customer", local_id=pk,
                                    remote_entity="account").remote_id).lower()


def test_a_page_that_matches_nothing_costs_one_read_for_both_priorities(
        crm, coupled_basics, match_reads):  # noqa: F811
    job = synchronize_records(coupled_basics["CUSTOMER"], Direction.TO_CRM, client=crm,
                              only_coupled=False, local_ids=new_customers(60, "N"))
    assert job.inserted == 60
    assert len(match_reads) == 1
    assert "PropertyName='accountnumber'" in match_reads[0]
    assert "PropertyName='name'" in match_reads[0]


def test_the_second_priority_still_couples_when_the_first_finds_nothing(
        crm, coupled_basics, as_crm_user, match_reads):  # noqa: F811
    [pk] = new_customers(1, "M")
    account = as_crm_user.create("accounts", {"name": "M customer 0", "customertypecode": 3,
                                              "accountnumber": "OTHER-NO"})
    job = synchronize_records(coupled_basics["CUSTOMER"], Direction.TO_CRM, client=crm,
                              only_coupled=False, local_ids=[pk])
    assert (job.inserted, job.failed) == (0, 0)
    assert coupled_account(pk) == str(account).lower()
    assert len(match_reads) == 1


def test_the_first_priority_wins_over_a_second_that_finds_another_row(
        crm, coupled_basics, as_crm_user):  # noqa: F811
    [pk] = new_customers(1, "P")
    by_number, by_name = as_crm_user.batch([
        BatchOperation("POST", "accounts", data={"name": "Someone else", "customertypecode": 3,
                                                 "accountnumber": "P00000"}),
        BatchOperation("POST", "accounts", data={"name": "P customer 0", "customertypecode": 3,
                                                 "accountnumber": "ELSE"})])
    job = synchronize_records(coupled_basics["CUSTOMER"], Direction.TO_CRM, client=crm,
                              only_coupled=False, local_ids=[pk])
    assert (job.inserted, job.failed) == (0, 0)
    assert coupled_account(pk) == str(by_number.id).lower()
    assert by_name.id


def test_the_values_are_split_into_requests_that_fit_dataverses_url_length():
    wanted = {"name": {f"A rather long customer name, number {i}" for i in range(3000)},
              "accountnumber": {f"C{i:07d}" for i in range(3000)}}
    requests = matching._in_requests(wanted, matching.URL_BUDGET)
    sent = {name: set() for name in wanted}
    for clauses in requests:
        size = sum(len(encode(quoted)) + matching.IN_OVERHEAD for _, quoted in clauses)
        assert size <= matching.URL_BUDGET + matching.IN_OVERHEAD
        for name, quoted in clauses:
            values = quoted[1:-1].split("','")
            assert len(values) <= matching.VALUES_PER_IN
            sent[name].update(values)
    assert sent == wanted
    assert len(requests) < 2 * 3000 / matching.VALUES_PER_IN  # fewer than one per In of 500
