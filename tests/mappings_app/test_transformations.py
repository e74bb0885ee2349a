"""Transformation rules: BC's kinds, data-only, refused when their parameters cannot work."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from mappings_app.choices import RoundingDirection
from mappings_app.choices import TransformationType as T
from mappings_app.models import TransformationRule
from mappings_app.transformations import TransformationError


def rule(**values):
    values.setdefault("code", "R")
    return TransformationRule(**values)


@pytest.mark.parametrize(
    ("values", "given", "expected"),
    [
        ({"type": T.TRIM}, "  Adatum  ", "Adatum"),
        ({"type": T.UPPERCASE}, "eur", "EUR"),
        ({"type": T.LOWERCASE}, "Info@X.COM", "info@x.com"),
        ({"type": T.TITLECASE}, "john roberts", "John Roberts"),
        (
            {"type": T.REPLACE, "find_value": "ltd.", "replace_value": "Limited"},
            "Coho Ltd.",
            "Coho Limited",
        ),
        (
            {"type": T.REPLACE, "find_value": "ltd.", "replace_value": "X", "case_sensitive": True},
            "Coho Ltd.",
            "Coho Ltd.",
        ),
        ({"type": T.REGEX_EXTRACT, "regex": r"(\d{5})"}, "Atlanta 31772 GA", "31772"),
        ({"type": T.REGEX_EXTRACT, "regex": r"\d+"}, "no digits", ""),
        ({"type": T.REGEX_REPLACE, "regex": r"\s+", "replace_value": " "}, "a   b", "a b"),
        ({"type": T.SUBSTRING, "start_position": 2, "length": 3}, "C00010", "000"),
        ({"type": T.SUBSTRING, "start_position": 4}, "C00010", "010"),
        ({"type": T.ROUND, "precision": Decimal("0.01")}, Decimal("10.005"), Decimal("10.01")),
        (
            {
                "type": T.ROUND,
                "precision": Decimal("5"),
                "rounding_direction": RoundingDirection.DOWN,
            },
            Decimal("14"),
            Decimal("10"),
        ),
        (
            {
                "type": T.ROUND,
                "precision": Decimal("1"),
                "rounding_direction": RoundingDirection.UP,
            },
            "1.2",
            Decimal("2"),
        ),
        ({"type": T.DATE_FORMAT, "date_format": "%d.%m.%Y"}, date(2026, 3, 9), "09.03.2026"),
        ({"type": T.DATE_FORMAT, "date_format": "%Y/%m"}, "2026-03-09T10:00:00Z", "2026/03"),
        ({"type": T.LOOKUP, "lookup_table": {"DHL": "2", "UPS": "4"}}, "ups", "4"),
        ({"type": T.LOOKUP, "lookup_table": {"DHL": "2"}, "lookup_default": "7"}, "FEDEX", "7"),
        ({"type": T.LOOKUP, "lookup_table": {"DHL": "2"}}, "FEDEX", "FEDEX"),
        ({"type": T.LOOKUP, "lookup_table": {"true": "1", "false": "0"}}, True, "1"),
        ({"type": T.INITIALS}, "John Roberts-Smith", "JRS"),
    ],
)
def test_each_kind(values, given, expected):
    assert rule(**values).apply(given) == expected


def test_none_stays_none():
    assert rule(type=T.UPPERCASE).apply(None) is None


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"type": T.REGEX_EXTRACT, "regex": "(unclosed"}, "regex"),
        ({"type": T.REGEX_EXTRACT}, "regex"),
        ({"type": T.REPLACE}, "find_value"),
        ({"type": T.ROUND}, "precision"),
        ({"type": T.ROUND, "precision": Decimal("0")}, "precision"),
        ({"type": T.DATE_FORMAT, "date_format": "dd.mm.yyyy"}, "date_format"),
        ({"type": T.LOOKUP}, "lookup_table"),
        ({"type": T.LOOKUP, "lookup_table": {"a": {"b": 1}}}, "lookup_table"),
    ],
)
def test_unusable_parameters_are_refused_naming_the_field(values, field):
    with pytest.raises(ValidationError) as error:
        rule(**values).clean()
    assert field in error.value.message_dict


@pytest.mark.parametrize(
    ("values", "given"),
    [
        ({"type": T.ROUND, "precision": Decimal("0.1")}, "abc"),
        ({"type": T.ROUND, "precision": Decimal("0.01")}, "1E999998"),  # overflows a decimal
        ({"type": T.ROUND, "precision": Decimal("1")}, "-1E999999"),
        ({"type": T.DATE_FORMAT, "date_format": "%Y"}, "not a date"),
        ({"type": T.DATE_FORMAT, "date_format": "%Y"}, 42),
        ({"type": T.UPPERCASE}, "x" * 20_000),
    ],
)
def test_values_a_rule_cannot_take_raise_a_clear_error(values, given):
    with pytest.raises(TransformationError, match="^R: "):
        rule(**values).apply(given)


def test_replacement_text_is_never_a_template_or_code():
    hostile = rule(type=T.REGEX_REPLACE, regex="(a)", replace_value=r"\1{__import__('os')}")
    assert hostile.apply("a") == r"\1{__import__('os')}"
