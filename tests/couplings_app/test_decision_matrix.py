"""The whole policy matrix of `sync.decision.decide`, table-driven, with no database and no CRM:
update-conflict × deletion-conflict resolution × which side changed (none, the ERP, the CRM by a
person or by the sync's own write, both) × which side was deleted × what differs × full run or
not × run direction × mapping direction. Thousands of cases in milliseconds.

`expected` states the policy in the scenario's words; `facts` is what each direction's engine
reads from a coupling in that scenario.
"""

import itertools
from dataclasses import dataclass

from couplings_app.sync.decision import Action, Facts, Policy, decide
from mappings_app.choices import DeletionConflictResolution, Direction, UpdateConflictResolution

TO, FROM, BOTH = Direction.TO_CRM, Direction.FROM_CRM, Direction.BIDIRECTIONAL
CHANGED = ["none", "erp", "crm person", "crm own", "erp + crm person", "erp + crm own"]
DELETED = ["none", "erp", "crm"]
DIFFERS = ["nothing", "one-way field", "bidirectional field", "both kinds"]


@dataclass(frozen=True)
class Scenario:
    direction: str  # the run's
    mapping_direction: str
    update: str
    deletion: str
    changed: str
    deleted: str
    differs: str
    full: bool
    reported: bool  # a deleted counterpart already reported for the record as it is now

    @property
    def erp_changed(self):
        return "erp" in self.changed

    @property
    def crm_person(self):
        return "crm person" in self.changed

    @property
    def crm_own(self):
        return "crm own" in self.changed

    def policy(self) -> Policy:
        return Policy(direction=self.mapping_direction, update_conflict=self.update,
                      deletion_conflict=self.deletion)


def scenarios():
    for values in itertools.product(
            [TO, FROM], [BOTH, TO, FROM], UpdateConflictResolution.values,
            DeletionConflictResolution.values, CHANGED, DELETED, DIFFERS, [False, True],
            [False, True]):
        s = Scenario(*values)
        if s.mapping_direction not in (BOTH, s.direction):
            continue  # the mapping does not run in this direction
        if s.deleted == ("erp" if s.direction == TO else "crm"):
            continue  # a run reads its own side: a record deleted there is not read by it
        if s.reported and s.deleted == "none":
            continue
        yield s


def facts(s: Scenario) -> Facts:
    """What the direction's engine reads from the coupling and the two records."""
    to_crm = s.direction == TO
    one_way = s.differs in ("one-way field", "both kinds")
    bidirectional = s.differs in ("bidirectional field", "both kinds")
    stamp_unchanged = not s.erp_changed if to_crm else not (s.crm_person or s.crm_own)
    if to_crm:  # the CRM row is read only when the ERP record's stamps call for a comparison
        counterpart = (s.deleted != "crm") if (not stamp_unchanged or s.full) else None
    else:
        counterpart = s.deleted != "erp"
    return Facts(direction=s.direction, counterpart_exists=counterpart,
                 stamp_unchanged=stamp_unchanged, erp_changed=s.erp_changed,
                 crm_changed=s.crm_person or s.crm_own, own_crm_change=s.crm_own, full=s.full,
                 deletion_reported=s.reported, values_differ=one_way or bidirectional,
                 bidirectional_value_differs=bidirectional, one_way_value_differs=one_way)


def expected(s: Scenario) -> Action:
    to_crm = s.direction == TO
    one_way = s.differs in ("one-way field", "both kinds")
    bidirectional_differs = s.differs in ("bidirectional field", "both kinds")
    # The side this run reads changed (the sync's own CRM write is no change of the CRM's).
    read_side_changed = s.erp_changed if to_crm else s.crm_person
    counterpart_deleted = s.deleted == ("crm" if to_crm else "erp")
    # To the CRM, the row of an ERP record unchanged by its stamps is not even read.
    if counterpart_deleted and (not to_crm or read_side_changed or s.full):
        if s.deletion == DeletionConflictResolution.REMOVE_COUPLING:
            return Action.REMOVE_COUPLING
        if s.deletion == DeletionConflictResolution.RESTORE:
            return Action.RESTORE
        return Action.IGNORE if s.reported else Action.REPORT_DELETED
    if not read_side_changed and not s.full:
        return Action.UNCHANGED
    if s.differs == "nothing":
        return Action.IN_SYNC
    bidirectional_mapping = s.mapping_direction == BOTH
    if to_crm and bidirectional_mapping and not s.erp_changed and s.crm_person:
        # changed in the CRM only: only the ERP-only fields are the ERP's to restore
        return Action.UPDATE_ONE_WAY if one_way else Action.IN_SYNC
    # From the CRM, a row read again whose last change is not the sync's own counts as changed.
    crm_changed = s.crm_person if to_crm else not s.crm_own
    if bidirectional_mapping and s.erp_changed and crm_changed and bidirectional_differs:
        if s.update == UpdateConflictResolution.NONE:
            return Action.SKIP
        winner = TO if s.update == UpdateConflictResolution.SEND else FROM
        if s.direction == winner:
            return Action.UPDATE
        if to_crm:  # the CRM's version wins; the ERP-only fields are still the ERP's to send
            return Action.UPDATE_ONE_WAY if one_way else Action.IN_SYNC
        return Action.OTHER_SIDE_WINS
    return Action.UPDATE


def test_the_whole_policy_matrix():
    cases = [(s, s.policy(), facts(s)) for s in scenarios()]
    decided = [decide(policy, f).action for _, policy, f in cases]
    wrong = [(s, got) for (s, _, _), got in zip(cases, decided, strict=True) if got != expected(s)]
    assert not wrong, "\n".join(f"{s}: decided {got}, expected {expected(s)}"
                                 for s, got in wrong[:10])
    assert len(cases) > 5000


def test_every_decision_of_the_matrix_is_reached():
    reached = {decide(s.policy(), facts(s)).action for s in scenarios()}
    assert reached == set(Action) - {Action.CONFIRM, Action.CREATE, Action.FAIL,
                                     Action.COMPARE}  # uncoupled and pending: test_decision.py
