"""Option values of the mappings, with Business Central's captions."""

from django.db import models


class Direction(models.TextChoices):
    BIDIRECTIONAL = "bidirectional", "Bidirectional"
    TO_CRM = "to_crm", "To Integration Table"
    FROM_CRM = "from_crm", "From Integration Table"

    @classmethod
    def runs(cls, direction: str) -> list[str]:
        """The one-way runs of a direction, in BC's order: to the CRM first, then from it."""
        if direction == cls.BIDIRECTIONAL:
            return [cls.TO_CRM, cls.FROM_CRM]
        return [direction]


class UpdateConflictResolution(models.TextChoices):
    NONE = "none", "None"
    SEND = "send", "Send Update to Integration"
    GET = "get", "Get Update from Integration"


class DeletionConflictResolution(models.TextChoices):
    NONE = "none", "None"
    RESTORE = "restore", "Restore Records"
    REMOVE_COUPLING = "remove_coupling", "Remove Coupling"


class TransformationDirection(models.TextChoices):
    BOTH = "both", "Both directions"
    TO_CRM = "to_crm", "To Integration Table"
    FROM_CRM = "from_crm", "From Integration Table"


class TransformationType(models.TextChoices):
    TRIM = "trim", "Trim"
    UPPERCASE = "uppercase", "Uppercase"
    LOWERCASE = "lowercase", "Lowercase"
    TITLECASE = "titlecase", "Title Case"
    REPLACE = "replace", "Replace"
    REGEX_EXTRACT = "regex_extract", "Regular Expression Extract"
    REGEX_REPLACE = "regex_replace", "Regular Expression Replace"
    SUBSTRING = "substring", "Extract Text Part"
    ROUND = "round", "Round"
    DATE_FORMAT = "date_format", "Date Formula / Format"
    LOOKUP = "lookup", "Value Lookup Table"
    INITIALS = "initials", "Initials"


class RoundingDirection(models.TextChoices):
    NEAREST = "nearest", "Nearest"
    UP = "up", "Up"
    DOWN = "down", "Down"
