"""Form fuzz: Connection Setup, table mappings, transformation rules, the preview.

What every answer must satisfy is in forms.py; the world the forms work on in conftest.py."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django_q.models import Schedule
from hypothesis import given
from hypothesis import strategies as st

from mappings_app.models import (
    Connection,
    TableMapping,
    TransformationRule,
)
from tests.security.forms import (
    MAPPING_TABLES,
    assert_answered,
    post_data,
    post_form,
    rolled_back,
    said,
)
from tests.security.strategies import (
    HOSTILE,
    NUMBERS,
    SCALAR,
    apply,
    few,
    overrides,
)

pytestmark = pytest.mark.django_db


# --- Connection Setup, table mappings, transformation rules -------------------------------------
CONNECTION = {"service_root": "", "tenant_id": "demo", "client_id": "syncadmin-demo",
              "local_currency_code": "USD"}


@few(25)
@given(changes=overrides(CONNECTION))
def test_connection_setup_refuses_by_field(admin_client, world, changes):
    with rolled_back():
        post_form(admin_client, reverse("mappings:connection_edit"),
                  apply(CONNECTION, changes), [Connection])


@pytest.mark.parametrize("name, edit", [
    ("mappings:connection_edit", False),
    ("mappings:tablemapping_add", False),
    ("mappings:tablemapping_edit", True),
    ("mappings:transformationrule_add", False),
    ("mappings:transformationrule_edit", True),
])
def test_an_empty_post_is_refused_with_its_errors(admin_client, world, name, edit):
    """A POST with no fields at all is a refusal that says why, never a blank form shown again."""
    target = world["customers"] if "tablemapping" in name else world["rule"]
    url = reverse(name, args=[target.pk] if edit else [])
    post_form(admin_client, url, {}, [Connection, TableMapping, TransformationRule])
    assert "Nothing was saved" in " ".join(said(admin_client.post(url, {})))


def table_mapping_data(mapping=None):
    from mappings_app.forms import TableMappingForm

    form = TableMappingForm(instance=mapping or TableMapping(
        name="NEW", local_model="erp_app.vendor", remote_entity="account",
        remote_entity_set="accounts", remote_key="accountid"))
    data = post_data(form)
    data.update({"local_template": "{}", "remote_template": "{}"})
    return data


TABLE_MAPPING_FIELDS = [
    "name", "description", "local_model", "remote_entity", "remote_entity_set", "remote_key",
    "remote_modified_attribute", "direction", "is_enabled", "priority", "dependencies",
    "sync_only_coupled", "update_conflict_resolution", "deletion_conflict_resolution",
    "local_filter", "remote_filter", "local_template", "remote_template", "schedule_minutes",
    "inactivity_timeout_minutes",
]


@few(45)
@given(edit=st.booleans(), changes=overrides(TABLE_MAPPING_FIELDS))
def test_table_mapping_form_refuses_by_field(admin_client, world, edit, changes):
    mapping = world["customers"] if edit else None
    url = (reverse("mappings:tablemapping_edit", args=[mapping.pk]) if edit
           else reverse("mappings:tablemapping_add"))
    with rolled_back():
        post_form(admin_client, url, apply(table_mapping_data(mapping), changes),
                  [*MAPPING_TABLES, Schedule])


@pytest.mark.parametrize("field, value", [
    ("local_template", '{"name": "a\\u0000b"}'),
    ("remote_template", '{"name": "\\u0000"}'),
    ("local_template", '{"\\u0000": 1}'),
    ("local_template", '{"name": "\\ud800"}'),  # shown again as typed, not as a lone surrogate
    ("remote_template", '{"\\udfff": 1}'),
    ("priority", "99999999999999999999"),
    ("schedule_minutes", "9" * 30),
    ("inactivity_timeout_minutes", "-1"),
    ("dependencies", ["999999", "abc"]),
    ("dependencies", "9223372036854775808"),
    ("local_filter", "name = 'x\x00'"),
    ("name", "x" * 51),
])
def test_table_mapping_form_refuses_values_no_database_takes(admin_client, world, field, value):
    data = table_mapping_data(world["customers"])
    data[field] = value
    response = post_form(admin_client, reverse("mappings:tablemapping_edit",
                                                args=[world["customers"].pk]),
                         data, [*MAPPING_TABLES, Schedule])
    assert response.status_code == 200 and field in response.context["form"].errors


RULE = {"code": "NEW", "description": "", "type": "replace", "find_value": "a",
        "replace_value": "b", "regex": "", "start_position": "1", "length": "",
        "precision": "", "rounding_direction": "nearest", "date_format": "",
        "lookup_table": "{}", "lookup_default": ""}


@few(40)
@given(edit=st.booleans(), kind=st.sampled_from(
    ["replace", "regex_extract", "regex_replace", "substring", "round", "date_format", "lookup",
     "trim"]), changes=overrides(RULE))
def test_transformation_rule_form_refuses_by_field(admin_client, world, edit, kind, changes):
    rule = world["rule"]
    url = (reverse("mappings:transformationrule_edit", args=[rule.pk]) if edit
           else reverse("mappings:transformationrule_add"))
    with rolled_back():
        post_form(admin_client, url, apply({**RULE, "type": kind}, changes), MAPPING_TABLES)


@pytest.mark.parametrize("field, value", [
    ("lookup_table", '{"a": "\\u0000"}'),
    ("lookup_table", '{"\\u0000": "b"}'),
    ("precision", "1" * 20),
    ("precision", "0.0000001"),
    ("start_position", "9" * 25),
    ("length", "-5"),
    ("regex", "(" * 300),
])
def test_transformation_rule_form_refuses_values_no_database_takes(admin_client, world, field,
                                                                    value):
    kind = {"lookup_table": "lookup", "precision": "round", "regex": "regex_extract"}.get(
        field, "substring")
    data = {**RULE, "type": kind, "lookup_table": '{"a": "b"}', "precision": "0.01",
            "regex": "a", field: value}
    response = post_form(admin_client, reverse("mappings:transformationrule_add"), data,
                         MAPPING_TABLES)
    assert response.status_code == 200 and field in response.context["form"].errors


@few(20)
@given(sample=st.one_of(HOSTILE, NUMBERS, st.lists(HOSTILE, min_size=2, max_size=2)),
       kind=st.sampled_from(["regex_replace", "round", "date_format", "lookup", "substring"]))
def test_trying_a_rule_on_a_sample_never_fails(admin_client, world, sample, kind):
    rule = world["rule"]
    with rolled_back():
        TransformationRule.objects.filter(pk=rule.pk).update(
            type=kind, regex="(a+)+$", replace_value="x", precision=Decimal("0.01"),
            date_format="%d.%m.%Y", lookup_table={"a": "b"}, start_position=3, length=2)
        url = reverse("mappings:transformationrule_detail", args=[rule.pk])
        assert_answered(admin_client.get(url, {"sample": sample}), 200)
        assert_answered(admin_client.get(url, {"sample": sample}, HTTP_HX_REQUEST="true"), 200)


@few(20)
@given(local=SCALAR, remote=SCALAR)
def test_the_preview_never_fails(admin_client, world, local, remote):
    url = reverse("mappings:tablemapping_preview", args=[world["customers"].pk])
    assert_answered(admin_client.get(url, {"local": local}), 200)
    assert_answered(admin_client.get(url, {"remote": remote}), 200)

