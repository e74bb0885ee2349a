"""The operations walk in a real browser: default setup, match-based coupling, full
synchronization watched on the job log, Synchronize Now of an edited customer seen on the CRM's
page, a failing record found on the errors page, fixed and synchronized, a conflict resolved on
the skipped page, and a viewer who sees no action buttons.

django-q2 runs in sync mode here (`Conf.SYNC = True`): a queued task runs at once in the web
request that queued it, so the walk needs no cluster process (a cluster's forked workers would not
see the test database); the job log then shows each job finished when the page comes back.
"""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from playwright.sync_api import expect

from couplings_app.models import Coupling, SyncError
from erp_app.models import Customer, Salesperson
from tests.browser.conftest import PASSWORD, login

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])


@pytest.fixture
def people(crm_app, monkeypatch, settings, live_server):
    monkeypatch.setattr("django_q.conf.Conf.SYNC", True)
    settings.SITE_URL = live_server.url  # the live server also serves the embedded CRM
    call_command("seed_demo", customers=6)
    users = {}
    for role in ("administrator", "viewer"):
        user = get_user_model().objects.create_user(role, f"{role}@example.com", PASSWORD)
        user.groups.add(Group.objects.get(name=role))
        users[role] = user
    return users


def open_menu(page, item):
    page.locator("main").get_by_role("button", name="Dynamics 365 Sales", exact=True).click()
    page.locator(".dropdown-menu.show").get_by_text(item, exact=True).click()


def save_edit(page, address, fill=None, select=None):
    """Opens an edit page, types into the `fill` fields and picks the `select` options (control
    -> value), and saves."""
    page.goto(address)
    for control, value in (fill or {}).items():
        page.fill(control, value)
    for control, value in (select or {}).items():
        page.select_option(control, value=value)
    page.click("button:has-text('Save')")


def test_operations_walk(page, live_server, people, screenshot):
    url = live_server.url
    # Tasks run inline, so a click that queues a coupling or a synchronization waits for the
    # whole run to answer; on a busy two-core machine that can take a minute.
    page.set_default_timeout(120_000)
    login(page, live_server, "administrator")

    # Use Default Synchronization Setup
    page.goto(f"{url}/integration/connection/")
    page.click("button:has-text('Use Default Synchronization Setup')")
    page.click("button:has-text('Yes, use the default setup')")
    expect(page.locator(".alert-success")).to_contain_text("created")

    # Run Full Synchronization: the seeds' warning and the duplicate check first
    page.click("button:has-text('Run Full Synchronization')")
    expect(page.locator(".alert-warning")).to_contain_text("only one of the solutions")
    expect(page.locator("[data-duplicate-warnings]")).to_contain_text("Match-Based Coupling")
    screenshot("ops-full-sync-confirm")

    # ... so couple what already matches first (Table Mappings: select all, Match-Based Coupling)
    page.click("text=No")
    page.goto(f"{url}/integration/table-mappings/")
    page.check("input[data-select-all]")
    page.click("button:has-text('Match-Based Coupling')")
    page.get_by_role("button", name="Run Match-Based Coupling").click()  # BC's criteria step
    expect(page.locator(".alert-success").first).to_contain_text("atch-based coupling")
    assert Coupling.objects.filter(local_model="erp_app.salesperson").exists()
    screenshot("ops-mappings-after-matching")

    page.goto(f"{url}/integration/connection/")
    page.click("button:has-text('Run Full Synchronization')")
    page.click("button:has-text('Yes, run the full synchronization')")
    expect(page.locator(".alert-success")).to_contain_text("Queued Run Full Synchronization")
    expect(page.locator("#full-sync-question")).to_contain_text("has finished")
    screenshot("ops-full-sync-question")
    page.click("button[name=keep][value=no]")
    expect(page.locator(".alert-success")).to_contain_text("stays as it was")

    # Watch the jobs finish in the job log
    page.locator("main").get_by_role("link", name="Integration Synchronization Jobs").click()
    expect(page.locator("h1")).to_have_text("Integration Synchronization Jobs")
    expect(page.locator("[data-job-status=running]")).to_have_count(0)
    customer_job = page.locator("tbody tr", has_text="CUSTOMER").first
    expect(customer_job).to_contain_text("Success")
    expect(page.locator("svg.job-chart")).to_be_visible()
    screenshot("ops-job-log")

    # Edit a customer, Synchronize Now, see the change on the CRM's page
    customer = Customer.objects.filter(salesperson__code="JR").order_by("pk").first()
    assert Coupling.objects.filter(local_model="erp_app.customer", local_id=customer.pk).exists()
    edit_customer = f"{url}/erp/customer/{customer.pk}/edit/"
    save_edit(page, edit_customer, fill={"#id_name": "Walkthrough Trading Ltd."})
    expect(page.locator(".alert-success")).to_contain_text("Saved")
    open_menu(page, "Synchronize Now")
    expect(page.locator("h1")).to_contain_text("Synchronize Now")
    screenshot("ops-synchronize-now-direction")
    page.click("button:has-text('suggested')")
    expect(page.locator(".alert-success")).to_contain_text("1 modified")
    screenshot("ops-customer-synchronized")
    open_menu(page, "Open the coupled account")
    expect(page.locator("#id_name")).to_have_value("Walkthrough Trading Ltd.")
    screenshot("ops-crm-account")

    # Make a record fail, find it on the errors page, fix it, synchronize: the error is gone
    Salesperson.objects.create(code="NEW", name="New Seller")
    seller = str(Salesperson.objects.get(code="NEW").pk)
    save_edit(page, edit_customer, select={"#id_salesperson": seller})
    open_menu(page, "Synchronize Now")
    page.click("button:has-text('suggested')")
    expect(page.locator(".alert-warning")).to_contain_text("See its errors")
    page.goto(f"{url}/integration/errors/")
    row = page.locator("tbody tr", has_text="NEW is not coupled")
    expect(row).to_have_count(1)
    screenshot("ops-errors")
    seller = str(Salesperson.objects.get(code="JR").pk)
    save_edit(page, edit_customer, select={"#id_salesperson": seller})
    page.goto(f"{url}/integration/errors/")
    row = page.locator("tbody tr", has_text="NEW is not coupled")
    row.locator("input[name=pk]").check()
    page.click("button:has-text('Synchronize')")
    expect(page.locator(".alert-success")).to_contain_text("Queued synchronization")
    expect(page.locator("tbody tr", has_text="NEW is not coupled")).to_have_count(0)
    assert not SyncError.objects.filter(local_id=customer.pk).exists()
    screenshot("ops-errors-after-retry")

    # Make a conflict: the CRM and the ERP change the same customer, then the mapping runs
    coupling = Coupling.objects.get(local_model="erp_app.customer", local_id=customer.pk)
    account = f"{url}/crm/browse/accounts/{coupling.remote_id}/"
    save_edit(page, account, fill={"#id_name": "Renamed in the CRM"})
    save_edit(page, edit_customer, fill={"#id_name": "Renamed in the ERP"})
    page.goto(f"{url}{coupling.mapping.get_absolute_url()}")
    page.click("button:has-text('Synchronization')")
    page.click("button:has-text('Synchronize Modified Records')")
    expect(page.locator(".alert-success")).to_contain_text("Queued synchronization of CUSTOMER")
    page.goto(f"{url}/integration/skipped/")
    conflict = page.locator("tbody tr", has_text="Conflict")
    expect(conflict).to_have_count(1)
    screenshot("ops-skipped")
    conflict.get_by_role("link", name="Compare & resolve").click()
    expect(page.locator("tr[data-differs][data-field=name]")).to_contain_text("Renamed in the CRM")
    page.click("label[for=take-name-remote]")
    expect(page.locator("#take-name-remote")).to_be_checked()
    screenshot("ops-conflict-compare")
    page.click("button:has-text('Keep the chosen values')")
    expect(page.locator(".alert-success")).to_contain_text("Conflict resolved")
    customer.refresh_from_db()
    assert customer.name == "Renamed in the CRM"
    coupling.refresh_from_db()
    assert not coupling.skipped
    screenshot("ops-conflict-resolved")

    # A viewer sees the pages, but no action button
    page.context.clear_cookies()
    login(page, live_server, "viewer")
    for path in ("/integration/jobs/", "/integration/errors/", "/integration/skipped/",
                 "/integration/job-queue/", "/integration/connection/",
                 f"/erp/customer/{customer.pk}/", "/erp/customer/"):
        page.goto(f"{url}{path}")
        for caption in ("Synchronize", "Delete", "Run Full Synchronization", "Set On Hold",
                        "Run Now", "Retry", "Set Up Coupling", "Edit"):
            expect(page.get_by_role("button", name=caption)).to_have_count(0)
    page.goto(f"{url}/erp/customer/{customer.pk}/")
    page.locator("main").get_by_role("button", name="Dynamics 365 Sales", exact=True).click()
    expect(page.locator(".dropdown-menu.show")).to_contain_text("Synchronization Log")
    expect(page.locator(".dropdown-menu.show")).not_to_contain_text("Synchronize Now")
    screenshot("ops-viewer-customer")
