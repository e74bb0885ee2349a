"""The synchronization actions of the Connection Setup page (Synchronize Modified Records, Run
Full Synchronization and its question at the end) and of the Integration Table Mappings (one
mapping's page, or the selected rows of the list)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from couplings_app import tasks
from couplings_app.forms import selected_ids
from couplings_app.models import Coupling
from couplings_app.sync import full
from couplings_app.sync.coupling import uncouple
from couplings_app.sync.full import duplicate_warnings
from couplings_app.views.base import COUPLE, SYNC, queued
from couplings_app.views.criteria import (
    apply_criteria,
    match_queued,
    matches_on_something,
    to_criteria,
)
from mappings_app.models import TableMapping
from syncadmin.toolkit import back, crm_action, permission


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
        warnings = []
        with crm_action(problem="The duplicate check could not read the CRM") as crm:
            warnings = duplicate_warnings(crm.client)
        return render(request, "couplings_app/full_sync_confirm.html",
                      {"warnings": warnings, "problem": crm.problem,
                       "mappings": [m for m in TableMapping.objects.filter(is_enabled=True)]})
    full.remember_full_sync(request.session)
    tasks.enqueue_all(full=True, user=request.user)
    messages.success(request, "Queued Run Full Synchronization of every enabled mapping. When it "
                              "has finished, this page asks whether jobs go on creating records.")
    return redirect("mappings:connection")


@require_POST
@permission(SYNC)
def full_sync_answer(request):
    """The question at the end of a full synchronization. Yes (an administrator's answer: it
    changes the table mappings) clears Synch. Only Coupled Records on the mappings, so jobs go on
    creating records for uncoupled ones; No sets it back to what each mapping had before."""
    keep = request.POST.get("keep") == "yes"
    if keep and not request.user.has_perm("mappings_app.change_tablemapping"):
        raise PermissionDenied  # Yes changes the table mappings: an administrator's answer
    count = full.answer_full_sync(request.session, keep)
    if keep:
        messages.success(request, f"Synch. Only Coupled Records is cleared on {count} mapping"
                                  f"{'s' if count != 1 else ''}: jobs create records for "
                                  "uncoupled ones.")
    elif count:
        messages.success(request, f"Synch. Only Coupled Records is set back to what it was "
                                  f"before the full synchronization on {count} mapping"
                                  f"{'s' if count != 1 else ''}.")
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
        return f"{mapping.name} ({queued(jobs)})"
    if action == "uncouple":
        ids = list(Coupling.objects.filter(mapping=mapping).values_list("local_id", flat=True))
        job = uncouple(mapping, ids, user=request.user)
        return f"{mapping.name}: {job.uncoupled} (job #{job.pk})"
    mapping.reset_watermarks()
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
        if not apply_criteria(request, mapping):
            return redirect("couplings:mapping_match_criteria", pk=mapping.pk)
        match_queued(request, [mapping])
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
            unmatched = [m for m in mappings if not matches_on_something(request, m)]
            for mapping in unmatched:
                messages.info(request, f"{mapping.name}: left out, as no field is marked Use "
                                       "For Match-Based Coupling.")
            mappings = [m for m in mappings if m not in unmatched] or mappings
        if request.POST.get("criteria") != "yes" or not all(
                [apply_criteria(request, m, names[m.pk]) for m in mappings]):
            return to_criteria(request, mappings[0], what,
                                default_next=reverse("mappings:tablemapping_list"), **query)
        match_queued(request, mappings)
    else:
        messages.success(request, _said(action, [_mapping_action(request, m, action)
                                                 for m in mappings]))
    return back(request, "mappings:tablemapping_list")
