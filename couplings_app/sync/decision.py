"""What to do with one record: one pure function of the mapping's policy and the facts of the
record, shared by both directions.

Each direction (`ToCrm`, `FromCrm`) gathers the `Facts` of a record from its coupling and the two
sides' rows it already holds (no query, no request of its own) and calls `decide`; it then acts on
the `Decision`: counts it, marks the coupling, writes. The mapping's update-conflict and
deletion-conflict resolutions are read here and nowhere else in the engine.

Business Central's words: a record is *coupled* to its counterpart; a record *changed on both
sides* since the last synchronization is a conflict, skipped under No resolution ("None"), sent
under "Send Update to Integration", taken from the CRM under "Get Update from Integration"; a
coupled record whose counterpart was deleted is a *deleted counterpart*, handled by the
deletion-conflict resolution (None: reported once, Remove Coupling, Restore Records).

Values are compared in two steps: the facts of a record whose values were not converted yet
have `values_differ=None`, and `decide` answers COMPARE when it needs them; the direction
converts the values (`sync/convert.py`), fills the value facts in and decides again.
"""

import enum
from dataclasses import dataclass, replace

from mappings_app.choices import DeletionConflictResolution, Direction, UpdateConflictResolution


class Action(enum.Enum):
    IGNORE = "ignore"  # not this run's record: nothing written, nothing counted
    CREATE = "create"  # create the counterpart and couple it
    CONFIRM = "confirm"  # an earlier run's create reached the CRM: confirm its coupling
    UNCHANGED = "unchanged"  # unchanged by its stamps: nothing written, not even the coupling
    IN_SYNC = "in_sync"  # the values agree: the coupling is stamped as synchronized
    COMPARE = "compare"  # convert the values, fill the value facts in, decide again
    UPDATE = "update"  # write the values that differ
    UPDATE_ONE_WAY = "update_one_way"  # only the fields this direction alone writes
    OTHER_SIDE_WINS = "other_side_wins"  # a conflict the other direction settles: counted unchanged
    SKIP = "skip"  # a conflict under No resolution: listed with the skipped records
    REMOVE_COUPLING = "remove_coupling"  # deleted counterpart, Remove Coupling
    RESTORE = "restore"  # deleted counterpart, Restore Records: create it again
    REPORT_DELETED = "report_deleted"  # deleted counterpart, None: reported once, coupling kept
    FAIL = "fail"  # several records match the one to create: none is created


class Reason(enum.Enum):
    NONE = ""
    NOT_COUPLED = "not coupled, and the run takes coupled records only"
    CREATED_BY_THE_SYNC = "created by the synchronization's own CRM user"
    SEVERAL_MATCHES = "several records match it by the match fields"
    ALREADY_REPORTED = "its deleted counterpart was reported for it as it is now"
    OWN_CHANGE = "the last CRM change is the synchronization's own"
    LEFT_EQUAL = "the ERP → CRM half of this synchronization left it as the ERP has it"
    CHANGED_IN_CRM_ONLY = "changed in the CRM only: the CRM's change comes back the other way"
    CHANGED_ON_BOTH_SIDES = "changed in both the ERP and the CRM since the last synchronization"
    CRM_VERSION_WINS = ("changed on both sides, Get Update from Integration: the CRM's version "
                        "comes back the other way")


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: Reason = Reason.NONE

    @property
    def crm_version_comes_back(self) -> bool:
        """To the CRM: the CRM row keeps its values of the bidirectional fields, and the run from
        the CRM that follows takes them (`Coupling.crm_values_pending`)."""
        return self.reason in (Reason.CHANGED_IN_CRM_ONLY, Reason.CRM_VERSION_WINS)


@dataclass(frozen=True)
class Policy:
    """What the table mapping says about conflicts."""

    direction: str  # the mapping's: Direction.BIDIRECTIONAL, TO_CRM or FROM_CRM
    update_conflict: str = UpdateConflictResolution.NONE
    deletion_conflict: str = DeletionConflictResolution.NONE
    bidirectional_fields: bool = True  # it has field mappings both directions write

    @classmethod
    def of(cls, run) -> "Policy":
        mapping = run.mapping
        return cls(direction=mapping.direction,
                   update_conflict=mapping.update_conflict_resolution,
                   deletion_conflict=mapping.deletion_conflict_resolution,
                   bidirectional_fields=bool(run.bidirectional))


@dataclass(frozen=True)
class Facts:
    """One record as the run reading it sees it (the ERP record to the CRM, the CRM row from it),
    next to its coupling and its counterpart."""

    direction: str  # the run's: Direction.TO_CRM or Direction.FROM_CRM
    coupled: bool = True
    pending_create: bool = False  # its CRM create was sent, not confirmed (read to the CRM)
    counterpart_exists: bool | None = True  # None: not read (unchanged by its stamps)
    stamp_unchanged: bool = False  # the record read has the modified-on its coupling remembers
    erp_changed: bool = False  # since the last synchronization (or the coupling, if none)
    crm_changed: bool = False  # since the last synchronization (or the coupling, if none)
    own_crm_change: bool = False  # the CRM's last change is the synchronization's own write
    left_equal_by_first_half: bool = False  # from the CRM: the half to the CRM compared it equal
    failed_before: bool = False  # its last synchronization in this direction failed
    full: bool = False  # Run Full Synchronization: every record is compared again, except
    # one unchanged on both sides whose field mappings are those of its last synchronization
    only_coupled: bool = True  # Synchronize Modified Records of coupled records only
    several_matches: bool = False  # match before create found more than one counterpart
    deletion_reported: bool = False  # its deleted counterpart was reported for it as it is now
    values_differ: bool | None = None  # None: not compared yet
    bidirectional_value_differs: bool = False  # a field both directions write differs
    one_way_value_differs: bool = False  # a field only this direction writes differs


IGNORE = Decision(Action.IGNORE)


def decide(policy: Policy, facts: Facts) -> Decision:
    """The one place a record's fate is decided, for both directions."""
    f = facts
    to_crm = f.direction == Direction.TO_CRM
    if not f.coupled:
        if f.own_crm_change:
            return Decision(Action.IGNORE, Reason.CREATED_BY_THE_SYNC)
        if f.only_coupled:
            return Decision(Action.IGNORE, Reason.NOT_COUPLED)
        return _create(f)
    if f.pending_create:
        return Decision(Action.CONFIRM) if f.counterpart_exists else _create(f)
    if f.counterpart_exists is False:
        return deleted_counterpart(policy, f)
    # The sync's own CRM write is not a person's change: not read again as one.
    read_side_unchanged = f.stamp_unchanged or (not to_crm and f.own_crm_change)
    if read_side_unchanged and not f.failed_before and not f.full:
        return Decision(Action.UNCHANGED)
    if not to_crm and f.own_crm_change and not f.failed_before and f.left_equal_by_first_half:
        return Decision(Action.IN_SYNC, Reason.LEFT_EQUAL)
    if f.values_differ is None:
        return Decision(Action.COMPARE)
    if not f.values_differ:
        return Decision(Action.IN_SYNC)
    bidirectional = policy.direction == Direction.BIDIRECTIONAL
    person_changed_crm = f.crm_changed and not f.own_crm_change
    if to_crm and bidirectional and policy.bidirectional_fields and not f.erp_changed \
            and person_changed_crm:
        # Read again (a full run, a retry, a first run after coupling) but changed in the CRM
        # only: the ERP restores only the fields it alone writes.
        action = Action.UPDATE_ONE_WAY if f.one_way_value_differs else Action.IN_SYNC
        return Decision(action, Reason.CHANGED_IN_CRM_ONLY)
    if bidirectional and f.erp_changed and f.bidirectional_value_differs and (
            person_changed_crm if to_crm else not f.own_crm_change):
        # From the CRM, a row read at all whose last change is a person's counts as changed
        # there (read again by a retry or a full run as well).
        return update_conflict(policy, f)
    return Decision(Action.UPDATE)


def update_conflict(policy: Policy, facts: Facts) -> Decision:
    """Changed on both sides: the mapping's update-conflict resolution."""
    if policy.update_conflict == UpdateConflictResolution.NONE:
        return Decision(Action.SKIP, Reason.CHANGED_ON_BOTH_SIDES)
    winner = Direction.TO_CRM if policy.update_conflict == UpdateConflictResolution.SEND \
        else Direction.FROM_CRM
    if facts.direction == winner:
        return Decision(Action.UPDATE, Reason.CHANGED_ON_BOTH_SIDES)
    if facts.direction == Direction.TO_CRM:
        # The CRM wins: its version comes back the other way, and the ERP sends now only the
        # fields it alone writes, as it does for a record changed in the CRM only. The ERP
        # record counts as synchronized, so the next run does not take it for changed.
        action = Action.UPDATE_ONE_WAY if facts.one_way_value_differs else Action.IN_SYNC
        return Decision(action, Reason.CRM_VERSION_WINS)
    return Decision(Action.OTHER_SIDE_WINS, Reason.CHANGED_ON_BOTH_SIDES)


def deleted_counterpart(policy: Policy, facts: Facts) -> Decision:
    """A coupled record whose counterpart is gone: the mapping's deletion-conflict resolution."""
    if policy.deletion_conflict == DeletionConflictResolution.REMOVE_COUPLING:
        return Decision(Action.REMOVE_COUPLING)
    if policy.deletion_conflict == DeletionConflictResolution.RESTORE:
        return Decision(Action.RESTORE)
    if facts.deletion_reported:
        return Decision(Action.IGNORE, Reason.ALREADY_REPORTED)
    return Decision(Action.REPORT_DELETED)


def _create(facts: Facts) -> Decision:
    if facts.several_matches:
        return Decision(Action.FAIL, Reason.SEVERAL_MATCHES)
    return Decision(Action.CREATE)


def erp_changed(coupling, modified_at) -> bool:
    """The ERP record changed since its last synchronization, or since it was coupled if it never
    was synchronized (its first run failed)."""
    if coupling.local_modified_at:
        return modified_at != coupling.local_modified_at
    return modified_at > coupling.created_at


def own_crm_change(run, row) -> bool:
    """The CRM row was last changed by the synchronization's own CRM user (the integration
    user): an echo of its own write, not a person's change."""
    user = run.integration_user
    return bool(user) and str(row.get("_modifiedby_value", "")).lower() == str(user).lower()


def compared(facts: Facts, changes, shared: set) -> Facts:
    """The facts with the values compared: `changes` names the fields that differ, `shared` the
    fields both directions write."""
    names = set(changes)
    return replace(facts, values_differ=bool(names),
                   bidirectional_value_differs=bool(names & shared),
                   one_way_value_differs=bool(names - shared))
