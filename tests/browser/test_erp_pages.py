"""An admin logs in and works with the ERP tables in a real browser."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from playwright.sync_api import expect

from erp_app.models import Customer
from tests.browser.conftest import PASSWORD, login

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])


@pytest.fixture
def admin(db):
    call_command("seed_demo", customers=30)
    return get_user_model().objects.create_superuser("boss", "boss@example.com", PASSWORD)


def test_anonymous_visitor_sees_the_login_page(page, live_server):
    page.goto(f"{live_server.url}/erp/customer/")
    assert "/accounts/login/" in page.url
    assert page.locator("h1").inner_text() == "syncadmin"


def test_wrong_password_is_refused(page, live_server, admin):
    login_page = f"{live_server.url}/accounts/login/"
    page.goto(login_page)
    page.fill("#id_username", "boss")
    page.fill("#id_password", "wrong")
    page.click("button[type=submit]")
    assert "didn't match" in page.locator(".alert-danger").inner_text()


def test_admin_searches_sorts_opens_and_edits_a_customer(page, live_server, admin, screenshot):
    login(page, live_server, "boss")
    screenshot("home")
    page.click("text=ERP")
    page.click(".dropdown-menu >> text=Customers")
    assert page.locator("h1").inner_text() == "Customers"
    expect(page.locator("tbody tr")).to_have_count(25)
    screenshot("customer-list")

    page.click("thead >> text=No.")  # ascending, then descending
    page.wait_for_url("**sort=no*")
    page.click("thead >> text=No.")
    page.wait_for_url("**sort=-no*")
    expect(page.locator("tbody tr td:nth-child(2)").first).to_have_text("C00030")

    target = Customer.objects.get(no="C00007")
    page.fill("input[name=q]", target.name)
    page.click("text=Apply")
    page.wait_for_url("**q=*")
    expect(page.locator("tbody tr")).to_have_count(1)
    page.click(f"tbody >> text={target.no}")
    assert target.name in page.locator("h1").inner_text()
    screenshot("customer-card")

    page.click("text=Edit")
    page.fill("#id_city", "Springfield")
    page.fill("#id_name", "")
    page.click("button:has-text('Save')")
    assert "Name: This field is required." in page.locator(".invalid-feedback").first.inner_text()
    assert page.locator("#id_city").input_value() == "Springfield"
    screenshot("customer-edit-error")
    page.fill("#id_name", target.name)
    page.fill("#id_credit_limit_lcy", "7500")
    page.click("button:has-text('Save')")
    assert "Saved customer" in page.locator(".alert-success").inner_text()
    target.refresh_from_db()
    assert (target.city, str(target.credit_limit_lcy)) == ("Springfield", "7500.00")
