"""Match-Based Coupling, polished: the criteria step names the ERP fields by their captions and
shows the CRM attribute beside them; the bulk buttons of the ERP lists and of the table mappings
list go through that step too (a POST under CSRF and the permission, never a run at once); and a
run that has already finished says its result, with a link to its job."""

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from couplings_app.models import Coupling, SyncJob
from erp_app.models import Customer
from tests.couplings_app.page_fixtures import client_for, user_with_role
from tests.couplings_app.test_pages_match_criteria import criteria_post

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])


@pytest.fixture
def sync_tasks(monkeypatch):
    monkeypatch.setattr("django_q.conf.Conf.SYNC", True)


def said(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def coupling_jobs():
    return SyncJob.objects.filter(type="coupling")


def test_the_criteria_show_captions_and_the_crm_attribute(demo):
    admin = client_for(user_with_role("administrator"))
    mapping = demo["CUSTOMER"]
    html = admin.get(reverse("couplings:mapping_match_criteria", args=[mapping.pk])) \
        .content.decode()
    cells = dict(re.findall(r'<th scope="row"[^>]*><label[^>]*>([^<]+)</label></th>\s*'
                            r'<td><code[^>]*>([^<]+)</code></td>', html))
    assert cells["No."] == "accountnumber"
    assert cells["Phone No."] == "telephone1"
    assert cells["Address 2"] == "address1_line2"
    assert "Country/Region Code" in cells
    for raw in ("no", "address_2", "phone_no", "country_region_code"):
        assert f">{raw}<" not in html, raw


def test_unticked_checkboxes_have_a_visible_border(client):
    from django.contrib.staticfiles import finders

    css = open(finders.find("syncadmin/syncadmin.css"), encoding="utf-8").read()
    rule = re.search(r"\.form-check-input\s*\{([^}]*)\}", css)
    assert rule and "border-color" in rule.group(1)


def test_a_finished_run_says_its_result_with_a_link_to_its_job(demo, sync_tasks):
    operator = client_for(user_with_role("operator"))
    mapping = demo["CUSTOMER"]
    response = operator.post(reverse("couplings:mapping_action", args=[mapping.pk, "match"]),
                             {"criteria": "yes"})
    assert response.status_code == 302
    job = coupling_jobs().get()
    messages = said(response)
    assert not any(m.startswith("Queued") for m in messages), messages
    text = next(m for m in messages if "Match-based coupling of CUSTOMER" in m)
    assert re.search(r"\d+ coupled, \d+ without a match, \d+ with more than one match", text)
    assert f'href="{job.get_absolute_url()}"' in text


def test_a_run_not_yet_finished_is_said_queued(demo):
    operator = client_for(user_with_role("operator"))
    mapping = demo["CUSTOMER"]
    response = operator.post(reverse("couplings:mapping_action", args=[mapping.pk, "match"]))
    assert any(m.startswith("Queued match-based coupling of CUSTOMER") for m in said(response))


def test_the_erp_list_button_goes_through_the_criteria(demo, sync_tasks):
    operator = client_for(user_with_role("operator"))
    mapping = demo["CUSTOMER"]
    ids = list(Customer.objects.order_by("pk").values_list("pk", flat=True)[:3])
    listing = operator.get(reverse("erp:list", kwargs={"model": "customer"})).content.decode()
    bulk = reverse("couplings:records_bulk", args=[mapping.pk, "match"])
    assert f'formaction="{bulk}"' in listing
    response = operator.post(bulk, {"pk": ids, "next": "/erp/customer/"})
    assert response.status_code == 302
    step = response["Location"]
    assert step.startswith(reverse("couplings:mapping_match_criteria", args=[mapping.pk]))
    assert not coupling_jobs().exists() and not Coupling.objects.exists()
    html = operator.get(step).content.decode()
    assert "3 selected customers" in html and f'action="{bulk}"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    for pk in ids:
        assert f'<input type="hidden" name="pk" value="{pk}">' in html
    run = operator.post(bulk, {"pk": ids, "criteria": "yes", "next": "/erp/customer/"})
    assert run["Location"] == "/erp/customer/"
    assert coupling_jobs().count() == 1
    assert any("Match-based coupling of 3 records" in m for m in said(run))


def test_the_table_mappings_button_goes_through_the_criteria(demo, sync_tasks):
    admin = client_for(user_with_role("administrator"))
    customer, contact = demo["CUSTOMER"], demo["CONTACT"]
    bulk = reverse("couplings:mappings_bulk", args=["match"])
    assert f'formaction="{bulk}"' in admin.get(reverse("mappings:tablemapping_list")) \
        .content.decode()
    # one mapping: its own criteria step
    response = admin.post(bulk, {"pk": [customer.pk]})
    assert response["Location"].startswith(
        reverse("couplings:mapping_match_criteria", args=[customer.pk]))
    assert not coupling_jobs().exists()
    # several: one step with a section each, run together
    response = admin.post(bulk, {"pk": [customer.pk, contact.pk]})
    assert not coupling_jobs().exists()
    html = admin.get(response["Location"]).content.decode()
    assert html.count("data-criteria") == 2
    assert f'name="create_new_{customer.pk}"' in html and f'action="{bulk}"' in html
    refused = admin.post(bulk, {"pk": [customer.pk, contact.pk], "criteria": "yes"})
    assert "Choose at least one field" in " ".join(said(refused))  # nothing ticked: no run
    assert not coupling_jobs().exists()
    data = {**criteria_post(customer), **criteria_post(contact), "pk": [customer.pk, contact.pk]}
    run = admin.post(bulk, data)
    assert run.status_code == 302
    assert set(coupling_jobs().values_list("mapping_name", flat=True)) == {"CUSTOMER", "CONTACT"}


def test_the_bulk_buttons_keep_their_permission_and_post(demo):
    viewer = client_for(user_with_role("viewer"))
    mapping = demo["CUSTOMER"]
    for url in (reverse("couplings:records_bulk", args=[mapping.pk, "match"]),
                reverse("couplings:mappings_bulk", args=["match"])):
        assert viewer.post(url, {"pk": [mapping.pk], "criteria": "yes"}).status_code == 403
        assert viewer.get(url).status_code == 405
    step = reverse("couplings:mapping_match_criteria", args=[mapping.pk])
    assert viewer.get(f"{step}?pk=1").status_code == 403
