"""Converters compiled once per field mapping, for the engine's hot path.

`mappings_app.values` (`local_value`, `to_remote`, `to_local`) says what every value becomes;
asked field by field for each record of a page, it decides again each time what the field
mapping is (a constant? a transformation? which kind of attribute?). Here each field mapping's
answer is decided once per run: a plain text field with no constant and no transformation,
which is most of a record, is checked against its limit and passed as it is; anything else (and
any text over its limit, an empty value, a value of another type) goes through
`mappings_app.values` as before, so a value and a refusal's message are the same either way.
"""

from django.core.exceptions import FieldDoesNotExist
from django.db import models

from mappings_app.choices import Direction
from mappings_app.kinds import OPTION, REMOTE_KINDS, TEXT
from mappings_app.values import local_value, to_local, to_remote


def local_reader(model, path: str):
    """A function reading `path` of a record as `local_value` does: a plain field of the
    record's own table is one attribute read (no relation, so no missing related record)."""
    if path and "." not in path and not path.startswith("_") and model is not None:
        try:
            field = model._meta.get_field(path)
        except FieldDoesNotExist:
            field = None
        if field is not None and field.concrete and not field.is_relation \
                and field.attname == path:
            return lambda record: getattr(record, path)
    return lambda record: local_value(record, path)


def remote_converter(field_mapping, attribute: dict):
    """`to_remote(field_mapping, value, attribute, resolve)` as a function of (value, resolve)."""
    def general(value, resolve):
        return to_remote(field_mapping, value, attribute, resolve=resolve)

    if field_mapping.constant_value or field_mapping.transforms(Direction.TO_CRM) \
            or REMOTE_KINDS.get(attribute.get("type"), TEXT) != TEXT:
        return general
    limit = attribute.get("max_length")

    def text(value, resolve):
        if type(value) is str and value and not (limit and len(value) > limit):
            return value
        return general(value, resolve)
    return text


def local_converter(field_mapping, model_field, attribute: dict | None):
    """`to_local(field_mapping, value, model_field, resolve, attribute)` as a function of
    (value, resolve)."""
    def general(value, resolve):
        return to_local(field_mapping, value, model_field, resolve=resolve, attribute=attribute)

    kind = REMOTE_KINDS.get((attribute or {}).get("type"))
    if field_mapping.constant_value or field_mapping.transforms(Direction.FROM_CRM) \
            or model_field is None or model_field.is_relation or model_field.choices \
            or not isinstance(model_field, (models.CharField, models.TextField)) \
            or kind == OPTION:
        return general
    limit = model_field.max_length

    def text(value, resolve):
        if type(value) is str and value and not (limit and len(value) > limit):
            return value
        return general(value, resolve)
    return text
