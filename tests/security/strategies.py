"""Hypothesis strategies of hostile input, shared by the security tests.

`HOSTILE` is free text an attacker or a careless paste may put in a search box or a filter;
`VALUE` is anything a form field may receive from a hand-made POST: hostile text, numbers and
dates out of range, wrong types, ids of missing objects, and repeated keys (a list); `MISSING`
in a dictionary of overrides means "leave the key out".
"""

import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# The PostgreSQL leg of CI (DATABASE_URL set) runs each property with half the examples: the
# SQLite leg explores; this one checks the same properties against the production database.
SHARE = 0.5 if os.environ.get("DATABASE_URL") else 1.0

INJECTIONS = [
    "'; DROP TABLE erp_app_customer; --", "__import__('os').system('id')", "{{ 7*7 }}",
    "{% debug %}", "${7*7}", "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>',
    "name = 'x' OR 1=1", "((((((", "id = 1 AND password != empty", "company.people.name = x",
    "Microsoft.Dynamics.CRM.In(", "../../etc/passwd", "%s%s%s%n", "\\", "'", '"',
]
UNICODE = [
    "\x00", "a\x00b", "\u202eevil\u202c", "\u200f\u05e9\u05dc\u05d5\u05dd", "👩‍👩‍👧‍👦🏳️‍🌈",
    "e\u0301\u0301\u0301\u0301", "Z̸̡̢̛̗̘̙̜̝̞̟̠̣̤̥", "\ufeff", "\ud7ff\ue000\uffff", "\r\n\t",
    "１２３", "²", "٣", "ǅ", "ß" * 40,
]
HUGE = ["a" * 5000, "9" * 400, "😀" * 300, "x" * 100_001]

HOSTILE = st.one_of(
    st.text(max_size=120),
    st.sampled_from([*INJECTIONS, *UNICODE, "a" * 5000]),
)

NUMBERS = st.sampled_from([
    "-1", "0", "-0", "1.5", "-2147483649", "2147483648", "9223372036854775808", "9" * 30,
    "1e400", "-1e400", "1E+999999999", "1E999998", "-1E999999", "NaN", "Infinity", "-inf",
    "0.000000000000000000001",
    "123456789012345678901234567890.123456789", "1,5", "1_000", " 7 ", "0x10", "１２３", "²",
    "4" * 4400,
]) | st.integers(min_value=-(2**70), max_value=2**70).map(str) \
    | st.decimals(allow_nan=True, allow_infinity=True, places=None).map(str)

DATES = st.sampled_from([
    "0000-00-00", "0001-01-01", "9999-12-31", "10000-01-01", "-0001-01-01", "2024-02-30",
    "1900-02-29", "2024-13-01", "2024-1-1", "01/02/2024", "2024-01-01T25:61:61", "now", "today",
    "1970-01-01 00:00:00+99:00", "2038-01-19T03:14:08Z",
])

IDS = st.sampled_from(["0", "-1", "999999999", "9" * 30, "abc", "1.0", "1 OR 1=1", "²", "٣",
                       "None", "null", "[]", "{}", "00000000-0000-0000-0000-000000000000"]) \
    | st.integers(min_value=-(2**64), max_value=2**64).map(str)

JSONS = st.sampled_from([
    "{", "[]", "null", "1", '"text"', '{"a": {"b": {"c": [1, 2, 3]}}}', '{"\\u0000": 1}',
    '{"name": "\\u0000"}', '{"name": "\\ud800"}', "[" * 2000 + "]" * 2000, '{"a": 1e999}',
    '{"__proto__": {}}', '{"name": "{{ 7*7 }}"}', "NaN", '{"a": NaN}', '{"a": Infinity}',
])

SCALAR = st.one_of(HOSTILE, NUMBERS, DATES, IDS, JSONS, st.sampled_from(HUGE),
                   st.just(""), st.sampled_from(["on", "off", "true", "false", "yes", "no"]))

MISSING = object()
VALUE = st.one_of(
    SCALAR,
    st.lists(SCALAR, min_size=2, max_size=3),  # the same key posted more than once
    st.just(MISSING),
)

FAST = settings(max_examples=int(40 * SHARE), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def few(n: int):
    """Settings for tests whose examples are whole requests: n examples, no deadline."""
    return settings(max_examples=max(5, int(n * SHARE)), deadline=None, derandomize=False,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow,
                                           HealthCheck.data_too_large])


def overrides(names):
    """A few of `names` given hostile values (or left out)."""
    return st.dictionaries(st.sampled_from(sorted(names)), VALUE, min_size=1, max_size=4)


def apply(data: dict, changes: dict) -> dict:
    """The POST data with the changes applied (MISSING removes the key)."""
    result = dict(data)
    for key, value in changes.items():
        if value is MISSING:
            result.pop(key, None)
        else:
            result[key] = value
    return result
