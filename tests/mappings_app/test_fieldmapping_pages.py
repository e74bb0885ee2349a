"""Integration Field Mappings: the whole list in one form, checked row by row; and the preview."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from mappings_app.choices import Direction
from mappings_app.models import FieldMapping, TableMapping

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])

PREFIX = "field_mappings"
FLAGS = ("is_enabled", "validate_field", "clear_value_on_failed_sync", "not_null",
         "use_for_matching", "case_sensitive_matching")


@pytest.fixture
def viewer(login_with):
    return login_with("view_tablemapping", "view_fieldmapping")


def row(fm=None, **values):
    data = {}
    if fm is not None:
        data = {
            "id": fm.pk, "position": fm.position, "local_field": fm.local_field,
            "direction": fm.direction, "remote_attribute": fm.remote_attribute,
            "constant_value": fm.constant_value,
            "transformation_rule": fm.transformation_rule_id or "",
            "transformation_direction": fm.transformation_direction,
            "lookup_mapping": fm.lookup_mapping_id or "", "match_priority": fm.match_priority,
        }
        data.update({flag: getattr(fm, flag) for flag in FLAGS})
    else:
        data = {"position": 0, "direction": Direction.BIDIRECTIONAL, "match_priority": 0,
                "transformation_direction": "both", "is_enabled": True}
    data.update(values)
    return data


def formset_data(mapping, rows):
    data = {f"{PREFIX}-TOTAL_FORMS": len(rows),
            f"{PREFIX}-INITIAL_FORMS": sum(1 for r in rows if r.get("id")),
            f"{PREFIX}-MIN_NUM_FORMS": 0, f"{PREFIX}-MAX_NUM_FORMS": 1000}
    for i, values in enumerate(rows):
        for key, value in values.items():
            if value is True:
                data[f"{PREFIX}-{i}-{key}"] = "on"
            elif value is not False and value is not None:
                data[f"{PREFIX}-{i}-{key}"] = value
        data[f"{PREFIX}-{i}-table_mapping"] = mapping.pk
    return data


def url(mapping):
    return reverse("mappings:fieldmapping_list", args=[mapping.pk])


def existing_rows(mapping, **changes_by_remote):
    rows = []
    for fm in mapping.field_mappings.order_by("position", "pk"):
        rows.append(row(fm, **changes_by_remote.get(fm.remote_attribute, {})))
    return rows


def test_it_lists_every_field_mapping_with_dropdowns(admin_client, setup):
    response = admin_client.get(url(setup["CONTACT"]))
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('name="field_mappings-') > 100
    assert '<option value="company.customer" selected>' in html  # a foreign-key path
    assert '<option value="address1_city">address1_city (String, max 80)</option>' in html
    assert "Lookup Through" in html and "Use For Match-Based Coupling" in html


def test_disable_a_row_and_save(admin_client, setup):
    customer = setup["CUSTOMER"]
    rows = existing_rows(customer, fax={"is_enabled": False})
    response = admin_client.post(url(customer), formset_data(customer, rows))
    assert response.status_code == 302, response.context["formset"].errors
    assert not customer.field_mappings.get(remote_attribute="fax").is_enabled
    assert customer.field_mappings.filter(is_enabled=True).count() == len(rows) - 1


def test_add_reorder_and_remove_rows(admin_client, setup):
    customer = setup["CUSTOMER"]
    rows = existing_rows(customer, fax={"DELETE": True}, telephone1={"position": 1})
    rows.append(row(local_field="contact", remote_attribute="description",
                    direction=Direction.TO_CRM, position=999))
    response = admin_client.post(url(customer), formset_data(customer, rows))
    assert response.status_code == 302, response.context["formset"].errors
    assert not customer.field_mappings.filter(remote_attribute="fax").exists()
    assert customer.field_mappings.filter(remote_attribute="description").exists()
    first = customer.field_mappings.order_by("position").first()
    assert first.remote_attribute == "telephone1"


def test_blank_extra_row_is_ignored(admin_client, setup):
    customer = setup["CUSTOMER"]
    count = customer.field_mappings.count()
    rows = existing_rows(customer) + [{"position": 0, "direction": Direction.BIDIRECTIONAL,
                                       "is_enabled": True,
                                       "transformation_direction": "both", "match_priority": 0}]
    response = admin_client.post(url(customer), formset_data(customer, rows))
    assert response.status_code == 302, response.context["formset"].errors
    assert customer.field_mappings.count() == count


def test_incompatible_types_are_shown_on_the_row(admin_client, setup):
    customer = setup["CUSTOMER"]
    # A Yes/No-like option code cannot become a money amount.
    rows = existing_rows(customer) + [row(local_field="blocked", remote_attribute="creditlimit",
                                          direction=Direction.TO_CRM)]
    response = admin_client.post(url(customer), formset_data(customer, rows))
    assert response.status_code == 200
    formset = response.context["formset"]
    bad = formset.forms[-1]
    assert any("cannot be mapped to creditlimit" in e for e in bad.errors["remote_attribute"])
    assert "Nothing was saved" in response.content.decode()
    assert not customer.field_mappings.filter(local_field="blocked").exists()


def test_unknown_erp_field_is_shown_on_the_row(admin_client, setup):
    customer = setup["CUSTOMER"]
    rows = existing_rows(customer) + [row(local_field="salesperson.nosuch",
                                          remote_attribute="description",
                                          direction=Direction.TO_CRM)]
    response = admin_client.post(url(customer), formset_data(customer, rows))
    assert response.status_code == 200
    assert response.context["formset"].forms[-1].errors["local_field"]


def test_lookup_that_makes_a_cycle_is_refused(admin_client, setup):
    currency = setup["CURRENCY"]
    other = TableMapping.objects.create(
        name="CUSTOMER 2", local_model="erp_app.customer", remote_entity="account",
        remote_entity_set="accounts", remote_key="accountid")
    currency.dependencies.add(other)
    rows = [row(local_field="currency", remote_attribute="transactioncurrencyid",
                direction=Direction.TO_CRM, lookup_mapping=currency.pk)]
    response = admin_client.post(url(other), formset_data(other, rows))
    assert response.status_code == 200
    (message,) = response.context["formset"].non_form_errors()
    assert "cycle" in message and "CURRENCY" in message and "CUSTOMER 2" in message
    assert not other.field_mappings.exists()


def test_viewer_sees_it_read_only_and_cannot_post(viewer, setup):
    customer = setup["CUSTOMER"]
    response = viewer.get(url(customer))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Read-only" in html and ">Save<" not in html
    assert " disabled" in html
    before = FieldMapping.objects.count()
    response = viewer.post(url(customer), formset_data(customer, existing_rows(customer)))
    assert response.status_code == 403
    assert FieldMapping.objects.count() == before


def test_it_requires_view_permission(client, plain_user, setup):
    client.force_login(plain_user)
    assert client.get(url(setup["CUSTOMER"])).status_code == 403


# --- preview -----------------------------------------------------------------------------------


@pytest.fixture
def seeded(setup):
    call_command("seed_demo", customers=5)
    return setup


def preview(client, mapping, **params):
    return client.get(reverse("mappings:tablemapping_preview", args=[mapping.pk]), params)


def test_preview_of_a_seeded_customer(admin_client, seeded):
    from erp_app.models import Customer

    customer = Customer.objects.exclude(salesperson=None).order_by("no").first()
    response = preview(admin_client, seeded["CUSTOMER"], local=customer.no)
    assert response.status_code == 200
    rows = {r.target: r for r in response.context["rows"]}
    assert rows["accountnumber"].result == customer.no
    assert rows["name"].result == customer.name
    assert rows["customertypecode"].result == 3  # the constant, as the option's value
    html = response.content.decode()
    assert f"{customer.salesperson.code} <span" in html and "SALESPEOPLE</a> couplings" in html


def test_preview_shows_a_value_too_long_for_the_crm_in_red(admin_client, seeded):
    from erp_app.models import Customer

    customer = Customer.objects.order_by("no").first()
    Customer.objects.filter(pk=customer.pk).update(address="x" * 95)
    FieldMapping.objects.filter(table_mapping=seeded["CUSTOMER"],
                                remote_attribute="address1_line1").update(
        remote_attribute="address1_city")
    response = preview(admin_client, seeded["CUSTOMER"], local=customer.no)
    html = response.content.decode()
    assert "is 95 characters; the CRM holds at most 80" in html
    assert "table-danger" in html


def test_preview_of_a_crm_account_found_by_name(admin_client, seeded):
    from crm_emulator.models import Row

    account = Row.objects.using("crm").filter(entity="account").first()
    assert account is not None
    name = account.data["name"]
    response = preview(admin_client, seeded["CUSTOMER"], remote=name)
    assert response.status_code == 200
    if response.context["matches"]:
        target = response.context["matches"][0][0]
        response = preview(admin_client, seeded["CUSTOMER"], remote=target)
    rows = {r.target: r for r in response.context["rows"]}
    assert rows["name"].result == name
    assert all(fm.direction != Direction.TO_CRM for fm in (r.field_mapping for r in rows.values()))


def test_preview_of_an_unknown_record_says_so(admin_client, seeded):
    response = preview(admin_client, seeded["CUSTOMER"], local="NOPE-1")
    assert "There is no customer &#x27;NOPE-1&#x27;." in response.content.decode()
