"""Pages of the couplings, the job log, the error log, the skipped records and the job queue, and
the synchronization actions of the ERP records, the Connection Setup and the table mappings.

Views are thin: each action is a POST (CSRF) under a permission (403 without it) that calls one
function of couplings_app.services / tasks / page_tasks / jobqueue, says what it did in a message
and returns to where the user was (`next`, else the referring page).
"""


from django.contrib import messages
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_GET, require_POST
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from couplings_app import conflicts, jobqueue, page_tasks, services, tasks
from couplings_app.choices import JobStatus, JobType
from couplings_app.filtersets import (
    CouplingFilterSet,
    SkippedFilterSet,
    SyncErrorFilterSet,
    SyncJobFilterSet,
)
from couplings_app.forms import CouplingForm, DirectionForm, selected_ids
from couplings_app.models import Coupling, SyncError, SyncJob
from couplings_app.sync.coupling import CouplingRefused, match_based_coupling, uncouple
from couplings_app.sync.full import duplicate_warnings, keep_creating_new_records
from couplings_app.tables import CouplingTable, SkippedTable, SyncErrorTable, SyncJobTable
from mappings_app.choices import Direction
from mappings_app.connection import crm_client, scrub
from mappings_app.models import Connection, EntityMetadata, TableMapping
from syncadmin.forms import selected_pks
from syncadmin.permissions import permission

SYNC = "mappings_app.sync_tablemapping"
COUPLE = "mappings_app.couple_tablemapping"
RESOLVE = "couplings_app.resolve_coupling"
JOBQUEUE = "couplings_app.manage_jobqueue"


def back(request, default="home"):
    """Where the user was: a safe `next`, else the referring page of this site, else default."""
    for target in (request.POST.get("next"), request.GET.get("next"),
                   request.headers.get("referer")):
        if target and url_has_allowed_host_and_scheme(target, {request.get_host()}):
            return HttpResponseRedirect(target)  # a URL, never a view name to reverse
    return redirect(default)


def _safe(target) -> str | None:
    """`target` when it is an address of this site (a `next`)."""
    if target and url_has_allowed_host_and_scheme(target, {"_"}) and target.startswith("/") \
            and not target.startswith("//"):
        return target
    return None


def crm_failed(request, exc, what):
    messages.error(request, f"{what} did not happen: the CRM did not answer as expected "
                            f"({scrub(str(exc))}). Test the connection, then try again.")


def _queued(jobs) -> str:
    numbers = ", ".join(f"#{j.pk}" for j in jobs)
    return f"job{'s' if len(jobs) != 1 else ''} {numbers}"


def _job_outcome(request, job, what):
    if job.status == JobStatus.SUCCEEDED and not job.failed and not job.skipped:
        messages.success(request, f"{what}: {job.message} (job #{job.pk})")
    else:
        messages.warning(request, f"{what}: {job.message} (job #{job.pk}). See its errors.")


def _match_queued(request, mappings, *, local_ids=None, what=None):
    """Queues Match-Based Coupling of each mapping (of `local_ids` only, when given), then says
    what happened: a run that has already finished (a cluster in sync mode, a quick worker) with
    its result and a link to its job; the others as queued, with a link to the job log."""
    since = timezone.now()
    for mapping in mappings:
        page_tasks.enqueue("match_selected", mapping.pk, local_ids, user=request.user,
                           name=f"{mapping.name} match-based coupling")
    finished = {job.mapping_id: job for job in SyncJob.objects.filter(
        type=JobType.COUPLING, mapping__in=mappings, created_at__gte=since,
        triggered_by=request.user if request.user.is_authenticated else None,
        status__in=JobStatus.finished()).order_by("created_at", "pk")}
    queued = []
    for mapping in mappings:
        job = finished.get(mapping.pk)
        if job is None:
            queued.append(mapping.name)
            continue
        ok = job.status == JobStatus.SUCCEEDED and not job.failed
        (messages.success if ok else messages.warning)(request, format_html(
            'Match-based coupling of {}{}: {} (<a href="{}" class="alert-link">job #{}</a>)',
            what or mapping.name, f" ({mapping.name})" if what else "",
            job.message or job.get_status_display(), job.get_absolute_url(), job.pk))
    if queued:
        messages.success(request, format_html(
            'Queued match-based coupling of {}{}. Follow it on the <a href="{}" '
            'class="alert-link">job log</a>.', what or ", ".join(queued),
            f" ({', '.join(queued)})" if what else "", reverse("couplings:syncjob_list")))


# --- the ERP record's Dynamics 365 Sales menu ----------------------------------------------------
def _record(mapping_pk, pk):
    mapping = get_object_or_404(TableMapping, pk=mapping_pk)
    model = mapping.local_model_class
    if model is None:
        raise Http404("The mapping's table does not exist.")
    return mapping, get_object_or_404(model, pk=pk)


@permission(COUPLE)
def record_couple(request, mapping, pk):
    """Set Up Coupling: search the CRM's records and pick one, or create a new one."""
    mapping, record = _record(mapping, pk)
    coupling = services.coupling_of(mapping, record)
    form = CouplingForm(request.POST if request.method == "POST" else None, mapping=mapping)
    if request.method == "POST":
        if request.POST.get("create") == "yes":
            return _create_in_crm(request, mapping, record)
        if form.is_valid():
            remote_id = form.cleaned_data["remote_id"]
            try:
                with crm_client() as client:
                    _, job = services.couple_record(
                        mapping, record, remote_id, client=client,
                        after=form.cleaned_data["after"], user=request.user)
                    name = _crm_name_or_none(mapping, remote_id, client)
            except CouplingRefused as exc:
                messages.error(request, f"{services.label(record)} was not coupled: {exc}")
            except Exception as exc:  # noqa: BLE001 - the CRM's errors, shown not raised
                if not services.is_crm_error(exc):
                    raise
                crm_failed(request, exc, "The coupling")
            else:
                messages.success(request, f"{services.label(record)} is coupled to "
                                          f"{_crm_caption(mapping, remote_id, name)}.")
                if job is not None:
                    _job_outcome(request, job, "Synchronized after coupling")
                return redirect(record.get_absolute_url())
    text = request.GET.get("q", "")
    state = services.coupling_state(coupling)
    candidates, more, problem, coupled_name = [], False, None, None
    try:
        with crm_client() as client:
            found = services.search_crm_records(
                mapping, client, text,
                include=coupling.remote_id if coupling is not None and state.links_crm
                and not text else None)
            candidates, more = found.candidates, found.more
            if coupling is not None and state.links_crm:
                coupled_name = next((c.name for c in candidates
                                     if c.id == str(coupling.remote_id).lower()), None) \
                    or _crm_name_or_none(mapping, coupling.remote_id, client)
    except Exception as exc:  # noqa: BLE001
        if not services.is_crm_error(exc):
            raise
        problem = f"The CRM could not be searched: {scrub(str(exc))}"
    return render(request, "couplings_app/record_couple.html", {
        "mapping": mapping, "record": record, "label": services.label(record),
        "coupling": coupling, "state": state, "coupled_name": coupled_name,
        "coupled_url": services.crm_url(mapping.remote_entity_set, coupling.remote_id)
        if coupling is not None and state.links_crm else None,
        "form": form, "q": text, "candidates": candidates, "more": more,
        "limit": services.SEARCH_LIMIT,
        "problem": problem, "can_create": Direction.TO_CRM in mapping.runs,
    })


def _crm_name_or_none(mapping, remote_id, client):
    try:
        return services.crm_name(mapping, remote_id, client=client)
    except Exception as exc:  # noqa: BLE001 - a name is a courtesy: the id says it too
        if not services.is_crm_error(exc):
            raise
        return None


def _crm_caption(mapping, remote_id, name=None) -> str:
    """"account Fabrikam Inc." when the CRM's name is known, else the short id."""
    return f"{mapping.remote_entity} {name}" if name else \
        f"{mapping.remote_entity} {str(remote_id)[:8]}…"


def _create_in_crm(request, mapping, record):
    if Direction.TO_CRM not in mapping.runs:
        raise PermissionDenied
    try:
        with crm_client() as client:
            job = services.create_in_crm(mapping, record, client=client, user=request.user)
    except Exception as exc:  # noqa: BLE001
        if not services.is_crm_error(exc):
            raise
        crm_failed(request, exc, "Creating the CRM record")
    else:
        _job_outcome(request, job, f"Created {services.label(record)} in the CRM")
    return redirect(record.get_absolute_url())


CHANGE_CRITERIA = ("mappings_app.change_fieldmapping", "mappings_app.change_tablemapping")


def _field_caption(model, name: str) -> str:
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


def _criteria_section(mapping, create_name="create_new") -> dict:
    model = mapping.local_model_class
    criteria = services.match_criteria(mapping)
    for criterion in criteria:
        criterion.caption = _field_caption(model, criterion.field.local_field)
    return {"mapping": mapping, "criteria": criteria, "create_name": create_name,
            "can_create": Direction.TO_CRM in mapping.runs,
            "records_name": getattr(getattr(model, "_meta", None), "verbose_name", "record")}


def _criteria_page(request, mapping, *, record=None, action, mappings=None, selected=None,
                   hidden=(), next_url=None):
    """BC's Match Based Coupling Criteria, the step before Match-Based Coupling runs: which
    fields to match on, their priority and case sensitivity, and Create New if Unable to Find a
    Match. Whoever may change the mappings edits them; others see them and run.

    One mapping (a record's menu, a mapping's page, the selected rows of an ERP list: then
    `selected` says how many) or several (the selected rows of the table mappings list: one
    section each, their Create New named per mapping); `hidden` carries the selection."""
    several = mappings is not None and len(mappings) > 1
    sections = [_criteria_section(m, f"create_new_{m.pk}" if several else "create_new")
                for m in (mappings or [mapping])]
    first = sections[0]
    return render(request, "couplings_app/match_criteria.html", {
        "mapping": mapping, "record": record, "sections": sections, "several": several,
        "label": services.label(record) if record is not None else None,
        "selected": selected, "hidden": hidden,
        "criteria": first["criteria"], "action": action,
        "records_name": first["records_name"],
        "can_change": request.user.has_perms(CHANGE_CRITERIA),
        "can_create": first["can_create"],
        "next": next_url or request.GET.get("next") or (
            record.get_absolute_url() if record is not None else mapping.get_absolute_url()),
    })


@require_GET
@permission(COUPLE)
def record_match_criteria(request, mapping, pk):
    mapping, record = _record(mapping, pk)
    return _criteria_page(request, mapping, record=record, action=reverse(
        "couplings:record_match", args=[mapping.pk, record.pk]))


@require_GET
@permission(COUPLE)
def mapping_match_criteria(request, pk):
    """The criteria step of a mapping's Match-Based Coupling; with `pk` in the query, of the
    records selected on an ERP list; with `with`, of the table mappings selected with it."""
    mapping = get_object_or_404(TableMapping, pk=pk)
    if "pk" in request.GET:
        model = mapping.local_model_class
        ids = list(model.objects.filter(pk__in=selected_pks(request.GET.getlist("pk")))
                   .order_by("pk").values_list("pk", flat=True)) if model is not None else []
        if not ids:
            messages.warning(request, "Select one or more records first.")
            return back(request, mapping.get_absolute_url())
        return _criteria_page(
            request, mapping, hidden=[("pk", i) for i in ids],
            selected=_selected_records(model, len(ids)),
            action=reverse("couplings:records_bulk", args=[mapping.pk, "match"]))
    if "with" in request.GET:
        others = list(TableMapping.objects.filter(
            pk__in=selected_pks(request.GET.getlist("with"))).exclude(pk=mapping.pk)
            .order_by("pk"))
        mappings = [mapping, *others]
        return _criteria_page(
            request, mapping, mappings=mappings, hidden=[("pk", m.pk) for m in mappings],
            action=reverse("couplings:mappings_bulk", args=["match"]),
            next_url=_safe(request.GET.get("next")) or reverse("mappings:tablemapping_list"))
    return _criteria_page(request, mapping, action=reverse(
        "couplings:mapping_action", args=[mapping.pk, "match"]))


def _selected_records(model, n) -> str:
    opts = model._meta
    return f"{n} selected {opts.verbose_name if n == 1 else opts.verbose_name_plural}"


def _to_criteria(request, mapping, what, default_next=None, **query):
    """A bulk Match-Based Coupling posted without its criteria step: to that step, with the
    selection (and where to return) in the address."""
    target = _safe(request.POST.get("next")) or default_next
    if target:
        query["next"] = target
    messages.info(request, f"Match-Based Coupling of {what}: check the coupling criteria, "
                           "then run it.")
    url = reverse("couplings:mapping_match_criteria", args=[mapping.pk])
    return HttpResponseRedirect(f"{url}?{urlencode(query, doseq=True)}" if query else url)


def _matches_on_something(request, mapping) -> bool:
    """The criteria (as posted, if the user may change them) mark a field to match on."""
    if request.user.has_perms(CHANGE_CRITERIA):
        return any(request.POST.get(f"use_{c.field.pk}") == "on"
                   for c in services.match_criteria(mapping))
    return any(c.use for c in services.match_criteria(mapping))


def _apply_criteria(request, mapping, create_name="create_new") -> bool:
    """The criteria posted with the run, saved if the user may change them. False (and said
    why) when they are refused: nothing runs then."""
    if request.POST.get("criteria") != "yes" or not request.user.has_perms(CHANGE_CRITERIA):
        return True
    data = request.POST
    if create_name != "create_new":
        data = {key: request.POST.get(key) for key in request.POST}
        data["create_new"] = request.POST.get(create_name)
    changed, problems = services.apply_match_criteria(mapping, data)
    for problem in problems:
        messages.error(request, f"{mapping.name}: the coupling criteria were not saved. {problem}")
    if changed:
        messages.info(request, f"{mapping.name}: saved the coupling criteria "
                               f"({changed} change{'s' if changed != 1 else ''}).")
    return not problems


@require_POST
@permission(COUPLE)
def record_match(request, mapping, pk):
    mapping, record = _record(mapping, pk)
    if not _apply_criteria(request, mapping):
        return redirect("couplings:record_match_criteria", mapping=mapping.pk, pk=record.pk)
    try:
        with crm_client() as client:
            outcome = match_based_coupling(mapping, client=client, local_ids=[record.pk],
                                           user=request.user)
            name = _crm_name_or_none(mapping, outcome.coupled[0][1], client) \
                if outcome.coupled else None
    except CouplingRefused as exc:
        messages.error(request, str(exc))
    except Exception as exc:  # noqa: BLE001
        if not services.is_crm_error(exc):
            raise
        crm_failed(request, exc, "Match-based coupling")
    else:
        if outcome.coupled:
            remote_id = outcome.coupled[0][1]
            messages.success(request, f"{services.label(record)} is coupled to "
                                      f"{_crm_caption(mapping, remote_id, name)}.")
        elif outcome.ambiguous:
            messages.warning(request, f"{services.label(record)} matches more than one "
                                      f"{mapping.remote_entity}: choose one with Set Up Coupling.")
        else:
            messages.warning(request, f"No uncoupled {mapping.remote_entity} matches "
                                      f"{services.label(record)}. Use Set Up Coupling.")
    return back(request, record.get_absolute_url())


@permission(SYNC)
def record_sync(request, mapping, pk):
    """Synchronize Now: one record, now; a bidirectional mapping asks the direction first,
    suggesting the side that changed."""
    mapping, record = _record(mapping, pk)
    coupling = services.coupling_of(mapping, record)
    form = DirectionForm(request.POST if request.method == "POST" else None, mapping=mapping)
    if request.method != "POST" or (len(mapping.runs) > 1 and not form.is_valid()):
        if request.method == "POST":
            messages.error(request, "Choose the direction: " + " ".join(form.errors.get(
                "direction", [])))
        return render(request, "couplings_app/record_sync.html", {
            "mapping": mapping, "record": record, "label": services.label(record),
            "coupling": coupling, "state": services.coupling_state(coupling),
            "suggested": services.suggested_direction(mapping, record, coupling),
            "next": request.GET.get("next", ""),
        })
    direction = form.cleaned_data["direction"] if len(mapping.runs) > 1 else mapping.runs[0]
    try:
        with crm_client() as client:
            job = services.synchronize_now(mapping, record, direction, client=client,
                                           user=request.user)
    except ValueError as exc:
        messages.error(request, str(exc))
    except Exception as exc:  # noqa: BLE001
        if not services.is_crm_error(exc):
            raise
        crm_failed(request, exc, "The synchronization")
    else:
        _job_outcome(request, job, f"Synchronized {services.label(record)}")
    target = request.POST.get("next")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return HttpResponseRedirect(target)
    return redirect(record.get_absolute_url())


@require_POST
@permission(COUPLE)
def record_uncouple(request, mapping, pk):
    mapping, record = _record(mapping, pk)
    job = uncouple(mapping, [record.pk], user=request.user)
    messages.success(request, f"Deleted the coupling of {services.label(record)} (job #{job.pk}).")
    return back(request, record.get_absolute_url())


@require_GET
@permission("couplings_app.view_syncjob", "couplings_app.view_syncerror")
def record_log(request, mapping, pk):
    """Synchronization Log of one record: its coupling, the jobs that touched it, its errors."""
    mapping, record = _record(mapping, pk)
    coupling = services.coupling_of(mapping, record)
    errors = SyncError.objects.filter(local_model=mapping.local_model, local_id=record.pk)
    if coupling is not None:
        errors = errors | SyncError.objects.filter(remote_entity=mapping.remote_entity,
                                                   remote_id=coupling.remote_id)
    errors = list(errors.order_by("-created_at")[:100])
    job_ids = {e.job_id for e in errors if e.job_id}
    if coupling is not None:
        job_ids |= {coupling.last_job_to_crm_id, coupling.last_job_from_crm_id} - {None}
    jobs = SyncJob.objects.filter(pk__in=job_ids).order_by("-created_at")
    state = services.coupling_state(coupling)
    return render(request, "couplings_app/record_log.html", {
        "mapping": mapping, "record": record, "label": services.label(record),
        "coupling": coupling, "state": state, "errors": errors, "jobs": jobs,
        "crm_url": services.crm_url(mapping.remote_entity_set, coupling.remote_id)
        if state.links_crm else None,
    })


@require_GET
def record_crm(request, mapping, pk):
    mapping, record = _record(mapping, pk)
    if not request.user.has_perm(f"erp_app.view_{record._meta.model_name}"):
        raise PermissionDenied
    coupling = services.coupling_of(mapping, record)
    state = services.coupling_state(coupling)
    if coupling is None:
        messages.warning(request, f"{services.label(record)} is not coupled to a CRM record.")
        return redirect(record.get_absolute_url())
    if not state.links_crm:
        messages.warning(request, f"The {mapping.remote_entity} of {services.label(record)}: "
                                  f"{state.label.lower()}. {state.title}")
        return redirect(record.get_absolute_url())
    return redirect(services.crm_url(mapping.remote_entity_set, coupling.remote_id))


@require_POST
def records_bulk(request, mapping, action):
    """The selected rows of an ERP list: couple by matching, synchronize, delete couplings."""
    mapping = get_object_or_404(TableMapping, pk=mapping)
    perm = {"match": COUPLE, "sync": SYNC, "uncouple": COUPLE}.get(action)
    if perm is None:
        raise Http404
    if not request.user.has_perm(perm):
        raise PermissionDenied
    ids = selected_ids(request)
    if not ids:
        messages.warning(request, "Select one or more records first.")
        return back(request)
    count = f"{len(ids)} record{'s' if len(ids) != 1 else ''}"
    if action == "uncouple":
        job = uncouple(mapping, ids, user=request.user)
        messages.success(request, f"{job.message} (job #{job.pk})")
    elif action == "match":
        # BC's coupling criteria first: the step posts back here with criteria=yes.
        if request.POST.get("criteria") != "yes" or not _apply_criteria(request, mapping):
            return _to_criteria(request, mapping, count, pk=ids)
        _match_queued(request, [mapping], local_ids=ids, what=count)
    else:
        page_tasks.enqueue("synchronize_selected", mapping.pk, ids, user=request.user,
                           name=f"{mapping.name} synchronization of selected records")
        messages.success(request, f"Queued synchronization of {count} ({mapping.name}).")
    return back(request)


# --- Connection Setup and Integration Table Mappings ------------------------------------------
@require_POST
@permission(SYNC)
def sync_modified(request):
    """Synchronize Modified Records, all mappings in order."""
    tasks.enqueue_all(full=False, user=request.user)
    messages.success(request, "Queued Synchronize Modified Records of every enabled mapping, in "
                              "the synchronization order. Follow it on the job log.")
    return back(request, "mappings:connection")


@require_POST
@permission(SYNC)
def full_sync(request):
    """Run Full Synchronization: the seeds' warning and the duplicate check, then (confirmed)
    queued; at the end the connection page asks whether jobs go on creating records."""
    if request.POST.get("confirm") != "yes":
        warnings, problem = [], None
        try:
            with crm_client() as client:
                warnings = duplicate_warnings(client)
        except Exception as exc:  # noqa: BLE001
            if not services.is_crm_error(exc):
                raise
            problem = f"The duplicate check could not read the CRM: {scrub(str(exc))}"
        return render(request, "couplings_app/full_sync_confirm.html",
                      {"warnings": warnings, "problem": problem,
                       "mappings": [m for m in TableMapping.objects.filter(is_enabled=True)]})
    request.session["full_sync_started"] = timezone.now().isoformat()
    # What Synch. Only Coupled Records was on each mapping before, for the answer No.
    request.session["full_sync_only_coupled"] = {
        str(pk): flag for pk, flag in TableMapping.objects.values_list("pk", "sync_only_coupled")}
    tasks.enqueue_all(full=True, user=request.user)
    messages.success(request, "Queued Run Full Synchronization of every enabled mapping. When it "
                              "has finished, this page asks whether jobs go on creating records.")
    return redirect("mappings:connection")


def full_sync_state(request) -> dict:
    """For the Connection Setup page: a full synchronization started by this user, and whether
    it has finished (then the question is asked)."""
    started = request.session.get("full_sync_started")
    if not started:
        return {}
    since = timezone.datetime.fromisoformat(started)
    jobs = SyncJob.objects.filter(full=True, created_at__gte=since)
    pending = jobs.exclude(status__in=JobStatus.finished()).exists()
    return {"full_sync_running": pending, "full_sync_done": not pending and jobs.exists()}


@require_POST
@permission(SYNC)
def full_sync_answer(request):
    """The question at the end of a full synchronization. Yes (an administrator's answer: it
    changes the table mappings) clears Synch. Only Coupled Records on the mappings, so jobs go on
    creating records for uncoupled ones; No sets it back to what each mapping had before."""
    keep = request.POST.get("keep") == "yes"
    if keep and not request.user.has_perm("mappings_app.change_tablemapping"):
        raise PermissionDenied  # Yes changes the table mappings: an administrator's answer
    request.session.pop("full_sync_started", None)
    before = request.session.pop("full_sync_only_coupled", None) or {}
    if keep:
        count = keep_creating_new_records(True)
        messages.success(request, f"Synch. Only Coupled Records is cleared on {count} mapping"
                                  f"{'s' if count != 1 else ''}: jobs create records for "
                                  "uncoupled ones.")
        return redirect("mappings:connection")
    restored = 0
    for flag in (True, False):
        pks = [int(pk) for pk, was in before.items() if was is flag and str(pk).isdigit()]
        restored += TableMapping.objects.filter(pk__in=pks).exclude(
            sync_only_coupled=flag).update(sync_only_coupled=flag)
    if restored:
        messages.success(request, f"Synch. Only Coupled Records is set back to what it was "
                                  f"before the full synchronization on {restored} mapping"
                                  f"{'s' if restored != 1 else ''}.")
    else:
        messages.success(request, "Synch. Only Coupled Records stays as it was on every mapping.")
    return redirect("mappings:connection")


VERBS = {"sync": "Queued synchronization of", "full": "Queued full synchronization of",
         "uncouple": "Deleted the couplings of",
         "reset": "Cleared the watermarks of"}


def _mapping_action(request, mapping, action) -> str:
    """Does one mapping action; returns what it did to this mapping ("CUSTOMER (job #12)")."""
    if action in ("sync", "full"):
        jobs = tasks.enqueue_mapping(mapping, full=action == "full", user=request.user)
        return f"{mapping.name} ({_queued(jobs)})"
    if action == "uncouple":
        ids = list(Coupling.objects.filter(mapping=mapping).values_list("local_id", flat=True))
        job = uncouple(mapping, ids, user=request.user)
        return f"{mapping.name}: {job.uncoupled} (job #{job.pk})"
    TableMapping.objects.filter(pk=mapping.pk).update(local_synced_until=None,
                                                      remote_synced_until=None)
    return mapping.name


def _said(action, done) -> str:
    text = f"{VERBS[action]} {', '.join(done)}."
    if action == "reset":
        text += " Their next runs consider every record."
    return text


MAPPING_ACTIONS = {"sync": SYNC, "full": SYNC, "match": COUPLE, "uncouple": COUPLE,
                   "reset": "mappings_app.change_tablemapping"}


@require_POST
def mapping_action(request, pk, action):
    """Synchronize Modified Records / Run Full Synchronization / Match-Based Coupling / Delete
    Couplings / Reset watermarks of one mapping."""
    if action not in MAPPING_ACTIONS:
        raise Http404
    if not request.user.has_perm(MAPPING_ACTIONS[action]):
        raise PermissionDenied
    mapping = get_object_or_404(TableMapping, pk=pk)
    if action == "match":
        if not _apply_criteria(request, mapping):
            return redirect("couplings:mapping_match_criteria", pk=mapping.pk)
        _match_queued(request, [mapping])
        return back(request, mapping.get_absolute_url())
    messages.success(request, _said(action, [_mapping_action(request, mapping, action)]))
    return back(request, mapping.get_absolute_url())


@require_POST
def mappings_bulk(request, action):
    if action not in MAPPING_ACTIONS:
        raise Http404
    if not request.user.has_perm(MAPPING_ACTIONS[action]):
        raise PermissionDenied
    mappings = list(TableMapping.objects.filter(pk__in=selected_ids(request)))
    if not mappings:
        messages.warning(request, "Select one or more table mappings first.")
    elif action == "match":
        # BC's coupling criteria first (a section per mapping): posted back with criteria=yes.
        several = len(mappings) > 1
        names = {m.pk: f"create_new_{m.pk}" if several else "create_new" for m in mappings}
        query = {"with": [m.pk for m in mappings[1:]]} if several else {}
        what = f"{len(mappings)} table mappings" if several else mappings[0].name
        if several and request.POST.get("criteria") == "yes":
            # Of several, one with no field to match on is left out, not a stop for the others.
            unmatched = [m for m in mappings if not _matches_on_something(request, m)]
            for mapping in unmatched:
                messages.info(request, f"{mapping.name}: left out, as no field is marked Use "
                                       "For Match-Based Coupling.")
            mappings = [m for m in mappings if m not in unmatched] or mappings
        if request.POST.get("criteria") != "yes" or not all(
                [_apply_criteria(request, m, names[m.pk]) for m in mappings]):
            return _to_criteria(request, mappings[0], what,
                                default_next=reverse("mappings:tablemapping_list"), **query)
        _match_queued(request, mappings)
    else:
        messages.success(request, _said(action, [_mapping_action(request, m, action)
                                                 for m in mappings]))
    return back(request, "mappings:tablemapping_list")


# --- list pages -----------------------------------------------------------------------------------
class ListPage(SingleTableMixin, FilterView):
    perm = ""
    paginate_by = 50
    title = ""
    template_name = "couplings_app/list.html"

    def dispatch(self, request, *args, **kwargs):
        if not request.user.has_perm(self.perm):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get_table(self, **kwargs):
        table = super().get_table(**kwargs)
        table.connection = Connection.get()
        table.user = self.request.user
        if not self.show_checkboxes():
            table.exclude = (*table.exclude, "pk")
        return table

    def show_checkboxes(self):
        return True

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["title"] = self.title
        context["filters_active"] = any(
            v for k, v in self.request.GET.items() if k not in {"page", "sort"})
        user = self.request.user
        context["can"] = {"sync": user.has_perm(SYNC), "couple": user.has_perm(COUPLE),
                          "resolve": user.has_perm(RESOLVE),
                          "delete_jobs": user.has_perm("couplings_app.delete_syncjob"),
                          "delete_errors": user.has_perm("couplings_app.delete_syncerror")}
        return context


class SyncJobList(ListPage):
    perm = "couplings_app.view_syncjob"
    title = "Integration Synchronization Jobs"
    table_class = SyncJobTable
    filterset_class = SyncJobFilterSet
    template_name = "couplings_app/syncjob_list.html"

    def get_queryset(self):
        return SyncJob.objects.all()

    def show_checkboxes(self):
        return False

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["chart"] = job_chart()
        return context


def job_chart(days=14):
    """Synchronized and failed records per day over the last `days` days: one query."""
    since = (timezone.now() - timezone.timedelta(days=days - 1)).replace(
        hour=0, minute=0, second=0, microsecond=0)
    rows = {r["day"]: r for r in SyncJob.objects.filter(created_at__gte=since)
            .annotate(day=TruncDate("created_at")).values("day")
            .annotate(inserted=Sum("inserted"), modified=Sum("modified"), deleted=Sum("deleted"),
                      coupled=Sum("coupled"), failed=Sum("failed"), jobs=Count("pk"))}
    bars = []
    for n in range(days):
        day = (since + timezone.timedelta(days=n)).date()
        row = rows.get(day) or {}
        synced = sum(row.get(k) or 0 for k in ("inserted", "modified", "deleted"))
        bars.append({"day": day, "synced": synced, "failed": row.get("failed") or 0,
                     "jobs": row.get("jobs") or 0})
    top = max([b["synced"] + b["failed"] for b in bars] + [1])
    width, height = 28, 120
    for i, bar in enumerate(bars):
        bar["x"] = i * (width + 6) + 4
        bar["h_synced"] = round(bar["synced"] / top * height, 1)
        bar["h_failed"] = round(bar["failed"] / top * height, 1)
        bar["y_synced"] = height + 10 - bar["h_synced"]
        bar["y_failed"] = bar["y_synced"] - bar["h_failed"]
    return {"bars": bars, "top": top, "width": width, "height": height,
            "svg_width": days * (width + 6) + 8,
            "total_synced": sum(b["synced"] for b in bars),
            "total_failed": sum(b["failed"] for b in bars)}


@require_GET
@permission("couplings_app.view_syncjob")
def syncjob_detail(request, pk):
    job = get_object_or_404(SyncJob.objects.select_related("mapping", "triggered_by"), pk=pk)
    errors = job.errors.all()[:50]
    return render(request, "couplings_app/syncjob_detail.html", {
        "job": job, "errors": errors, "error_count": job.errors.count(),
        "can_cancel": request.user.has_perm(SYNC),
    })


@require_GET
@permission("couplings_app.view_syncjob")
def syncjob_progress(request, pk):
    """The live status of a running job (htmx polls it; answers 286 when the job is done, which
    stops the polling)."""
    job = get_object_or_404(SyncJob, pk=pk)
    response = render(request, "couplings_app/_job_status.html", {"record": job, "live": True})
    if job.status in JobStatus.finished():
        response.status_code = 286
    return response


@require_POST
@permission(SYNC)
def syncjob_cancel(request, pk):
    job = get_object_or_404(SyncJob, pk=pk)
    if not job.cancel():
        messages.warning(request, f"Job #{pk} is not running.")
    elif job.status == JobStatus.CANCELLED:
        messages.success(request, f"Cancelled job #{pk}.")
    else:
        messages.success(request, f"Asked job #{pk} to stop after its current page.")
    return back(request, reverse("couplings:syncjob_detail", kwargs={"pk": pk}))


def _delete_log(request, model, days, what):
    count = services.delete_log(model, days)
    scope = f"older than {days} days" if days else "all"
    messages.success(request, f"Deleted {count} {what} ({scope}).")
    return back(request)


@require_POST
@permission("couplings_app.delete_syncjob")
def syncjob_delete_old(request):
    return _delete_log(request, SyncJob, services.LOG_KEEP_DAYS, "job log entries")


@require_POST
@permission("couplings_app.delete_syncjob")
def syncjob_delete_all(request):
    return _delete_log(request, SyncJob, None, "job log entries")


class SyncErrorList(ListPage):
    perm = "couplings_app.view_syncerror"
    title = "Integration Synchronization Errors"
    table_class = SyncErrorTable
    filterset_class = SyncErrorFilterSet
    template_name = "couplings_app/syncerror_list.html"

    def get_queryset(self):
        return SyncError.objects.select_related("mapping")

    def show_checkboxes(self):
        user = self.request.user
        return user.has_perm(SYNC) or user.has_perm(COUPLE)


def _selected_errors(request):
    errors = list(SyncError.objects.filter(pk__in=selected_ids(request)).select_related("mapping"))
    if not errors:
        messages.warning(request, "Select one or more errors first.")
    return errors


@require_POST
@permission(SYNC)
def syncerror_retry(request):
    """Synchronize: the records of the selected errors again; those that succeed leave the log."""
    errors = _selected_errors(request)
    if errors:
        page_tasks.enqueue("retry_errors", [e.pk for e in errors], user=request.user,
                           name="Retry synchronization errors")
        names = sorted({e.mapping.name for e in errors if e.mapping})
        messages.success(request, f"Queued synchronization of the records of {len(errors)} "
                                  f"error{'s' if len(errors) != 1 else ''} ({', '.join(names)}).")
    return back(request, "couplings:syncerror_list")


@require_POST
@permission(SYNC)
def syncerror_retry_all(request):
    """Retry All: the records of every error the list shows (its filters travel in the address)
    are synchronized again, each in the direction it failed; those that succeed leave the log."""
    listed = SyncErrorFilterSet(request.GET, queryset=SyncError.objects.all()).qs
    ids, records, names = services.retriable_errors(listed)
    left = listed.count() - len(ids)
    if ids:
        page_tasks.enqueue("retry_errors", ids, user=request.user,
                           name="Retry All synchronization errors")
        text = (f"Retry All: queued synchronization of {_records(records)} "
                f"({len(ids)} error{'s' if len(ids) != 1 else ''}; {', '.join(names)}). Those "
                "that succeed leave the error log; those that fail again are listed anew.")
    else:
        text = "Retry All: no error listed names a record to synchronize again."
    if left:
        text += (f" {left} error{'s' if left != 1 else ''} name{'s' if left == 1 else ''} no "
                 "record or table mapping (deleted since) and cannot be retried: delete "
                 f"{'them' if left != 1 else 'it'} when read.")
    (messages.success if ids else messages.info)(request, text)
    return back(request, "couplings:syncerror_list")


@require_POST
@permission(COUPLE)
def syncerror_uncouple(request):
    errors = _selected_errors(request)
    by_mapping = {}
    for error in errors:
        if error.mapping and error.local_id is not None:
            by_mapping.setdefault(error.mapping, set()).add(error.local_id)
    for mapping, ids in by_mapping.items():
        job = uncouple(mapping, ids, user=request.user)
        messages.success(request, f"{mapping.name}: {job.message} (job #{job.pk})")
    return back(request, "couplings:syncerror_list")


@require_POST
@permission("couplings_app.delete_syncerror")
def syncerror_delete_old(request):
    return _delete_log(request, SyncError, services.LOG_KEEP_DAYS, "errors")


@require_POST
@permission("couplings_app.delete_syncerror")
def syncerror_delete_all(request):
    return _delete_log(request, SyncError, None, "errors")


class CouplingList(ListPage):
    perm = "couplings_app.view_coupling"
    title = "Couplings"
    table_class = CouplingTable
    filterset_class = CouplingFilterSet

    def get_queryset(self):
        return Coupling.objects.select_related("mapping").order_by("-pk")

    def show_checkboxes(self):
        return False


class SkippedList(ListPage):
    perm = "couplings_app.view_coupling"
    title = "Coupled Data Synchronization Errors"
    table_class = SkippedTable
    filterset_class = SkippedFilterSet
    template_name = "couplings_app/skipped_list.html"

    def get_queryset(self):
        return services.problem_couplings().select_related("mapping").order_by("-pk")

    def show_checkboxes(self):
        return self.request.user.has_perm(RESOLVE)


@require_GET
@permission("couplings_app.view_coupling")
def skipped_detail(request, pk):
    """A skipped coupling: both versions side by side, the differing fields marked, and buttons
    to take the ERP's or the CRM's value per field or for the whole record."""
    coupling = get_object_or_404(Coupling.objects.select_related("mapping"), pk=pk)
    if coupling.mapping is None:
        raise Http404("The coupling's mapping was deleted.")
    record, row, versions, problem = None, None, [], None
    try:
        with crm_client() as client:
            record, row, versions = conflicts.compare(coupling, client=client)
    except Exception as exc:  # noqa: BLE001
        if not services.is_crm_error(exc):
            raise
        problem = f"The CRM's version could not be read: {scrub(str(exc))}"
    mapping = coupling.mapping
    primary = getattr(EntityMetadata.objects.filter(logical_name=mapping.remote_entity).first(),
                      "primary_name", "")
    remote_name = (row or {}).get(primary) or str(coupling.remote_id)[:8]
    return render(request, "couplings_app/skipped_detail.html", {
        "coupling": coupling, "mapping": mapping, "record": record, "row": row,
        "local_label": services.label(record) if record else f"Record {coupling.local_id}",
        "remote_label": f"{mapping.remote_entity} {remote_name}",
        "versions": versions, "problem": problem,
        "differing": sum(v.differs for v in versions),
        "local_url": services.local_url(coupling.local_model, coupling.local_id),
        "crm_url": services.crm_url(coupling.mapping.remote_entity_set, coupling.remote_id),
        "can_resolve": request.user.has_perm(RESOLVE),
    })


@require_POST
@permission(RESOLVE)
def skipped_resolve(request, pk):
    coupling = get_object_or_404(Coupling.objects.select_related("mapping"), pk=pk)
    side = request.POST.get("side")
    if side == "fields":
        # Per field: the fields ticked "CRM" take the CRM's value, the others the ERP's.
        fields = {k[len("take_"):] for k, v in request.POST.items()
                  if k.startswith("take_") and v == "remote"}
        side_taken, chosen = "remote", fields
    elif side in ("local", "remote"):
        side_taken, chosen = side, None
    else:
        raise Http404
    try:
        with crm_client() as client:
            job = conflicts.resolve_conflict(coupling, side_taken, chosen, client=client,
                                            user=request.user)
    except ValueError as exc:
        messages.error(request, str(exc))
        return redirect("couplings:skipped_detail", pk=pk)
    except Exception as exc:  # noqa: BLE001
        if not services.is_crm_error(exc):
            raise
        crm_failed(request, exc, "Resolving the conflict")
        return redirect("couplings:skipped_detail", pk=pk)
    what = {"local": "the ERP's version", "remote": "the CRM's version"}.get(
        side, "the chosen values")
    if job is not None and job.failed:
        messages.warning(request, f"Took {what}, but the synchronization failed: {job.message} "
                                  f"(job #{job.pk}).")
        return redirect("couplings:skipped_detail", pk=pk)
    messages.success(request, f"Conflict resolved with {what}"
                              + (f" (job #{job.pk})." if job else "."))
    return redirect("couplings:skipped_list")


def _selected_couplings(request):
    couplings = list(Coupling.objects.filter(pk__in=selected_ids(request))
                     .select_related("mapping"))
    if not couplings:
        messages.warning(request, "Select one or more records first.")
    return couplings


SKIPPED_ACTIONS = {"retry", "retry_all", "sync", "restore", "delete_records", "uncouple",
                   "find_deleted"}


def _records(n: int) -> str:
    return f"{n} record{'s' if n != 1 else ''}"


def _retry_all_skipped(request):
    """Retry All: every record the list shows (its filters travel in the address), skipped or
    failed; what was done, counted truthfully."""
    listed = SkippedFilterSet(request.GET, queryset=services.problem_couplings()).qs
    outcome = services.retry_all(listed)
    said = []
    if outcome.skipped:
        said.append(f"{_records(outcome.skipped)} no longer skipped: the next run of their "
                    "mapping synchronizes them again")
    if outcome.failed:
        page_tasks.enqueue("synchronize_couplings", outcome.failed, user=request.user,
                           name="Retry All: synchronize failed records")
        said.append(f"queued synchronization of {_records(len(outcome.failed))} that failed")
    if said:
        text = "Retry All: " + "; ".join(said) + "."
    else:
        text = "Retry All: no skipped or failed record to retry."
    if outcome.deleted:
        text += (f" {_records(outcome.deleted)} whose coupled record was deleted "
                 f"{'are' if outcome.deleted != 1 else 'is'} left as "
                 f"{'they are' if outcome.deleted != 1 else 'it is'}: use Restore Records or "
                 "Delete Records.")
    (messages.success if outcome.retried else messages.info)(request, text)


@require_POST
@permission(RESOLVE)
def skipped_action(request, action):
    """Retry, Retry All, Synchronize, Restore Records, Delete Records, Delete Couplings, Find for
    Deleted on the Coupled Data Synchronization Errors page."""
    if action not in SKIPPED_ACTIONS:
        raise Http404
    if action == "retry_all":
        _retry_all_skipped(request)
        return back(request, "couplings:skipped_list")
    if action == "find_deleted":
        page_tasks.enqueue("find_deleted", user=request.user, name="Find for deleted")
        messages.success(request, "Queued Find for Deleted: couplings whose ERP or CRM record "
                                  "was deleted will show here.")
        return back(request, "couplings:skipped_list")
    couplings = _selected_couplings(request)
    if not couplings:
        return back(request, "couplings:skipped_list")
    n = f"{len(couplings)} record{'s' if len(couplings) != 1 else ''}"
    if action == "retry":
        services.retry_couplings(couplings)
        messages.success(request, f"{n} will be synchronized again by the next run.")
    elif action == "sync":
        page_tasks.enqueue("synchronize_couplings", [c.pk for c in couplings],
                           user=request.user, name="Synchronize skipped records")
        messages.success(request, f"Queued synchronization of {n}.")
    elif action == "uncouple":
        jobs = services.delete_couplings(couplings, user=request.user)
        messages.success(request, f"Deleted the couplings of {n} ({_queued(jobs)}).")
    else:
        try:
            with crm_client() as client:
                if action == "restore":
                    jobs = services.restore_records(couplings, client=client, user=request.user)
                    messages.success(request, f"Restored the deleted records of {n} "
                                              f"({_queued(jobs) if jobs else 'nothing deleted'}).")
                else:
                    count, kept = services.delete_records(couplings, client=client,
                                                          user=request.user)
                    messages.success(request, f"Deleted {count} record{'s' if count != 1 else ''}"
                                              " whose coupled record was deleted.")
                    for problem in kept:
                        messages.error(request, problem)
        except Exception as exc:  # noqa: BLE001
            if not services.is_crm_error(exc):
                raise
            crm_failed(request, exc, "The action")
    return back(request, "couplings:skipped_list")


# --- Job Queue Entries ----------------------------------------------------------------------------
# The page's views live with the entries' logic (couplings_app.jobqueue): captions, Run Now of an
# entry whose mapping is gone, the editable No. of Minutes between Runs.
jobqueue_list = jobqueue.jobqueue_list
jobqueue_action = jobqueue.jobqueue_action
