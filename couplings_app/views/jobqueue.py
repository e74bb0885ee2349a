"""BC's Job Queue Entries page: the entries with their status, last and next run, and Set On
Hold, Set Status to Ready, Run Now and No. of Minutes between Runs (the entries' logic is in
couplings_app.jobqueue)."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_POST
from django_q.models import Schedule

from couplings_app import jobqueue, schedules
from couplings_app.views.base import JOBQUEUE, queued
from mappings_app.models import MAX_SCHEDULE_MINUTES
from syncadmin.toolkit import back, permission

MANAGE = JOBQUEUE
# Changing how often a mapping runs changes the mapping: an administrator's right.
CHANGE_MINUTES = (MANAGE, "mappings_app.change_tablemapping")


class MinutesForm(forms.Form):
    minutes = forms.IntegerField(label="No. of Minutes between Runs", min_value=1,
                                 max_value=MAX_SCHEDULE_MINUTES)


@require_GET
@permission("couplings_app.view_syncjob")
def jobqueue_list(request):
    return render(request, "couplings_app/jobqueue_list.html", {
        "entries": jobqueue.entries(), "can_manage": request.user.has_perm(MANAGE),
        "can_change_minutes": request.user.has_perms(CHANGE_MINUTES),
        "max_minutes": MAX_SCHEDULE_MINUTES,
    })


@require_POST
@permission(MANAGE)
def jobqueue_action(request, pk, action):
    schedule = get_object_or_404(Schedule, pk=pk)
    what = jobqueue.caption(schedule)
    if action == "hold":
        schedules.hold(schedule, user=request.user)
        messages.success(request, f"{what} is on hold: it does not run until set to Ready.")
    elif action == "ready":
        schedules.release(schedule)
        messages.success(request, f"{what} is ready: it runs within a minute, then every "
                                  f"{schedule.minutes or '—'} minutes.")
    elif action == "run":
        try:
            jobs = jobqueue.run_now(schedule, user=request.user)
        except jobqueue.MappingGone:
            messages.error(request, f"Not run: {what} has no table mapping any more (it was "
                                    "deleted). Nothing runs from this entry; create the mapping "
                                    "again, or use Default Synchronization Setup.")
        else:
            messages.success(request, f"Queued {what} ({queued(jobs)}).")
    elif action == "minutes":
        if not request.user.has_perms(CHANGE_MINUTES):
            raise PermissionDenied
        form = MinutesForm(request.POST)
        if not form.is_valid():
            messages.error(request, f"{what} was not changed: No. of Minutes between Runs must "
                                    f"be a whole number from 1 to {MAX_SCHEDULE_MINUTES}.")
        else:
            minutes = form.cleaned_data["minutes"]
            try:
                jobqueue.set_minutes(schedule, minutes)
            except jobqueue.MappingGone:
                messages.error(request, f"{what} was not changed: its table mapping no longer "
                                        "exists.")
            else:
                messages.success(request, f"{what} now runs every {minutes} "
                                          f"minute{'s' if minutes != 1 else ''}.")
    else:
        raise Http404
    return back(request, "couplings:jobqueue_list")
