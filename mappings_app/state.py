"""A table mapping's state changes: Enable / Disable, rename, No. of Minutes between Runs,
Synch. Only Coupled Records, reset the watermarks — each a method of the mapping (and of a
queryset of mappings) that keeps its job queue entry in step.

Each method saves only the fields it changes, so post_save reaches couplings_app's signal
handlers and the job queue entry follows (created, renamed, re-timed, removed); delete() reaches
post_delete. `QuerySet.update()` of a field the entry shows (SCHEDULE_FIELDS) sends
`mappings_updated` instead, so even a bulk statement keeps the entries in step; the methods here
are the way the product changes state, and `update()` is the safety net.
"""

from django.core.exceptions import ValidationError
from django.db import models
from django.dispatch import Signal

# The fields a mapping's job queue entry follows (couplings_app.signals keeps it in step).
SCHEDULE_FIELDS = frozenset({"name", "is_enabled", "schedule_minutes"})
# django-q2 keeps a schedule's minutes in a small integer; a week is the longest interval.
MAX_SCHEDULE_MINUTES = 7 * 24 * 60

#: Sent after QuerySet.update() changed SCHEDULE_FIELDS of mappings (bulk_update() goes through
#: update(); save() sends post_save); `pks` are the mappings changed. Lets the job queue entries
#: follow even a bulk statement.
mappings_updated = Signal()


def set_flag(instance, field: str, value: bool) -> bool:
    """Sets a yes/no field of a saved row, writing only that field (a change saved meanwhile to
    another field stays); True when it changed."""
    if getattr(instance, field) == bool(value):
        return False
    setattr(instance, field, bool(value))
    instance.save(update_fields=[field])
    return True


class TableMappingQuerySet(models.QuerySet):
    def update(self, **kwargs):
        if not SCHEDULE_FIELDS & kwargs.keys():
            return super().update(**kwargs)
        pks = list(self.values_list("pk", flat=True))
        count = super().update(**kwargs)
        if pks:
            mappings_updated.send(sender=self.model, pks=pks)
        return count

    update.alters_data = True

    def set_enabled(self, enabled: bool) -> int:
        """Enable or Disable every mapping of the queryset, each through set_enabled(); returns
        how many changed."""
        return sum(mapping.set_enabled(enabled) for mapping in self)

    set_enabled.alters_data = True

    def set_sync_only_coupled(self, only_coupled: bool) -> int:
        """Sets or clears Synch. Only Coupled Records on the mappings of the queryset; returns how
        many changed. The job queue entry does not show it: one statement."""
        flag = bool(only_coupled)
        return self.exclude(sync_only_coupled=flag).update(sync_only_coupled=flag)

    set_sync_only_coupled.alters_data = True

    def reset_watermarks(self) -> int:
        """The next runs of these mappings consider every record; returns how many."""
        return self.update(local_synced_until=None, remote_synced_until=None,
                           remote_delta_link="")

    reset_watermarks.alters_data = True


class TableMappingState:
    """The state changes of one table mapping (mixed into TableMapping)."""

    def set_enabled(self, enabled: bool) -> bool:
        """Enable / Disable; True when it changed."""
        return set_flag(self, "is_enabled", enabled)

    set_enabled.alters_data = True

    def rename(self, name: str) -> None:
        """A new Name; its job queue entry, history and holds stay its own."""
        old, self.name = self.name, name
        others = [f.name for f in self._meta.fields if f.name != "name"]
        try:
            self.clean_fields(exclude=others)
            self.validate_unique(exclude=others)
        except ValidationError:
            self.name = old
            raise
        self.save(update_fields=["name"])

    rename.alters_data = True

    def set_schedule_minutes(self, minutes: int) -> None:
        """No. of Minutes between Runs; its job queue entry runs at the new interval."""
        field = self._meta.get_field("schedule_minutes")
        self.schedule_minutes = field.clean(minutes, self)
        self.save(update_fields=["schedule_minutes"])

    set_schedule_minutes.alters_data = True

    def set_sync_only_coupled(self, only_coupled: bool) -> bool:
        """Sets or clears Synch. Only Coupled Records (a full synchronization clears it, and
        sets it back when asked); True when it changed."""
        return set_flag(self, "sync_only_coupled", only_coupled)

    set_sync_only_coupled.alters_data = True

    def reset_watermarks(self) -> None:
        """The next run considers every record, not only those modified since the last."""
        self.local_synced_until = self.remote_synced_until = None
        self.remote_delta_link = ""
        self.save(update_fields=["local_synced_until", "remote_synced_until",
                                 "remote_delta_link"])

    reset_watermarks.alters_data = True
