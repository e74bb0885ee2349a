"""What to synchronize: the connection, table mappings, field mappings and transformation rules.

These are Business Central's "Dynamics 365 Sales Connection Setup", "Integration Table Mapping",
"Integration Field Mapping" and "Transformation Rule", with clearer names (see DESIGN.md's
glossary). Validation that needs the CRM's metadata lives in mappings_app.validation and is
called from `clean()`, so forms, the admin and `setup_defaults` all refuse the same bad input;
it reads only the cached metadata (never the CRM). A mapping's state changes (Enable, rename,
interval, Synch. Only Coupled Records, watermarks) are in mappings_app.state.
"""

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse

from mappings_app.choices import (
    DeletionConflictResolution,
    Direction,
    RoundingDirection,
    TransformationDirection,
    TransformationType,
    UpdateConflictResolution,
)
from mappings_app.state import (  # noqa: F401 - read from here by the job queue and signals
    MAX_SCHEDULE_MINUTES,
    SCHEDULE_FIELDS,
    TableMappingQuerySet,
    TableMappingState,
    mappings_updated,
    set_flag,
)


class Connection(models.Model):
    """The one connection to the CRM (BC's Dynamics 365 Sales Connection Setup).

    The client secret is never stored: it comes from CRM_CLIENT_SECRET in the environment.
    """

    service_root = models.URLField(
        "Server Address",
        max_length=300,
        blank=True,
        help_text="The Web API service root, e.g. https://contoso.crm.dynamics.com/api/data/v9.2/."
        " Empty: the embedded CRM.",
    )
    tenant_id = models.CharField("Tenant ID", max_length=100, blank=True)
    authority_url = models.URLField(
        "Authority URL",
        max_length=300,
        default="https://login.microsoftonline.com",
        help_text="Microsoft Entra ID's login address (another one for national clouds).",
    )
    client_id = models.CharField("Client ID", max_length=100, blank=True)
    is_enabled = models.BooleanField("Enabled", default=False)
    integration_user_id = models.UUIDField(
        "Integration User ID",
        null=True,
        blank=True,
        editable=False,
        help_text="Found by WhoAmI; changes made by this user in the CRM are not synchronized.",
    )
    local_currency_code = models.CharField(
        "Local Currency (LCY) Code",
        max_length=10,
        default="USD",
        help_text="Business Central's LCY: amounts without a currency are in it.",
    )
    last_tested_at = models.DateTimeField("Last Tested", null=True, blank=True, editable=False)
    last_test_ok = models.BooleanField("Last Test Succeeded", null=True, editable=False)
    last_test_message = models.TextField("Last Test Result", blank=True, editable=False)

    class Meta:
        verbose_name = "connection setup"
        permissions = [("test_connection", "Can test the CRM connection")]

    def __str__(self):
        return self.service_root or "Embedded CRM"

    def get_absolute_url(self):
        return reverse("mappings:connection")

    @classmethod
    def get(cls) -> "Connection":
        connection, _ = cls.objects.get_or_create(
            pk=1,
            defaults={
                "service_root": settings.CRM_URL,
                "tenant_id": settings.CRM_TENANT_ID,
                "client_id": settings.CRM_CLIENT_ID,
            },
        )
        return connection

    @property
    def is_embedded(self) -> bool:
        return not self.service_root

    @property
    def has_secret(self) -> bool:
        return bool(settings.CRM_CLIENT_SECRET)

    def set_enabled(self, enabled: bool) -> bool:
        """Enable / Disable the connection (no synchronization runs while it is disabled); writes
        only that field, so a Test Connection's result saved meanwhile stays. True when it
        changed."""
        return set_flag(self, "is_enabled", enabled)

    set_enabled.alters_data = True


class TransformationRule(models.Model):
    """A named, data-only transformation of a value (no rule ever evaluates code)."""

    code = models.CharField("Code", max_length=30, unique=True)
    description = models.CharField("Description", max_length=100, blank=True)
    type = models.CharField("Type", max_length=20, choices=TransformationType.choices)
    find_value = models.CharField("Find Value", max_length=250, blank=True)
    replace_value = models.CharField("Replace Value", max_length=250, blank=True)
    regex = models.CharField("Regular Expression", max_length=250, blank=True)
    start_position = models.PositiveIntegerField("Start Position", default=1)
    length = models.PositiveIntegerField("Length", null=True, blank=True)
    precision = models.DecimalField(
        "Precision",
        max_digits=12,
        decimal_places=6,
        null=True,
        blank=True,
        help_text="Round to a multiple of this, e.g. 0.01 or 5.",
    )
    rounding_direction = models.CharField(
        "Direction",
        max_length=10,
        choices=RoundingDirection.choices,
        default=RoundingDirection.NEAREST,
    )
    date_format = models.CharField(
        "Date Format",
        max_length=50,
        blank=True,
        help_text="strftime codes, e.g. %d.%m.%Y; applied to dates and ISO date strings.",
    )
    lookup_table = models.JSONField(
        "Lookup Table",
        default=dict,
        blank=True,
        help_text='Pairs of values, e.g. {"DHL": "2", "UPS": "4"}.',
    )
    lookup_default = models.CharField(
        "Default Value",
        max_length=250,
        blank=True,
        help_text="The result for a value not in the table; empty keeps the value.",
    )
    case_sensitive = models.BooleanField("Case Sensitive", default=False)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.code

    def get_absolute_url(self):
        return reverse("mappings:transformationrule_detail", kwargs={"pk": self.pk})

    def clean(self):
        from mappings_app.transformations import check_rule

        check_rule(self)

    def apply(self, value):
        from mappings_app.transformations import apply_rule

        return apply_rule(self, value)


class TableMapping(TableMappingState, models.Model):
    """Which ERP table syncs with which CRM entity, how and when (BC's Integration Table Map)."""

    name = models.CharField("Name", max_length=50, unique=True)
    description = models.CharField("Description", max_length=250, blank=True)
    local_model = models.CharField(
        "Table",
        max_length=100,
        help_text="The ERP table, as app_label.model, e.g. erp_app.customer.",
    )
    remote_entity = models.CharField(
        "Integration Table",
        max_length=100,
        help_text="The CRM entity's logical name, e.g. account.",
    )
    remote_entity_set = models.CharField(
        "Integration Entity Set",
        max_length=100,
        help_text="The Web API's entity set, e.g. accounts.",
    )
    remote_key = models.CharField("Integration Table UID Field", max_length=100)
    remote_modified_attribute = models.CharField(
        "Integration Table Modified Field", max_length=100, default="modifiedon"
    )
    direction = models.CharField(
        "Direction", max_length=20, choices=Direction.choices, default=Direction.BIDIRECTIONAL
    )
    sync_only_coupled = models.BooleanField(
        "Synch. Only Coupled Records",
        default=True,
        help_text="Off: the synchronization creates and couples a record on the other side for "
        "each uncoupled record.",
    )
    local_filter = models.TextField(
        "Table Filter",
        blank=True,
        help_text="Only the ERP records that match are synchronized; empty: every record.",
    )
    remote_filter = models.TextField(
        "Integration Table Filter",
        blank=True,
        help_text="An OData $filter, e.g. customertypecode eq 3 and statecode eq 0",
    )
    local_template = models.JSONField(
        "Table Config Template",
        default=dict,
        blank=True,
        help_text="Default values of ERP records the synchronization creates.",
    )
    remote_template = models.JSONField(
        "Int. Tbl. Config Template",
        default=dict,
        blank=True,
        help_text="Default values of CRM records the synchronization creates.",
    )
    # Named for the side they filter (BC's own names are inverted).
    local_synced_until = models.DateTimeField(
        "Synch. Modified On Filter",
        null=True,
        blank=True,
        help_text="ERP records modified after this are candidates for the next run.",
    )
    remote_synced_until = models.DateTimeField(
        "Synch. Int. Tbl. Mod. On Fltr.",
        null=True,
        blank=True,
        help_text="CRM records modified after this are candidates for the next run.",
    )
    # Dataverse change tracking: the link that returns the CRM rows changed (and deleted) since
    # the last run from the CRM. Empty: none yet (the next run establishes one).
    remote_delta_link = models.TextField(
        "CRM Delta Link", blank=True, default="", editable=False,
        help_text="Where the next run from the CRM reads what changed since this one.",
    )
    update_conflict_resolution = models.CharField(
        "Update-Conflict Resolution",
        max_length=20,
        choices=UpdateConflictResolution.choices,
        default=UpdateConflictResolution.NONE,
    )
    deletion_conflict_resolution = models.CharField(
        "Deletion-Conflict Resolution",
        max_length=20,
        choices=DeletionConflictResolution.choices,
        default=DeletionConflictResolution.NONE,
    )
    delete_remote_with_local = models.BooleanField(
        "Delete Coupled CRM Record",
        default=False,
        help_text="When an ERP record is deleted, delete its coupled CRM record too.",
    )
    dependencies = models.ManyToManyField(
        "self",
        symmetrical=False,
        blank=True,
        related_name="dependents",
        verbose_name="Dependencies",
        help_text="Mappings that must be synchronized first (besides those its lookups use).",
    )
    priority = models.PositiveSmallIntegerField(
        "Priority",
        default=100,
        help_text="Among mappings whose dependencies are met, the lower number runs first.",
    )
    create_new_if_no_match = models.BooleanField(
        "Create New in Case of No Match",
        default=False,
        help_text="Match-based coupling creates a record on the other side when none matches.",
    )
    sync_after_coupling = models.BooleanField("Synchronize After Coupling", default=True)
    disable_event_rescheduling = models.BooleanField(
        "Disable Event Job Resch.",
        default=False,
        help_text="Changes to ERP records do not bring the next scheduled run forward.",
    )
    is_enabled = models.BooleanField("Enabled", default=True)
    schedule_minutes = models.PositiveIntegerField(
        "No. of Minutes between Runs",
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_SCHEDULE_MINUTES)],
        help_text=f"How often its job queue entry runs: 1 to {MAX_SCHEDULE_MINUTES:,} (a week).",
    )
    inactivity_timeout_minutes = models.PositiveIntegerField(
        "Inactivity Timeout Period",
        default=1440,
        help_text="Runs that find nothing for this long put the job queue entry on hold.",
    )
    is_default = models.BooleanField("Default Mapping", default=False, editable=False)

    objects = TableMappingQuerySet.as_manager()

    class Meta:
        ordering = ["priority", "name"]
        permissions = [
            ("sync_tablemapping", "Can run synchronization jobs"),
            ("couple_tablemapping", "Can couple and uncouple records"),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("mappings:tablemapping_detail", kwargs={"pk": self.pk})

    @property
    def local_model_class(self):
        try:
            return apps.get_model(self.local_model)
        except (LookupError, ValueError):
            return None

    @property
    def runs(self) -> list[str]:
        return Direction.runs(self.direction)

    def clean(self):
        from mappings_app.validation import check_table_mapping

        errors = check_table_mapping(self)
        if errors:
            raise ValidationError(errors)

    def lookup_dependencies(self) -> set[int]:
        """Mappings this one reads couplings of, through its lookup field mappings."""
        return set(
            self.field_mappings.filter(lookup_mapping__isnull=False, is_enabled=True)
            .exclude(lookup_mapping=self)
            .values_list("lookup_mapping_id", flat=True)
        )


class FieldMapping(models.Model):
    """One field of a table mapping (BC's Integration Field Mapping)."""

    table_mapping = models.ForeignKey(
        TableMapping, on_delete=models.CASCADE, related_name="field_mappings"
    )
    position = models.PositiveIntegerField("No.", default=0)
    local_field = models.CharField(
        "Field Name",
        max_length=100,
        blank=True,
        help_text="The ERP field; a path like company.customer follows foreign keys.",
    )
    remote_attribute = models.CharField("Integration Table Field Name", max_length=100, blank=True)
    direction = models.CharField(
        "Direction", max_length=20, choices=Direction.choices, default=Direction.BIDIRECTIONAL
    )
    constant_value = models.CharField(
        "Constant Value",
        max_length=250,
        blank=True,
        help_text="Written instead of the source field's value.",
    )
    transformation_rule = models.ForeignKey(
        TransformationRule,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="field_mappings",
        verbose_name="Transformation Rule",
    )
    transformation_direction = models.CharField(
        "Transformation Direction",
        max_length=20,
        choices=TransformationDirection.choices,
        default=TransformationDirection.BOTH,
    )
    lookup_mapping = models.ForeignKey(
        TableMapping,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="lookups_into",
        verbose_name="Lookup Through",
        help_text="For a reference (e.g. salesperson ↔ ownerid): the mapping whose couplings "
        "translate the value.",
    )
    validate_field = models.BooleanField("Validate Field", default=False)
    clear_value_on_failed_sync = models.BooleanField(
        "Clear Value on Failed Sync",
        default=False,
        help_text="An unresolvable reference clears the value instead of failing the record.",
    )
    is_enabled = models.BooleanField("Enabled", default=True)
    not_null = models.BooleanField("Not Null", default=False)
    use_for_matching = models.BooleanField("Use For Match-Based Coupling", default=False)
    case_sensitive_matching = models.BooleanField("Case-Sensitive Matching", default=False)
    match_priority = models.PositiveSmallIntegerField("Match Priority", default=0)

    class Meta:
        ordering = ["table_mapping", "position", "pk"]

    def __str__(self):
        left = self.local_field or f"'{self.constant_value}'"
        right = self.remote_attribute or f"'{self.constant_value}'"
        return f"{self.table_mapping.name}: {left} ↔ {right}"

    def clean(self):
        from mappings_app.validation import check_field_mapping

        errors = check_field_mapping(self)
        if errors:
            raise ValidationError(errors)

    def applies_to(self, run: str) -> bool:
        return self.is_enabled and self.direction in (Direction.BIDIRECTIONAL, run)

    def transforms(self, run: str) -> bool:
        return self.transformation_rule_id is not None and self.transformation_direction in (
            TransformationDirection.BOTH,
            run,
        )


class EntityMetadata(models.Model):
    """The CRM's description of an entity's attributes, cached from EntityDefinitions."""

    logical_name = models.CharField(max_length=100, unique=True)
    entity_set = models.CharField(max_length=100)
    primary_id = models.CharField(max_length=100)
    primary_name = models.CharField(max_length=100, blank=True)
    attributes = models.JSONField(default=list)
    fetched_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "entity metadata"

    def __str__(self):
        return self.logical_name
