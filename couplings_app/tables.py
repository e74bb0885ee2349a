"""Tables (django-tables2) of the job log, the error log, the couplings and the skipped records.

Each page costs the same few queries however long the log: the ERP records a page shows are
named in one query per table (`RecordLinks`), the CRM side needs no query at all.
"""

from collections import defaultdict

import django_tables2 as tables
from django.apps import apps
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from couplings_app import services
from couplings_app.choices import SyncResult
from couplings_app.models import Coupling, SyncError, SyncJob
from mappings_app.values import record_key
from syncadmin.tables import NUMERIC, BaseTable

SMALL = {"td": {"class": "small text-nowrap"}}
STAMP = "Y-m-d H:i:s"


class RecordLinks:
    """Names and links of both sides of the rows on the current page."""

    connection = None  # set by the view: one Connection read per page

    def local_link(self, row):
        if row.local_id is None:
            return mark_safe('<span class="text-body-tertiary">—</span>')
        if not hasattr(self, "_keys"):
            self._keys = {}
            groups = defaultdict(set)
            rows = self.page.object_list if hasattr(self, "page") else self.data
            for each in rows:
                each = getattr(each, "record", each)  # a page holds bound rows
                if each.local_id is not None and each.local_model:
                    groups[each.local_model].add(each.local_id)
            for label, ids in groups.items():
                try:
                    model = apps.get_model(label)
                except (LookupError, ValueError):
                    continue
                for obj in model._default_manager.filter(pk__in=ids):
                    self._keys[(label, obj.pk)] = record_key(obj)
        key = self._keys.get((row.local_model, row.local_id))
        caption = _table_caption(row.local_model)
        if key is None:
            return format_html('{} {} <span class="badge text-bg-warning">deleted</span>',
                               caption, getattr(row, "local_label", "") or f"#{row.local_id}")
        url = services.local_url(row.local_model, row.local_id)
        return format_html('<a href="{}">{} {}</a>', url, caption, key) if url else key

    def remote_state(self, row):
        """The coupling state of a row's CRM record: a Coupling's own; for an error, the state
        of the coupling of its CRM record (one query for the page), or None if there is none."""
        if isinstance(row, Coupling):
            return services.coupling_state(row)
        if not hasattr(self, "_remote_states"):
            self._remote_states = {}
            rows = self.page.object_list if hasattr(self, "page") else self.data
            ids = defaultdict(set)
            for each in rows:
                each = getattr(each, "record", each)
                if each.remote_id:
                    ids[each.remote_entity].add(each.remote_id)
            for entity, group in ids.items():
                for coupling in Coupling.objects.filter(remote_entity=entity,
                                                        remote_id__in=list(group)).only(
                        "remote_entity", "remote_id", "local_model", "pending_create",
                        "deleted_side"):
                    self._remote_states[(entity, str(coupling.remote_id).lower())] = \
                        services.coupling_state(coupling)
        return self._remote_states.get((row.remote_entity, str(row.remote_id).lower()))

    def remote_name(self, row):
        """The CRM record's name, where the page knows it (an error's label names it unless it
        is only the entity and the id)."""
        text = (getattr(row, "remote_label", "") or "").strip()
        if not text or str(row.remote_id).lower() in text.lower():
            return None
        return text

    def remote_link(self, row, text=None):
        if not row.remote_id:
            return mark_safe('<span class="text-body-tertiary">—</span>')
        state = self.remote_state(row)
        text = text or self.remote_name(row) or f"{row.remote_entity} {str(row.remote_id)[:8]}…"
        # A link only to a CRM record known to exist: coupled and not pending, not deleted; an
        # error's record without a coupling only when the CRM was its source.
        links = state.links_crm if state is not None else \
            getattr(row, "direction", "") == "from_crm"
        if not links:
            note = state.label if state is not None else "not coupled"
            return format_html('<span title="{}">{}</span> <span class="badge text-bg-{}" '
                               'data-state="{}">{}</span>', row.remote_id, text,
                               state.color if state is not None else "light",
                               state.key if state is not None else "none", note.lower())
        entity_set = row.mapping.remote_entity_set if row.mapping else ""
        url = services.crm_url(entity_set, row.remote_id, self.connection) if entity_set else None
        return format_html('<a href="{}" title="{}">{}</a>', url, row.remote_id, text) \
            if url else text


def _table_caption(label):
    try:
        return str(apps.get_model(label)._meta.verbose_name).capitalize()
    except (LookupError, ValueError):
        return label


# Narrow counters (a smaller caption that may wrap) so the log fits 1,400 px with its Message.
COUNTER = {"td": {"class": "text-end"},
           "th": {"class": "text-end text-wrap", "style": "width: 3.4rem; font-size: .75rem"}}


class CountColumn(tables.Column):
    """A counter; zero is shown faint, a drill-down link when `link` gives one."""

    def __init__(self, *args, link=None, **kwargs):
        self.drill = link
        kwargs.setdefault("attrs", COUNTER)
        super().__init__(*args, **kwargs)

    def render(self, value, record):
        if not value:
            return mark_safe('<span class="text-body-tertiary">0</span>')
        url = self.drill(record) if self.drill else None
        return format_html('<a href="{}">{}</a>', url, value) if url else value


def _errors_of(job):
    return reverse("couplings:syncerror_list") + f"?job={job.pk}"


def _records_of(job):
    return reverse("couplings:coupling_list") + f"?job={job.pk}"


class SyncJobTable(BaseTable):
    id = tables.Column("No.", linkify=True, attrs=NUMERIC)
    # The start's date and time may go on two lines: at 1,366 px the Message keeps its room.
    started_at = tables.DateTimeColumn(verbose_name="Start Date/Time", format=STAMP,
                                       attrs={"td": {"class": "small"}})
    finished_at = tables.DateTimeColumn(verbose_name="Finish Date/Time", format=STAMP, attrs=SMALL)
    duration = tables.Column("Duration", empty_values=(), orderable=False, attrs=SMALL)
    mapping_name = tables.Column("Table Mapping", attrs={"td": {"style": "max-width: 12rem"}})
    status = tables.TemplateColumn(template_name="couplings_app/_job_status.html",
                                   attrs={"td": {"style": "min-width: 6.5rem"}})
    inserted = CountColumn(link=_records_of)
    modified = CountColumn(link=_records_of)
    deleted = CountColumn()
    unchanged = CountColumn()
    skipped = CountColumn(link=lambda j: reverse("couplings:skipped_list") + f"?job={j.pk}")
    failed = CountColumn(link=_errors_of)
    coupled = CountColumn(link=_records_of)
    uncoupled = CountColumn()
    message = tables.Column(attrs={"td": {"class": "small", "style": "min-width: 10rem"}})

    class Meta(BaseTable.Meta):
        model = SyncJob
        fields = ("id", "started_at", "finished_at", "duration", "mapping_name", "status",
                  "inserted", "modified", "deleted", "unchanged", "skipped", "failed", "coupled",
                  "uncoupled", "message")
        attrs = {"class": "table table-sm table-hover align-middle small"}

    def render_started_at(self, value):
        local = timezone.localtime(value)
        return format_html('<span class="text-nowrap">{}</span> '
                           '<span class="text-nowrap">{}</span>',
                           dateformat.format(local, "Y-m-d"), dateformat.format(local, "H:i:s"))

    def render_finished_at(self, value, record):
        """Only the time when the job finished the day it started (the log stays narrow)."""
        local = timezone.localtime(value)
        started = timezone.localtime(record.started_at) if record.started_at else None
        same_day = started is not None and started.date() == local.date()
        return dateformat.format(local, "H:i:s" if same_day else STAMP)

    def render_mapping_name(self, value, record):
        """The mapping, with the job's type, direction and trigger under it."""
        direction = {"to_crm": "To CRM", "from_crm": "From CRM"}.get(record.direction, "")
        parts = [record.get_type_display(), direction, record.get_trigger_display()]
        if record.full:
            parts.insert(1, "Full")
        return format_html('<span class="fw-semibold text-nowrap">{}</span>'
                           '<div class="text-body-secondary" data-job-kind>{}</div>',
                           value, " · ".join(p for p in parts if p))

    def render_message(self, value):
        cut = value if len(value) <= 70 else value[:69] + "…"
        return format_html('<span title="{}">{}</span>', value, cut)

    def render_duration(self, record):
        duration = record.duration
        if duration is None:
            return "—"
        seconds = duration.total_seconds()
        if seconds < 60:
            return f"{seconds:.1f} s"
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"



class SyncErrorTable(RecordLinks, BaseTable):
    created_at = tables.DateTimeColumn(verbose_name="Date/Time", format=STAMP, attrs=SMALL)
    mapping = tables.Column("Table Mapping", linkify=False)
    source = tables.Column("Source", empty_values=(), orderable=False)
    destination = tables.Column("Destination", empty_values=(), orderable=False)
    job = tables.Column("Job", accessor="job_id", linkify=lambda record: reverse(
        "couplings:syncjob_detail", kwargs={"pk": record.job_id}) if record.job_id else None)
    message = tables.TemplateColumn(template_name="couplings_app/_error_message.html",
                                    attrs={"td": {"style": "max-width: 34rem"}})
    actions = tables.TemplateColumn(template_name="couplings_app/_error_actions.html",
                                    verbose_name="", orderable=False)

    class Meta(BaseTable.Meta):
        model = SyncError
        fields = ("pk", "created_at", "mapping", "direction", "source", "destination", "job",
                  "message", "actions")
        attrs = {"class": "table table-sm table-hover align-middle small"}

    def _sides(self, record):
        local, remote = self.local_link(record), self.remote_link(record, record.remote_label)
        return (local, remote) if record.direction != "from_crm" else (remote, local)

    def render_source(self, record):
        return self._sides(record)[0]

    def render_destination(self, record):
        return self._sides(record)[1]

    def render_direction(self, value):
        return {"to_crm": "ERP → CRM", "from_crm": "CRM → ERP"}.get(value, value or "—")


RESULT_COLORS = {SyncResult.SUCCESS: "success", SyncResult.FAILURE: "danger"}


def _result(stored):
    """A last synchronization result as a badge. Takes the stored value ("success"): the value
    django-tables2 hands a render_ method of a field with choices is its label ("Success"),
    which matched no colour and showed every badge grey."""
    if not stored:
        return mark_safe('<span class="text-body-tertiary">—</span>')
    label = SyncResult(stored).label if stored in SyncResult.values else str(stored).capitalize()
    return format_html('<span class="badge text-bg-{}" data-result="{}">{}</span>',
                       RESULT_COLORS.get(stored, "secondary"), stored, label)


class CouplingTable(RecordLinks, BaseTable):
    mapping = tables.Column("Table Mapping")
    local = tables.Column("ERP Record", empty_values=(), orderable=False)
    remote = tables.Column("CRM Record", empty_values=(), orderable=False)
    state = tables.Column("State", empty_values=(), orderable=False, attrs=SMALL)
    last_result_to_crm = tables.Column("To CRM", attrs=SMALL)
    last_result_from_crm = tables.Column("From CRM", attrs=SMALL)
    skipped = tables.BooleanColumn()
    last_synced_at = tables.DateTimeColumn(format=STAMP, attrs=SMALL)
    last_error = tables.Column(attrs={"td": {"class": "small", "style": "max-width: 24rem"}})

    class Meta(BaseTable.Meta):
        model = Coupling
        fields = ("pk", "mapping", "local", "remote", "state", "last_result_to_crm",
                  "last_result_from_crm", "skipped", "last_synced_at", "last_error")
        sequence = fields
        exclude = ("pending_create",)
        attrs = {"class": "table table-sm table-hover align-middle small"}

    def render_state(self, record):
        state = services.coupling_state(record)
        return format_html('<span class="badge text-bg-{}" data-state="{}" title="{}">{}</span>',
                           state.color, state.key, state.title, state.label)

    def render_local(self, record):
        return self.local_link(record)

    def render_remote(self, record):
        return self.remote_link(record)

    def render_last_result_to_crm(self, record):
        return _result(record.last_result_to_crm)

    def render_last_result_from_crm(self, record):
        return _result(record.last_result_from_crm)


class SkippedTable(CouplingTable):
    reason = tables.Column("Reason", empty_values=(), orderable=False)
    actions = tables.TemplateColumn(template_name="couplings_app/_skipped_actions.html",
                                    verbose_name="", orderable=False)

    class Meta(CouplingTable.Meta):
        fields = ("pk", "mapping", "local", "remote", "reason", "last_result_to_crm",
                  "last_result_from_crm", "last_synced_at", "last_error", "actions")
        sequence = fields
        exclude = ("skipped", "pending_create", "state")

    def render_reason(self, record):
        if record.deleted_side:
            text, color = f"{record.get_deleted_side_display()} deleted", "warning"
        elif record.conflict_local is not None or record.conflict_remote is not None:
            text, color = "Conflict", "info"
        elif record.failed and record.pending_create:
            text, color = "Creation failed", "danger"
        elif record.failed:
            text, color = "Failed", "danger"
        else:
            text, color = "Skipped", "secondary"
        return format_html('<span class="badge text-bg-{}">{}</span>', color, text)
