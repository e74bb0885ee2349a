"""Integration Table Mappings: list, card, edit with validation next to the field, actions."""

import pytest
from django.urls import reverse

from mappings_app.choices import Direction
from mappings_app.models import TableMapping

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])

LIST = reverse("mappings:tablemapping_list")


@pytest.fixture
def viewer(login_with):
    return login_with("view_tablemapping", "view_fieldmapping", "view_connection")


def form_data(mapping, **changes):
    data = {
        "name": mapping.name, "description": mapping.description,
        "local_model": mapping.local_model, "remote_entity": mapping.remote_entity,
        "remote_entity_set": mapping.remote_entity_set, "remote_key": mapping.remote_key,
        "remote_modified_attribute": mapping.remote_modified_attribute,
        "direction": mapping.direction, "priority": mapping.priority,
        "dependencies": [d.pk for d in mapping.dependencies.all()],
        "update_conflict_resolution": mapping.update_conflict_resolution,
        "deletion_conflict_resolution": mapping.deletion_conflict_resolution,
        "local_filter": mapping.local_filter, "remote_filter": mapping.remote_filter,
        "local_template": '{"type": "person"}' if mapping.local_template else "{}",
        "remote_template": "{}", "schedule_minutes": 30, "inactivity_timeout_minutes": 1440,
    }
    for flag in ("is_enabled", "sync_only_coupled", "sync_after_coupling"):
        if getattr(mapping, flag):
            data[flag] = "on"
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def errors_of(response, field):
    return [str(e) for e in response.context["form"].errors.get(field, [])]


def test_list_shows_the_mappings_in_sync_order(admin_client, setup):
    response = admin_client.get(LIST)
    names = [row.record.name for row in response.context["table"].rows]
    assert names[:4] == ["CURRENCY", "SALESPEOPLE", "UNIT OF MEASURE", "CUSTOMER"]
    html = response.content.decode()
    for caption in ("Order", "Synch. Only Coupled Records", "Integration Table Filter",
                    "Synch. Modified On Filter", "Reset to Default", "Field Mappings"):
        assert caption in html
    assert 'title="customertypecode eq 3 and statecode eq 0"' in html


def test_list_filters_by_direction_and_table(admin_client, setup):
    response = admin_client.get(LIST, {"direction": Direction.FROM_CRM})
    assert [r.record.name for r in response.context["table"].rows] == ["SALESPEOPLE"]
    response = admin_client.get(LIST, {"local_model": "erp_app.customer"})
    assert [r.record.name for r in response.context["table"].rows] == ["CUSTOMER"]
    response = admin_client.get(LIST, {"remote_entity": "account", "name": "vend"})
    assert [r.record.name for r in response.context["table"].rows] == ["VENDOR"]


def test_viewer_sees_the_list_read_only(viewer, setup):
    response = viewer.get(LIST)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Reset to Default" not in html and 'name="pk"' not in html
    assert reverse("mappings:tablemapping_edit", args=[setup["CUSTOMER"].pk]) not in html


def test_list_requires_view_permission(client, plain_user):
    client.force_login(plain_user)
    assert client.get(LIST).status_code == 403


def test_card_groups_fields_like_bcs_fasttabs(admin_client, setup):
    response = admin_client.get(setup["CONTACT"].get_absolute_url())
    html = response.content.decode()
    for tab in ("General", "Synchronization", "Filters", "Templates", "Schedule", "Watermarks"):
        assert f">{tab}" in html
    assert "type = person AND company != empty" in html
    assert "Reset watermarks" in html
    assert "CUSTOMER" in html  # waits for CUSTOMER through its parent-account lookup


def test_bulk_disable_and_enable(admin_client, setup):
    ids = [setup["CUSTOMER"].pk, setup["VENDOR"].pk]
    admin_client.post(reverse("mappings:tablemapping_bulk_disable"), {"pk": ids})
    assert not TableMapping.objects.filter(pk__in=ids, is_enabled=True).exists()
    assert TableMapping.objects.get(name="CONTACT").is_enabled
    admin_client.post(reverse("mappings:tablemapping_bulk_enable"), {"pk": ids})
    assert TableMapping.objects.filter(pk__in=ids, is_enabled=True).count() == 2


def test_bulk_reset_restores_the_selected_defaults(admin_client, setup):
    TableMapping.objects.filter(name="CUSTOMER").update(remote_filter="statecode eq 0")
    response = admin_client.post(reverse("mappings:tablemapping_bulk_reset"),
                                 {"pk": [setup["CUSTOMER"].pk]}, follow=True)
    assert "1 reset" in response.content.decode()
    assert TableMapping.objects.get(name="CUSTOMER").remote_filter.startswith("customertypecode")


def test_row_reset_to_default(admin_client, setup):
    customer = setup["CUSTOMER"]
    TableMapping.objects.filter(pk=customer.pk).update(direction=Direction.TO_CRM)
    admin_client.post(reverse("mappings:tablemapping_reset", args=[customer.pk]))
    customer.refresh_from_db()
    assert customer.direction == Direction.BIDIRECTIONAL


def test_reset_watermarks_clears_both(admin_client, setup):
    from django.utils import timezone

    customer = setup["CUSTOMER"]
    TableMapping.objects.filter(pk=customer.pk).update(
        local_synced_until=timezone.now(), remote_synced_until=timezone.now())
    admin_client.post(reverse("mappings:tablemapping_reset_watermarks", args=[customer.pk]))
    customer.refresh_from_db()
    assert customer.local_synced_until is None and customer.remote_synced_until is None


@pytest.mark.parametrize("name", ["tablemapping_reset", "tablemapping_reset_watermarks"])
def test_row_actions_reject_get_and_users_without_permission(admin_client, viewer, setup, name):
    url = reverse(f"mappings:{name}", args=[setup["CUSTOMER"].pk])
    assert admin_client.get(url).status_code == 405
    assert viewer.post(url).status_code == 403


@pytest.mark.parametrize("name", ["tablemapping_bulk_reset", "tablemapping_bulk_enable",
                                  "tablemapping_bulk_disable"])
def test_bulk_actions_reject_get_and_users_without_permission(admin_client, viewer, setup, name):
    url = reverse(f"mappings:{name}")
    assert admin_client.get(url).status_code == 405
    assert viewer.post(url, {"pk": [setup["CUSTOMER"].pk]}).status_code == 403
    assert TableMapping.objects.get(name="CUSTOMER").is_enabled


def test_edit_page_offers_tables_and_crm_entities(admin_client, setup):
    response = admin_client.get(reverse("mappings:tablemapping_edit", args=[setup["CUSTOMER"].pk]))
    form = response.context["form"]
    tables = [value for value, _ in form.fields["local_model"].choices]
    assert tables[1].startswith("erp_app.") and "erp_app.customer" in tables
    assert not any(v.startswith(("auth.", "sessions.", "admin.")) for v in tables)
    entities = [value for value, _ in form.fields["remote_entity"].choices]
    assert {"account", "contact", "systemuser"} <= set(entities)


def test_edit_saves_a_valid_change(admin_client, setup):
    customer = setup["CUSTOMER"]
    url = reverse("mappings:tablemapping_edit", args=[customer.pk])
    response = admin_client.post(url, form_data(customer, local_filter="blocked = empty",
                                                priority=45))
    assert response.status_code == 302, response.context["form"].errors
    customer.refresh_from_db()
    assert (customer.local_filter, customer.priority) == ("blocked = empty", 45)


def test_bad_table_filter_names_its_position(admin_client, setup):
    customer = setup["CUSTOMER"]
    url = reverse("mappings:tablemapping_edit", args=[customer.pk])
    data = form_data(customer, local_filter="city = Boston AND nope = 1")
    response = admin_client.post(url, data)
    assert response.status_code == 200
    (message,) = errors_of(response, "local_filter")
    assert "no field 'nope'" in message and "(at position 19)" in message
    assert "is-invalid" in response.content.decode()


def test_unknown_crm_attribute_in_the_integration_table_filter(admin_client, setup):
    customer = setup["CUSTOMER"]
    url = reverse("mappings:tablemapping_edit", args=[customer.pk])
    data = form_data(customer, remote_filter="statecode eq 0 and foo eq 1")
    response = admin_client.post(url, data)
    (message,) = errors_of(response, "remote_filter")
    assert "account has no attribute 'foo' (at position 20)" in message


def test_bad_json_template_is_refused_next_to_the_field(admin_client, setup):
    customer = setup["CUSTOMER"]
    url = reverse("mappings:tablemapping_edit", args=[customer.pk])
    response = admin_client.post(url, form_data(customer, remote_template="{customertypecode: 3"))
    assert errors_of(response, "remote_template") == ["Enter a valid JSON."]
    response = admin_client.post(url, form_data(customer, remote_template='{"nosuch": 1}'))
    assert "nosuch: account has no such attribute." in errors_of(response, "remote_template")


def test_dependency_cycle_is_refused(admin_client, setup):
    currency = setup["CURRENCY"]  # CUSTPRCGRP-PRICE already depends on CURRENCY
    url = reverse("mappings:tablemapping_edit", args=[currency.pk])
    response = admin_client.post(url, form_data(currency,
                                                dependencies=[setup["CUSTPRCGRP-PRICE"].pk]))
    (message,) = errors_of(response, "dependencies")
    assert "cycle" in message and "CURRENCY" in message and "CUSTPRCGRP-PRICE" in message
    assert not currency.dependencies.exists()


def test_add_fills_the_entity_set_and_key_from_the_crm(admin_client, setup):
    response = admin_client.post(reverse("mappings:tablemapping_add"), {
        "name": "ITEM-ACCOUNT TEST", "local_model": "erp_app.shippingagent",
        "remote_entity": "account", "remote_modified_attribute": "modifiedon",
        "direction": Direction.TO_CRM, "priority": 200, "update_conflict_resolution": "none",
        "deletion_conflict_resolution": "none", "local_template": "{}", "remote_template": "{}",
        "schedule_minutes": 30, "inactivity_timeout_minutes": 1440, "is_enabled": "on"})
    assert response.status_code == 302, response.context["form"].errors
    created = TableMapping.objects.get(name="ITEM-ACCOUNT TEST")
    assert (created.remote_entity_set, created.remote_key) == ("accounts", "accountid")


@pytest.mark.parametrize("entity", ["acc\x00ount", "Account; DROP TABLE x", "x" * 300])
def test_an_entity_that_is_no_logical_name_is_refused_next_to_the_field(admin_client, setup,
                                                                          entity):
    # PostgreSQL refuses a NUL in a query: the name must never reach the database.
    response = admin_client.post(reverse("mappings:tablemapping_add"), {
        "name": "BAD ENTITY", "local_model": "erp_app.shippingagent", "remote_entity": entity,
        "remote_modified_attribute": "modifiedon", "direction": Direction.TO_CRM,
        "priority": 200, "update_conflict_resolution": "none",
        "deletion_conflict_resolution": "none", "local_template": "{}",
        "remote_template": "{}", "schedule_minutes": 30, "inactivity_timeout_minutes": 1440})
    assert response.status_code == 200
    assert "remote_entity" in response.context["form"].errors
    assert not TableMapping.objects.filter(name="BAD ENTITY").exists()


def test_add_and_edit_are_refused_without_permission(viewer, setup):
    assert viewer.get(reverse("mappings:tablemapping_add")).status_code == 403
    url = reverse("mappings:tablemapping_edit", args=[setup["CUSTOMER"].pk])
    assert viewer.post(url, {}).status_code == 403


def test_delete_asks_then_deletes(admin_client, setup):
    invoices = setup["POSTEDSALESINV-INV"]
    url = reverse("mappings:tablemapping_delete", args=[invoices.pk])
    assert "Yes, delete" in admin_client.get(url).content.decode()
    assert TableMapping.objects.filter(pk=invoices.pk).exists()
    admin_client.post(url)
    assert not TableMapping.objects.filter(pk=invoices.pk).exists()


def test_delete_of_a_mapping_others_look_up_through_is_refused(admin_client, setup):
    url = reverse("mappings:tablemapping_delete", args=[setup["SALESPEOPLE"].pk])
    response = admin_client.post(url, follow=True)
    assert "was not deleted" in response.content.decode()
    assert TableMapping.objects.filter(name="SALESPEOPLE").exists()


def test_delete_requires_permission(viewer, setup):
    url = reverse("mappings:tablemapping_delete", args=[setup["CUSTOMER"].pk])
    assert viewer.post(url).status_code == 403
