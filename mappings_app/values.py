"""A field mapping's values on their way across: read, constant, transformation, type conversion.

The sync engine and the preview page use the same three functions:

    local_value(record, "company.customer")          # follows foreign keys; None on an empty link
    to_remote(field_mapping, value, attribute)       # an ERP value as the CRM attribute takes it
    to_local(field_mapping, value, model_field)      # a CRM value as the ERP field takes it

Each applies, in this order, the field mapping's constant value (instead of the source value), its
transformation rule (when the rule's direction covers the run) and a conversion to the
destination's type: text, numbers (Decimal), yes/no, dates and timestamps (ISO strings on the CRM
side), option sets (an ERP code or choice ↔ the option whose label matches, ignoring case) and
ids. A value that does not fit raises `ValueProblem`, whose message names the field, the value and
the limit. References (a salesperson ↔ ownerid) go through another mapping's couplings: the
caller passes `resolve`, else the result is a `Reference` saying which coupling would translate it.
"""

import math
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.db.backends.base.operations import BaseDatabaseOperations

from dataverse.values import format_datetime, is_guid, parse_datetime
from mappings_app.choices import Direction
from mappings_app.kinds import (  # noqa: F401 - record_key and key_field are read from here
    BOOL,
    DATE,
    GUID,
    INTEGER_TYPES,
    LOOKUP,
    NUMBER,
    OPTION,
    REMOTE_KINDS,
    TEXT,
    WHOLE_LIMITS,
    key_field,
    record_key,
    resolve_local_field,
)
from mappings_app.transformations import TransformationError

TRUE_WORDS = {"true", "1", "yes", "y", "on"}
FALSE_WORDS = {"false", "0", "no", "n", "off", ""}


class ValueProblem(ValueError):
    """A value that cannot be written on the other side: names the field, the value, the limit."""


@dataclass(frozen=True)
class Reference:
    """A value the couplings of `mapping` translate: a local record (to the CRM) or a CRM id."""

    mapping: Any
    value: Any

    def __str__(self):
        return f"{display(self.value)} via {self.mapping.name} couplings"


def short(value, limit: int = 40) -> str:
    """The value quoted for a message, cut to `limit` characters with an ellipsis."""
    text = str(value)
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _num(number) -> str:
    """A number for a message, as it is unless it is huge (a CRM may send thousands of
    digits)."""
    text = format(number, "f") if isinstance(number, Decimal) and number.is_finite() and abs(
        number.adjusted()) < 40 else str(number)
    return text if len(text) <= 40 else f"{text[:39]}… ({len(text):,} characters)"


def display(value) -> str:
    if isinstance(value, models.Model):
        return record_key(value)
    return "" if value is None else str(value)


# --- reading -------------------------------------------------------------------------------------


def local_value(record, path: str):
    """The value at a dotted path of a record; a foreign key gives the related record.

    None as soon as a link on the way is empty (a contact without a company has no
    company.customer).
    """
    value = record
    for part in path.split("."):
        if part.startswith("_"):  # fields only, never Python's own attributes (__class__, _meta)
            raise ValueProblem(f"{path}: {part!r} is not a field.")
        if value is None:
            return None
        try:
            value = getattr(value, part)
        except ObjectDoesNotExist:
            return None
    return value


def remote_value(row: dict, name: str):
    """An attribute of a CRM record as the Web API returns it (lookups as _name_value)."""
    if name in row:
        return row[name]
    return row.get(f"_{name}_value")


def local_field_of(field_mapping):
    """The model field a field mapping's path ends at, or None."""
    model = field_mapping.table_mapping.local_model_class
    if model is None or not field_mapping.local_field:
        return None
    field, _ = resolve_local_field(model, field_mapping.local_field)
    return field


# --- to the CRM ----------------------------------------------------------------------------------


def _constant_and_rule(field_mapping, value, run):
    if field_mapping.constant_value:
        value = field_mapping.constant_value
    if field_mapping.transforms(run):
        if isinstance(value, models.Model):
            value = record_key(value)
        try:
            value = field_mapping.transformation_rule.apply(value)
        except TransformationError as exc:
            raise ValueProblem(str(exc)) from None
    return value


def to_remote(field_mapping, value, attribute: dict, resolve=None):
    """The ERP value as the CRM attribute takes it (JSON-ready: str, int, Decimal, bool, None).

    `attribute` is the cached metadata of the CRM attribute (mappings_app.metadata.attributes).
    For a reference, `resolve(mapping, record)` returns the coupled CRM id or None; without it
    the result is a Reference.
    """
    name = attribute["name"]
    value = _constant_and_rule(field_mapping, value, Direction.TO_CRM)
    kind = REMOTE_KINDS.get(attribute.get("type"), TEXT)
    if value is None or value == "":
        return _empty(field_mapping, name)
    if kind == LOOKUP:
        return _remote_reference(field_mapping, value, name, resolve)
    if isinstance(value, models.Model) and kind != OPTION:
        value = record_key(value)
    if kind == TEXT:
        text = _text(value)
        limit = attribute.get("max_length")
        if limit and len(text) > limit:
            raise ValueProblem(
                f"{name}: {short(text)} is {len(text)} characters; the CRM holds at most {limit}."
            )
        return text
    if kind == NUMBER:
        return _number(name, value, attribute)
    if kind == BOOL:
        return _boolean(name, value)
    if kind == DATE:
        return _remote_date(name, value)
    if kind == OPTION:
        return _option_value(field_mapping, name, value, attribute)
    if kind == GUID:
        if not is_guid(str(value)):
            raise ValueProblem(f"{name}: {short(value)} is not an id (GUID).")
        return str(value).lower()
    return value


def _empty(field_mapping, name):
    if field_mapping.not_null:
        raise ValueProblem(f"{name}: the value is empty, and the field mapping says Not Null.")
    return None


def _text(value) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _decimal(name, value) -> Decimal:
    """A finite number, from a number or its text; Yes/No is not one."""
    if isinstance(value, bool):
        raise ValueProblem(f"{name}: {value} is Yes/No, not a number.")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueProblem(f"{name}: {short(value)} is not a number.") from None
    if not number.is_finite():
        raise ValueProblem(f"{name}: {short(value)} is not a number.")
    return number


def _number(name, value, attribute):
    number = _decimal(name, value)
    low, high = attribute.get("min_value"), attribute.get("max_value")
    if low is not None and number < Decimal(str(low)):
        raise ValueProblem(f"{name}: {_num(number)} is below the CRM's minimum {_plain(low)}.")
    if high is not None and number > Decimal(str(high)):
        raise ValueProblem(f"{name}: {_num(number)} is above the CRM's maximum {_plain(high)}.")
    if attribute.get("type") in INTEGER_TYPES:
        if number != number.to_integral_value():
            raise ValueProblem(
                f"{name}: {_num(number)} is not a whole number; the CRM takes integers."
            )
        return _whole(name, number, WHOLE_LIMITS[attribute["type"]], "the CRM")
    precision = attribute.get("precision")
    if precision is not None and -number.as_tuple().exponent > precision:
        try:
            number = number.quantize(Decimal(1).scaleb(-precision), rounding=ROUND_HALF_UP)
        except InvalidOperation:  # more digits than the decimal context holds
            raise ValueProblem(f"{name}: {_num(number)} has too many digits.") from None
    return number


def _whole(name, number: Decimal, limits: tuple[int, int], side: str) -> int:
    low, high = limits
    if number < low:
        raise ValueProblem(f"{name}: {_num(number)} is below {low}, the least {side} holds.")
    if number > high:
        raise ValueProblem(f"{name}: {_num(number)} is above {high}, the most {side} holds.")
    return int(number)


def _plain(number) -> str:
    return format(Decimal(str(number)).normalize(), "f")


def _boolean(name, value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, Decimal)):
        if value in (0, 1):
            return bool(value)
    else:
        word = str(value).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise ValueProblem(f"{name}: {short(value)} is neither Yes nor No.")


def _remote_date(name, value) -> str:
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text).isoformat()
        return format_datetime(parse_datetime(text))
    except ValueError:
        raise ValueProblem(f"{name}: {short(value)} is not a date (use YYYY-MM-DD).") from None


def _labels(value, field_mapping):
    """The texts an ERP value may match an option label by: its code, its choice's label."""
    if isinstance(value, models.Model):
        return [record_key(value)]
    texts = [str(value)]
    field = local_field_of(field_mapping)
    if field is not None and field.choices:
        texts += [str(label) for key, label in field.flatchoices if key == value]
    return texts


def _option_value(field_mapping, name, value, attribute) -> int:
    options = {int(k): str(v) for k, v in (attribute.get("options") or {}).items()}
    if not isinstance(value, (bool, models.Model)):
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            number = None
        if number is not None and number.is_finite() and number == number.to_integral_value():
            number = _whole(name, number, WHOLE_LIMITS["Integer"], "the CRM")
            if options and number not in options:
                raise ValueProblem(
                    f"{name}: {number} is not an option of the CRM ({_options(options)})."
                )
            return number
    for text in _labels(value, field_mapping):
        for option, label in options.items():
            if label.lower() == text.strip().lower():
                return option
    raise ValueProblem(
        f"{name}: {short(display(value))} matches no option of the CRM ({_options(options)})."
        " Add a Value Lookup Table transformation to translate it."
    )


def _options(options: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in options.items()) or "none known"


def _remote_reference(field_mapping, value, name, resolve):
    target = field_mapping.lookup_mapping
    if not isinstance(value, models.Model):
        if is_guid(str(value)):
            return str(value).lower()  # a constant id
        raise ValueProblem(f"{name}: {short(value)} is not a record or an id.")
    if target is None:
        raise ValueProblem(
            f"{name}: {record_key(value)} is a reference; the field mapping names no Lookup "
            "Through mapping to translate it."
        )
    if resolve is None:
        return Reference(target, value)
    remote_id = resolve(target, value)
    if remote_id is not None:
        return str(remote_id)
    return uncoupled_reference(
        field_mapping,
        f"{name}: {value._meta.verbose_name} {record_key(value)} is not coupled to a CRM record.",
    )


def uncoupled_reference(field_mapping, problem: str) -> None:
    """The one decision on a reference no coupling translates (a customer's salesperson not
    coupled to a CRM user, a contact's customer not coupled to an account), both ways: the
    field mapping's Clear Value on Failed Sync clears it; otherwise the record fails with
    `problem` and what to do: couple the referenced record first, through the Lookup Through
    mapping."""
    if field_mapping.clear_value_on_failed_sync:
        return None
    raise ValueProblem(f"{problem} Couple it first ({field_mapping.lookup_mapping.name} mapping).")


# --- from the CRM --------------------------------------------------------------------------------


def to_local(field_mapping, value, model_field, resolve=None, attribute: dict | None = None):
    """The CRM value as the ERP model field takes it.

    For a foreign key: `resolve(mapping, crm_id)` returns the coupled local record or None, and
    without it the result is a Reference; a code or an option's label finds the related record
    by its Code/No. `attribute` (the CRM attribute's metadata) lets option values be read by
    their label.
    """
    name = model_field.name
    if isinstance(value, (dict, list, tuple)):
        # An object or a list where the CRM holds one value: its text is no value to store.
        raise ValueProblem(
            f"{name}: the CRM sent {short(value)}, a {type(value).__name__} where one value "
            "belongs."
        )
    value = _constant_and_rule(field_mapping, value, Direction.FROM_CRM)
    if value is not None and attribute is not None and not field_mapping.constant_value:
        kind = REMOTE_KINDS.get(attribute.get("type"))
        options = attribute.get("options") or {}
        if kind == OPTION and not isinstance(value, bool) and str(value) in options:
            if model_field.is_relation or model_field.choices or _is_text(model_field):
                value = options[str(value)]  # an option reaches text and codes by its label
    if value is None or value == "":
        if field_mapping.not_null:
            raise ValueProblem(f"{name}: the value is empty, and the field mapping says Not Null.")
        return _local_empty(model_field)
    if model_field.is_relation:
        return _local_reference(field_mapping, value, model_field, resolve)
    if model_field.choices:
        return _choice(name, value, model_field)
    if isinstance(model_field, models.BooleanField):
        return _boolean(name, value)
    if isinstance(model_field, models.DateTimeField):
        try:
            return parse_datetime(value)
        except ValueError:
            raise ValueProblem(f"{name}: {short(value)} is not a date and time.") from None
    if isinstance(model_field, models.DateField):
        try:
            return value if isinstance(value, date) else parse_datetime(value).date()
        except ValueError:
            raise ValueProblem(f"{name}: {short(value)} is not a date.") from None
    if isinstance(model_field, models.DecimalField):
        return _local_decimal(name, value, model_field)
    if isinstance(model_field, models.IntegerField):
        number = _local_decimal(name, value, None)
        if number != number.to_integral_value():
            raise ValueProblem(f"{name}: {_num(number)} is not a whole number.")
        limits = BaseDatabaseOperations.integer_field_ranges[model_field.get_internal_type()]
        return _whole(name, number, limits, "the ERP")
    if isinstance(model_field, models.FloatField):
        number = float(_local_decimal(name, value, None))
        if not math.isfinite(number):
            raise ValueProblem(f"{name}: {short(value)} is too large for the ERP.")
        return number
    if isinstance(model_field, models.UUIDField):
        try:
            return uuid.UUID(str(value))
        except ValueError:
            raise ValueProblem(f"{name}: {short(value)} is not an id (GUID).") from None
    text = _text(value)
    limit = model_field.max_length
    if limit and len(text) > limit:
        raise ValueProblem(
            f"{name}: {short(text)} is {len(text)} characters; the ERP holds at most {limit}."
        )
    return text


def _is_text(field) -> bool:
    return isinstance(field, (models.CharField, models.TextField))


def _local_empty(model_field):
    if model_field.null or model_field.is_relation:
        return None
    if isinstance(model_field, models.BooleanField):
        return False
    if _is_text(model_field):
        return ""
    if isinstance(model_field, (models.DecimalField, models.IntegerField, models.FloatField)):
        return 0 if not isinstance(model_field, models.DecimalField) else Decimal(0)
    return None


def _choice(name, value, model_field):
    text = str(value).strip().lower()
    for key, label in model_field.flatchoices:
        if text in {str(key).lower(), str(label).lower()}:
            return key
    allowed = ", ".join(str(label) for _, label in model_field.flatchoices)
    raise ValueProblem(f"{name}: {short(value)} is not one of {allowed}.")


def _local_decimal(name, value, model_field):
    number = _decimal(name, value)
    if model_field is None:
        return number
    places = model_field.decimal_places
    biggest = Decimal(10) ** (model_field.max_digits - places)
    # Compared before rounding: 1e30 would not even round within the decimal context.
    if abs(number) < biggest:
        number = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if abs(number) >= biggest:
        raise ValueProblem(
            f"{name}: {_num(number)} is too large; the ERP holds less than {biggest}."
        )
    return number


def _local_reference(field_mapping, value, model_field, resolve):
    related = model_field.related_model
    if is_guid(str(value)) and field_mapping.lookup_mapping is not None:
        target = field_mapping.lookup_mapping
        if resolve is None:
            return Reference(target, str(value).lower())
        record = resolve(target, str(value).lower())
        if record is not None or field_mapping.clear_value_on_failed_sync:
            return record
        describe = getattr(resolve, "describe", None)
        name = describe(target, value) if describe else None
        which = f"{short(name)} ({value})" if name else str(value)
        return uncoupled_reference(
            field_mapping,
            f"{model_field.name}: the CRM {target.remote_entity} {which} is not coupled to a "
            f"{related._meta.verbose_name}.",
        )
    key = key_field(related)
    if key is None:
        raise ValueProblem(
            f"{model_field.name}: {short(value)} cannot find a {related._meta.verbose_name} "
            "(it has no Code or No.)."
        )
    found = related._default_manager.filter(**{f"{key.name}__iexact": str(value).strip()}).first()
    if found is None:
        raise ValueProblem(
            f"{model_field.name}: there is no {related._meta.verbose_name} {short(value)}."
        )
    return found
