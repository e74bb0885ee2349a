"""All mappings at once, in dependency order: Synchronize Modified Records and Run Full
Synchronization (from the Connection Setup page, `manage.py sync`, or a task), and the question
at the end of a full synchronization: do jobs go on creating records (Synch. Only Coupled
Records)? What a person started and what each mapping had before are kept in their session."""

from django.utils import timezone

from couplings_app.choices import JobStatus, JobTrigger
from couplings_app.models import Coupling, SyncJob
from couplings_app.sync.matching import describe, match_fields
from couplings_app.sync.runner import synchronize
from mappings_app import local_filter
from mappings_app.models import TableMapping
from mappings_app.order import sync_order


def enabled_in_order():
    return [m for m in sync_order() if m.is_enabled]


def duplicate_warnings(client) -> list[str]:
    """Mappings where both sides already hold uncoupled records: the seeds recommend
    match-based coupling first. A mapping with match fields couples them before creating (see
    sync/matching.py); one without would create a copy of each."""
    warnings = []
    for mapping in enabled_in_order():
        model = mapping.local_model_class
        uncoupled_local = model._default_manager.filter(
            local_filter.parse(model, mapping.local_filter)).exclude(
            pk__in=Coupling.objects.filter(local_model=mapping.local_model,
                                           remote_entity=mapping.remote_entity)
            .values("local_id")).count()
        if not uncoupled_local:
            continue
        first = next(iter(client.iter_pages(mapping.remote_entity_set,
                                            select=[mapping.remote_key],
                                            filter=mapping.remote_filter or None,
                                            page_size=1, top=1)), [])
        if not first:
            continue
        plural = model._meta.verbose_name_plural
        what = (f"{mapping.name}: {uncoupled_local} {plural} in the ERP are not coupled, and the "
                f"CRM holds {mapping.remote_entity} records too.")
        groups = match_fields(mapping)
        if groups:
            warnings.append(
                f"{what} Before creating a record, the synchronization couples it to the one on "
                f"the other side with the same {describe(groups)}; one with several such "
                "records fails and is listed. Run Match-Based Coupling first to review the "
                "couplings before anything is written.")
        else:
            warnings.append(
                f"{what} The mapping has no match fields, so a full synchronization creates a "
                "copy of each on the other side: mark fields Use For Match-Based Coupling and "
                "run Match-Based Coupling first.")
    return warnings


def synchronize_all(*, client, full=False, user=None, trigger=JobTrigger.USER):
    """Every enabled mapping in order; a full run creates and couples uncoupled records."""
    jobs = []
    for mapping in enabled_in_order():
        jobs += synchronize(mapping, full=full, only_coupled=False if full else None,
                            client=client, user=user, trigger=trigger)
    return jobs


def keep_creating_new_records(keep: bool, mappings=None) -> int:
    """The question at the end of a full synchronization: Yes clears Synch. Only Coupled Records
    on the mappings (jobs go on creating records); No leaves them as they were. Returns how many
    mappings the answer applied to."""
    if not keep:
        return 0
    mappings = mappings if mappings is not None else enabled_in_order()
    return _set_only_coupled(TableMapping.objects.filter(pk__in=[m.pk for m in mappings]), False)


def _set_only_coupled(mappings, flag: bool) -> int:
    """Synch. Only Coupled Records set to `flag` on each of `mappings`, through the mapping's own
    method; how many there were."""
    count = 0
    for mapping in mappings:
        count += 1
        mapping.set_sync_only_coupled(flag)
    return count


# The session's keys: when this user's full synchronization started, and what Synch. Only
# Coupled Records was on each mapping before it (for the answer No).
STARTED = "full_sync_started"
ONLY_COUPLED_BEFORE = "full_sync_only_coupled"


def remember_full_sync(session) -> None:
    """A full synchronization is being queued by the session's user."""
    session[STARTED] = timezone.now().isoformat()
    session[ONLY_COUPLED_BEFORE] = {
        str(pk): flag for pk, flag in TableMapping.objects.values_list("pk", "sync_only_coupled")}


def full_sync_state(session) -> dict:
    """For the Connection Setup page: a full synchronization started by this user, and whether
    it has finished (then the question is asked)."""
    started = session.get(STARTED)
    if not started:
        return {}
    since = timezone.datetime.fromisoformat(started)
    jobs = SyncJob.objects.filter(full=True, created_at__gte=since)
    pending = jobs.exclude(status__in=JobStatus.finished()).exists()
    return {"full_sync_running": pending, "full_sync_done": not pending and jobs.exists()}


def answer_full_sync(session, keep: bool) -> int:
    """The answer to the question: Yes clears Synch. Only Coupled Records on the enabled mappings
    (returns on how many); No sets it back to what each mapping had before the full
    synchronization (returns how many changed). Either way the question is not asked again."""
    session.pop(STARTED, None)
    before = session.pop(ONLY_COUPLED_BEFORE, None) or {}
    if keep:
        return keep_creating_new_records(True)
    restored = 0
    for flag in (True, False):
        pks = [int(pk) for pk, was in before.items() if was is flag and str(pk).isdigit()]
        restored += _set_only_coupled(
            TableMapping.objects.filter(pk__in=pks).exclude(sync_only_coupled=flag), flag)
    return restored
