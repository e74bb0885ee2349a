"""Which records are linked and what happened: couplings, synchronization jobs and their errors.

Coupling is BC's CRM Integration Record, SyncJob its Integration Synch. Job, SyncError its
Integration Synch. Job Errors (see DESIGN.md's glossary).
"""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from couplings_app.choices import JobStatus, JobTrigger, JobType, SyncResult
from mappings_app.models import TableMapping


class Coupling(models.Model):
    """A link between one ERP record and one CRM record."""

    mapping = models.ForeignKey(
        TableMapping, on_delete=models.SET_NULL, null=True, blank=True, related_name="couplings",
        verbose_name="Table mapping",
    )
    local_model = models.CharField("Table", max_length=100)
    local_id = models.BigIntegerField("Record ID")
    remote_entity = models.CharField("Integration Table", max_length=100)
    remote_id = models.UUIDField("CRM ID")
    # The modified-on of each side when the sync last wrote or read it: a record whose
    # modified-on still equals it was not changed since (no echo, no false conflict).
    local_modified_at = models.DateTimeField("ERP Modified On", null=True, blank=True)
    remote_modified_at = models.DateTimeField("CRM Modified On", null=True, blank=True)
    # Set before a CRM create is sent (with the id chosen here) and cleared once the CRM
    # confirms: a run that finds it set checks the CRM first, so nothing is created twice.
    pending_create = models.BooleanField("Creation Pending", default=False)
    last_result_to_crm = models.CharField(
        "Last Synch. Result (to CRM)", max_length=10, choices=SyncResult.choices, blank=True)
    last_result_from_crm = models.CharField(
        "Last Synch. Result (from CRM)", max_length=10, choices=SyncResult.choices, blank=True)
    last_job_to_crm = models.ForeignKey(
        "SyncJob", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    last_job_from_crm = models.ForeignKey(
        "SyncJob", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    last_synced_at = models.DateTimeField("Last Synch. Modified On", null=True, blank=True)
    skipped = models.BooleanField("Skipped", default=False, db_index=True)
    conflict_local = models.JSONField("ERP version", null=True, blank=True)
    conflict_remote = models.JSONField("CRM version", null=True, blank=True)
    last_error = models.TextField("Last Error", blank=True)
    # Set when a run to the CRM stamps a row it left holding values the ERP still lacks (a
    # person's CRM change next to the ERP restoring a field only it sends): the next run from the
    # CRM reads the row by id and takes them, even if the worker died in between.
    crm_values_pending = models.BooleanField("CRM Values Not Yet Taken", default=False)
    created_at = models.DateTimeField("Created", default=timezone.now)
    # Set by Find for Deleted: which side's record no longer exists ("" = both do, or unknown).
    deleted_side = models.CharField("Deleted Record", max_length=10, blank=True,
                                    choices=[("local", "ERP record"), ("remote", "CRM record")])

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["local_model", "local_id", "remote_entity"],
                name="one_coupling_per_local_record_and_entity"),
            models.UniqueConstraint(
                fields=["remote_entity", "remote_id", "local_model"],
                name="one_coupling_per_crm_record_and_table"),
        ]
        indexes = [
            models.Index(fields=["mapping", "last_result_to_crm"]),
            models.Index(fields=["mapping", "last_result_from_crm"]),
            # The records a run retries first: found without reading every coupling, so a run's
            # cost follows the changes, not the table's size.
            models.Index(fields=["local_model", "remote_entity"], name="coupling_retry_to_crm",
                         condition=models.Q(last_result_to_crm="failure")
                         | models.Q(pending_create=True)),
            models.Index(fields=["local_model", "remote_entity"], name="coupling_retry_from_crm",
                         condition=models.Q(last_result_from_crm="failure")
                         | models.Q(pending_create=True) | models.Q(crm_values_pending=True)),
        ]
        permissions = [("resolve_coupling", "Can resolve skipped and failed couplings")]

    def __str__(self):
        return f"{self.local_model}:{self.local_id} ↔ {self.remote_entity}:{self.remote_id}"

    @property
    def failed(self) -> bool:
        return SyncResult.FAILURE in (self.last_result_to_crm, self.last_result_from_crm)


class SyncJob(models.Model):
    """One run of one mapping in one direction (or a coupling job)."""

    mapping = models.ForeignKey(
        TableMapping, on_delete=models.SET_NULL, null=True, blank=True, related_name="jobs",
        verbose_name="Table mapping",
    )
    mapping_name = models.CharField("Integration Table Mapping Name", max_length=50)
    type = models.CharField("Type", max_length=20, choices=JobType.choices,
                            default=JobType.SYNCHRONIZATION)
    direction = models.CharField("Direction", max_length=20, blank=True)
    full = models.BooleanField("Full Synchronization", default=False)
    trigger = models.CharField("Trigger", max_length=20, choices=JobTrigger.choices,
                               default=JobTrigger.USER)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+")
    status = models.CharField("Status", max_length=20, choices=JobStatus.choices,
                              default=JobStatus.QUEUED, db_index=True)
    created_at = models.DateTimeField("Created", default=timezone.now)
    started_at = models.DateTimeField("Start Date/Time", null=True, blank=True, db_index=True)
    finished_at = models.DateTimeField("Finish Date/Time", null=True, blank=True)
    heartbeat_at = models.DateTimeField("Last Sign of Life", null=True, blank=True)
    inserted = models.PositiveIntegerField("Inserted", default=0)
    modified = models.PositiveIntegerField("Modified", default=0)
    deleted = models.PositiveIntegerField("Deleted", default=0)
    unchanged = models.PositiveIntegerField("Unchanged", default=0)
    skipped = models.PositiveIntegerField("Skipped", default=0)
    failed = models.PositiveIntegerField("Failed", default=0)
    coupled = models.PositiveIntegerField("Coupled", default=0)
    uncoupled = models.PositiveIntegerField("Uncoupled", default=0)
    progress_done = models.PositiveIntegerField("Processed", default=0)
    progress_total = models.PositiveIntegerField("To Process", null=True, blank=True)
    cancel_requested = models.BooleanField("Cancel Requested", default=False)
    message = models.TextField("Message", blank=True)

    COUNTERS = ("inserted", "modified", "deleted", "unchanged", "skipped", "failed", "coupled",
                "uncoupled")
    # A run writes its job's heartbeat after every page; silence this long means its worker died.
    STALE_AFTER = timedelta(minutes=10)
    _SILENCE = f"no sign of life for {int(STALE_AFTER.total_seconds() // 60)} minutes"
    DEAD = (f"The worker running this job stopped ({_SILENCE}). The work done is kept; the next "
            "run goes on from there.")
    CANCELLED_DEAD = (f"Cancelled by a user; the worker running this job had stopped "
                      f"({_SILENCE}). The work done is kept; the next run goes on from there.")
    DEAD_UNSTARTED = (f"The worker running this job stopped before it started it ({_SILENCE}); "
                      "the next run goes on from there.")
    CANCELLED_UNSTARTED = "Cancelled by a user before it started."

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "integration synchronization job"

    def __str__(self):
        return f"#{self.pk} {self.mapping_name} {self.direction}".strip()

    def get_absolute_url(self):
        return reverse("couplings:syncjob_detail", kwargs={"pk": self.pk})

    def get_status_color(self) -> str:
        return JobStatus.colors().get(self.status, "secondary")

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

    def counters(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.COUNTERS}

    # --- the job's life: plan → take_up/wait → start → beat … → finish (or cancel, fail_dead) --
    # Every change of status is a conditional UPDATE from the states it may leave, so a run, a
    # person's Cancel and the takeover of a dead run never undo one another.
    @classmethod
    def plan(cls, mapping, direction="", *, type=JobType.SYNCHRONIZATION, full=False,
             trigger=JobTrigger.USER, user=None, mapping_name=None) -> "SyncJob":
        """A job the log shows "Queued" until a run starts it."""
        return cls.objects.create(mapping=mapping, type=type, direction=direction or "",
                                  mapping_name=mapping_name or getattr(mapping, "name", ""),
                                  full=full, trigger=trigger, triggered_by=user)

    @classmethod
    def take_up(cls, jobs, now=None) -> None:
        """The run that claimed the mapping takes up its jobs: each one with no sign of life yet
        gets its first, so a job of a run that dies before starting it is found dead later
        (a job with none is still waiting for its task, which may come yet)."""
        cls.objects.filter(pk__in=[job.pk for job in jobs], heartbeat_at__isnull=True,
                           status=JobStatus.QUEUED).update(heartbeat_at=now or timezone.now())

    @classmethod
    def open(cls, mapping, type, *, trigger=JobTrigger.USER, user=None,
             direction="") -> "SyncJob":
        """A job that runs at once, in this process (a coupling job): planned and started."""
        job = cls.plan(mapping, direction, type=type, trigger=trigger, user=user)
        job.start()
        return job

    @classmethod
    def dry_run(cls, mapping) -> "SyncJob":
        """A job never saved, for a run that only looks (Match-Based Coupling's dry run): the
        job log shows nothing of it."""
        return cls(mapping_name=mapping.name)

    def wait(self, now=None) -> None:
        """Handed the claim by its run's first direction, still queued: a fresh sign of life, so
        the claim it holds is not taken for a dead run's while it waits to start."""
        SyncJob.objects.filter(pk=self.pk, status=JobStatus.QUEUED).update(
            heartbeat_at=now or timezone.now())

    def start(self, direction=None, now=None) -> bool:
        """Queued → In Process, once. False (and the job ended) if a person cancelled it or
        its run was given up as dead before it started."""
        now = now or timezone.now()
        fields = {"direction": direction} if direction else {}
        started = SyncJob.objects.filter(
            pk=self.pk, status=JobStatus.QUEUED, cancel_requested=False,
        ).update(status=JobStatus.RUNNING, started_at=now, heartbeat_at=now, **fields)
        if not started:
            SyncJob.objects.filter(pk=self.pk, status=JobStatus.QUEUED).update(
                status=JobStatus.CANCELLED, finished_at=now, message=self.CANCELLED_UNSTARTED)
        self.refresh_from_db()
        return bool(started)

    def beat(self, processed=0, **counters) -> None:
        """A sign of life (after every page), with the page's progress and counters."""
        updates = {name: F(name) + n for name, n in counters.items() if n}
        if processed:
            updates["progress_done"] = F("progress_done") + processed
        SyncJob.objects.filter(pk=self.pk).update(heartbeat_at=timezone.now(), **updates)

    def expect(self, total: int) -> None:
        """How many records the run reads (one COUNT), so the log shows a progress bar."""
        self.progress_total = total
        SyncJob.objects.filter(pk=self.pk).update(progress_total=total)

    def stop_asked(self) -> bool:
        """A person asked to stop, or the run was given up as dead meanwhile (the job no longer
        In Process): a worker that was only slow stops at its next page."""
        return not SyncJob.objects.filter(pk=self.pk, cancel_requested=False,
                                          status=JobStatus.RUNNING).exists()

    def finish(self, status=JobStatus.SUCCEEDED, message="", **counters) -> bool:
        """The run's end; without a message, the counters' summary. False if the job had
        already ended (failed as dead while its worker was silent, say): that stays."""
        ended = SyncJob.objects.filter(
            pk=self.pk, status__in=[JobStatus.QUEUED, JobStatus.RUNNING],
        ).update(status=status, finished_at=timezone.now(), message=message, **counters)
        self.refresh_from_db()
        if ended and not message:
            self.message = self.summary()
            SyncJob.objects.filter(pk=self.pk).update(message=self.message)
        return bool(ended)

    def fail(self, message) -> bool:
        return self.finish(JobStatus.FAILED, message)

    def cancel(self) -> bool:
        """A person's Cancel. A job nobody is running (still queued, or its worker silent for
        STALE_AFTER) ends now; a running one is asked to stop after its current page. False if
        it had already ended."""
        now = timezone.now()
        ended = SyncJob.objects.filter(pk=self.pk, status=JobStatus.QUEUED).update(
            status=JobStatus.CANCELLED, finished_at=now, cancel_requested=True,
            message=self.CANCELLED_UNSTARTED)
        ended = ended or SyncJob.objects.filter(
            pk=self.pk, status=JobStatus.RUNNING, heartbeat_at__lt=now - self.STALE_AFTER,
        ).update(status=JobStatus.CANCELLED, finished_at=now, cancel_requested=True,
                 message=self.CANCELLED_DEAD)
        asked = ended or SyncJob.objects.filter(pk=self.pk, status=JobStatus.RUNNING).update(
            cancel_requested=True)
        self.refresh_from_db()
        return bool(asked)

    @classmethod
    def fail_dead(cls, jobs) -> int:
        """Ends the jobs (a queryset) of runs whose worker died: failed, or cancelled if a
        person had asked for it. Only jobs not yet ended change."""
        jobs = jobs.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
        now = timezone.now()
        cancelled = jobs.filter(cancel_requested=True).update(
            status=JobStatus.CANCELLED, finished_at=now, message=cls.CANCELLED_DEAD)
        failed = jobs.filter(cancel_requested=False, status=JobStatus.RUNNING).update(
            status=JobStatus.FAILED, finished_at=now, message=cls.DEAD)
        failed += jobs.filter(cancel_requested=False, status=JobStatus.QUEUED).update(
            status=JobStatus.FAILED, finished_at=now, message=cls.DEAD_UNSTARTED)
        return cancelled + failed

    def summary(self) -> str:
        parts = [f"{getattr(self, name)} {name}" for name in self.COUNTERS if getattr(self, name)]
        return ", ".join(parts).capitalize() + "." if parts else "Nothing to synchronize."


class SyncError(models.Model):
    """A record that failed to synchronize, with what a person needs to fix it."""

    job = models.ForeignKey(SyncJob, on_delete=models.CASCADE, null=True, blank=True,
                            related_name="errors")
    mapping = models.ForeignKey(TableMapping, on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="errors")
    direction = models.CharField("Direction", max_length=20, blank=True)
    local_model = models.CharField("Table", max_length=100, blank=True)
    local_id = models.BigIntegerField("Record ID", null=True, blank=True)
    local_label = models.CharField("ERP Record", max_length=200, blank=True)
    remote_entity = models.CharField("Integration Table", max_length=100, blank=True)
    remote_id = models.UUIDField("CRM ID", null=True, blank=True)
    remote_label = models.CharField("CRM Record", max_length=200, blank=True)
    message = models.TextField("Message")
    detail = models.TextField("Detail", blank=True)
    created_at = models.DateTimeField("Date/Time", default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "integration synchronization error"

    def __str__(self):
        return self.message[:80]


class MappingLock(models.Model):
    """One run per mapping at a time, across workers and machines: a run claims the mapping's
    row with a conditional UPDATE (exactly one claimant gets 1 row) and releases it at the end.
    A claim whose job shows no sign of life for a while is taken over (its worker died)."""

    mapping = models.OneToOneField(TableMapping, on_delete=models.CASCADE, related_name="lock",
                                   primary_key=True)
    job = models.ForeignKey(SyncJob, on_delete=models.SET_NULL, null=True, blank=True,
                            related_name="+")
    claimed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.mapping} ({'free' if self.job_id is None else f'job #{self.job_id}'})"

    def last_sign_of_life(self):
        """The holder's heartbeat; for a holder never started (the claim's window, or just
        handed the claim by the run's first direction), when the claim was made."""
        job = self.job
        if job is None:
            return None
        return job.heartbeat_at or self.claimed_at or job.created_at

    def is_held(self, now=None) -> bool:
        """Held by a job not yet ended that showed a sign of life within STALE_AFTER; whatever
        the state the holder was left in, silence frees the claim."""
        if self.job_id is None or self.job.status in JobStatus.finished():
            return False
        return self.last_sign_of_life() >= (now or timezone.now()) - SyncJob.STALE_AFTER


class JobQueueHold(models.Model):
    """A job queue entry (a django-q2 Schedule, named like the schedule) put on hold.

    On Hold (by a person): the schedule's `repeats` is 0, so django-q2's scheduler skips it, and
    a record change does not wake it. On Hold with Inactivity Timeout (runs found nothing for the
    mapping's Inactivity Timeout Period): the next run is pushed far ahead, so the first record
    change (bring_forward) wakes it again, as BC does.
    """

    MANUAL = "manual"
    INACTIVITY = "inactivity"
    REASONS = [(MANUAL, "On Hold"), (INACTIVITY, "On Hold with Inactivity Timeout")]

    schedule_name = models.CharField("Job Queue Entry", max_length=100, unique=True)
    reason = models.CharField("Status", max_length=20, choices=REASONS, default=MANUAL)
    held_at = models.DateTimeField("On Hold Since", default=timezone.now)
    held_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                blank=True, related_name="+")

    class Meta:
        verbose_name = "job queue entry on hold"
        permissions = [("manage_jobqueue", "Can hold, release and run job queue entries")]

    def __str__(self):
        return f"{self.schedule_name} ({self.get_reason_display()})"
