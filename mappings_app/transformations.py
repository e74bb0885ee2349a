"""Transformation rules: data-only changes of a value on its way to the other side.

Every rule type is a fixed Python function parameterized by the rule's fields; nothing typed by an
admin is ever evaluated. A rule cannot hang a job: regular expressions that can backtrack without
end (a repeat inside a repeat, alternatives under a repeat, backreferences) are refused when the
rule is saved and when it runs, and an expression runs on a value only when its worst case on a
value that long stays within a budget (REGEX_BUDGET); a longer value fails with a message.
"""

import re
from datetime import date, datetime
from decimal import (
    ROUND_CEILING,
    ROUND_FLOOR,
    ROUND_HALF_UP,
    Decimal,
    DecimalException,
    InvalidOperation,
)
from re import _constants as sre
from re import _parser as sre_parse

from django.core.exceptions import ValidationError

from mappings_app.choices import RoundingDirection
from mappings_app.choices import TransformationType as T

MAX_INPUT = 10_000
MAX_PATTERN = 250
# Worst-case backtracking steps an expression may need on one value: about a quarter of a second.
REGEX_BUDGET = 10**9
REPEATS = {sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT}
ROUNDING = {
    RoundingDirection.NEAREST: ROUND_HALF_UP,
    RoundingDirection.UP: ROUND_CEILING,
    RoundingDirection.DOWN: ROUND_FLOOR,
}


class TransformationError(ValueError):
    """A value the rule cannot transform; the message names the rule and the value."""


def check_rule(rule) -> None:
    """Refuses a rule whose parameters cannot work, naming the field to fix."""
    errors = {}
    if rule.type in {T.REGEX_EXTRACT, T.REGEX_REPLACE}:
        if not rule.regex:
            errors["regex"] = "Enter the regular expression."
        else:
            problem = pattern_problem(rule.regex)
            if problem:
                errors["regex"] = problem
    if rule.type == T.REPLACE and not rule.find_value:
        errors["find_value"] = "Enter the text to find."
    if rule.type == T.SUBSTRING and rule.start_position < 1:
        errors["start_position"] = "The first character is position 1."
    if rule.type == T.ROUND and (rule.precision is None or rule.precision <= 0):
        errors["precision"] = "Enter a precision greater than 0, e.g. 0.01."
    if rule.type == T.DATE_FORMAT:
        if not rule.date_format:
            errors["date_format"] = "Enter a date format, e.g. %d.%m.%Y."
        elif "%" not in rule.date_format:
            errors["date_format"] = "A date format uses % codes, e.g. %Y-%m-%d."
    if rule.type == T.LOOKUP:
        if not isinstance(rule.lookup_table, dict) or not rule.lookup_table:
            errors["lookup_table"] = 'Enter pairs of values as a JSON object, e.g. {"A": "B"}.'
        elif any(isinstance(v, (dict, list)) for v in rule.lookup_table.values()):
            errors["lookup_table"] = "Values of the lookup table must be text or numbers."
    if errors:
        raise ValidationError(errors)


def apply_rule(rule, value):
    """The transformed value. None stays None; raises TransformationError with a clear message."""
    if value is None:
        return None
    kind = rule.type
    if kind == T.ROUND:
        return _round(rule, value)
    if kind == T.DATE_FORMAT:
        return _date_format(rule, value)
    if kind == T.LOOKUP:
        return _lookup(rule, value)
    text = str(value)
    if len(text) > MAX_INPUT:
        raise TransformationError(f"{rule.code}: the value is longer than {MAX_INPUT} characters.")
    if kind == T.TRIM:
        return text.strip()
    if kind == T.UPPERCASE:
        return text.upper()
    if kind == T.LOWERCASE:
        return text.lower()
    if kind == T.TITLECASE:
        return text.title()
    if kind == T.REPLACE:
        if rule.case_sensitive:
            return text.replace(rule.find_value, rule.replace_value)
        return re.sub(
            re.escape(rule.find_value), lambda _: rule.replace_value, text, flags=re.IGNORECASE
        )
    if kind == T.REGEX_EXTRACT:
        match = _pattern(rule, text).search(text)
        if not match:
            return ""
        return match.group(1) if match.groups() else match.group(0)
    if kind == T.REGEX_REPLACE:
        return _pattern(rule, text).sub(lambda _: rule.replace_value, text)
    if kind == T.SUBSTRING:
        start = rule.start_position - 1
        return text[start : start + rule.length] if rule.length else text[start:]
    if kind == T.INITIALS:
        return "".join(word[0] for word in re.split(r"[\s\-]+", text) if word).upper()
    raise TransformationError(f"{rule.code}: unknown rule type {kind!r}.")


class _Unsafe(Exception):
    pass


def _repeats(items, under_repeat=False):
    """The (min, max) of every variable repeat of a parsed expression; raises _Unsafe for the
    shapes that backtrack exponentially."""
    found = []
    for op, av in items:
        if op in (sre.GROUPREF, sre.GROUPREF_EXISTS):
            raise _Unsafe("a backreference (like \\1) can run for ever")
        if op in REPEATS:
            low, high, body = av
            variable = low != high
            if under_repeat and variable:
                raise _Unsafe("a repeat inside a repeat (like (a+)+) can run for ever")
            found += _repeats(body, under_repeat or high > 1)
            if variable:
                found.append((low, high))
        elif op == sre.BRANCH:
            if under_repeat:
                raise _Unsafe("alternatives under a repeat (like (a|ab)*) can run for ever; "
                              "use a character class")
            for branch in av[1]:
                found += _repeats(branch, under_repeat)
        elif op == sre.SUBPATTERN:
            found += _repeats(av[-1], under_repeat)
        elif op in (sre.ASSERT, sre.ASSERT_NOT):
            found += _repeats(av[1], under_repeat)
        elif op == sre.ATOMIC_GROUP:
            found += _repeats(av, under_repeat)
    return found


def _shape(regex):
    """(the variable repeats, a problem or None) of an expression."""
    if len(regex) > MAX_PATTERN:
        return [], f"The expression is longer than {MAX_PATTERN} characters."
    try:
        return _repeats(sre_parse.parse(regex)), None
    except re.error as exc:
        return [], f"Not a valid regular expression: {exc}."
    except _Unsafe as exc:
        return [], f"Not allowed: {exc}."


def pattern_problem(regex) -> str | None:
    """Why an expression cannot be used in a rule, or None."""
    return _shape(regex)[1]


def worst_case(repeats, length: int) -> int:
    """An upper bound of the backtracking steps of an expression on a value of `length`."""
    steps = length + 1
    for low, high in repeats:
        steps *= min(high, length) - min(low, length) + 1
    return steps


def _pattern(rule, text):
    repeats, problem = _shape(rule.regex)
    if problem:
        raise TransformationError(f"{rule.code}: {problem}")
    if worst_case(repeats, len(text)) > REGEX_BUDGET:
        raise TransformationError(
            f"{rule.code}: the value is too long ({len(text)} characters) for the expression "
            f"{rule.regex!r}; give its repeats an upper bound, e.g. {{1,50}} instead of +.")
    flags = 0 if rule.case_sensitive else re.IGNORECASE
    return re.compile(rule.regex, flags)


def _round(rule, value):
    try:
        number = Decimal(str(value))
        step = Decimal(str(rule.precision))
        rounded = (number / step).quantize(Decimal(1), rounding=ROUNDING[rule.rounding_direction])
        return (rounded * step).quantize(step) if step < 1 else rounded * step
    except (InvalidOperation, KeyError, ZeroDivisionError):
        raise TransformationError(f"{rule.code}: {value!r} is not a number to round.") from None
    except DecimalException:  # overflow: more digits than a decimal can hold
        raise TransformationError(f"{rule.code}: {str(value)[:40]!r} is too large to round to "
                                  f"{rule.precision}.") from None


def _date_format(rule, value):
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise TransformationError(f"{rule.code}: {value!r} is not a date.") from None
    if not isinstance(value, (date, datetime)):
        raise TransformationError(f"{rule.code}: {value!r} is not a date.")
    return value.strftime(rule.date_format)


def _lookup(rule, value):
    key = str(value).lower() if isinstance(value, bool) else str(value)
    table = rule.lookup_table or {}
    if key in table:
        return table[key]
    if not rule.case_sensitive:
        for candidate, result in table.items():
            if candidate.lower() == key.lower():
                return result
    return rule.lookup_default if rule.lookup_default else value
