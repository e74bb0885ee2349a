"""Transformation Rules: list, card with a test on a sample value, add, edit, delete."""

import pytest
from django.urls import reverse

from mappings_app.choices import TransformationType
from mappings_app.models import FieldMapping, TableMapping, TransformationRule

pytestmark = pytest.mark.django_db


@pytest.fixture
def rule(db):
    return TransformationRule.objects.create(code="TRIM", type=TransformationType.TRIM,
                                             description="Remove spaces")


@pytest.fixture
def round_rule(db):
    return TransformationRule.objects.create(code="ROUND5", type=TransformationType.ROUND,
                                             precision=5)


@pytest.fixture
def viewer(login_with):
    return login_with("view_transformationrule")


def test_list_and_card_render(admin_client, rule):
    html = admin_client.get(reverse("mappings:transformationrule_list")).content.decode()
    assert "TRIM" in html and "Remove spaces" in html
    html = admin_client.get(rule.get_absolute_url()).content.decode()
    assert "Test the rule" in html and 'hx-get="' in html


def test_testing_a_sample_without_javascript(admin_client, rule):
    response = admin_client.get(rule.get_absolute_url(), {"sample": "  Contoso  "})
    html = response.content.decode()
    assert "&#x27;Contoso&#x27;" in html and "<html" in html


def test_testing_a_sample_with_htmx_swaps_only_the_result(admin_client, rule):
    response = admin_client.get(rule.get_absolute_url(), {"sample": " a "},
                                headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.strip().startswith('<div id="rule-test-result"')
    assert "&#x27;a&#x27;" in html and "<html" not in html


def test_a_failing_sample_shows_the_transformation_error(admin_client, round_rule):
    response = admin_client.get(round_rule.get_absolute_url(), {"sample": "abc"},
                                headers={"HX-Request": "true"})
    assert "ROUND5: &#x27;abc&#x27; is not a number to round." in response.content.decode()


def test_add_and_edit(admin_client):
    response = admin_client.post(reverse("mappings:transformationrule_add"), {
        "code": "SHIP", "type": TransformationType.LOOKUP, "start_position": 1,
        "rounding_direction": "nearest", "lookup_table": '{"DHL": "2"}'})
    assert response.status_code == 302
    rule = TransformationRule.objects.get(code="SHIP")
    assert rule.lookup_table == {"DHL": "2"}
    response = admin_client.post(reverse("mappings:transformationrule_edit", args=[rule.pk]), {
        "code": "SHIP", "type": TransformationType.REGEX_EXTRACT, "start_position": 1,
        "rounding_direction": "nearest", "regex": "([a-z", "lookup_table": "{}"})
    assert response.status_code == 200
    assert "Not a valid regular expression" in str(response.context["form"].errors["regex"])


def test_delete_of_an_unused_rule(admin_client, rule):
    url = reverse("mappings:transformationrule_delete", args=[rule.pk])
    assert "Yes, delete" in admin_client.get(url).content.decode()
    admin_client.post(url)
    assert not TransformationRule.objects.exists()


def test_delete_of_a_rule_in_use_is_refused_with_a_message(admin_client, rule):
    mapping = TableMapping.objects.create(name="X", local_model="erp_app.currency",
                                          remote_entity="transactioncurrency",
                                          remote_entity_set="transactioncurrencies",
                                          remote_key="transactioncurrencyid")
    FieldMapping.objects.create(table_mapping=mapping, local_field="code",
                                remote_attribute="isocurrencycode", transformation_rule=rule)
    url = reverse("mappings:transformationrule_delete", args=[rule.pk])
    response = admin_client.post(url, follow=True)
    assert "was not deleted: field mappings use it" in response.content.decode()
    assert TransformationRule.objects.filter(pk=rule.pk).exists()


def test_viewer_may_test_but_not_change(viewer, rule):
    html = viewer.get(rule.get_absolute_url()).content.decode()
    assert ">Edit<" not in html and ">Delete<" not in html
    assert viewer.get(rule.get_absolute_url(), {"sample": "x"}).status_code == 200
    assert viewer.get(reverse("mappings:transformationrule_add")).status_code == 403
    edit = reverse("mappings:transformationrule_edit", args=[rule.pk])
    assert viewer.post(edit).status_code == 403
    url = reverse("mappings:transformationrule_delete", args=[rule.pk])
    assert viewer.post(url).status_code == 403
    assert TransformationRule.objects.filter(pk=rule.pk).exists()


def test_list_requires_view_permission(client, plain_user):
    client.force_login(plain_user)
    assert client.get(reverse("mappings:transformationrule_list")).status_code == 403
