"""Actions on one ERP record or a selection: couple (and synchronize), Create New in Dynamics 365
Sales, Synchronize Now (with the side that changed suggested), and Match-Based Coupling's
criteria."""

from dataclasses import dataclass

from django.core.exceptions import FieldDoesNotExist

from couplings_app.models import Coupling, SyncJob
from couplings_app.services.states import coupling_of, label
from couplings_app.sync.coupling import couple
from couplings_app.sync.runner import synchronize_records
from mappings_app.choices import Direction
from mappings_app.state import set_flag


def couple_record(mapping, record, remote_id, *, client, after="", user=None):
    """Couples, then synchronizes if asked ("to_crm": the ERP's data wins; "from_crm": the
    CRM's). Returns (coupling, job or None)."""
    coupling = couple(mapping, record, remote_id, client=client, user=user)
    job = None
    if after == Direction.TO_CRM:
        job = synchronize_records(mapping, Direction.TO_CRM, client=client, local_ids=[record.pk],
                                  user=user)
    elif after == Direction.FROM_CRM:
        # The ERP record counts as unchanged, so the CRM's values are taken without a conflict.
        Coupling.objects.filter(pk=coupling.pk).update(local_modified_at=record.modified_at)
        job = synchronize_records(mapping, Direction.FROM_CRM, client=client,
                                  remote_ids=[coupling.remote_id], user=user)
    return coupling, job


def create_in_crm(mapping, record, *, client, user=None) -> SyncJob:
    """BC's Create New in Dynamics 365 Sales: a new CRM record, coupled to this one."""
    return synchronize_records(mapping, Direction.TO_CRM, client=client, local_ids=[record.pk],
                               only_coupled=False, user=user)


# --- Match-Based Coupling: the coupling criteria -----------------------------------------------
@dataclass
class Criterion:
    field: object  # the FieldMapping
    use: bool
    priority: int
    case_sensitive: bool
    caption: str = ""  # the ERP field's caption ("Phone No.", "Company › Customer")


def field_caption(model, name: str) -> str:
    """The ERP field's caption as BC shows it ("Phone No.", "Company › Customer" for a field
    reached through a relation), else its name."""
    captions = []
    for part in name.split("."):
        try:
            field = model._meta.get_field(part)
        except (AttributeError, FieldDoesNotExist):
            return name
        captions.append(str(getattr(field, "verbose_name", part)))
        model = getattr(field, "related_model", None)
    return " › ".join(captions)


def match_criteria(mapping) -> list[Criterion]:
    """BC's Match Based Coupling Criteria: every enabled field mapping with a field on each
    side, whether it is matched on, its match priority and its case sensitivity."""
    fields = mapping.field_mappings.filter(is_enabled=True).exclude(remote_attribute="") \
        .exclude(local_field="").order_by("position", "pk")
    model = mapping.local_model_class
    return [Criterion(field=fm, use=fm.use_for_matching, priority=fm.match_priority,
                      case_sensitive=fm.case_sensitive_matching,
                      caption=field_caption(model, fm.local_field)) for fm in fields]


def apply_match_criteria(mapping, data) -> tuple[int, list[str]]:
    """Saves the criteria posted by the criteria step (`use_<pk>`, `priority_<pk>`,
    `case_<pk>`, `create_new`) on the mapping's field mappings and the mapping. Returns how many
    changed, and the problems (a priority that is no number from 0 to 999) — nothing is saved
    when there is one."""
    from mappings_app.models import FieldMapping

    changes, problems = [], []
    for criterion in match_criteria(mapping):
        fm = criterion.field
        raw = str(data.get(f"priority_{fm.pk}", fm.match_priority)).strip() or "0"
        try:
            priority = int(raw)
        except ValueError:
            priority = -1
        if not 0 <= priority <= 999:
            problems.append(f"Match Priority of {criterion.caption} must be a whole number from "
                            f"0 to 999, not “{raw[:20]}”.")
            continue
        new = {"use_for_matching": data.get(f"use_{fm.pk}") == "on",
               "match_priority": priority,
               "case_sensitive_matching": data.get(f"case_{fm.pk}") == "on"}
        if any(getattr(fm, k) != v for k, v in new.items()):
            changes.append((fm.pk, new))
    create_new = data.get("create_new") == "on" and Direction.TO_CRM in mapping.runs
    if problems:
        return 0, problems
    changed_use = {pk: new["use_for_matching"] for pk, new in changes}
    if not any(changed_use.get(c.field.pk, c.use) for c in match_criteria(mapping)):
        return 0, ["Choose at least one field to match on (Use For Match-Based Coupling)."]
    for pk, new in changes:
        FieldMapping.objects.filter(pk=pk).update(**new)
    changed = len(changes)
    if set_flag(mapping, "create_new_if_no_match", create_new):
        changed += 1
    return changed, []


# --- Synchronize Now ----------------------------------------------------------------------------
def directions_of(mapping) -> list[str]:
    return mapping.runs


def suggested_direction(mapping, record, coupling) -> str:
    """The side that changed since the last synchronization: the ERP's when its record moved on
    (or the record was never synchronized), else the CRM's."""
    runs = directions_of(mapping)
    if len(runs) == 1:
        return runs[0]
    if coupling is None or coupling.local_modified_at is None \
            or record.modified_at != coupling.local_modified_at:
        return Direction.TO_CRM
    return Direction.FROM_CRM


def synchronize_now(mapping, record, direction, *, client, user=None) -> SyncJob:
    """One record, one direction, now. An uncoupled record is created on the CRM's side."""
    coupling = coupling_of(mapping, record)
    if direction == Direction.FROM_CRM:
        if coupling is None:
            raise ValueError(f"{label(record)} is not coupled: there is no CRM record to take "
                             "its data from. Set up a coupling first.")
        if coupling.pending_create:
            raise ValueError(f"The {mapping.remote_entity} of {label(record)} was not created in "
                             "the CRM yet: there is no CRM record to take its data from. "
                             "Synchronize it to the CRM (the ERP's data) first.")
        return synchronize_records(mapping, direction, client=client,
                                   remote_ids=[coupling.remote_id], user=user)
    return synchronize_records(mapping, direction, client=client, local_ids=[record.pk],
                               only_coupled=coupling is not None, user=user)


def synchronize_selected(mapping, local_ids, *, client, user=None) -> list[SyncJob]:
    """The selected ERP records, in each direction of the mapping (to the CRM first)."""
    jobs = []
    if Direction.TO_CRM in mapping.runs:
        jobs.append(synchronize_records(mapping, Direction.TO_CRM, client=client,
                                        local_ids=list(local_ids), only_coupled=False, user=user))
    if Direction.FROM_CRM in mapping.runs:
        remote_ids = list(Coupling.objects.filter(
            local_model=mapping.local_model, remote_entity=mapping.remote_entity,
            local_id__in=list(local_ids)).values_list("remote_id", flat=True))
        if remote_ids:
            jobs.append(synchronize_records(mapping, Direction.FROM_CRM, client=client,
                                            remote_ids=remote_ids, user=user))
    return jobs
