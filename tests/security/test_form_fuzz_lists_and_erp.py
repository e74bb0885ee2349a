"""Form fuzz: the lists' filters and every ERP table's New and Edit pages.

What every answer must satisfy is in forms.py; the world the forms work on in conftest.py."""

import pytest
from django.db import models
from django.forms import modelform_factory
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from erp_app.pages import site as erp_site
from syncadmin.forms import BootstrapModelForm, formfield
from tests.security.forms import assert_answered, post_data, post_form, rolled_back
from tests.security.strategies import (
    SCALAR,
    apply,
    few,
    overrides,
)

pytestmark = pytest.mark.django_db


# --- the lists' filters -------------------------------------------------------------------------
LIST_PARAMS = ["q", "name", "local_model", "remote_entity", "direction", "is_enabled", "type",
               "mapping", "status", "trigger", "with_errors", "job", "since", "local_id",
               "result", "skipped", "kind", "page", "sort", "per_page", "coupled"]


@few(25)
@given(params=st.dictionaries(st.sampled_from(LIST_PARAMS), SCALAR, min_size=1, max_size=4))
def test_list_filters_never_fail(admin_client, world, params):
    for name in ("mappings:tablemapping_list", "mappings:transformationrule_list",
                 "couplings:syncjob_list", "couplings:syncerror_list", "couplings:coupling_list",
                 "couplings:skipped_list", "couplings:jobqueue_list"):
        assert_answered(admin_client.get(reverse(name), params), 200, 404)
    for model in ("customer", "item"):
        assert_answered(admin_client.get(reverse("erp:list", kwargs={"model": model}), params),
                        200, 404)


# --- every ERP table's edit page ----------------------------------------------------------------
ERP_PAGES = sorted(erp_site, key=lambda page: page.slug)


def erp_form(page, instance):
    form_class = modelform_factory(page.model, form=BootstrapModelForm,
                                   fields=page.form_fields, formfield_callback=formfield)
    return form_class(instance=instance)


def erp_tables():
    return [page.model for page in ERP_PAGES]


@few(60)
@given(page=st.sampled_from(ERP_PAGES), edit=st.booleans(), data=st.data())
def test_every_erp_form_refuses_by_field(admin_client, world, page, edit, data):
    instance = world["records"].get(page.model)
    if instance is None:  # a table without a record here: only its New page
        edit = False
    values = post_data(erp_form(page, instance))
    if not edit:
        values = {k: v for k, v in values.items()}
    changes = data.draw(overrides(page.form_fields))
    url = (reverse("erp:edit", kwargs={"model": page.slug, "pk": instance.pk}) if edit
           else reverse("erp:add", kwargs={"model": page.slug}))
    with rolled_back():
        post_form(admin_client, url, apply(values, changes), erp_tables())


def too_big(field):
    """A value of the right type that no column of this field holds, or None."""
    if isinstance(field, models.DecimalField):
        return "9" * (field.max_digits - field.decimal_places + 1)
    if isinstance(field, models.CharField) and field.max_length:
        if isinstance(field, models.EmailField):
            return "a" * field.max_length + "@example.com"
        if isinstance(field, models.URLField):
            return "https://example.com/" + "a" * field.max_length
        return "a" * (field.max_length + 1)
    if isinstance(field, models.IntegerField):
        return "9" * 25
    if isinstance(field, models.DateField):
        return "10000-01-01"
    if isinstance(field, models.ForeignKey):
        return "9" * 25
    return None


def test_every_erp_edit_form_refuses_values_out_of_range(admin_client, world):
    checked = 0
    for page in ERP_PAGES:
        instance = world["records"].get(page.model)
        if instance is None:
            continue
        url = reverse("erp:edit", kwargs={"model": page.slug, "pk": instance.pk})
        values = post_data(erp_form(page, instance))
        for name in page.form_fields:
            field = page.model._meta.get_field(name)
            for bad in filter(None, [too_big(field), "\x00" if field.get_internal_type() in
                                     ("CharField", "EmailField", "URLField") else None]):
                with rolled_back():
                    response = post_form(admin_client, url, {**values, name: bad}, erp_tables())
                assert response.status_code == 200, f"{page.slug}.{name} took {bad[:30]!r}"
                assert name in response.context["form"].errors, f"{page.slug}.{name}"
                checked += 1
    assert checked > 100
