"""Comparing values of the two sides: equal means nothing to write."""

from datetime import date, datetime
from decimal import Decimal

from django.db import models

from dataverse.values import parse_datetime


def normalize(value):
    if value is None or value == "":
        return None
    if isinstance(value, models.Model):
        return ("pk", value.pk)
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, Decimal)):
        return Decimal(str(value)).normalize()
    if isinstance(value, datetime):
        return value.replace(microsecond=0)
    if isinstance(value, date):
        return value
    text = str(value)
    if _numeric(text):
        return Decimal(text.strip()).normalize()
    if _guid_like(text):
        return text.lower()
    return text


def _numeric(text: str) -> bool:
    stripped = text.strip().lstrip("-")
    return stripped.replace(".", "", 1).isdigit()


def _guid_like(text: str) -> bool:
    return len(text) == 36 and text.count("-") == 4


_CONTAINERS = (dict, list, tuple, set)  # compared by their text (order matters there)


def same(a, b) -> bool:
    # Two equal values of one type normalize alike: the common case (a value unchanged) needs
    # no normalizing. (A NaN is not equal to itself: it takes the long way.)
    if type(a) is type(b) and type(a) not in _CONTAINERS and a == b:
        return True
    return normalize(a) == normalize(b)


def remote_date_equal(remote, local) -> bool:
    """A CRM timestamp string and a Python date/datetime."""
    if remote in (None, "") or local in (None, ""):
        return remote in (None, "") and local in (None, "")
    try:
        parsed = parse_datetime(str(remote))
    except ValueError:
        return False
    if isinstance(local, datetime):
        return parsed.replace(microsecond=0) == local.replace(microsecond=0)
    if isinstance(local, date):
        return parsed.date() == local
    return same(remote, local)


def remote_stamp(row: dict, attribute: str):
    """The CRM record's modified-on, told apart within its second by the row's version.

    The CRM stamps whole seconds, so a change made in the second the sync read a record would
    carry the stamp the coupling remembers and pass for unchanged (a lost update). Every change
    increases the row's version number: it goes into the microseconds the CRM leaves empty.
    """
    modified = stamp(row.get(attribute))
    version = row.get("versionnumber")
    if modified is None or modified.microsecond or version in (None, ""):
        return modified
    return modified.replace(microsecond=int(version) % 999_999 + 1)


def stamp(value):
    """A modified-on value as an aware datetime (or None)."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value
    return parse_datetime(str(value))
