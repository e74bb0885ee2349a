"""A full synchronization compares every coupled record, even one that neither side changed
since its last synchronization: it is what heals a pair a crash or a one-sided rule left unequal
behind stamps that say otherwise (tests/reliability/test_crash.py `local_writes` found a
customer whose No. never reached the CRM when full runs skipped such pairs)."""

import pytest

from couplings_app.models import Coupling
from couplings_app.sync.convert import ToCrmPayload
from couplings_app.sync.from_crm import FromCrm
from couplings_app.sync.runner import synchronize
from mappings_app.choices import Direction
from tests.couplings_app.engine import couple_and_full_sync

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])

TO, FROM = Direction.TO_CRM, Direction.FROM_CRM


@pytest.fixture
def compared(monkeypatch):
    """The CRM ids of the rows each direction compares: {TO: [...], FROM: [...]}."""
    seen = {TO: [], FROM: []}
    changes, values = ToCrmPayload.changes, FromCrm.values

    def to_crm_changes(self, payload, row):
        seen[TO].append(str(row.get(self.run.key)).lower())
        return changes(self, payload, row)

    def from_crm_values(self, row, *args, **kwargs):
        seen[FROM].append(str(row[self.run.key]).lower())
        return values(self, row, *args, **kwargs)

    monkeypatch.setattr(ToCrmPayload, "changes", to_crm_changes)
    monkeypatch.setattr(FromCrm, "values", from_crm_values)
    return seen


def test_a_full_run_compares_every_coupled_record_unchanged_or_not(crm, demo, compared):
    couple_and_full_sync(crm, demo)
    coupled = {str(r).lower() for r in Coupling.objects.filter(
        local_model="erp_app.customer", pending_create=False, skipped=False,
        last_result_to_crm="success").values_list("remote_id", flat=True)}
    assert len(coupled) >= 5
    compared[TO].clear()
    compared[FROM].clear()

    synchronize(demo["CUSTOMER"], client=crm, full=True, only_coupled=False)

    assert coupled <= set(compared[TO])
    assert coupled <= set(compared[FROM]) | set(compared[TO])
    compared[TO].clear()
    synchronize(demo["CUSTOMER"], client=crm)  # not a full run: nothing changed, nothing read
    assert not coupled & set(compared[TO])
