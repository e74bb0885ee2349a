"""An admin sets up the synchronization in a real browser: default setup, mappings, preview."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from playwright.sync_api import expect

from erp_app.models import Customer
from mappings_app.models import FieldMapping, TableMapping
from tests.browser.conftest import PASSWORD, login

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])


@pytest.fixture
def admin(crm_app):
    call_command("seed_demo", customers=5)
    return get_user_model().objects.create_superuser("boss", "boss@example.com", PASSWORD)


def test_admin_sets_up_mappings_edits_fields_and_previews(page, live_server, admin, screenshot):
    login(page, live_server, "boss")
    page.click("text=Dynamics 365 Sales")
    page.click(".dropdown-menu >> text=Connection Setup")
    expect(page.locator("h1")).to_have_text("Dynamics 365 Sales Connection Setup")
    screenshot("mappings-connection")

    page.click("button:has-text('Use Default Synchronization Setup')")
    expect(page.locator("h1")).to_have_text("Use Default Synchronization Setup?")
    screenshot("mappings-default-setup-confirm")
    page.click("button:has-text('Yes, use the default setup')")
    expect(page.locator(".alert-success")).to_contain_text("11 created, 0 reset, 0 unchanged")
    screenshot("mappings-connection-after-setup")

    page.locator("main").get_by_role("link", name="Integration Table Mappings", exact=True).click()
    expect(page.locator("h1")).to_have_text("Integration Table Mappings")
    expect(page.locator("tbody tr")).to_have_count(11)
    expect(page.locator("tbody tr").first).to_contain_text("CURRENCY")
    screenshot("mappings-table-mappings")

    customer_row = page.locator("tbody tr", has_text="Customers and the accounts")
    customer_row.get_by_role("button", name="Actions on CUSTOMER").click()
    expect(customer_row.get_by_role("button", name="Reset to Default")).to_be_visible()
    screenshot("mappings-table-mappings-row-actions")
    customer_row.get_by_role("link", name="Field Mappings").click()
    expect(page.locator("h1")).to_contain_text("Integration Field Mappings · CUSTOMER")
    mapping = TableMapping.objects.get(name="CUSTOMER")
    fax = mapping.field_mappings.get(remote_attribute="fax")
    index = list(mapping.field_mappings.order_by("position", "pk")).index(fax)
    checkbox = page.locator(f"#id_field_mappings-{index}-is_enabled")
    expect(checkbox).to_be_checked()
    checkbox.uncheck()
    screenshot("mappings-field-mappings")
    page.click("button:has-text('Save')")
    expect(page.locator(".alert-success")).to_contain_text("Saved the field mappings of CUSTOMER")
    assert not FieldMapping.objects.get(pk=fax.pk).is_enabled
    expect(page.locator(f"#id_field_mappings-{index}-is_enabled")).not_to_be_checked()
    screenshot("mappings-field-mappings-saved")

    page.click("text=Preview on a record")
    customer = Customer.objects.exclude(salesperson=None).order_by("no").first()
    page.fill("#id_local", customer.no)
    page.click("button:has-text('Preview to the CRM')")
    table = page.locator(".preview-table")
    expect(table).to_contain_text(customer.name)
    expect(table).to_contain_text("SALESPEOPLE")
    expect(table).not_to_contain_text("fax")  # disabled rows do not run
    screenshot("mappings-preview")

    page.fill("#id_remote", "a")
    page.click("button:has-text('Preview from the CRM')")
    page.wait_for_url("**remote=a*")
    screenshot("mappings-preview-crm-search")


def test_rule_test_swaps_the_result_in_place(page, live_server, admin, screenshot):
    call_command("setup_defaults")
    login(page, live_server, "boss")
    page.goto(f"{live_server.url}/integration/transformation-rules/")
    page.click("tbody >> text=INITIALS")
    page.fill("#id_sample", "Ann Lee Smith")
    page.click("button:has-text('Test')")
    expect(page.locator("#rule-test-result")).to_contain_text("'ALS'")
    assert "sample=" not in page.url  # htmx swapped the result without leaving the page
    screenshot("mappings-rule-test")


def test_edit_shows_a_bad_filter_next_to_its_field(page, live_server, admin, screenshot):
    call_command("setup_defaults")
    customer = TableMapping.objects.get(name="CUSTOMER")
    login(page, live_server, "boss")
    page.goto(f"{live_server.url}{customer.get_absolute_url()}")
    expect(page.locator("h1")).to_contain_text("Integration Table Mapping CUSTOMER")
    screenshot("mappings-table-mapping-card")
    page.get_by_role("link", name="Edit", exact=True).click()
    page.fill("#id_local_filter", "city = Boston AND nope = 1")
    page.click("button:has-text('Save')")
    feedback = page.locator("#id_local_filter ~ .invalid-feedback")
    expect(feedback).to_contain_text("no field 'nope'")
    expect(feedback).to_contain_text("(at position 19)")
    screenshot("mappings-table-mapping-edit-error")
