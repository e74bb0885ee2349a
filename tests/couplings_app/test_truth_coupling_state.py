"""What a page shows is true (DESIGN.md): after a full synchronization in which CRM creates
failed, a crawl of the pages finds no link to a CRM record that does not exist, and every
coupling whose CRM record was never created reads "Not created yet", never "Coupled"."""

import re
from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from couplings_app import services
from couplings_app.models import Coupling
from mappings_app.models import TableMapping
from tests.couplings_app.engine import couple_and_full_sync

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])

HREF = re.compile(r'href="([^"#]+)"')
BROWSE = re.compile(r"^/crm/browse/(?P<set>[^/]+)/(?P<id>[0-9a-fA-F-]{36})/$")


def hrefs(html):
    return {h.replace("&amp;", "&") for h in HREF.findall(html)}


def row_of(html, marker):
    """The table row holding `marker`."""
    at = html.index(marker)
    return html[html.rindex("<tr", 0, at):html.index("</tr>", at)]


@pytest.fixture
def failed_creates(crm, demo):
    couple_and_full_sync(crm, demo)
    pending = list(Coupling.objects.filter(pending_create=True).select_related("mapping"))
    assert pending, "the demo's full synchronization leaves failed creates"
    # One coupled record whose CRM record was deleted since (Find for Deleted marked it).
    gone = Coupling.objects.filter(local_model="erp_app.customer", pending_create=False) \
        .select_related("mapping").order_by("pk").first()
    crm.delete(gone.mapping.remote_entity_set, str(gone.remote_id))
    assert services.find_deleted(client=crm, mappings=[gone.mapping]) == 1
    return pending, gone


def test_no_page_links_a_crm_record_that_does_not_exist(admin_client, crm, failed_creates):
    pending, gone = failed_creates
    mappings = list(TableMapping.objects.all())
    pages = {reverse("couplings:coupling_list"), reverse("couplings:syncerror_list"),
             reverse("couplings:skipped_list"),
             reverse("couplings:coupling_list") + f"?state={services.NOT_CREATED}"}
    for mapping in mappings:
        model = mapping.local_model.split(".")[1]
        pages.add(reverse("erp:list", kwargs={"model": model}))
        pages.add(reverse("erp:list", kwargs={"model": model}) + f"?coupled={services.NOT_CREATED}")
    for coupling in pending + [gone]:
        args = [coupling.mapping_id, coupling.local_id]
        pages |= {services.local_url(coupling.local_model, coupling.local_id),
                  reverse("couplings:record_couple", args=args),
                  reverse("couplings:record_log", args=args),
                  reverse("couplings:record_sync", args=args)}
    links = set()
    for url in sorted(pages):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        links |= hrefs(response.content.decode())
    # Where each link to a CRM record leads: straight to its page, or by the record's menu.
    targets = set()
    for link in links:
        path = urlsplit(link).path
        if BROWSE.match(path):
            targets.add(path)
        elif re.match(r"^/integration/records/\d+/\d+/crm/$", path):
            answer = admin_client.get(path)
            assert answer.status_code == 302, path
            if BROWSE.match(answer["Location"]):
                targets.add(answer["Location"])
    assert targets, "the pages link coupled CRM records"
    dead = []
    for target in sorted(targets):
        found = BROWSE.match(target)
        key = TableMapping.objects.filter(remote_entity_set=found["set"]).first().remote_key
        if not crm.get_many(found["set"], key, [found["id"]], select=[key]):
            dead.append(target)
    assert dead == []


def test_a_record_whose_crm_record_was_never_created_reads_not_created_yet(admin_client,
                                                                             failed_creates):
    pending, gone = failed_creates
    coupling = next(c for c in pending if c.local_model == "erp_app.vendor") if any(
        c.local_model == "erp_app.vendor" for c in pending) else pending[0]
    model = coupling.local_model.split(".")[1]
    mapping = coupling.mapping
    menu = reverse("couplings:record_crm", args=[mapping.pk, coupling.local_id])
    # The list: the row's badge, its menu, and the filters.
    listing = admin_client.get(reverse("erp:list", kwargs={"model": model})).content.decode()
    row = row_of(listing, reverse("couplings:record_log", args=[mapping.pk, coupling.local_id]))
    assert "Not created yet" in row and 'data-coupled="yes"' not in row
    assert ">Coupled<" not in row and menu not in row
    coupled_only = admin_client.get(reverse("erp:list", kwargs={"model": model}),
                                    {"coupled": "yes"}).content.decode()
    assert reverse("couplings:record_log", args=[mapping.pk, coupling.local_id]) \
        not in coupled_only
    not_created = admin_client.get(reverse("erp:list", kwargs={"model": model}),
                                   {"coupled": services.NOT_CREATED}).content.decode()
    assert reverse("couplings:record_log", args=[mapping.pk, coupling.local_id]) in not_created
    # The record's page and its menu.
    detail = admin_client.get(services.local_url(coupling.local_model,
                                                 coupling.local_id)).content.decode()
    assert "not created yet" in detail and "Open the coupled" not in detail
    # Set Up Coupling and the Synchronization Log.
    couple = admin_client.get(reverse("couplings:record_couple",
                                      args=[mapping.pk, coupling.local_id])).content.decode()
    assert "Currently coupled" not in couple and "Not created yet" in couple
    assert str(coupling.remote_id) not in couple
    log = admin_client.get(reverse("couplings:record_log",
                                   args=[mapping.pk, coupling.local_id])).content.decode()
    assert "Not created yet" in log and f"/{coupling.remote_id}/" not in log
    # The Couplings list and its filter.
    listed = admin_client.get(reverse("couplings:coupling_list"),
                              {"state": services.NOT_CREATED}).content.decode()
    assert listed.count('data-state="pending"') >= min(len(pending), 50)
    assert 'data-state="coupled"' not in listed
    # The record's CRM menu entry sends back with a message, not to a 404.
    answer = admin_client.get(menu)
    assert answer["Location"] == services.local_url(coupling.local_model, coupling.local_id)


def test_a_coupling_whose_crm_record_was_deleted_does_not_link_it(admin_client,
                                                                    failed_creates):
    _, gone = failed_creates
    args = [gone.mapping_id, gone.local_id]
    listing = admin_client.get(reverse("erp:list", kwargs={"model": "customer"})).content.decode()
    row = row_of(listing, reverse("couplings:record_log", args=args))
    assert "CRM record deleted" in row and reverse("couplings:record_crm", args=args) not in row
    detail = admin_client.get(services.local_url(gone.local_model, gone.local_id)).content.decode()
    assert "crm record deleted" in detail and "Open the coupled" not in detail
    couplings = admin_client.get(reverse("couplings:coupling_list"),
                                 {"state": services.CRM_DELETED}).content.decode()
    assert 'data-state="crm_deleted"' in couplings and str(gone.remote_id) not in \
        "".join(h for h in hrefs(couplings) if "/crm/" in h)
