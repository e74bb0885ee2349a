"""The job log's start date and time may wrap onto two lines, to leave the Message column room
(tests/browser/test_joblog_width.py measures it in the browser)."""

import pytest
from django.urls import reverse
from django.utils import timezone

from couplings_app.models import SyncJob
from tests.couplings_app.page_fixtures import two_synchronizations

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_start_date_and_time_may_wrap(admin_client):
    two_synchronizations()
    html = admin_client.get(reverse("couplings:syncjob_list")).content.decode()
    assert '<span class="text-nowrap">' in html
    stamp = timezone.localtime(SyncJob.objects.first().started_at)
    assert (f'<span class="text-nowrap">{stamp:%Y-%m-%d}</span> '
            f'<span class="text-nowrap">{stamp:%H:%M:%S}</span>') in html
