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
from mappings_app.kinds import LOOKUP, OPTION, REMOTE_KINDS, TEXT
from mappings_app.values import ValueProblem, local_value, to_local, to_remote


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

    if field_mapping.transforms(Direction.TO_CRM):
        return general
    if field_mapping.constant_value and REMOTE_KINDS.get(attribute.get("type")) != LOOKUP:
        return once(general)  # (a reference's id depends on the couplings of the moment)
    if field_mapping.constant_value:
        return general
    text_kind = REMOTE_KINDS.get(attribute.get("type"), TEXT) == TEXT
    limit = attribute.get("max_length")
    empty_is_none = not field_mapping.not_null  # an empty value is sent as null

    def text(value, resolve):
        if type(value) is str and value and text_kind and not (limit and len(value) > limit):
            return value
        if empty_is_none and (value is None or value == ""):
            return None
        return general(value, resolve)
    return text


def local_converter(field_mapping, model_field, attribute: dict | None):
    """`to_local(field_mapping, value, model_field, resolve, attribute)` as a function of
    (value, resolve)."""
    def general(value, resolve):
        return to_local(field_mapping, value, model_field, resolve=resolve, attribute=attribute)

    kind = REMOTE_KINDS.get((attribute or {}).get("type"))
    if field_mapping.transforms(Direction.FROM_CRM) or model_field is None:
        return general
    if field_mapping.constant_value and not model_field.is_relation:
        return once(general)
    if field_mapping.constant_value:
        return general
    plain_text = not (model_field.is_relation or model_field.choices or kind == OPTION) \
        and isinstance(model_field, (models.CharField, models.TextField))
    limit = model_field.max_length
    # What an empty CRM value becomes in this field (None, or "" where the column takes no
    # null), asked once; with Not Null it is a refusal, asked each time.
    empty = [] if field_mapping.not_null else [general(None, None)]

    def text(value, resolve):
        if type(value) is str and value and plain_text and not (limit and len(value) > limit):
            return value
        if empty and (value is None or value == ""):
            return empty[0]
        return general(value, resolve)
    return text


def once(convert):
    """A converter whose answer does not depend on the value (a constant with no
    transformation): asked the first time, then repeated (the value, or the same refusal)."""
    answer = []

    def constant(value, resolve):
        if not answer:
            try:
                answer.append((True, convert(value, resolve)))
            except ValueProblem as problem:
                answer.append((False, str(problem)))
        ok, result = answer[0]
        if not ok:
            raise ValueProblem(result)
        return result
    return constant
