"""Storage of the embedded CRM (database alias `crm`, see routers.py).

Every record of every table is one `Row`: its table (`entity`), its id, its attributes as JSON
(keyed by logical name; unset attributes are absent, never null) and the system attributes in
columns, indexed for what the sync asks most: by id, and "modified since". A deleted row of a
table with change tracking leaves a `Tombstone`, so a delta link can report it.
"""

import uuid

from django.db import models


class Row(models.Model):
    entity = models.CharField(max_length=64)
    rowid = models.UUIDField(default=uuid.uuid4)
    data = models.JSONField(default=dict)
    createdon = models.DateTimeField()
    modifiedon = models.DateTimeField()
    createdby = models.UUIDField(null=True, blank=True)
    modifiedby = models.UUIDField(null=True, blank=True)
    versionnumber = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["entity", "rowid"], name="crm_row_entity_rowid"),
        ]
        indexes = [
            models.Index(fields=["entity", "modifiedon"], name="crm_row_entity_modifiedon"),
            models.Index(fields=["entity", "createdon"], name="crm_row_entity_createdon"),
            models.Index(fields=["entity", "versionnumber"], name="crm_row_entity_version"),
        ]

    def __str__(self):
        return f"{self.entity}({self.rowid})"

    @property
    def etag(self) -> str:
        return f'W/"{self.versionnumber}"'


class Key(models.Model):
    """One indexed attribute value of a row, as SQL Server's collation compares it (keys.py)."""

    entity = models.CharField(max_length=64)
    attribute = models.CharField(max_length=64)
    value = models.CharField(max_length=400)
    rowid = models.UUIDField()

    class Meta:
        indexes = [
            models.Index(fields=["entity", "attribute", "value"], name="crm_key_lookup"),
            models.Index(fields=["entity", "rowid"], name="crm_key_row"),
        ]

    def __str__(self):
        return f"{self.entity}({self.rowid}).{self.attribute} = {self.value!r}"


class Tombstone(models.Model):
    """A deleted row as change tracking reports it (`$deletedEntity`): its table, its id and the
    row version its deletion took. Kept `ExpireChangeTrackingInDays` (changes.py), then pruned."""

    entity = models.CharField(max_length=64)
    rowid = models.UUIDField()
    versionnumber = models.BigIntegerField()
    deletedon = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["entity", "versionnumber"], name="crm_tomb_entity_version"),
            models.Index(fields=["deletedon"], name="crm_tomb_deletedon"),
        ]

    def __str__(self):
        return f"{self.entity}({self.rowid}) deleted at version {self.versionnumber}"


class Application(models.Model):
    """An app registration allowed to get tokens (client credentials), with its CRM user."""

    tenant = models.CharField(max_length=100)
    client_id = models.CharField(max_length=200)
    secret_hash = models.CharField(max_length=200)
    name = models.CharField(max_length=200)
    userid = models.UUIDField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "client_id"], name="crm_app_tenant_client"),
        ]

    def __str__(self):
        return f"{self.name} ({self.tenant}/{self.client_id})"


class Knob(models.Model):
    """A run-time setting shared by every process serving the CRM (faults, throttling)."""

    name = models.CharField(max_length=50, primary_key=True)
    value = models.JSONField(default=dict)
    updated = models.DateTimeField(auto_now=True)

    def __str__(self):
        return self.name


class Counter(models.Model):
    """The organization's row version: one increasing number shared by every table."""

    name = models.CharField(max_length=50, primary_key=True)
    value = models.BigIntegerField(default=0)

    def __str__(self):
        return f"{self.name}={self.value}"


class ThrottleCount(models.Model):
    """Requests of one user in one time window (service protection limits)."""

    userid = models.UUIDField()
    window = models.BigIntegerField()
    count = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["userid", "window"], name="crm_throttle_user_window"),
        ]

    def __str__(self):
        return f"{self.userid}@{self.window}: {self.count}"
