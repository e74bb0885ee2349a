"""Job queue entries follow their mapping by its pk, not by name (couplings_app.tasks).

Entries were found by their name, "sync:<mapping name>", so renaming a mapping left its old entry
behind (Run Now answered a server error, and both entries ran the mapping), and a bulk Enable /
Disable left mappings without an entry or disabled ones with one. This puts every mapping's
entry back in step: one entry per enabled mapping, keyed by the mapping's pk and named after its
current name (a hold moves with it); entries of disabled or deleted mappings go. An interval
outside 1 minute .. a week is brought inside it (django-q2 keeps minutes in a small integer).
"""

import ast

from django.db import migrations
from django.db.models import Q

PREFIX = "sync:"
FUNC = "couplings_app.tasks.scheduled_sync"
HOOK = "couplings_app.jobqueue.after_scheduled_run"
MAX_MINUTES = 7 * 24 * 60
MINUTES = "I"  # Schedule.MINUTES


def _pk(args):
    try:
        value = ast.literal_eval(args or "")
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    if isinstance(value, tuple) and len(value) == 1 and isinstance(value[0], int):
        return value[0]
    return None


def rekey(apps, schema_editor):
    db = schema_editor.connection.alias
    Schedule = apps.get_model("django_q", "Schedule")
    TableMapping = apps.get_model("mappings_app", "TableMapping")
    JobQueueHold = apps.get_model("couplings_app", "JobQueueHold")

    TableMapping.objects.using(db).filter(schedule_minutes__lt=1).update(schedule_minutes=1)
    TableMapping.objects.using(db).filter(schedule_minutes__gt=MAX_MINUTES) \
        .update(schedule_minutes=MAX_MINUTES)
    mappings = {m.pk: m for m in TableMapping.objects.using(db)}
    by_name = {m.name: m for m in mappings.values()}
    candidates, orphans = {}, []
    schedules = Schedule.objects.using(db).filter(Q(func=FUNC) | Q(name__startswith=PREFIX))
    for schedule in schedules.order_by("pk"):
        owner = mappings.get(_pk(schedule.args)) if schedule.func == FUNC else None
        if owner is None and (schedule.name or "").startswith(PREFIX):
            owner = by_name.get(schedule.name[len(PREFIX):])
        if owner is not None:
            candidates.setdefault(owner.pk, []).append(schedule)
        elif schedule.func == FUNC:
            orphans.append(schedule)  # its mapping is gone: nothing would ever run from it

    dropped = list(orphans)
    for mapping in mappings.values():
        found = candidates.get(mapping.pk, [])
        name = f"{PREFIX}{mapping.name}"
        if not mapping.is_enabled:
            dropped += found
            continue
        keep = next((s for s in found if s.name == name), found[0] if found else None)
        dropped += [s for s in found if s is not keep]
        values = {"name": name, "func": FUNC, "args": repr((mapping.pk,)), "hook": HOOK,
                  "schedule_type": MINUTES, "minutes": mapping.schedule_minutes}
        if keep is None:
            Schedule.objects.using(db).create(repeats=-1, **values)
            continue
        if keep.name != name:
            JobQueueHold.objects.using(db).filter(schedule_name=name).delete()
            JobQueueHold.objects.using(db).filter(schedule_name=keep.name) \
                .update(schedule_name=name)
        Schedule.objects.using(db).filter(pk=keep.pk).update(**values)

    kept = set(Schedule.objects.using(db).filter(func=FUNC).exclude(
        pk__in=[s.pk for s in dropped]).values_list("name", flat=True))
    Schedule.objects.using(db).filter(pk__in=[s.pk for s in dropped]).delete()
    JobQueueHold.objects.using(db).filter(
        schedule_name__in=[s.name for s in dropped if s.name not in kept]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("couplings_app", "0005_retry_indexes"),
        ("mappings_app", "0002_schedule_minutes_bounds"),
        ("django_q", "__latest__"),
    ]

    operations = [migrations.RunPython(rekey, migrations.RunPython.noop)]
