"""What the pages' actions do, one function each (views and tasks call these; none repeats them).

Per record: Set Up Coupling (search the CRM, couple, or create), Synchronize Now (with the side
that changed suggested), the coupled CRM record's address. Per error / skipped coupling: retry,
synchronize, restore or delete records whose counterpart was deleted, find those, resolve a
conflict field by field. Per log: delete old entries. The engine (couplings_app.sync) does the
synchronizing; this module only chooses what to hand it.
"""

import copy
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from couplings_app.choices import JobStatus, JobType, SyncResult
from couplings_app.models import Coupling, SyncError, SyncJob
from couplings_app.sync.coupling import couple, uncouple
from couplings_app.sync.runner import synchronize_records
from dataverse.errors import DataverseError
from mappings_app import metadata
from mappings_app.choices import DeletionConflictResolution, Direction
from mappings_app.models import Connection, TableMapping
from mappings_app.values import record_key

LOG_KEEP_DAYS = 7
SEARCH_LIMIT = 20


# --- addresses of both sides --------------------------------------------------------------------
def local_url(local_model: str, local_id) -> str | None:
    """The ERP page of a record, from its model label ("erp_app.customer") and id."""
    if not local_model or local_id is None:
        return None
    app_label, _, model_name = local_model.partition(".")
    if app_label != "erp_app":
        return None
    try:
        return reverse("erp:detail", kwargs={"model": model_name, "pk": local_id})
    except NoReverseMatch:
        return None


def crm_url(entity_set: str, remote_id, connection: Connection | None = None) -> str | None:
    """The CRM's page of a record: the embedded CRM's browse page, or Dynamics' main.aspx."""
    if not entity_set or not remote_id:
        return None
    connection = connection or Connection.get()
    if connection.is_embedded:
        return reverse("crm_emulator:browse_edit",
                       kwargs={"set_name": entity_set, "rowid": remote_id})
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(connection.service_root))
    entity = TableMapping.objects.filter(remote_entity_set=entity_set) \
        .values_list("remote_entity", flat=True).first() or entity_set
    return f"{origin}/main.aspx?pagetype=entityrecord&etn={entity}&id={remote_id}"


# --- what a coupling is, as every page says it -----------------------------------------------
@dataclass(frozen=True)
class CouplingState:
    """The one answer every page gives about a record's coupling: what it reads, its colour,
    and whether the CRM record may be linked (it exists, as far as the log knows)."""

    key: str
    label: str
    color: str
    links_crm: bool
    links_erp: bool = True
    title: str = ""

    @property
    def coupled(self) -> bool:
        return self.key != NOT_COUPLED

    def __str__(self):
        return self.label


NOT_COUPLED, COUPLED, NOT_CREATED, CRM_DELETED, ERP_DELETED = (
    "none", "coupled", "pending", "crm_deleted", "erp_deleted")
STATES = {
    NOT_COUPLED: CouplingState(NOT_COUPLED, "Not coupled", "light", links_crm=False),
    COUPLED: CouplingState(COUPLED, "Coupled", "success", links_crm=True),
    NOT_CREATED: CouplingState(
        NOT_CREATED, "Not created yet", "secondary", links_crm=False,
        title="The CRM record was to be created with the next run: its creation failed or was "
              "never confirmed. It does not exist in the CRM yet."),
    CRM_DELETED: CouplingState(
        CRM_DELETED, "CRM record deleted", "warning", links_crm=False,
        title="The coupled CRM record was deleted. Restore it, delete this record too, or "
              "delete the coupling (Coupled Data Synchronization Errors)."),
    ERP_DELETED: CouplingState(
        ERP_DELETED, "ERP record deleted", "warning", links_crm=True, links_erp=False,
        title="The coupled ERP record was deleted. Restore it, delete the CRM record too, or "
              "delete the coupling (Coupled Data Synchronization Errors)."),
}
# The choices of the pages' state filters, in the order they are offered.
STATE_CHOICES = [(key, STATES[key].label) for key in
                 (COUPLED, NOT_CREATED, CRM_DELETED, ERP_DELETED, NOT_COUPLED)]


def coupling_state(coupling=None, *, exists=None, pending=False, deleted_side="") -> CouplingState:
    """The state of a coupling (a Coupling, or the fields of one a list annotated: `exists`,
    `pending`, `deleted_side`). None, or exists=False, is "Not coupled". A coupling whose CRM
    record was never created (pending_create: the id was chosen before sending) is "Not created
    yet", never "Coupled"; one whose counterpart is known deleted says which side."""
    if coupling is not None:
        exists, pending, deleted_side = True, coupling.pending_create, coupling.deleted_side
    if not exists:
        return STATES[NOT_COUPLED]
    if pending:
        return STATES[NOT_CREATED]
    if deleted_side == "remote":
        return STATES[CRM_DELETED]
    if deleted_side == "local":
        return STATES[ERP_DELETED]
    return STATES[COUPLED]


def state_q(key: str, prefix: str = "") -> Q:
    """The couplings in a state, as a filter on Coupling (or on a relation to it: `prefix`)."""
    def q(**kw):
        return Q(**{prefix + k: v for k, v in kw.items()})

    if key == NOT_CREATED:
        return q(pending_create=True)
    if key == CRM_DELETED:
        return q(pending_create=False, deleted_side="remote")
    if key == ERP_DELETED:
        return q(pending_create=False, deleted_side="local")
    if key == COUPLED:
        return q(pending_create=False, deleted_side="")
    raise ValueError(key)


def coupling_crm_url(coupling, connection: Connection | None = None) -> str | None:
    """The CRM page of a coupled record: None unless the record exists there (as far as known)."""
    if coupling is None or not coupling_state(coupling).links_crm or coupling.mapping_id is None:
        return None
    return crm_url(coupling.mapping.remote_entity_set, coupling.remote_id, connection)


def mappings_of(model) -> list[TableMapping]:
    return list(TableMapping.objects.filter(local_model=model._meta.label_lower)
                .order_by("priority", "name"))


def coupling_of(mapping, record) -> Coupling | None:
    return Coupling.objects.filter(local_model=mapping.local_model, local_id=record.pk,
                                   remote_entity=mapping.remote_entity).first()


def label(record) -> str:
    return f"{str(record._meta.verbose_name).capitalize()} {record_key(record)}"


# --- Set Up Coupling ----------------------------------------------------------------------------
@dataclass
class Candidate:
    id: str
    name: str
    coupled_to: int | None  # the ERP record id it is coupled to, if any


@dataclass
class SearchResult:
    candidates: list
    more: bool  # more records match than are shown: the user narrows the search


def _odata_text(text: str) -> str:
    return text.replace("'", "''")


def search_crm(mapping, client, text: str = "", limit: int = SEARCH_LIMIT) -> list[Candidate]:
    return search_crm_records(mapping, client, text, limit).candidates


def search_crm_records(mapping, client, text: str = "", limit: int = SEARCH_LIMIT,
                       include=None) -> SearchResult:
    """CRM records of the mapping's entity (within its filter) found by the CRM itself: names
    that start with or contain `text` ($filter startswith/contains, so any record is found, not
    only those of a first page), or the record whose id `text` is. `include`: a record id shown
    first whatever the search (the one coupled now)."""
    import uuid

    primary = metadata.entity(mapping.remote_entity).primary_name
    clauses = [f"({mapping.remote_filter})"] if mapping.remote_filter.strip() else []
    text = " ".join(text.split())[:100]
    if text:
        try:
            wanted = uuid.UUID(text)
        except ValueError:
            wanted = None
        if wanted is not None:
            clauses.append(f"{mapping.remote_key} eq {wanted}")
        elif primary:
            quoted = _odata_text(text)
            clauses.append(f"(startswith({primary},'{quoted}') or contains({primary},'{quoted}'))")
    select = [mapping.remote_key] + ([primary] if primary else [])
    rows = next(iter(client.iter_pages(mapping.remote_entity_set, select=select,
                                       filter=" and ".join(clauses) or None,
                                       orderby=primary or None, top=limit + 1,
                                       page_size=limit + 1)), [])
    more = len(rows) > limit
    rows = rows[:limit]
    if text and primary:
        # Names that start with the text first, then those that contain it.
        folded = text.casefold()
        rows.sort(key=lambda r: not str(r.get(primary) or "").casefold().startswith(folded))
    if include:
        include = str(include).lower()
        if include not in {str(r[mapping.remote_key]).lower() for r in rows}:
            found = client.get_many(mapping.remote_entity_set, mapping.remote_key, [include],
                                    select=select)
            rows = list(found.values()) + rows
    ids = [str(r[mapping.remote_key]).lower() for r in rows]
    taken = {str(remote).lower(): local for remote, local in Coupling.objects.filter(
        remote_entity=mapping.remote_entity, local_model=mapping.local_model,
        remote_id__in=ids).values_list("remote_id", "local_id")}
    return SearchResult([Candidate(id=i, name=str(r.get(primary) or i), coupled_to=taken.get(i))
                         for i, r in zip(ids, rows, strict=True)], more)


def crm_names(client, entity: str, entity_set: str, key: str, ids) -> dict[str, str]:
    """The CRM's names of these records ({lower-case id: name}), in one request per 100 ids;
    records that do not exist are left out. Empty if the entity has no primary name."""
    ids = [str(i).lower() for i in ids if i]
    if not ids:
        return {}
    primary = metadata.entity(entity).primary_name
    if not primary:
        return {}
    rows = client.get_many(entity_set, key, ids, select=[key, primary])
    return {str(k).lower(): str(r.get(primary)) for k, r in rows.items() if r.get(primary)}


def crm_name(mapping, remote_id, *, client) -> str | None:
    """The name of one CRM record of the mapping's entity; None if it does not exist."""
    names = crm_names(client, mapping.remote_entity, mapping.remote_entity_set,
                      mapping.remote_key, [remote_id])
    return names.get(str(remote_id).lower())


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


def match_criteria(mapping) -> list[Criterion]:
    """BC's Match Based Coupling Criteria: every enabled field mapping with a field on each
    side, whether it is matched on, its match priority and its case sensitivity."""
    fields = mapping.field_mappings.filter(is_enabled=True).exclude(remote_attribute="") \
        .exclude(local_field="").order_by("position", "pk")
    return [Criterion(field=fm, use=fm.use_for_matching, priority=fm.match_priority,
                      case_sensitive=fm.case_sensitive_matching) for fm in fields]


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
            problems.append(f"Match Priority of {fm.local_field} must be a whole number from 0 "
                            f"to 999, not “{raw[:20]}”.")
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
    if create_new != mapping.create_new_if_no_match:
        TableMapping.objects.filter(pk=mapping.pk).update(create_new_if_no_match=create_new)
        mapping.create_new_if_no_match = create_new
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


# --- errors: retry --------------------------------------------------------------------------------
def retry_errors(errors, *, client, user=None) -> list[SyncJob]:
    """Synchronizes the records of these errors again, each in the direction it failed. The
    retried errors leave the log (the new job logs those that fail again), and so do the older
    errors of the records that now succeed."""
    groups = defaultdict(list)
    for error in errors:
        if error.mapping_id:
            groups[(error.mapping_id, error.direction)].append(error)
    mappings = TableMapping.objects.in_bulk([m for m, _ in groups])
    jobs = []
    for (mapping_id, direction), group in groups.items():
        mapping = mappings[mapping_id]
        older = SyncError.objects.filter(mapping=mapping, direction=direction)
        if direction == Direction.FROM_CRM:
            ids = sorted({str(e.remote_id) for e in group if e.remote_id})
            job = synchronize_records(mapping, direction, client=client, remote_ids=ids,
                                      only_coupled=False, user=user)
            again = {str(i) for i in job.errors.values_list("remote_id", flat=True)}
            older = older.filter(remote_id__in=[i for i in ids if i not in again])
        else:
            ids = sorted({e.local_id for e in group if e.local_id is not None})
            job = synchronize_records(mapping, Direction.TO_CRM, client=client, local_ids=ids,
                                      only_coupled=False, user=user)
            again = set(job.errors.values_list("local_id", flat=True))
            older = older.filter(local_id__in=[i for i in ids if i not in again])
        if job.status == JobStatus.SUCCEEDED:
            SyncError.objects.filter(pk__in=[e.pk for e in group]).delete()
            older.exclude(job=job).delete()
        jobs.append(job)
    return jobs


def delete_log(model, older_than_days: int | None = None) -> int:
    """Deletes job log or error log entries (all, or those older than N days). Running and queued
    jobs stay: their pages still show what they do."""
    query = model.objects.all()
    if older_than_days is not None:
        query = query.filter(created_at__lt=timezone.now() - timedelta(days=older_than_days))
    if model is SyncJob:
        query = query.filter(status__in=JobStatus.finished())
        # The couplings' "last job" links are cleared in one UPDATE each, not per row.
        ids = query.values("pk")
        Coupling.objects.filter(last_job_to_crm__in=ids).update(last_job_to_crm=None)
        Coupling.objects.filter(last_job_from_crm__in=ids).update(last_job_from_crm=None)
        SyncError.objects.filter(job__in=ids).delete()
    count = query.count()
    query.delete()
    return count


# --- skipped and failed couplings -----------------------------------------------------------------
def problem_couplings():
    """BC's Coupled Data Synchronization Errors: skipped couplings, and those whose last
    synchronization failed."""
    return Coupling.objects.filter(
        Q(skipped=True) | Q(last_result_to_crm=SyncResult.FAILURE)
        | Q(last_result_from_crm=SyncResult.FAILURE) | ~Q(deleted_side=""))


def retry_couplings(couplings) -> int:
    """BC's Retry: the skipped records are taken again by the next run (failed ones first)."""
    return Coupling.objects.filter(pk__in=[c.pk for c in couplings]).update(skipped=False)


@dataclass
class RetryAll:
    skipped: int  # no longer skipped: the next run of their mapping takes them again
    failed: list  # ids of failed couplings to synchronize now
    deleted: int  # left alone: their coupled record was deleted (Restore or Delete Records)

    @property
    def retried(self) -> int:
        return self.skipped + len(self.failed)


def retry_all(couplings=None) -> RetryAll:
    """BC's Retry All on the skipped records: every coupling listed (`couplings`, a queryset of
    problem couplings; all of them when None) is taken again. Skipped ones are no longer skipped
    (the next run synchronizes them, failed first); failed ones not skipped are returned to be
    synchronized now; those whose coupled record was deleted need Restore or Delete Records."""
    listed = problem_couplings() if couplings is None else couplings
    deleted = listed.exclude(deleted_side="").count()
    listed = listed.filter(deleted_side="")
    failed = list(listed.filter(skipped=False).filter(
        Q(last_result_to_crm=SyncResult.FAILURE) | Q(last_result_from_crm=SyncResult.FAILURE))
        .values_list("pk", flat=True))
    skipped = Coupling.objects.filter(pk__in=listed.filter(skipped=True).values("pk")).update(
        skipped=False)
    return RetryAll(skipped=skipped, failed=failed, deleted=deleted)


def retriable_errors(errors) -> tuple[list[int], int, list[str]]:
    """Of these errors (a queryset), the ones whose record can be synchronized again (a mapping
    and the record's id on the side it failed from): their ids, how many distinct records they
    name, and the mappings' names."""
    rows = errors.filter(mapping__isnull=False).values_list(
        "pk", "mapping__name", "direction", "local_id", "remote_id")
    ids, records, names = [], set(), set()
    for pk, name, direction, local_id, remote_id in rows:
        record = remote_id if direction == Direction.FROM_CRM else local_id
        if record is None:
            continue
        ids.append(pk)
        records.add((name, direction, str(record)))
        names.add(name)
    return ids, len(records), sorted(names)


def _by_mapping(couplings):
    groups = defaultdict(list)
    for coupling in couplings:
        if coupling.mapping_id:
            groups[coupling.mapping_id].append(coupling)
    mappings = TableMapping.objects.in_bulk(list(groups))
    return [(mappings[m], group) for m, group in groups.items()]


def synchronize_couplings(couplings, *, client, user=None) -> list[SyncJob]:
    """BC's Synchronize on skipped records: the coupled records now, each direction of their
    mapping (a conflict stays skipped: resolve it first)."""
    jobs = []
    for mapping, group in _by_mapping(couplings):
        if Direction.TO_CRM in mapping.runs:
            jobs.append(synchronize_records(mapping, Direction.TO_CRM, client=client,
                                            local_ids=[c.local_id for c in group], user=user))
        # A CRM record not created yet (or deleted) has nothing to take data from.
        remote_ids = [c.remote_id for c in group
                      if not c.pending_create and c.deleted_side != "remote"]
        if Direction.FROM_CRM in mapping.runs and remote_ids:
            jobs.append(synchronize_records(mapping, Direction.FROM_CRM, client=client,
                                            remote_ids=remote_ids, user=user))
    return jobs


def delete_couplings(couplings, *, user=None) -> list[SyncJob]:
    return [uncouple(mapping, [c.local_id for c in group], user=user)
            for mapping, group in _by_mapping(couplings)]


def find_deleted(*, client, mappings=None, couplings=None, page_size=1000) -> int:
    """BC's Find for Deleted: marks couplings whose ERP or CRM record no longer exists (one query
    and one CRM request per page of couplings) and shows them as skipped. Returns how many."""
    found = 0
    mappings = list(mappings) if mappings is not None else list(TableMapping.objects.all())
    for mapping in mappings:
        model = mapping.local_model_class
        if model is None:
            continue
        query = Coupling.objects.filter(local_model=mapping.local_model,
                                        remote_entity=mapping.remote_entity, pending_create=False)
        if couplings is not None:
            query = query.filter(pk__in=[c.pk for c in couplings])
        last = 0
        while True:
            page = list(query.filter(pk__gt=last).order_by("pk")[:page_size])
            if not page:
                break
            last = page[-1].pk
            local = set(model._default_manager.filter(pk__in=[c.local_id for c in page])
                        .values_list("pk", flat=True))
            remote = {str(k).lower() for k in client.get_many(
                mapping.remote_entity_set, mapping.remote_key,
                [str(c.remote_id) for c in page], select=[mapping.remote_key])}
            marks = {"local": [], "remote": [], "": []}
            for coupling in page:
                side = ("local" if coupling.local_id not in local else
                        "remote" if str(coupling.remote_id).lower() not in remote else "")
                marks[side].append(coupling.pk)
            Coupling.objects.filter(pk__in=marks[""], deleted_side__gt="").update(deleted_side="")
            for side, what in (("local", "ERP"), ("remote", "CRM")):
                if marks[side]:
                    Coupling.objects.filter(pk__in=marks[side]).update(
                        deleted_side=side, skipped=True,
                        last_error=f"The {what} record of this coupling was deleted. Restore "
                                   "it, delete the other record too, or delete the coupling.")
                    found += len(marks[side])
    return found


def restore_records(couplings, *, client, user=None) -> list[SyncJob]:
    """BC's Restore Records: the deleted side is created again from the remaining one, and
    coupled (the engine's Restore Records resolution, for these couplings only)."""
    find_deleted(client=client, mappings=TableMapping.objects.filter(
        pk__in={c.mapping_id for c in couplings}), couplings=couplings)
    jobs = []
    fresh = list(Coupling.objects.filter(pk__in=[c.pk for c in couplings]).exclude(
        deleted_side=""))
    for mapping, group in _by_mapping(fresh):
        restoring = copy.copy(mapping)
        restoring.deletion_conflict_resolution = DeletionConflictResolution.RESTORE
        to_crm = [c.local_id for c in group if c.deleted_side == "remote"]
        from_crm = [c.remote_id for c in group if c.deleted_side == "local"]
        Coupling.objects.filter(pk__in=[c.pk for c in group]).update(deleted_side="",
                                                                     skipped=False)
        if to_crm:
            jobs.append(synchronize_records(restoring, Direction.TO_CRM, client=client,
                                            local_ids=to_crm, user=user))
        if from_crm:
            jobs.append(synchronize_records(restoring, Direction.FROM_CRM, client=client,
                                            remote_ids=from_crm, user=user))
    return jobs


def delete_records(couplings, *, client, user=None) -> tuple[int, list[str]]:
    """BC's Delete Records: the remaining record of a coupling whose other side was deleted is
    deleted too, and the coupling with it. Returns how many, and why some were kept (an ERP
    record still used elsewhere)."""
    from django.db.models import ProtectedError

    from dataverse import BatchOperation

    find_deleted(client=client, mappings=TableMapping.objects.filter(
        pk__in={c.mapping_id for c in couplings}), couplings=couplings)
    fresh = list(Coupling.objects.filter(pk__in=[c.pk for c in couplings]).exclude(
        deleted_side=""))
    deleted, kept = 0, []
    for mapping, group in _by_mapping(fresh):
        job = SyncJob.open(mapping, JobType.UNCOUPLING, user=user)
        local_ids = [c.local_id for c in group if c.deleted_side == "remote"]
        remote_ids = [str(c.remote_id) for c in group if c.deleted_side == "local"]
        model = mapping.local_model_class
        for record in model._default_manager.filter(pk__in=local_ids):
            try:  # one by one: the ERP's own delete rules and signals apply
                record.delete()
            except ProtectedError as exc:
                users = ", ".join(sorted({str(o) for o in exc.protected_objects})[:3])
                kept.append(f"{label(record)} was not deleted: it is still used by {users}.")
                group = [c for c in group if c.local_id != record.pk]
                continue
            deleted += 1
        if remote_ids:
            results = client.batch([BatchOperation("DELETE", mapping.remote_entity_set, id=i)
                                    for i in remote_ids], continue_on_error=True)
            deleted += sum(r.ok for r in results)
        gone, _ = Coupling.objects.filter(pk__in=[c.pk for c in group]).delete()
        job.finish(message=f"Deleted {deleted} records whose coupled record was deleted.",
                uncoupled=gone, deleted=len(group))
    return deleted, kept


def is_crm_error(exc) -> bool:
    return isinstance(exc, (DataverseError, OSError, metadata.MetadataUnavailable))
