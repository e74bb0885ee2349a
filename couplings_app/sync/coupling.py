"""Coupling records: one by one, by matching, or by creating them on the other side; uncoupling.

Match-based coupling works per page: the candidate CRM rows of a page are read in one request per
match priority (the `In` function over the first match field's values), then compared in memory.
Exactly one uncoupled match couples; none couples nothing (or creates the record, if the mapping
says so); more than one is reported, never guessed.
"""

from dataclasses import dataclass, field

from django.db import IntegrityError, transaction

from couplings_app.choices import JobTrigger, JobType
from couplings_app.models import Coupling, SyncJob
from couplings_app.sync.context import PAGE_SIZE, Run
from couplings_app.sync.matching import find_remote_matches, match_fields
from mappings_app import local_filter
from mappings_app.choices import Direction
from mappings_app.values import record_key


class CouplingRefused(ValueError):
    """A coupling that cannot be made; the message says why and what to do."""


@dataclass
class MatchOutcome:
    coupled: list = field(default_factory=list)  # (record, remote_id)
    no_match: list = field(default_factory=list)  # record
    ambiguous: list = field(default_factory=list)  # (record, [remote ids])
    created: int = 0
    job: SyncJob | None = None


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
    job = SyncJob.open(mapping, JobType.COUPLING, trigger=trigger, user=user)
    with transaction.atomic():
        Coupling.objects.filter(local_model=mapping.local_model, local_id=record.pk,
                                remote_entity=mapping.remote_entity).delete()
        coupling = Coupling.objects.create(
            mapping=mapping, local_model=mapping.local_model, local_id=record.pk,
            remote_entity=mapping.remote_entity, remote_id=remote_id)
    job.finish(message=f"{label} coupled to {mapping.remote_entity} {remote_id}.", coupled=1)
    return coupling


def uncouple(mapping, local_ids, *, user=None, trigger=JobTrigger.USER) -> SyncJob:
    """Deletes the couplings of these ERP records (BC's Delete Coupling)."""
    job = SyncJob.open(mapping, JobType.UNCOUPLING, trigger=trigger, user=user)
    deleted, _ = Coupling.objects.filter(local_model=mapping.local_model,
                                         remote_entity=mapping.remote_entity,
                                         local_id__in=list(local_ids)).delete()
    job.finish(message=f"{deleted} coupling{'s' if deleted != 1 else ''} deleted.",
               uncoupled=deleted)
    return job


def match_based_coupling(mapping, *, client, local_ids=None, dry_run=False, user=None,
                         trigger=JobTrigger.USER, page_size=PAGE_SIZE) -> MatchOutcome:
    """Couples uncoupled ERP records to the one uncoupled CRM record their match fields find."""
    groups = match_fields(mapping)
    if not groups:
        raise CouplingRefused(f"No field of the {mapping.name} mapping is marked Use For "
                              "Match-Based Coupling. Mark one on its field mappings.")
    outcome = MatchOutcome()
    job = None if dry_run else SyncJob.open(mapping, JobType.COUPLING, trigger=trigger, user=user)
    run = Run(mapping=mapping, job=job or SyncJob.dry_run(mapping), client=client,
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
        job.finish(message=message, coupled=len(outcome.coupled))
        outcome.job = job
    return outcome


def _match_page(run, page, groups, outcome, dry_run):
    mapping = run.mapping
    found = find_remote_matches(run, page, groups)
    for record, problem in found.problems:
        run.fail(f"{run.local_label(record)}: {problem}", local_id=record.pk,
                 local_label=run.local_label(record))
    outcome.ambiguous.extend(found.ambiguous)
    outcome.no_match.extend(found.unmatched)
    outcome.coupled.extend(found.coupled)
    new = [Coupling(mapping=mapping, local_model=mapping.local_model, local_id=record.pk,
                    remote_entity=mapping.remote_entity, remote_id=remote_id)
           for record, remote_id in found.coupled]
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
