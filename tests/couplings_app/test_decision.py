"""The decisions an admin asks about, one test each, on `sync.decision.decide` alone: no
database, no CRM (the engine's behaviour around them is in test_engine_*.py and
test_deleted_counterpart.py)."""

from types import SimpleNamespace

from couplings_app.sync.decision import (
    Action,
    Facts,
    Policy,
    Reason,
    compared,
    decide,
    own_crm_change,
)
from mappings_app.choices import DeletionConflictResolution, Direction, UpdateConflictResolution

TO, FROM = Direction.TO_CRM, Direction.FROM_CRM
BIDIRECTIONAL = Policy(direction=Direction.BIDIRECTIONAL)


def both_changed(direction, **more):
    return Facts(direction, erp_changed=True, crm_changed=True, values_differ=True,
                 bidirectional_value_differs=True, **more)


def policy(**kwargs):
    return Policy(direction=Direction.BIDIRECTIONAL, **kwargs)


def test_a_record_changed_on_both_sides_is_skipped_as_a_conflict_under_no_resolution():
    for direction in (TO, FROM):
        decision = decide(BIDIRECTIONAL, both_changed(direction))
        assert decision.action is Action.SKIP
        assert decision.reason is Reason.CHANGED_ON_BOTH_SIDES


def test_send_update_to_integration_the_erp_version_wins_a_conflict():
    send = policy(update_conflict=UpdateConflictResolution.SEND)
    assert decide(send, both_changed(TO)).action is Action.UPDATE
    assert decide(send, both_changed(FROM)).action is Action.OTHER_SIDE_WINS


def test_get_update_from_integration_the_crm_version_wins_a_conflict():
    get = policy(update_conflict=UpdateConflictResolution.GET)
    assert decide(get, both_changed(FROM)).action is Action.UPDATE
    # To the CRM, the ERP record counts as synchronized: only its ERP-only fields are sent.
    decision = decide(get, both_changed(TO))
    assert (decision.action, decision.reason) == (Action.IN_SYNC, Reason.CRM_VERSION_WINS)
    assert decision.crm_version_comes_back
    decision = decide(get, both_changed(TO, one_way_value_differs=True))
    assert decision.action is Action.UPDATE_ONE_WAY and decision.crm_version_comes_back


def test_a_conflict_needs_a_bidirectional_field_that_differs():
    facts = both_changed(TO, one_way_value_differs=True)
    facts = compared(facts, {"creditlimit": 1}, shared={"name"})
    assert decide(BIDIRECTIONAL, facts).action is Action.UPDATE


def test_a_one_way_mapping_has_no_conflicts():
    assert decide(Policy(direction=TO), both_changed(TO)).action is Action.UPDATE
    assert decide(Policy(direction=FROM), both_changed(FROM)).action is Action.UPDATE


def test_a_deleted_counterpart_follows_the_deletion_conflict_resolution():
    expected = {DeletionConflictResolution.NONE: Action.REPORT_DELETED,
                DeletionConflictResolution.REMOVE_COUPLING: Action.REMOVE_COUPLING,
                DeletionConflictResolution.RESTORE: Action.RESTORE}
    for resolution, action in expected.items():
        for direction in (TO, FROM):
            facts = Facts(direction, counterpart_exists=False, erp_changed=True)
            assert decide(policy(deletion_conflict=resolution), facts).action is action


def test_a_deleted_counterpart_is_reported_once_for_the_record_as_it_is():
    facts = Facts(FROM, counterpart_exists=False, deletion_reported=True)
    decision = decide(BIDIRECTIONAL, facts)
    assert decision == decide(BIDIRECTIONAL, facts)  # pure
    assert decision.action is Action.IGNORE
    assert decision.reason is Reason.ALREADY_REPORTED


def test_an_erp_record_unchanged_by_its_stamps_is_not_compared_with_a_crm_row_not_read():
    facts = Facts(TO, counterpart_exists=None, stamp_unchanged=True)
    assert decide(BIDIRECTIONAL, facts).action is Action.UNCHANGED


def test_the_syncs_own_crm_change_is_not_read_again_as_a_persons_change():
    echo = Facts(FROM, stamp_unchanged=False, crm_changed=True, own_crm_change=True)
    assert decide(BIDIRECTIONAL, echo).action is Action.UNCHANGED


def test_the_syncs_own_crm_change_is_no_conflict_for_an_erp_change():
    facts = both_changed(TO, own_crm_change=True)
    assert decide(BIDIRECTIONAL, facts).action is Action.UPDATE
    facts = both_changed(FROM, own_crm_change=True, full=True)
    assert decide(BIDIRECTIONAL, facts).action is Action.UPDATE


def test_own_crm_change_is_the_integration_users():
    run = SimpleNamespace(integration_user="AAAA-1")
    assert own_crm_change(run, {"_modifiedby_value": "aaaa-1"})
    assert not own_crm_change(run, {"_modifiedby_value": "bbbb-2"})
    assert not own_crm_change(SimpleNamespace(integration_user=None), {"_modifiedby_value": ""})


def test_a_row_the_first_half_left_equal_is_in_sync_without_comparing():
    facts = Facts(FROM, full=True, own_crm_change=True, left_equal_by_first_half=True)
    decision = decide(BIDIRECTIONAL, facts)
    assert (decision.action, decision.reason) == (Action.IN_SYNC, Reason.LEFT_EQUAL)


def test_values_are_compared_only_when_the_stamps_call_for_it():
    facts = Facts(TO, erp_changed=True)
    assert decide(BIDIRECTIONAL, facts).action is Action.COMPARE
    assert decide(BIDIRECTIONAL, compared(facts, {}, shared=set())).action is Action.IN_SYNC


def test_changed_in_the_crm_only_restores_only_the_erp_only_fields():
    facts = Facts(TO, full=True, crm_changed=True)
    one_way = decide(BIDIRECTIONAL, compared(facts, {"creditlimit": 1, "name": "x"}, {"name"}))
    assert (one_way.action, one_way.reason) == (Action.UPDATE_ONE_WAY, Reason.CHANGED_IN_CRM_ONLY)
    shared = decide(BIDIRECTIONAL, compared(facts, {"name": "x"}, {"name"}))
    assert (shared.action, shared.reason) == (Action.IN_SYNC, Reason.CHANGED_IN_CRM_ONLY)


def test_an_uncoupled_record_is_created_unless_the_run_takes_coupled_ones_only():
    assert decide(BIDIRECTIONAL, Facts(TO, coupled=False, only_coupled=False)).action \
        is Action.CREATE
    decision = decide(BIDIRECTIONAL, Facts(TO, coupled=False, only_coupled=True))
    assert (decision.action, decision.reason) == (Action.IGNORE, Reason.NOT_COUPLED)


def test_a_crm_row_the_sync_created_is_not_created_in_the_erp():
    facts = Facts(FROM, coupled=False, only_coupled=False, own_crm_change=True)
    decision = decide(BIDIRECTIONAL, facts)
    assert (decision.action, decision.reason) == (Action.IGNORE, Reason.CREATED_BY_THE_SYNC)


def test_several_matches_create_nothing():
    for facts in (Facts(TO, coupled=False, only_coupled=False, several_matches=True),
                  Facts(TO, pending_create=True, counterpart_exists=False, several_matches=True)):
        decision = decide(BIDIRECTIONAL, facts)
        assert (decision.action, decision.reason) == (Action.FAIL, Reason.SEVERAL_MATCHES)


def test_a_pending_create_whose_crm_row_exists_is_confirmed_else_created():
    assert decide(BIDIRECTIONAL, Facts(TO, pending_create=True)).action is Action.CONFIRM
    facts = Facts(TO, pending_create=True, counterpart_exists=False)
    assert decide(BIDIRECTIONAL, facts).action is Action.CREATE


def test_a_record_whose_last_synchronization_failed_is_compared_again():
    facts = Facts(TO, stamp_unchanged=True, failed_before=True)
    assert decide(BIDIRECTIONAL, facts).action is Action.COMPARE


def test_a_record_never_synchronized_counts_as_changed_only_if_saved_after_it_was_coupled():
    # Seed 694661 of the fault convergence test: a record coupled by Match-Based Coupling and
    # then written by the run from the CRM was taken for an ERP change not yet sent, so a
    # person's later CRM change was skipped as a conflict no one made.
    from datetime import UTC, datetime, timedelta

    from couplings_app.sync.decision import erp_changed

    coupled = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    never = SimpleNamespace(local_modified_at=None, created_at=coupled)
    assert not erp_changed(never, coupled - timedelta(seconds=2))
    assert erp_changed(never, coupled + timedelta(seconds=2))
    synchronized = SimpleNamespace(local_modified_at=coupled, created_at=coupled)
    assert not erp_changed(synchronized, coupled)
    assert erp_changed(synchronized, coupled + timedelta(microseconds=1))
