"""Every list page's filter form ends in the same buttons (templates/includes/filter_apply.html):
Apply, and Clear filters — back to the unfiltered list — only while a filter or search is set."""

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

LISTS = [
    (lambda: reverse("erp:list", args=["customer"]), "q=boston"),  # syncadmin's generic list
    (lambda: reverse("erp:list", args=["customer"]), "city=Boston"),
    (lambda: reverse("couplings:syncjob_list"), "status=failed"),  # the couplings lists
    (lambda: reverse("mappings:tablemapping_list"), "direction=to_crm"),  # its own template
]


def clear_link(html):
    found = re.search(r'<a class="btn btn-link btn-sm" href="([^"]*)">Clear filters</a>', html)
    return found and found.group(1)


@pytest.mark.parametrize("url, query", LISTS)
def test_clear_filters_shows_only_while_filtering_and_leads_to_the_whole_list(admin_client,
                                                                              url, query):
    url = url()
    plain = admin_client.get(url)
    assert plain.status_code == 200
    html = plain.content.decode()
    assert '<button class="btn btn-outline-primary btn-sm" type="submit">Apply</button>' in html
    assert clear_link(html) is None
    filtered = admin_client.get(f"{url}?{query}&sort=-pk").content.decode()
    assert clear_link(filtered) == url
    assert '<input type="hidden" name="sort" value="-pk">' in filtered
