"""The job log fits a 1,366 px and a 1,400 px screen with its Message column whole: after two
synchronizations (a full one with long messages, then a modified one) no column is pushed out of
the table's frame."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.couplings_app.page_fixtures import two_synchronizations

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("width", [1366, 1400])
def test_the_message_column_is_not_cut_off(live_server, browser, width):
    get_user_model().objects.create_superuser("joblog", "joblog@example.com", "pw-joblog-1")
    two_synchronizations()
    context = browser.new_context(viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
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
        context.close()
    assert fit["overflow"] <= 0 and fit["page"] <= 0, fit
    assert fit["right"] <= 0.5, fit
    assert fit["width"] >= 150, fit
