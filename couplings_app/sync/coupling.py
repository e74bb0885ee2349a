"""Coupling records: one by one, by matching, or by creating them on the other side; uncoupling.

Match-based coupling works per page: the candidate CRM rows of a page are read in one request per
match priority (the `In` function over the first match field's values), then compared in memory.
Exactly one uncoupled match couples; none couples nothing (or creates the record, if the mapping
says so); more than one is reported, never guessed.
"""

from dataclasses import dataclass, field
from itertools import groupby

from django.db import IntegrityError, transaction
from django.utils import timezone

from couplings_app.choices import JobStatus, JobTrigger, JobType
from couplings_app.models import Coupling, SyncJob
from couplings_app.sync.context import PAGE_SIZE, Run, web_name
from couplings_app.sync.lookups import ToCrmLookups
from mappings_app import local_filter
from mappings_app.choices import Direction
from mappings_app.values import Reference, ValueProblem, local_value, record_key, to_remote


class CouplingRefused(ValueError):
    """A coupling that cannot be made; the message says why and what to do."""


@dataclass
class MatchOutcome:
    coupled: list = field(default_factory=list)  # (record, remote_id)
    no_match: list = field(default_factory=list)  # record
    ambiguous: list = field(default_factory=list)  # (record, [remote ids])
    created: int = 0
    job: SyncJob | None = None


def _job(mapping, job_type, trigger, user, direction=""):
    now = timezone.now()
    return SyncJob.objects.create(mapping=mapping, mapping_name=mapping.name, type=job_type,
                                  direction=direction, trigger=trigger, triggered_by=user,
                                  status=JobStatus.RUNNING, started_at=now, heartbeat_at=now)


def _finish(job, message, **counters):
    SyncJob.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED,
                                             finished_at=timezone.now(), message=message,
                                             **counters)
    job.refresh_from_db()


def couple(mapping, record, remote_id, *, client, user=None, trigger=JobTrigger.USER) -> Coupling:
    """Couples an ERP record to a chosen CRM record (BC's Set Up Coupling)."""
    remote_id = str(remote_id).lower()
    rows = client.get_many(mapping.remote_entity_set, mapping.remote_key, [remote_id],
                           select=[mapping.remote_key])
    label = f"{record._meta.verbose_name} {record_key(record)}"
    if not rows:
        raise CouplingRefused(f"There is no {mapping.remote_entity} {remote_id} in the CRM.")
    taken = Coupling.objects.filter(remote_entity=mapping.remote_entity, remote_id=remote_id,
                                    local_model=mapping.local_model).exclude(local_id=record.pk)
    if taken.exists():
        raise CouplingRefused(f"{mapping.remote_entity} {remote_id} is already coupled to another "
                              f"{record._meta.verbose_name}. Delete that coupling first.")
    job = _job(mapping, JobType.COUPLING, trigger, user)
    with transaction.atomic():
        Coupling.objects.filter(local_model=mapping.local_model, local_id=record.pk,
                                remote_entity=mapping.remote_entity).delete()
        coupling = Coupling.objects.create(
            mapping=mapping, local_model=mapping.local_model, local_id=record.pk,
            remote_entity=mapping.remote_entity, remote_id=remote_id)
    _finish(job, f"{label} coupled to {mapping.remote_entity} {remote_id}.", coupled=1)
    return coupling


def uncouple(mapping, local_ids, *, user=None, trigger=JobTrigger.USER) -> SyncJob:
    """Deletes the couplings of these ERP records (BC's Delete Coupling)."""
    job = _job(mapping, JobType.UNCOUPLING, trigger, user)
    deleted, _ = Coupling.objects.filter(local_model=mapping.local_model,
                                         remote_entity=mapping.remote_entity,
                                         local_id__in=list(local_ids)).delete()
    _finish(job, f"{deleted} coupling{'s' if deleted != 1 else ''} deleted.", uncoupled=deleted)
    return job


def match_fields(mapping):
    fields = mapping.field_mappings.filter(is_enabled=True, use_for_matching=True) \
        .exclude(remote_attribute="").exclude(local_field="") \
        .select_related("transformation_rule", "lookup_mapping", "table_mapping") \
        .order_by("match_priority", "position")
    return [(priority, list(group)) for priority, group in
            groupby(fields, key=lambda fm: fm.match_priority)]


def match_based_coupling(mapping, *, client, local_ids=None, dry_run=False, user=None,
                         trigger=JobTrigger.USER, page_size=PAGE_SIZE) -> MatchOutcome:
    """Couples uncoupled ERP records to the one uncoupled CRM record their match fields find."""
    groups = match_fields(mapping)
    if not groups:
        raise CouplingRefused(f"No field of the {mapping.name} mapping is marked Use For "
                              "Match-Based Coupling. Mark one on its field mappings.")
    outcome = MatchOutcome()
    job = None if dry_run else _job(mapping, JobType.COUPLING, trigger, user)
    run = Run(mapping=mapping, job=job or SyncJob(mapping_name=mapping.name), client=client,
              direction=Direction.TO_CRM)
    model = mapping.local_model_class
    query = model._default_manager.filter(local_filter.parse(model, mapping.local_filter))
    coupled = Coupling.objects.filter(local_model=mapping.local_model,
                                      remote_entity=mapping.remote_entity)
    query = query.exclude(pk__in=coupled.values("local_id"))
    if local_ids is not None:
        query = query.filter(pk__in=list(local_ids))
    query = query.order_by("pk")
    last = 0
    while True:
        page = list(query.filter(pk__gt=last)[:page_size])
        if not page:
            break
        last = page[-1].pk
        _match_page(run, page, groups, outcome, dry_run)
    if not dry_run:
        if mapping.create_new_if_no_match and outcome.no_match:
            from couplings_app.sync.runner import synchronize_records

            created = synchronize_records(mapping, Direction.TO_CRM, client=client,
                                          local_ids=[r.pk for r in outcome.no_match],
                                          only_coupled=False, user=user, trigger=trigger)
            outcome.created = created.inserted
        message = (f"{len(outcome.coupled)} coupled, {len(outcome.no_match)} without a match, "
                   f"{len(outcome.ambiguous)} with more than one match"
                   + (f", {outcome.created} created in the CRM" if outcome.created else "") + ".")
        if run.failures:
            run.flush(0)
        _finish(job, message, coupled=len(outcome.coupled))
        outcome.job = job
    return outcome


def _match_page(run, page, groups, outcome, dry_run):
    mapping = run.mapping
    resolve = ToCrmLookups(run, page)
    remaining = list(page)
    taken = set()
    new = []
    for _priority, fields in groups:
        if not remaining:
            break
        wanted = {}
        for record in remaining:
            try:
                wanted[record.pk] = [_match_value(run, fm, record, resolve) for fm in fields]
            except ValueProblem as problem:
                run.fail(f"{run.local_label(record)}: {problem}", local_id=record.pk,
                         local_label=run.local_label(record))
        first = fields[0]
        attribute = run.attributes[first.remote_attribute]
        values = sorted({str(v[0]) for v in wanted.values() if v[0] not in (None, "")})
        candidates = _candidates(run, web_name(attribute), values, fields) if values else []
        candidate_ids = [str(row[mapping.remote_key]).lower() for row in candidates]
        already = set(str(i).lower() for i in Coupling.objects.filter(
            remote_entity=mapping.remote_entity, local_model=mapping.local_model,
            remote_id__in=candidate_ids).values_list("remote_id", flat=True))
        free = [row for row in candidates
                if str(row[mapping.remote_key]).lower() not in already | taken]
        still = []
        for record in remaining:
            if record.pk not in wanted or all(v in (None, "") for v in wanted[record.pk]):
                still.append(record)
                continue
            matches = [row for row in free if _equal(run, fields, wanted[record.pk], row)]
            if len(matches) == 1:
                remote_id = str(matches[0][mapping.remote_key]).lower()
                taken.add(remote_id)
                outcome.coupled.append((record, remote_id))
                new.append(Coupling(mapping=mapping, local_model=mapping.local_model,
                                    local_id=record.pk, remote_entity=mapping.remote_entity,
                                    remote_id=remote_id))
            elif len(matches) > 1:
                outcome.ambiguous.append(
                    (record, [str(m[mapping.remote_key]) for m in matches]))
            else:
                still.append(record)
        remaining = still
    outcome.no_match.extend(remaining)
    if not dry_run and new:
        try:
            Coupling.objects.bulk_create(new, batch_size=1000)
        except IntegrityError:  # coupled meanwhile by another run: keep the ones still free
            for coupling in new:
                try:
                    with transaction.atomic():
                        coupling.save()
                except IntegrityError:
                    outcome.coupled = [(r, i) for r, i in outcome.coupled
                                       if r.pk != coupling.local_id]


def _match_value(run, fm, record, resolve):
    value = to_remote(fm, local_value(record, fm.local_field),
                      run.attributes[fm.remote_attribute], resolve=resolve)
    return None if isinstance(value, Reference) else value


def _candidates(run, property_name, values, fields):
    mapping, client = run.mapping, run.client
    select = sorted({mapping.remote_key} | {web_name(run.attributes[fm.remote_attribute])
                                            for fm in fields})
    rows = []
    for start in range(0, len(values), 500):
        chunk = values[start:start + 500]
        quoted = ",".join("'" + v.replace("'", "''") + "'" for v in chunk)
        clause = (f"Microsoft.Dynamics.CRM.In(PropertyName='{property_name}',"
                  f"PropertyValues=[{quoted}])")
        if mapping.remote_filter.strip():
            clause = f"({mapping.remote_filter}) and {clause}"
        for page in client.iter_pages(mapping.remote_entity_set, select=select, filter=clause):
            rows.extend(page)
    return rows


def _equal(run, fields, values, row) -> bool:
    for fm, value in zip(fields, values, strict=True):
        attribute = run.attributes[fm.remote_attribute]
        current = row.get(web_name(attribute))
        if value in (None, "") or current in (None, ""):
            return False
        a, b = str(value).strip(), str(current).strip()
        if not fm.case_sensitive_matching:
            a, b = a.casefold(), b.casefold()
        if a != b:
            return False
    return True
