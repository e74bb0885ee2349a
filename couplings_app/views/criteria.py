"""BC's Match Based Coupling Criteria, the step before Match-Based Coupling runs (from a record's
menu, a mapping's page, the selected rows of an ERP list or of the table mappings list), and
what is said once it is queued."""

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from couplings_app import page_tasks, services
from couplings_app.choices import JobStatus, JobType
from couplings_app.models import SyncJob
from couplings_app.views.base import CHANGE_CRITERIA, COUPLE, mapping_record
from mappings_app.choices import Direction
from mappings_app.models import TableMapping
from syncadmin.forms import selected_pks
from syncadmin.toolkit import back, local_target, permission


def match_queued(request, mappings, *, local_ids=None, what=None):
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


def _criteria_section(mapping, create_name="create_new") -> dict:
    model = mapping.local_model_class
    criteria = services.match_criteria(mapping)
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
    mapping, record = mapping_record(mapping, pk)
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
            next_url=local_target(request.GET.get("next")) or reverse("mappings:tablemapping_list"))
    return _criteria_page(request, mapping, action=reverse(
        "couplings:mapping_action", args=[mapping.pk, "match"]))


def _selected_records(model, n) -> str:
    opts = model._meta
    return f"{n} selected {opts.verbose_name if n == 1 else opts.verbose_name_plural}"


def to_criteria(request, mapping, what, default_next=None, **query):
    """A bulk Match-Based Coupling posted without its criteria step: to that step, with the
    selection (and where to return) in the address."""
    target = local_target(request.POST.get("next")) or default_next
    if target:
        query["next"] = target
    messages.info(request, f"Match-Based Coupling of {what}: check the coupling criteria, "
                           "then run it.")
    url = reverse("couplings:mapping_match_criteria", args=[mapping.pk])
    return HttpResponseRedirect(f"{url}?{urlencode(query, doseq=True)}" if query else url)


def matches_on_something(request, mapping) -> bool:
    """The criteria (as posted, if the user may change them) mark a field to match on."""
    if request.user.has_perms(CHANGE_CRITERIA):
        return any(request.POST.get(f"use_{c.field.pk}") == "on"
                   for c in services.match_criteria(mapping))
    return any(c.use for c in services.match_criteria(mapping))


def apply_criteria(request, mapping, create_name="create_new") -> bool:
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
