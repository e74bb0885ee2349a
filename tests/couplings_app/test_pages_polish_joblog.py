"""The job log fits a 1,366 px and a 1,400 px screen with its Message column whole: after two
synchronizations (a full one with long messages, then a modified one) no column is pushed out of
the table's frame. The start's date and time may wrap onto two lines to make the room."""

import shutil
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from couplings_app.choices import JobStatus, JobType
from couplings_app.models import SyncJob

pytestmark = pytest.mark.django_db(transaction=True)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
MESSAGES = ["5 coupled, 35 without a match, 0 with more than one match.",
            "28 inserted, 5 modified, 7 failed, 28 coupled.",
            "49 inserted, 11 failed, 49 coupled.", "Nothing to synchronize.", "7 unchanged."]


def two_synchronizations():
    start = timezone.now() - timedelta(hours=1)
    jobs = []
    for run, full in enumerate((True, False)):
        for i, message in enumerate(MESSAGES):
            at = start + timedelta(minutes=30 * run, seconds=i)
            jobs.append(SyncJob(
                mapping_name="SALESPRC-PRODUCTPRICE", direction="to_crm", full=full,
                type=JobType.COUPLING if i == 0 else JobType.SYNCHRONIZATION,
                status=JobStatus.SUCCEEDED, created_at=at, started_at=at,
                finished_at=at + timedelta(seconds=1), inserted=28, modified=5, failed=7,
                coupled=28, unchanged=7, skipped=1, message=message))
    SyncJob.objects.bulk_create(jobs)


def test_the_start_date_and_time_may_wrap(admin_client):
    two_synchronizations()
    html = admin_client.get(reverse("couplings:syncjob_list")).content.decode()
    assert '<span class="text-nowrap">' in html
    stamp = timezone.localtime(SyncJob.objects.first().started_at)
    assert (f'<span class="text-nowrap">{stamp:%Y-%m-%d}</span> '
            f'<span class="text-nowrap">{stamp:%H:%M:%S}</span>') in html


@pytest.mark.browser
@pytest.mark.parametrize("width", [1366, 1400])
def test_the_message_column_is_not_cut_off(live_server, width, monkeypatch):
    if not CHROMIUM:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    get_user_model().objects.create_superuser("joblog", "joblog@example.com", "pw-joblog-1")
    two_synchronizations()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                             args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(f"{live_server.url}/accounts/login/")
            page.fill("input[name=username]", "joblog")
            page.fill("input[name=password]", "pw-joblog-1")
            page.click("button[type=submit]")
            page.goto(f"{live_server.url}{reverse('couplings:syncjob_list')}")
            fit = page.evaluate("""() => {
              const table = document.querySelector('main table');
              const frame = table.closest('.table-responsive') || table.parentElement;
              const box = frame.getBoundingClientRect();
              const message = [...table.querySelectorAll('thead th')]
                .find(th => th.textContent.trim().startsWith('Message'));
              return {overflow: frame.scrollWidth - frame.clientWidth,
                      page: document.documentElement.scrollWidth - innerWidth,
                      right: message.getBoundingClientRect().right - box.right,
                      width: message.getBoundingClientRect().width};
            }""")
        finally:
            browser.close()
    assert fit["overflow"] <= 0 and fit["page"] <= 0, fit
    assert fit["right"] <= 0.5, fit
    assert fit["width"] >= 150, fit
