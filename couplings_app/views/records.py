"""The Dynamics 365 Sales menu of an ERP record (Set Up Coupling, Match-Based Coupling,
Synchronize Now, Delete Coupling, Synchronization Log, the CRM record) and the bulk actions of the
ERP lists' selected rows."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from couplings_app import page_tasks, services
from couplings_app.forms import CouplingForm, DirectionForm, selected_ids
from couplings_app.models import SyncError, SyncJob
from couplings_app.sync.coupling import CouplingRefused, match_based_coupling, uncouple
from couplings_app.views.base import COUPLE, SYNC, job_outcome, mapping_record, records
from couplings_app.views.criteria import apply_criteria, match_queued, to_criteria
from mappings_app.choices import Direction
from mappings_app.models import TableMapping
from syncadmin.toolkit import back, crm_action, permission


@permission(COUPLE)
def record_couple(request, mapping, pk):
    """Set Up Coupling: search the CRM's records and pick one, or create a new one."""
    mapping, record = mapping_record(mapping, pk)
    coupling = services.coupling_of(mapping, record)
    form = CouplingForm(request.POST if request.method == "POST" else None, mapping=mapping)
    if request.method == "POST":
        if request.POST.get("create") == "yes":
            return _create_in_crm(request, mapping, record)
        if form.is_valid():
            remote_id = form.cleaned_data["remote_id"]
            try:
                with crm_action(request, "The coupling") as crm:
                    _, job = services.couple_record(
                        mapping, record, remote_id, client=crm.client,
                        after=form.cleaned_data["after"], user=request.user)
                    name = crm_name_or_none(mapping, remote_id, crm.client)
            except CouplingRefused as exc:
                messages.error(request, f"{services.label(record)} was not coupled: {exc}")
            else:
                if not crm.failed:
                    messages.success(request, f"{services.label(record)} is coupled to "
                                              f"{crm_caption(mapping, remote_id, name)}.")
                    if job is not None:
                        job_outcome(request, job, "Synchronized after coupling")
                    return redirect(record.get_absolute_url())
    text = request.GET.get("q", "")
    state = services.coupling_state(coupling)
    candidates, more, coupled_name = [], False, None
    with crm_action(problem="The CRM could not be searched") as crm:
        found = services.search_crm_records(
            mapping, crm.client, text,
            include=coupling.remote_id if coupling is not None and state.links_crm
            and not text else None)
        candidates, more = found.candidates, found.more
        if coupling is not None and state.links_crm:
            coupled_name = next((c.name for c in candidates
                                 if c.id == str(coupling.remote_id).lower()), None) \
                or crm_name_or_none(mapping, coupling.remote_id, crm.client)
    return render(request, "couplings_app/record_couple.html", {
        "mapping": mapping, "record": record, "label": services.label(record),
        "coupling": coupling, "state": state, "coupled_name": coupled_name,
        "coupled_url": services.crm_url(mapping.remote_entity_set, coupling.remote_id)
        if coupling is not None and state.links_crm else None,
        "form": form, "q": text, "candidates": candidates, "more": more,
        "limit": services.SEARCH_LIMIT,
        "problem": crm.problem, "can_create": Direction.TO_CRM in mapping.runs,
    })


def crm_name_or_none(mapping, remote_id, client):
    """The CRM record's name; None when the CRM does not say it (a name is a courtesy: the id
    says it too)."""
    with crm_action(problem="The name could not be read"):
        return services.crm_name(mapping, remote_id, client=client)
    return None


def crm_caption(mapping, remote_id, name=None) -> str:
    """"account Fabrikam Inc." when the CRM's name is known, else the short id."""
    return f"{mapping.remote_entity} {name}" if name else \
        f"{mapping.remote_entity} {str(remote_id)[:8]}…"


def _create_in_crm(request, mapping, record):
    if Direction.TO_CRM not in mapping.runs:
        raise PermissionDenied
    with crm_action(request, "Creating the CRM record") as crm:
        job = services.create_in_crm(mapping, record, client=crm.client, user=request.user)
    if not crm.failed:
        job_outcome(request, job, f"Created {services.label(record)} in the CRM")
    return redirect(record.get_absolute_url())


@require_POST
@permission(COUPLE)
def record_match(request, mapping, pk):
    mapping, record = mapping_record(mapping, pk)
    if not apply_criteria(request, mapping):
        return redirect("couplings:record_match_criteria", mapping=mapping.pk, pk=record.pk)
    with crm_action(request, "Match-based coupling", refused=(CouplingRefused,)) as crm:
        outcome = match_based_coupling(mapping, client=crm.client, local_ids=[record.pk],
                                       user=request.user)
        name = crm_name_or_none(mapping, outcome.coupled[0][1], crm.client) \
            if outcome.coupled else None
    if crm.failed:
        return back(request, record.get_absolute_url())
    if outcome.coupled:
        remote_id = outcome.coupled[0][1]
        messages.success(request, f"{services.label(record)} is coupled to "
                                  f"{crm_caption(mapping, remote_id, name)}.")
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
    mapping, record = mapping_record(mapping, pk)
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
    with crm_action(request, "The synchronization", refused=(ValueError,)) as crm:
        job = services.synchronize_now(mapping, record, direction, client=crm.client,
                                       user=request.user)
    if not crm.failed:
        job_outcome(request, job, f"Synchronized {services.label(record)}")
    # The direction form posts to itself: never back to it by the referring page.
    return back(request, record.get_absolute_url(), referer=False)


@require_POST
@permission(COUPLE)
def record_uncouple(request, mapping, pk):
    mapping, record = mapping_record(mapping, pk)
    job = uncouple(mapping, [record.pk], user=request.user)
    messages.success(request, f"Deleted the coupling of {services.label(record)} (job #{job.pk}).")
    return back(request, record.get_absolute_url())


@require_GET
@permission("couplings_app.view_syncjob", "couplings_app.view_syncerror")
def record_log(request, mapping, pk):
    """Synchronization Log of one record: its coupling, the jobs that touched it, its errors."""
    mapping, record = mapping_record(mapping, pk)
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
    mapping, record = mapping_record(mapping, pk)
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
    count = records(len(ids))
    if action == "uncouple":
        job = uncouple(mapping, ids, user=request.user)
        messages.success(request, f"{job.message} (job #{job.pk})")
    elif action == "match":
        # BC's coupling criteria first: the step posts back here with criteria=yes.
        if request.POST.get("criteria") != "yes" or not apply_criteria(request, mapping):
            return to_criteria(request, mapping, count, pk=ids)
        match_queued(request, [mapping], local_ids=ids, what=count)
    else:
        page_tasks.enqueue("synchronize_selected", mapping.pk, ids, user=request.user,
                           name=f"{mapping.name} synchronization of selected records")
        messages.success(request, f"Queued synchronization of {count} ({mapping.name}).")
    return back(request)
