"""The kinds of values on each side and the limits they hold: what validation checks a mapping
against and what values.py converts to, in one place (neither imports the other for them).

Also how an ERP record is known to a person (its No. or Code) and how a field mapping's dotted
path (company.customer) reaches a model field.
"""

from django.core.exceptions import FieldDoesNotExist
from django.db import models

TEXT, NUMBER, BOOL, DATE, LOOKUP, OPTION, GUID = (
    "text",
    "number",
    "yes/no",
    "date",
    "reference",
    "option",
    "id",
)
REMOTE_KINDS = {
    "String": TEXT,
    "Memo": TEXT,
    "EntityName": TEXT,
    "Integer": NUMBER,
    "BigInt": NUMBER,
    "Decimal": NUMBER,
    "Double": NUMBER,
    "Money": NUMBER,
    "Boolean": BOOL,
    "DateTime": DATE,
    "Lookup": LOOKUP,
    "Customer": LOOKUP,
    "Owner": LOOKUP,
    "Picklist": OPTION,
    "State": OPTION,
    "Status": OPTION,
    "Uniqueidentifier": GUID,
}
# Which ERP kinds can carry which CRM kinds without a lookup-table transformation.
COMPATIBLE = {
    (TEXT, TEXT),
    (NUMBER, NUMBER),
    (BOOL, BOOL),
    (DATE, DATE),
    (LOOKUP, LOOKUP),
    (GUID, GUID),
    (GUID, TEXT),
    (NUMBER, TEXT),
    (TEXT, OPTION),
    (LOOKUP, OPTION),
    (LOOKUP, TEXT),
}
INTEGER_TYPES = {"Integer", "BigInt"}
# The widest whole number either side stores; checked before int() (int(1E999998) takes seconds).
# An option set's value is an Integer too.
WHOLE_LIMITS = {"Integer": (-(2**31), 2**31 - 1), "BigInt": (-(2**63), 2**63 - 1)}
KEY_FIELDS = ("no", "code")


def local_kind(field) -> str:
    if field.is_relation:
        return LOOKUP
    if isinstance(field, models.BooleanField):
        return BOOL
    if isinstance(field, (models.DateField, models.DateTimeField)):
        return DATE
    if isinstance(field, (models.DecimalField, models.IntegerField, models.FloatField)):
        return NUMBER
    if isinstance(field, models.UUIDField):
        return GUID
    return TEXT


def resolve_local_field(model, path: str):
    """The model field at the end of a dotted path (company.customer), or a message why not."""
    field = None
    for part in path.split("."):
        if field is not None:
            if not field.is_relation:
                return None, f"{field.name} is not a reference, so {path} does not exist."
            model = field.related_model
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return None, f"{model._meta.object_name} has no field {part!r}."
        if not field.concrete:
            return None, f"{part!r} of {model._meta.object_name} is not a field."
    return field, None


def record_key(record) -> str:
    """How BC shows a record in a field: its No. or Code, else its text."""
    for name in KEY_FIELDS:
        value = getattr(record, name, None)
        if value not in (None, ""):
            return str(value)
    return str(record)


def key_field(model):
    """The field BC users know a record by (No. or Code), or None."""
    for name in KEY_FIELDS:
        try:
            return model._meta.get_field(name)
        except FieldDoesNotExist:
            continue
    return None
