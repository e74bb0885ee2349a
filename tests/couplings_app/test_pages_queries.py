"""Every page costs the same number of queries with 10 or 1,000 jobs, errors and couplings: far
more rows than a page shows, so a query per row or a list of every row would change the count."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from couplings_app.models import Coupling, SyncJob
from tests.couplings_app.page_fixtures import fill_logs

pytestmark = pytest.mark.django_db


def page_urls(mapping):
    coupling = Coupling.objects.order_by("pk").first()
    job = SyncJob.objects.filter(failed__gt=0).order_by("pk").first()
    return [
        reverse("couplings:coupling_list"),
        reverse("couplings:coupling_list") + "?skipped=yes",
        reverse("couplings:syncjob_list"),
        reverse("couplings:syncjob_list") + f"?mapping={mapping.pk}",
        reverse("couplings:syncerror_list"),
        reverse("couplings:syncerror_list") + f"?job={job.pk}",
        reverse("couplings:skipped_list"),
        reverse("couplings:skipped_list") + "?kind=conflict",
        reverse("couplings:jobqueue_list"),
        job.get_absolute_url(),
        reverse("couplings:record_log", args=[mapping.pk, coupling.local_id]),
        reverse("erp:list", kwargs={"model": "customer"}),
        reverse("erp:list", kwargs={"model": "customer"}) + "?coupled=yes",
        reverse("erp:detail", kwargs={"model": "customer", "pk": coupling.local_id}),
        mapping.get_absolute_url(),
        reverse("mappings:connection"),
    ]


def count_queries(client, url):
    client.get(url)  # warm caches (session, content types)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries)


def test_pages_cost_the_same_with_10_or_1000_rows(administrator, mapping):
    fill_logs(mapping, 10)
    urls = page_urls(mapping)
    small = {url: count_queries(administrator, url) for url in urls}
    fill_logs(mapping, 990)
    assert SyncJob.objects.count() == 1000 and Coupling.objects.count() == 1000
    large = {url: count_queries(administrator, url) for url in urls}
    assert large == small
    assert max(small.values()) < 30, small
