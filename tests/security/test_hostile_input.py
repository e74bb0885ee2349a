"""Random and hostile input never causes a server error; refusals name the field."""

import pytest
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from dataverse import filter as odata_filter
from erp_app.models import Contact, Customer
from mappings_app import local_filter
from tests.security.strategies import FAST

HOSTILE = st.one_of(
    st.text(max_size=120),
    st.sampled_from([
        "'; DROP TABLE erp_app_customer; --", "__import__('os').system('id')", "{{ 7*7 }}",
        "<script>alert(1)</script>", "\x00", "a" * 5000, "name = 'x' OR 1=1", "((((((",
        "id = 1 AND password != empty", "company.people.name = x", "Microsoft.Dynamics.CRM.In(",
    ]),
)


@FAST
@given(HOSTILE)
def test_table_filters_either_parse_or_refuse_with_a_position(text):
    for model in (Customer, Contact):
        try:
            local_filter.parse(model, text)
        except local_filter.FilterError as error:
            assert "at position" in str(error)


@FAST
@given(HOSTILE)
def test_crm_filters_either_parse_or_refuse_with_a_position(text):
    try:
        odata_filter.parse(text)
    except odata_filter.FilterSyntaxError as error:
        assert "at position" in str(error)


@pytest.mark.django_db
@FAST
@given(no=HOSTILE, name=HOSTILE, limit=HOSTILE, email=HOSTILE)
def test_the_customer_form_never_fails_with_a_server_error(admin_client, no, name, limit, email):
    response = admin_client.post(reverse("erp:add", kwargs={"model": "customer"}),
                                 {"no": no, "name": name, "credit_limit_lcy": limit,
                                  "email": email})
    assert response.status_code in (200, 302)
    if response.status_code == 200:
        form = response.context["form"]
        assert form.errors and all(field in form.fields or field == "__all__"
                                   for field in form.errors)


@pytest.mark.django_db
@FAST
@given(q=HOSTILE, sort=HOSTILE, page=HOSTILE, salesperson=HOSTILE)
def test_list_parameters_never_fail_with_a_server_error(admin_client, q, sort, page, salesperson):
    response = admin_client.get(reverse("erp:list", kwargs={"model": "customer"}),
                                {"q": q, "sort": sort, "page": page, "salesperson": salesperson})
    assert response.status_code in (200, 404)
