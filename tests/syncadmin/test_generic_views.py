"""Every ERP table can be listed, searched, sorted, filtered, opened, edited, added and deleted."""

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.urls import reverse

from erp_app import models as m
from erp_app.pages import site

pytestmark = pytest.mark.django_db(databases=["default", "crm"])


@pytest.fixture
def demo(db):
    call_command("seed_demo", customers=12)


def url(name, model, **kwargs):
    return reverse(f"erp:{name}", kwargs={"model": model, **kwargs})


@pytest.mark.parametrize("page", list(site), ids=lambda p: p.slug)
def test_every_table_lists_opens_and_edits(admin_client, demo, page):
    obj = page.model.objects.first()
    assert obj is not None, f"seed_demo left {page.slug} empty"
    listing = admin_client.get(url("list", page.slug))
    assert listing.status_code == 200
    assert obj.get_absolute_url() in listing.content.decode()
    assert admin_client.get(url("list", page.slug), {"q": "zzz-nothing"}).status_code == 200
    assert (
        admin_client.get(url("list", page.slug), {"sort": f"-{page.list_columns[0]}"}).status_code
        == 200
    )
    assert admin_client.get(obj.get_absolute_url()).status_code == 200
    assert admin_client.get(url("edit", page.slug, pk=obj.pk)).status_code == 200
    assert admin_client.get(url("add", page.slug)).status_code == 200


def test_search_finds_by_name(admin_client, demo):
    target = m.Customer.objects.get(no="C00003")
    response = admin_client.get(url("list", "customer"), {"q": target.name[:8]})
    body = response.content.decode()
    assert target.get_absolute_url() in body
    assert m.Customer.objects.get(no="C00002").get_absolute_url() not in body


def test_sorting_orders_the_rows(admin_client, demo):
    rows = (
        admin_client.get(url("list", "customer"), {"sort": "-no"}).context["table"].page.object_list
    )
    numbers = [row.record.no for row in rows]
    assert numbers == sorted(numbers, reverse=True)


def test_filter_by_salesperson(admin_client, demo):
    jr = m.Salesperson.objects.get(code="JR")
    rows = admin_client.get(url("list", "customer"), {"salesperson": jr.pk}).context["table"].rows
    assert len(rows) == m.Customer.objects.filter(salesperson=jr).count() > 0
    assert all(row.record.salesperson_id == jr.pk for row in rows)


def test_an_invalid_filter_value_is_reported_not_crashed(admin_client, demo):
    response = admin_client.get(url("list", "customer"), {"salesperson": "not-a-number"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()


def test_paging(admin_client, db):
    m.Customer.objects.bulk_create(
        [m.Customer(no=f"P{i:03d}", name=f"Paged {i}") for i in range(60)]
    )
    first = admin_client.get(url("list", "customer"))
    third = admin_client.get(url("list", "customer"), {"page": 3})
    assert len(first.context["table"].page.object_list) == 25
    assert len(third.context["table"].page.object_list) == 10


def test_edit_saves_and_moves_modified_at(admin_client, demo):
    customer = m.Customer.objects.get(no="C00001")
    before = customer.modified_at
    data = {
        f: v
        for f, v in admin_client.get(url("edit", "customer", pk=customer.pk))
        .context["form"]
        .initial.items()
        if v is not None
    }
    data.update(name="Adatum Renamed", credit_limit_lcy="1234.50")
    response = admin_client.post(url("edit", "customer", pk=customer.pk), data)
    assert response.status_code == 302, response.context["form"].errors
    customer.refresh_from_db()
    assert customer.name == "Adatum Renamed" and str(customer.credit_limit_lcy) == "1234.50"
    assert customer.modified_at > before


def test_invalid_edit_names_the_field_and_keeps_the_input(admin_client, demo):
    customer = m.Customer.objects.get(no="C00001")
    response = admin_client.post(
        url("edit", "customer", pk=customer.pk),
        {"no": "C00001", "name": "Kept", "credit_limit_lcy": "lots"},
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "Credit Limit (LCY): Enter a number." in body
    assert 'value="Kept"' in body
    customer.refresh_from_db()
    assert customer.name != "Kept"


def test_duplicate_number_is_refused(admin_client, demo):
    response = admin_client.post(
        url("add", "customer"), {"no": "C00001", "name": "Twin", "credit_limit_lcy": "0"}
    )
    assert response.status_code == 200
    assert "Customer with this No. already exists." in response.content.decode()


def test_add_creates_a_record(admin_client, db):
    response = admin_client.post(url("add", "salesperson"), {"code": "NEW", "name": "New One"})
    assert response.status_code == 302
    assert m.Salesperson.objects.filter(code="NEW").exists()


def test_delete_requires_post_and_reports_records_in_use(admin_client, demo):
    jr = m.Salesperson.objects.get(code="JR")
    assert admin_client.get(url("delete", "salesperson", pk=jr.pk)).status_code == 200
    assert m.Salesperson.objects.filter(pk=jr.pk).exists()
    response = admin_client.post(url("delete", "salesperson", pk=jr.pk), follow=True)
    assert m.Salesperson.objects.filter(pk=jr.pk).exists()
    assert "was not deleted: it is still used by" in response.content.decode()
    free = m.Salesperson.objects.create(code="FREE")
    admin_client.post(url("delete", "salesperson", pk=free.pk))
    assert not m.Salesperson.objects.filter(pk=free.pk).exists()


def test_unknown_table_is_404(admin_client):
    assert admin_client.get("/erp/nothing/").status_code == 404


def test_user_without_permission_gets_403(client, plain_user, demo):
    client.force_login(plain_user)
    customer = m.Customer.objects.first()
    assert client.get(url("list", "customer")).status_code == 403
    assert client.get(customer.get_absolute_url()).status_code == 403


def test_view_permission_reads_but_cannot_edit(client, plain_user, demo):
    plain_user.user_permissions.add(Permission.objects.get(codename="view_customer"))
    client.force_login(plain_user)
    customer = m.Customer.objects.first()
    detail = client.get(customer.get_absolute_url())
    assert detail.status_code == 200
    assert url("edit", "customer", pk=customer.pk) not in detail.content.decode()
    assert client.get(url("edit", "customer", pk=customer.pk)).status_code == 403
    assert client.post(url("edit", "customer", pk=customer.pk), {"name": "x"}).status_code == 403
    assert client.post(url("delete", "customer", pk=customer.pk)).status_code == 403
