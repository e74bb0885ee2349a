"""The Couplings page colours the To CRM / From CRM results: Success green, Failure red. (The
badges were grey: the colours were keyed by the stored value, the cell got the choice's label.)"""

import re

import pytest
from django.urls import reverse

from couplings_app.choices import SyncResult
from couplings_app.models import Coupling
from tests.couplings_app.page_fixtures import fill_logs

pytestmark = pytest.mark.django_db


def test_results_are_coloured(viewer, mapping):
    fill_logs(mapping, 12)
    coupling = Coupling.objects.order_by("pk").first()
    Coupling.objects.filter(pk=coupling.pk).update(
        last_result_to_crm=SyncResult.SUCCESS, last_result_from_crm=SyncResult.FAILURE)
    html = viewer.get(reverse("couplings:coupling_list"), {"per_page": 50}).content.decode()
    badges = re.findall(r'<span class="badge text-bg-(\w+)" data-result="(\w+)">(\w+)</span>',
                        html)
    assert ("success", "success", "Success") in badges
    assert ("danger", "failure", "Failure") in badges
    assert all(color != "secondary" for color, _, _ in badges), badges
