"""Match-Based Coupling shows BC's coupling criteria before it runs: which fields to match on,
their match priority and case sensitivity, and Create New if Unable to Find a Match. An
administrator's changes are saved on the mapping; an operator sees them and runs."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from couplings_app.models import Coupling, SyncJob
from erp_app.models import Customer
from mappings_app.models import FieldMapping
from tests.couplings_app.page_fixtures import client_for, user_with_role

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])


def said(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def fields(mapping):
    return {fm.local_field: fm for fm in FieldMapping.objects.filter(table_mapping=mapping)}


def criteria_post(mapping, **overrides):
    """The criteria form as posted: every field as it is, then the overrides."""
    data = {"criteria": "yes"}
    for fm in fields(mapping).values():
        if not fm.is_enabled or not fm.remote_attribute or not fm.local_field:
            continue
        if fm.use_for_matching:
            data[f"use_{fm.pk}"] = "on"
        if fm.case_sensitive_matching:
            data[f"case_{fm.pk}"] = "on"
        data[f"priority_{fm.pk}"] = str(fm.match_priority)
    for key, value in overrides.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def test_the_criteria_step_comes_before_the_run(demo):
    admin = client_for(user_with_role("administrator"))
    mapping = demo["CUSTOMER"]
    customer = Customer.objects.order_by("pk").first()
    detail = admin.get(reverse("erp:detail", kwargs={"model": "customer", "pk": customer.pk}))
    step = reverse("couplings:record_match_criteria", args=[mapping.pk, customer.pk])
    assert step in detail.content.decode()
    html = admin.get(step).content.decode()
    by_name = fields(mapping)
    for caption in ("Use For Match-Based Coupling", "Match Priority", "Case-Sensitive Matching",
                    "Create New if Unable to Find a Match", "Run Match-Based Coupling"):
        assert caption in html
    assert f'name="use_{by_name["no"].pk}"' in html and f'name="case_{by_name["name"].pk}"' in html
    assert not Coupling.objects.filter(local_model="erp_app.customer",
                                       local_id=customer.pk).exists()
    assert not SyncJob.objects.filter(type="coupling").exists()
    mapping_step = reverse("couplings:mapping_match_criteria", args=[mapping.pk])
    assert mapping_step in admin.get(mapping.get_absolute_url()).content.decode()
    assert "Run Match-Based Coupling" in admin.get(mapping_step).content.decode()


def test_an_administrator_matches_on_the_fields_chosen_and_they_are_saved(demo, crm):
    admin = client_for(user_with_role("administrator"))
    mapping = demo["CUSTOMER"]
    by_name = fields(mapping)
    customer = Customer.objects.order_by("pk").first()
    account_name = customer.name
    # Only the name, case-sensitive, priority 5; no create.
    data = criteria_post(mapping, **{f"use_{by_name['no'].pk}": None,
                                     f"use_{by_name['name'].pk}": "on",
                                     f"case_{by_name['name'].pk}": "on",
                                     f"priority_{by_name['name'].pk}": "5",
                                     "create_new": None})
    response = admin.post(reverse("couplings:record_match", args=[mapping.pk, customer.pk]),
                          data)
    assert response.status_code == 302
    by_name = fields(mapping)
    assert not by_name["no"].use_for_matching
    assert by_name["name"].use_for_matching and by_name["name"].case_sensitive_matching
    assert by_name["name"].match_priority == 5
    assert any("saved the coupling criteria" in m for m in said(response))
    coupling = Coupling.objects.filter(local_model="erp_app.customer", local_id=customer.pk)
    found = crm.iter_pages("accounts", select=["name"],
                           filter=f"name eq '{account_name.replace(chr(39), chr(39) * 2)}'")
    if any(next(iter(found), [])):
        assert coupling.exists()
        assert any(f"is coupled to account {account_name}" in m for m in said(response))


def test_a_wrong_priority_is_refused_and_nothing_runs(demo):
    admin = client_for(user_with_role("administrator"))
    mapping = demo["CUSTOMER"]
    by_name = fields(mapping)
    customer = Customer.objects.order_by("pk").first()
    before = SyncJob.objects.count()
    response = admin.post(reverse("couplings:record_match", args=[mapping.pk, customer.pk]),
                          criteria_post(mapping, **{f"priority_{by_name['name'].pk}": "abc"}))
    assert response["Location"] == reverse("couplings:record_match_criteria",
                                           args=[mapping.pk, customer.pk])
    assert "Match Priority of Name must be a whole number" in said(response)[0]
    assert SyncJob.objects.count() == before
    none = criteria_post(mapping, **{f"use_{fm.pk}": None for fm in by_name.values()})
    response = admin.post(reverse("couplings:mapping_action", args=[mapping.pk, "match"]), none)
    assert "Choose at least one field to match on" in said(response)[-1]
    assert fields(mapping)["no"].use_for_matching


def test_an_operator_sees_the_criteria_and_cannot_change_them(demo):
    operator = client_for(user_with_role("operator"))
    mapping = demo["CUSTOMER"]
    by_name = fields(mapping)
    customer = Customer.objects.order_by("pk").first()
    html = operator.get(reverse("couplings:record_match_criteria",
                                args=[mapping.pk, customer.pk])).content.decode()
    assert "disabled" in html and "an administrator changes them" in html
    operator.post(reverse("couplings:mapping_action", args=[mapping.pk, "match"]),
                  criteria_post(mapping, **{f"use_{by_name['no'].pk}": None}))
    assert fields(mapping)["no"].use_for_matching
