"""Cost follows the page, not its size: queries and requests per page are constant."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from couplings_app.sync.coupling import match_based_coupling
from couplings_app.sync.runner import synchronize_records
from dataverse import BatchOperation
from erp_app.models import Customer, Salesperson
from mappings_app.choices import Direction

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])


def measure(crm, mapping, direction, **ids):
    requests_before = crm.request_count
    with CaptureQueriesContext(connection) as queries:
        job = synchronize_records(mapping, direction, client=crm, only_coupled=False, **ids)
    return len(queries), crm.request_count - requests_before, job


def assert_10_and_60_cost_the_same(crm, mapping, direction, new_ids, ids="local_ids"):
    """Inserts a page of 10 new records and one of 60 (`new_ids(count, prefix)` makes them):
    both cost as many queries and requests."""
    small = measure(crm, mapping, direction, **{ids: new_ids(10, "S")})
    large = measure(crm, mapping, direction, **{ids: new_ids(60, "L")})
    assert (small[2].inserted, large[2].inserted) == (10, 60)
    assert large[0] == small[0], "queries grew with the page"
    assert large[1] == small[1], "requests grew with the page"


@pytest.fixture
def coupled_basics(crm, demo):
    for name in ("CURRENCY", "SALESPEOPLE", "CUSTOMER"):
        match_based_coupling(demo[name], client=crm)
    # What a process does once (WhoAmI, the first look-ups of a run) is not a cost of a page.
    customer = Customer.objects.exclude(salesperson=None).first()
    synchronize_records(demo["CUSTOMER"], Direction.TO_CRM, client=crm, local_ids=[customer.pk])
    return demo


def test_to_crm_costs_the_same_for_a_page_of_10_or_60(crm, coupled_basics):
    seller = Salesperson.objects.get(code="JR")

    def customers(n, prefix):
        return [c.pk for c in Customer.objects.bulk_create([
            Customer(no=f"{prefix}{i:05d}", name=f"Bulk {prefix} {i}", city="Atlanta",
                     salesperson=seller) for i in range(n)])]

    assert_10_and_60_cost_the_same(crm, coupled_basics["CUSTOMER"], Direction.TO_CRM, customers)


def test_from_crm_costs_the_same_for_a_page_of_10_or_60(crm, coupled_basics, as_crm_user):
    def accounts(n, prefix):
        results = as_crm_user.batch([BatchOperation("POST", "accounts", data={
            "name": f"{prefix} account {i}", "customertypecode": 3,
            "accountnumber": f"{prefix}{i:05d}"}) for i in range(n)])
        return [r.id for r in results]

    assert_10_and_60_cost_the_same(crm, coupled_basics["CUSTOMER"], Direction.FROM_CRM, accounts,
                                   ids="remote_ids")


def test_an_update_page_costs_the_same_for_10_or_60(crm, coupled_basics):
    seller = Salesperson.objects.get(code="JR")
    pks = [c.pk for c in Customer.objects.bulk_create([
        Customer(no=f"U{i:05d}", name=f"Update {i}", salesperson=seller) for i in range(70)])]
    measure(crm, coupled_basics["CUSTOMER"], Direction.TO_CRM, local_ids=pks)
    Customer.objects.filter(pk__in=pks).update(city="Changed")
    small = measure(crm, coupled_basics["CUSTOMER"], Direction.TO_CRM, local_ids=pks[:10])
    large = measure(crm, coupled_basics["CUSTOMER"], Direction.TO_CRM, local_ids=pks[10:])
    assert (small[2].modified, large[2].modified) == (10, 60)
    assert large[0] == small[0] and large[1] == small[1]
