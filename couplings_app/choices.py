"""Option values of couplings and jobs; each status carries its colour (templates never decide)."""

from django.db import models


class SyncResult(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"


class JobType(models.TextChoices):
    SYNCHRONIZATION = "synchronization", "Synchronization"
    COUPLING = "coupling", "Coupling"
    UNCOUPLING = "uncoupling", "Uncoupling"
    STATISTICS = "statistics", "Customer Statistics"


class JobTrigger(models.TextChoices):
    USER = "user", "User"
    SCHEDULE = "schedule", "Schedule"
    RECORD_CHANGE = "record_change", "Record change"
    COMMAND = "command", "Command"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "In Process"
    SUCCEEDED = "succeeded", "Success"
    FAILED = "failed", "Error"
    CANCELLED = "cancelled", "Cancelled"

    @classmethod
    def colors(cls) -> dict[str, str]:
        return {cls.QUEUED: "secondary", cls.RUNNING: "primary", cls.SUCCEEDED: "success",
                cls.FAILED: "danger", cls.CANCELLED: "warning"}

    @classmethod
    def finished(cls) -> set[str]:
        return {cls.SUCCEEDED, cls.FAILED, cls.CANCELLED}
