"""A full synchronization skips the compare of a coupled record that neither side changed since
its last synchronization, as long as its field mappings are those it was synchronized with
(`Coupling.fields_fingerprint`); a field mapping changed since makes the next full run compare
and write every record again. Counted in records compared and written, never timed."""

import pytest

from couplings_app.models import Coupling
from couplings_app.sync.convert import ToCrmPayload
from couplings_app.sync.decision import Action, Facts, Policy, Reason, decide
from couplings_app.sync.from_crm import FromCrm
from couplings_app.sync.runner import synchronize
from erp_app.models import Customer
from mappings_app.choices import Direction, TransformationType
from mappings_app.models import TransformationRule
from tests.couplings_app.engine import account_of, by_name, couple_and_full_sync

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])

TO, FROM = Direction.TO_CRM, Direction.FROM_CRM


@pytest.fixture
def compared(monkeypatch):
    """The records each direction converts and compares with the other side, run after run:
    {TO: [CRM ids of the rows compared], FROM: [CRM ids]}."""
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


def customer_couplings():
    return Coupling.objects.filter(local_model="erp_app.customer", remote_entity="account",
                                   pending_create=False)


def coupled_accounts():
    return {str(r).lower() for r in customer_couplings().values_list("remote_id", flat=True)}


def synchronized_at():
    return dict(customer_couplings().values_list("pk", "last_synced_at"))


def test_a_full_run_compares_no_record_unchanged_on_both_sides(crm, demo, compared):
    couple_and_full_sync(crm, demo)
    # A customer created from the CRM is compared by the second full run, which sends the
    # values only the ERP sends (the first one read its row without them).
    synchronize(demo["CUSTOMER"], client=crm, full=True)
    assert all(len(f) == 40 for f in customer_couplings().values_list("fields_fingerprint",
                                                                      flat=True))
    before = synchronized_at()
    compared[TO].clear()
    compared[FROM].clear()
    jobs = synchronize(demo["CUSTOMER"], client=crm, full=True)
    assert not set(compared[TO]) & coupled_accounts()
    assert not set(compared[FROM]) & coupled_accounts()
    assert sum(j.modified + j.inserted for j in jobs) == 0
    assert by_name(jobs, "CUSTOMER", TO)[0].unchanged >= len(before)
    assert synchronized_at() == before  # not even the couplings were written


def test_a_full_pull_compares_no_row_the_push_left_as_the_erp_has_it(crm, demo, compared):
    couple_and_full_sync(crm, demo)
    synchronize(demo["CUSTOMER"], client=crm, full=True)
    compared[FROM].clear()
    jobs = synchronize(demo["CUSTOMER"], client=crm, direction=FROM, full=True)
    assert not set(compared[FROM]) & coupled_accounts()
    assert sum(j.modified + j.inserted for j in jobs) == 0


def test_a_record_changed_on_one_side_is_still_compared_by_a_full_run(crm, demo, as_crm_user,
                                                                      compared):
    couple_and_full_sync(crm, demo)
    synchronize(demo["CUSTOMER"], client=crm, full=True)
    changed_in_erp, changed_in_crm = Customer.objects.filter(
        pk__in=customer_couplings().values("local_id")).order_by("pk")[:2]
    changed_in_erp.phone_no = "+1 555 0101"
    changed_in_erp.save()
    crm_account = account_of(crm, changed_in_crm)
    as_crm_user.update("accounts", crm_account["accountid"], {"address1_city": "Lyon"})
    compared[TO].clear()
    compared[FROM].clear()
    synchronize(demo["CUSTOMER"], client=crm, full=True)
    erp_account = account_of(crm, changed_in_erp)
    assert set(compared[TO]) & coupled_accounts() == {erp_account["accountid"].lower(),
                                                      crm_account["accountid"].lower()}
    assert erp_account["telephone1"] == "+1 555 0101"
    changed_in_crm.refresh_from_db()
    assert changed_in_crm.city == "Lyon"


def test_after_a_field_mapping_changes_the_next_full_run_compares_and_writes_every_record(
        crm, demo, compared):
    couple_and_full_sync(crm, demo)
    synchronize(demo["CUSTOMER"], client=crm, full=True)
    demo["CUSTOMER"].field_mappings.filter(remote_attribute="telephone1").update(
        direction=TO, constant_value="+1 555 0199")
    compared[TO].clear()
    jobs = synchronize(demo["CUSTOMER"], client=crm, full=True)
    assert coupled_accounts() <= set(compared[TO])
    assert by_name(jobs, "CUSTOMER", TO)[0].modified == len(coupled_accounts())
    for coupling in customer_couplings():
        assert crm.get("accounts", str(coupling.remote_id))["telephone1"] == "+1 555 0199"
    # Synchronized with the new field mappings: the next full run skips them again.
    compared[TO].clear()
    compared[FROM].clear()
    again = synchronize(demo["CUSTOMER"], client=crm, full=True)
    assert not (set(compared[TO]) | set(compared[FROM])) & coupled_accounts()
    assert sum(j.modified + j.inserted for j in again) == 0


def test_a_transformation_rule_edited_since_makes_the_next_full_run_compare(crm, demo, compared):
    rule = TransformationRule.objects.create(code="TRIM-TEST", type=TransformationType.TRIM)
    demo["CUSTOMER"].field_mappings.filter(remote_attribute="name").update(
        transformation_rule=rule)
    couple_and_full_sync(crm, demo)
    TransformationRule.objects.filter(pk=rule.pk).update(type=TransformationType.UPPERCASE)
    compared[TO].clear()
    jobs = synchronize(demo["CUSTOMER"], client=crm, full=True)
    assert coupled_accounts() <= set(compared[TO])
    assert by_name(jobs, "CUSTOMER", TO)[0].modified == len(coupled_accounts())


def facts(**kwargs):
    return Facts(FROM, stamp_unchanged=True, full=True, **kwargs)


def test_decide_skips_a_full_runs_compare_only_when_both_sides_and_the_field_mappings_are_as_synchronized():  # noqa: E501
    policy = Policy(direction=Direction.BIDIRECTIONAL)
    skipped = decide(policy, facts(other_side_unchanged=True, field_mappings_unchanged=True))
    assert skipped.action is Action.UNCHANGED
    assert skipped.reason is Reason.UNCHANGED_SINCE_SYNCHRONIZED
    assert decide(policy, facts(other_side_unchanged=True)).action is Action.COMPARE
    assert decide(policy, facts(field_mappings_unchanged=True)).action is Action.COMPARE
    assert decide(policy, facts(other_side_unchanged=True, field_mappings_unchanged=True,
                                failed_before=True)).action is Action.COMPARE


def test_a_customer_created_from_the_crm_is_compared_by_the_next_full_run(crm, demo, compared):
    couple_and_full_sync(crm, demo)
    from_crm = {str(c.remote_id).lower() for c in customer_couplings()
                if len(c.fields_fingerprint) < 40}
    assert from_crm  # the demo's CRM holds accounts the ERP does not
    compared[TO].clear()
    synchronize(demo["CUSTOMER"], client=crm, full=True)
    assert from_crm <= set(compared[TO])
