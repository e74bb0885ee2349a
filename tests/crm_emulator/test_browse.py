"""The browse pages of the CRM's records: login required; edits made as a regular CRM user."""

import pytest
from django.urls import reverse

from crm_emulator.browse import BROWSE_USER_DOMAIN
from crm_emulator.models import Row
from crm_emulator.seed import seed_crm

pytestmark = pytest.mark.django_db(databases=["default", "crm"])


@pytest.fixture
def seeded(db):
    seed_crm()


def browse_user():
    return Row.objects.get(entity="systemuser", data__domainname=BROWSE_USER_DOMAIN)


@pytest.mark.parametrize("name, args", [
    ("crm_emulator:browse", []), ("crm_emulator:browse_list", ["accounts"]),
    ("crm_emulator:browse_new", ["contacts"]),
])
def test_pages_require_login(client, name, args):
    response = client.get(reverse(name, args=args))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_index_lists_every_table(admin_client, seeded):
    response = admin_client.get(reverse("crm_emulator:browse"))
    assert response.status_code == 200
    for set_name in ("accounts", "contacts", "products", "invoicedetails"):
        assert reverse("crm_emulator:browse_list", args=[set_name]).encode() in response.content


def test_list_searches_and_pages(admin_client, seeded):
    url = reverse("crm_emulator:browse_list", args=["accounts"])
    response = admin_client.get(url, {"q": "adatum"})
    assert b"Adatum Corporation" in response.content
    assert b"Trey Research" not in response.content
    response = admin_client.get(reverse("crm_emulator:browse_list", args=["contacts"]),
                                {"page": 1})
    assert response.context["page"].paginator.count == 18


def test_every_table_has_a_list_and_a_form(admin_client, seeded):
    from crm_emulator.schema import ENTITIES

    for entity in ENTITIES:
        assert admin_client.get(reverse("crm_emulator:browse_list", args=[entity.set_name])
                                ).status_code == 200
        assert admin_client.get(reverse("crm_emulator:browse_new", args=[entity.set_name])
                                ).status_code == 200
        row = Row.objects.filter(entity=entity.logical_name).first()
        if row:
            assert admin_client.get(reverse(
                "crm_emulator:browse_edit", args=[entity.set_name, row.rowid])).status_code == 200


def test_edit_is_made_as_a_regular_crm_user(admin_client, seeded):
    account = Row.objects.filter(entity="account", data__name="Adatum Corporation").get()
    url = reverse("crm_emulator:browse_edit", args=["accounts", account.rowid])
    form = admin_client.get(url).context["form"]
    data = {name: value for name, value in form.initial.items() if value is not None}
    data.update(name="Adatum Corporation (changed in CRM)", telephone1="+1 555 999")
    response = admin_client.post(url, {k: ("on" if v is True else v) for k, v in data.items()
                                       if v is not False})
    assert response.status_code == 302, response.context["form"].errors
    account.refresh_from_db()
    assert account.data["name"] == "Adatum Corporation (changed in CRM)"
    assert account.data["telephone1"] == "+1 555 999"
    assert account.modifiedby == browse_user().rowid
    user = browse_user().data
    assert user["islicensed"] and not user.get("applicationid")


def test_new_contact_with_a_company(admin_client, seeded):
    account = Row.objects.filter(entity="account").first()
    response = admin_client.post(reverse("crm_emulator:browse_new", args=["contacts"]), {
        "firstname": "Nina", "lastname": "Neu", "parentcustomerid": f"account:{account.rowid}",
        "statecode": "0", "statuscode": "1"})
    assert response.status_code == 302
    contact = Row.objects.get(entity="contact", data__lastname="Neu")
    assert contact.data["fullname"] == "Nina Neu"
    assert contact.data["parentcustomerid"] == str(account.rowid)
    assert contact.createdby == browse_user().rowid


def test_refusal_shows_on_the_form(admin_client, seeded):
    response = admin_client.post(reverse("crm_emulator:browse_new", args=["contacts"]), {
        "firstname": "No", "statecode": "0"})
    assert response.status_code == 200
    assert response.context["form"].errors


def test_delete(admin_client, seeded):
    contact = Row.objects.filter(entity="contact").first()
    response = admin_client.post(reverse("crm_emulator:browse_delete",
                                         args=["contacts", contact.rowid]))
    assert response.status_code == 302
    assert not Row.objects.filter(pk=contact.pk).exists()


def test_unknown_table_is_404(admin_client):
    assert admin_client.get(reverse("crm_emulator:browse_list", args=["nosuch"])
                            ).status_code == 404
