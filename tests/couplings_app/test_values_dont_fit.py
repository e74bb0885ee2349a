"""Values that do not fit the other side: exactly that record fails, the rest of its page goes on.

Each failure is a SyncError whose message names the record, the field, the value (shortened when
huge) and the limit. The conversions themselves are specified one by one in
tests/mappings_app/test_values.py (a date that is not a date among them); here they run inside a
synchronization job against the embedded CRM.
"""

import json
from decimal import Decimal

import pytest

from couplings_app.choices import JobStatus, SyncResult
from couplings_app.models import Coupling, SyncError
from couplings_app.sync.runner import synchronize
from erp_app.models import Customer, ShippingAgent
from mappings_app.choices import Direction, TransformationType
from mappings_app.models import EntityMetadata, FieldMapping, TransformationRule
from tests.couplings_app.engine import synchronize_basics

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])


def errors_of(job):
    return {e.local_id or str(e.remote_id): e.message for e in SyncError.objects.filter(job=job)}


def set_crm_column(logical_name, attribute, **properties):
    """The CRM's description of a column, as Test Connection would have read it."""
    meta = EntityMetadata.objects.get(logical_name=logical_name)
    for item in meta.attributes:
        if item["name"] == attribute:
            item.update(properties)
    meta.save()


def test_erp_values_that_do_not_fit_the_crm_fail_alone(crm, demo):
    synchronize_basics(crm, demo)
    Customer.objects.filter(salesperson__code="RB").update(salesperson=None)  # not in the CRM
    # Every customer is a new account here (none is coupled by name to one the CRM has).
    FieldMapping.objects.filter(table_mapping=demo["CUSTOMER"]).update(use_for_matching=False)
    long_city, rich, zeppelin, sussex, *fine = Customer.objects.order_by("no")
    # The CRM's City column was narrowed to 12 characters.
    set_crm_column("account", "address1_city", max_length=12)
    Customer.objects.update(city="Oslo", county="Kent")
    Customer.objects.filter(pk=long_city.pk).update(city="Llanfairpwllgwyngyll")
    # Credit Limit is a Money column: at most 922,337,203,685,477.
    Customer.objects.filter(pk=rich.pk).update(credit_limit_lcy=Decimal("1000000000000000.00"))
    # Shipping Method is an option set without this agent.
    agent = ShippingAgent.objects.create(code="ZEPPELIN", description="Airship freight")
    Customer.objects.filter(pk=zeppelin.pk).update(shipping_agent=agent)
    # County → a number column through a lookup table that lacks one county: text arrives.
    rank = TransformationRule.objects.create(code="COUNTY-RANK", type=TransformationType.LOOKUP,
                                             lookup_table={"Kent": "1500"})
    FieldMapping.objects.create(table_mapping=demo["CUSTOMER"], position=99, local_field="county",
                                remote_attribute="nav_totalsales", direction=Direction.TO_CRM,
                                transformation_rule=rank)
    Customer.objects.filter(pk=sussex.pk).update(county="Sussex")

    [job] = synchronize(demo["CUSTOMER"], client=crm, direction=Direction.TO_CRM, full=True,
                        only_coupled=False)

    assert job.status == JobStatus.SUCCEEDED, job.message
    assert errors_of(job) == {
        long_city.pk: f"Customer {long_city.no}: address1_city: 'Llanfairpwllgwyngyll' is 20 "
                      "characters; the CRM holds at most 12.",
        rich.pk: f"Customer {rich.no}: creditlimit: 1000000000000000.00 is above the CRM's "
                 "maximum 922337203685477.",
        zeppelin.pk: f"Customer {zeppelin.no}: address1_shippingmethodcode: 'ZEPPELIN' matches "
                     "no option of the CRM (1 Airborne, 2 DHL, 3 FedEx, 4 UPS, 5 Postal Mail, 6 "
                     "Full Load, 7 Will Call). Add a Value Lookup Table transformation to "
                     "translate it.",
        sussex.pk: f"Customer {sussex.no}: nav_totalsales: 'Sussex' is not a number.",
    }
    assert (job.inserted, job.failed) == (len(fine), 4)
    couplings = Coupling.objects.filter(local_model="erp_app.customer")
    assert set(couplings.filter(last_result_to_crm=SyncResult.SUCCESS)
               .values_list("local_id", flat=True)) == {c.pk for c in fine}
    # The failed ones are retried first next time; none of them reached the CRM.
    failed = couplings.filter(last_result_to_crm=SyncResult.FAILURE)
    assert set(failed.values_list("local_id", flat=True)) == {
        long_city.pk, rich.pk, zeppelin.pk, sussex.pk}
    assert not crm.get_many("accounts", "accountid",
                            [str(c) for c in failed.values_list("remote_id", flat=True)])
    account = crm.get_many("accounts", "accountid", [str(couplings.get(local_id=fine[0].pk)
                                                         .remote_id)])
    assert [a["nav_totalsales"] for a in account.values()] == [Decimal("1500")]


def test_crm_values_that_do_not_fit_the_erp_fail_alone(crm, demo, as_crm_user, monkeypatch):
    mapping = demo["CUSTOMER"]
    FieldMapping.objects.filter(table_mapping=mapping, remote_attribute="creditlimit").update(
        direction=Direction.BIDIRECTIONAL)
    # Every account is a new customer here (none is coupled by name to one the ERP has).
    FieldMapping.objects.filter(table_mapping=mapping).update(use_for_matching=False)
    accounts = sorted(
        (r for p in crm.iter_pages("accounts", select=["accountid", "name", "address1_country"],
                                   filter="customertypecode eq 3 and statecode eq 0") for r in p),
        key=lambda r: r["name"])
    long_name, digits, lots, huge, nested, *rest = accounts
    # The demo's CRM writes some countries out; the ERP holds a code of at most 10 characters.
    spelled_out = {r["accountid"]: r for r in rest if len(r["address1_country"] or "") > 10}
    fine = [r for r in rest if r["accountid"] not in spelled_out]
    if not fine:
        first = spelled_out.pop(rest[0]["accountid"])
        as_crm_user.update("accounts", first["accountid"], {"address1_country": "NO"})
        fine = [first]
    # A person in the CRM gives one account a name of 150 characters (the CRM holds 160).
    as_crm_user.update("accounts", long_name["accountid"],
                       {"name": "Long " + "n" * 145, "address1_country": "NO"})
    # Values the CRM itself would not hold, as a faulty proxy or customization might send them.
    garbage = {
        # (quoted, as some OData services send decimals)
        digits["accountid"]: {"creditlimit": "123456789012345678901.5"},
        lots["accountid"]: {"creditlimit": "lots"},
        huge["accountid"]: {"name": "h" * 10_000_000},
        nested["accountid"]: {"address1_city": {"value": "Oslo"}},
    }
    for values in garbage.values():
        values["address1_country"] = "NO"  # (so that each fails on its one value only)
    session = crm.transport.session
    real = session.request

    def request(method, url, **kwargs):
        response = real(method, url, **kwargs)
        if method == "GET" and "/accounts?" in url and "customertypecode" in url:
            page = json.loads(response.content)
            for row in page["value"]:
                row.update(garbage.get(row["accountid"], {}))
            response._content = json.dumps(page).encode()
        return response

    monkeypatch.setattr(session, "request", request)
    [job] = synchronize(mapping, client=crm, direction=Direction.FROM_CRM, full=True,
                        only_coupled=False)

    assert job.status == JobStatus.SUCCEEDED, job.message
    errors = errors_of(job)
    assert errors.pop(long_name["accountid"]) == (
        "account Long nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn…: "
        "name: 'Long nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn…' is 150 characters; the ERP holds at "
        "most 100.")
    assert errors.pop(digits["accountid"]) == (
        f"account {digits['name']}: credit_limit_lcy: 123456789012345678901.5 is too large; the "
        "ERP holds less than 10000000000000000.")
    assert errors.pop(lots["accountid"]) == (
        f"account {lots['name']}: credit_limit_lcy: 'lots' is not a number.")
    assert errors.pop(huge["accountid"]) == (
        f"account {'h' * 79}…: name: '{'h' * 39}…' is 10000000 characters; the ERP holds at "
        "most 100.")
    assert errors.pop(nested["accountid"]) == (
        f"account {nested['name']}: city: the CRM sent \"{{'value': 'Oslo'}}\", a dict where one "
        "value belongs.")
    for remote_id, row in spelled_out.items():
        country = row["address1_country"]
        assert errors.pop(remote_id) == (
            f"account {row['name']}: country_region_code: {country!r} is {len(country)} "
            "characters; the ERP holds at most 10.")
    assert errors == {}
    assert SyncError.objects.filter(job=job, local_id__isnull=False).count() == 0
    assert (job.inserted, job.failed) == (len(fine), 5 + len(spelled_out))
    coupled = set(Coupling.objects.filter(local_model="erp_app.customer")
                  .values_list("remote_id", flat=True))
    assert {str(c) for c in coupled} == {r["accountid"] for r in fine}
    assert not Customer.objects.filter(name__startswith="hhhh").exists()
    assert not Customer.objects.filter(city__contains="value").exists()
