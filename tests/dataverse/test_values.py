"""Values on the wire: timestamps, decimals, literals, keys, query strings."""

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from dataverse import parse_datetime, parse_decimal
from dataverse.query import build_query, in_filter, or_filter
from dataverse.values import dumps, format_datetime, id_from_entity_url, key_segment, literal, loads

GUID = "00aa00aa-bb11-cc22-dd33-44ee44ee44ee"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2024-05-01T10:20:30Z", datetime(2024, 5, 1, 10, 20, 30, tzinfo=UTC)),
        ("2024-05-01T10:20:30.123Z", datetime(2024, 5, 1, 10, 20, 30, 123000, tzinfo=UTC)),
        # .NET services send 7 fractional digits: truncated to microseconds
        ("2024-05-01T10:20:30.1234567Z", datetime(2024, 5, 1, 10, 20, 30, 123456, tzinfo=UTC)),
        ("2024-05-01T12:20:30+02:00", datetime(2024, 5, 1, 10, 20, 30, tzinfo=UTC)),
        ("2024-05-01T05:20:30.5-05:00", datetime(2024, 5, 1, 10, 20, 30, 500000, tzinfo=UTC)),
        ("2024-05-01T10:20:30", datetime(2024, 5, 1, 10, 20, 30, tzinfo=UTC)),
        ("2024-05-01T10:20Z", datetime(2024, 5, 1, 10, 20, tzinfo=UTC)),
        ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
    ],
)
def test_parse_datetime_returns_aware_utc(text, expected):
    value = parse_datetime(text)
    assert value == expected
    assert value.tzinfo is not None
    assert value.utcoffset() == timedelta(0)


def test_parse_datetime_edge_values():
    assert parse_datetime(None) is None
    assert parse_datetime("") is None
    naive = datetime(2024, 1, 1, 8, 0)
    assert parse_datetime(naive) == datetime(2024, 1, 1, 8, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_datetime("yesterday")


def test_format_datetime_is_utc_with_z():
    cet = timezone(timedelta(hours=1))
    assert format_datetime(datetime(2024, 1, 1, 9, 0, tzinfo=cet)) == "2024-01-01T08:00:00Z"
    assert format_datetime(datetime(2024, 1, 1, 8, 0, 0, 5000)) == "2024-01-01T08:00:00.005000Z"
    # round trip
    text = "2024-05-01T10:20:30.250000Z"
    assert format_datetime(parse_datetime(text)) == text


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("12.3400", Decimal("12.3400")),
        (" 5 ", Decimal("5")),
        (12, Decimal(12)),
        (0.1, Decimal("0.1")),  # not 0.1000000000000000055511151231257827...
        (Decimal("1.5"), Decimal("1.5")),
        (None, None),
        ("", None),
    ],
)
def test_parse_decimal_from_strings_and_numbers(raw, expected):
    assert parse_decimal(raw) == expected
    if expected is not None:
        assert str(parse_decimal(raw)) == str(expected)


def test_parse_decimal_rejects_garbage():
    with pytest.raises(ValueError):
        parse_decimal("12,5 EUR")
    with pytest.raises(ValueError):
        parse_decimal(True)


def test_json_keeps_money_exact_both_ways():
    text = '{"revenue": 922337203685477.1234, "n": 3, "s": "12.50"}'
    data = loads(text)
    assert data["revenue"] == Decimal("922337203685477.1234")
    assert isinstance(data["n"], int)
    out = dumps({"revenue": data["revenue"], "when": datetime(2024, 1, 1, tzinfo=UTC)})
    assert out == '{"revenue": 922337203685477.1234, "when": "2024-01-01T00:00:00Z"}'
    # A string that merely looks like a marker stays a string.
    assert loads(dumps({"x": "dec:1.5"})) == {"x": "dec:1.5"}


def test_literals_and_keys():
    assert literal(GUID) == GUID
    assert literal(uuid.UUID(GUID)) == GUID
    assert literal("O'Neil") == "'O''Neil'"
    assert literal(42) == "42"
    assert literal(True) == "true"
    assert literal(None) == "null"
    assert literal(datetime(2024, 1, 1, tzinfo=UTC)) == "2024-01-01T00:00:00Z"
    assert key_segment("accounts", GUID) == f"accounts({GUID})"
    assert key_segment("Customers", "ALFKI") == "Customers('ALFKI')"
    assert key_segment("Items", 7) == "Items(7)"


@pytest.mark.parametrize(
    "url, expected",
    [
        (f"https://org.crm.dynamics.com/api/data/v9.2/accounts({GUID})", GUID),
        (f"accounts({GUID})", GUID),
        ("http://svc/odata/Customers('AL''FKI')", "AL'FKI"),
        ("http://svc/odata/Customers(%27ALFKI%27)", "ALFKI"),
        ("http://svc/odata/Items(42)", "42"),
        ("http://svc/odata/Items(ItemNo='A1')", "A1"),
        ("http://svc/odata/Items", None),
        (None, None),
    ],
)
def test_id_from_entity_url(url, expected):
    assert id_from_entity_url(url) == expected


def test_query_uses_percent20_never_plus():
    q = build_query(
        select=["name", "accountid"],
        filter="name eq 'A&B + C' and modifiedon gt 2024-01-01T00:00:00+01:00",
        orderby="modifiedon asc",
        top=10,
    )
    assert "+" not in q
    assert " " not in q
    assert q == (
        "$select=name,accountid"
        "&$filter=name%20eq%20'A%26B%20%2B%20C'%20and%20modifiedon%20gt%202024-01-01T00:00:00%2B01:00"
        "&$orderby=modifiedon%20asc&$top=10"
    )


def test_id_filters():
    assert in_filter("accountid", ["a", "b"]) == (
        "Microsoft.Dynamics.CRM.In(PropertyName='accountid',PropertyValues=['a','b'])"
    )
    assert or_filter("accountid", [GUID, "X1"]) == f"accountid eq {GUID} or accountid eq 'X1'"
    assert or_filter("No", [1, 2]) == "No eq 1 or No eq 2"
