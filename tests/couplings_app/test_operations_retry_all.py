"""Retry All retries what its page lists, and says how many truthfully: on the Integration
Synchronization Errors page the records of every error listed (as filtered); on the Coupled Data
Synchronization Errors page every skipped record and every failed one."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from couplings_app.choices import SyncResult
from couplings_app.models import Coupling, SyncError
from tests.couplings_app.page_fixtures import fill_logs


def said(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def queued(monkeypatch):
    """The pages' tasks, recorded instead of queued."""
    calls = []
    monkeypatch.setattr("couplings_app.page_tasks.enqueue",
                        lambda func, *args, **kwargs: calls.append((func, args)))
    return calls


@pytest.mark.django_db
def test_retry_all_on_the_errors_page_retries_every_error_listed(operator, mapping, queued):
    jobs = fill_logs(mapping, 20)
    SyncError.objects.create(mapping=None, message="A record of a mapping deleted since.")
    page = operator.get(reverse("couplings:syncerror_list")).content.decode()
    assert reverse("couplings:syncerror_retry_all") in page and ">Retry All<" in page
    response = operator.post(reverse("couplings:syncerror_retry_all"))
    assert response.status_code == 302
    [(func, (ids,))] = queued
    assert func == "retry_errors"
    assert sorted(ids) == sorted(SyncError.objects.filter(mapping=mapping)
                                 .values_list("pk", flat=True))
    text = said(response)[0]
    assert "queued synchronization of 20 records (20 errors; CUSTOMER)" in text
    assert "1 error names no record or table mapping" in text
    # Filtered: only what the list shows.
    queued.clear()
    operator.post(reverse("couplings:syncerror_retry_all") + f"?job={jobs[3].pk}")
    [(_, (ids,))] = queued
    assert ids == list(SyncError.objects.filter(job=jobs[3]).values_list("pk", flat=True))


@pytest.mark.django_db
def test_retry_all_on_the_errors_page_is_an_operators_action(viewer, mapping, queued):
    fill_logs(mapping, 3)
    assert viewer.post(reverse("couplings:syncerror_retry_all")).status_code == 403
    assert ">Retry All<" not in viewer.get(reverse("couplings:syncerror_list")).content.decode()
    assert not queued


@pytest.mark.django_db
def test_retry_all_on_the_skipped_page_retries_the_failed_records_too(operator, mapping, queued):
    fill_logs(mapping, 24)
    skipped = set(Coupling.objects.filter(skipped=True).values_list("pk", flat=True))
    failed_only = set(Coupling.objects.filter(
        skipped=False, last_result_to_crm=SyncResult.FAILURE).values_list("pk", flat=True))
    deleted = Coupling.objects.filter(skipped=False, last_result_to_crm=SyncResult.SUCCESS) \
        .order_by("pk").first()
    Coupling.objects.filter(pk=deleted.pk).update(deleted_side="remote", skipped=True)
    assert skipped and failed_only
    response = operator.post(reverse("couplings:skipped_action", args=["retry_all"]))
    text = said(response)[0]
    assert f"{len(skipped)} records no longer skipped" in text
    assert f"queued synchronization of {len(failed_only)} records that failed" in text
    assert "1 record whose coupled record was deleted is left as it is" in text
    [(func, (ids,))] = queued
    assert func == "synchronize_couplings" and set(ids) == failed_only
    assert list(Coupling.objects.filter(skipped=True).values_list("pk", flat=True)) == \
        [deleted.pk]


@pytest.mark.django_db
def test_retry_all_with_nothing_to_retry_says_so(operator, mapping, queued):
    response = operator.post(reverse("couplings:skipped_action", args=["retry_all"]))
    assert said(response) == ["Retry All: no skipped or failed record to retry."]
    response = operator.post(reverse("couplings:syncerror_retry_all"))
    assert said(response)[-1] == \
        "Retry All: no error listed names a record to synchronize again."
    assert not queued


@pytest.mark.django_db(transaction=True, databases=["default", "crm"])
def test_retry_all_synchronizes_the_failed_records_again_end_to_end(demo, crm, monkeypatch):
    """After a full synchronization with failures: the cause fixed, Retry All on the error log
    synchronizes them and the errors leave the log."""
    from couplings_app.sync.full import synchronize_all
    from erp_app.models import Customer, Salesperson
    from tests.couplings_app.engine import account_of, couple_and_full_sync
    from tests.couplings_app.page_fixtures import client_for, user_with_role

    monkeypatch.setattr("django_q.conf.Conf.SYNC", True)
    operator = client_for(user_with_role("operator"))
    seller = Salesperson.objects.create(code="NEW", name="New Seller")
    broken = [Customer.objects.create(no=f"C9999{i}", name=f"Broken {i} Ltd.", salesperson=seller)
              for i in range(3)]
    couple_and_full_sync(crm, demo)
    listed = SyncError.objects.filter(local_model="erp_app.customer",
                                      local_id__in=[c.pk for c in broken])
    assert listed.count() == 3
    Customer.objects.filter(pk__in=[c.pk for c in broken]).update(salesperson=None)
    before = SyncError.objects.count()
    response = operator.post(reverse("couplings:syncerror_retry_all"), {"q": ""})
    assert "Retry All: queued synchronization of" in said(response)[0]
    assert not listed.exists()
    assert [account_of(crm, c)["name"] for c in broken] == [c.name for c in broken]
    assert SyncError.objects.count() < before
    synchronize_all(client=crm)  # nothing left behind for the next run to trip over
