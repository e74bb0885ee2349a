"""Form fuzz: Integration Field Mappings, a formset, its management form tampered with.

What every answer must satisfy is in forms.py; the world the forms work on in conftest.py."""

import html

import pytest
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from mappings_app.models import FieldMapping
from tests.security.forms import (
    MAPPING_TABLES,
    assert_answered,
    assert_names_the_fields,
    post_data,
    rolled_back,
    rows,
)
from tests.security.strategies import (
    MISSING,
    apply,
    few,
    overrides,
)

pytestmark = pytest.mark.django_db


PREFIX = "field_mappings"


# --- Integration Field Mappings: a formset, its management form included ------------------------
def field_mapping_data(mapping):
    from mappings_app.forms import FieldMappingFormSet

    formset = FieldMappingFormSet(instance=mapping, queryset=mapping.field_mappings.all())
    data = post_data(formset.management_form)
    for form in formset.forms:
        data.update(post_data(form))
    return data, len(formset.forms)


ROW_FIELDS = ["id", "table_mapping", "position", "is_enabled", "local_field", "direction",
              "remote_attribute", "constant_value", "transformation_rule",
              "transformation_direction", "lookup_mapping", "use_for_matching",
              "match_priority", "DELETE"]
MANAGEMENT = ["TOTAL_FORMS", "INITIAL_FORMS", "MIN_NUM_FORMS", "MAX_NUM_FORMS"]


def post_formset(client, mapping, data):
    url = reverse("mappings:fieldmapping_list", args=[mapping.pk])
    before = rows(*MAPPING_TABLES)
    response = client.post(url, data)
    assert_answered(response)
    if response.status_code == 200:
        formset = response.context["formset"]
        page = response.content.decode()
        assert not formset.is_valid()
        for message in formset.non_form_errors():
            assert html.escape(message) in page, f"{message!r} is not shown"
        for form in formset.forms:
            if form.errors:
                assert_names_the_fields(response, form)
        assert rows(*MAPPING_TABLES) == before, "a refused formset saved something"
    return response


TAMPERED = st.sampled_from(["-1", "0", "1", "3", "301", "1001", "9" * 30, "abc", "²", "", MISSING])


@few(20)
@given(row=st.integers(min_value=0, max_value=3), changes=overrides(ROW_FIELDS),
       management=st.dictionaries(st.sampled_from(MANAGEMENT), TAMPERED, max_size=2))
def test_field_mappings_refuse_by_row_and_field(admin_client, world, row, changes, management):
    mapping = world["customers"]
    data, _ = field_mapping_data(mapping)
    data = apply(data, {f"{PREFIX}-{row}-{k}": v for k, v in changes.items()})
    data = apply(data, {f"{PREFIX}-{k}": v for k, v in management.items()})
    with rolled_back():
        post_formset(admin_client, mapping, data)


def test_field_mappings_refuse_a_tampered_management_form(admin_client, world):
    mapping, people = world["customers"], world["people"]
    data, count = field_mapping_data(mapping)
    other = people.field_mappings.get()
    first = mapping.field_mappings.order_by("position").first()
    cases = [
        {f"{PREFIX}-TOTAL_FORMS": "100000000"}, {f"{PREFIX}-TOTAL_FORMS": "-5"},
        {f"{PREFIX}-TOTAL_FORMS": MISSING}, {f"{PREFIX}-INITIAL_FORMS": MISSING},
        {f"{PREFIX}-TOTAL_FORMS": "9" * 30}, {f"{PREFIX}-INITIAL_FORMS": "50"},
        {f"{PREFIX}-TOTAL_FORMS": "1001", f"{PREFIX}-MAX_NUM_FORMS": "100000"},
        {f"{PREFIX}-INITIAL_FORMS": "-1"}, {f"{PREFIX}-TOTAL_FORMS": ["2", "3"]},
        {f"{PREFIX}-1-id": str(first.pk)},  # one field mapping in two rows
        {f"{PREFIX}-0-id": str(other.pk)},  # a field mapping of another table mapping
        {f"{PREFIX}-0-id": "999999"}, {f"{PREFIX}-0-id": MISSING},
        {f"{PREFIX}-0-table_mapping": str(people.pk)},
        {f"{PREFIX}-0-id": [str(first.pk), str(other.pk)]},
        {f"{PREFIX}-{count - 1}-local_field": "name", f"{PREFIX}-{count - 1}-remote_attribute":
         "name"},  # the new row duplicates a mapped field: allowed or refused, never a 500
    ]
    for case in cases:
        with rolled_back():
            response = post_formset(admin_client, mapping, apply(data, case))
        if "TOTAL_FORMS" in str(case) and response.status_code == 200:
            assert len(response.context["formset"].forms) <= 300, case
    assert other.table_mapping_id == people.pk
    assert FieldMapping.objects.get(pk=other.pk).table_mapping_id == people.pk

