"""The hot path's shortcuts give what the general way gives: a CRM timestamp in Dataverse's own
form parses as the general parser reads it (and a text it refuses is refused alike), a new
instance holds what the model's constructor would give it, and a UTC datetime is stored as the
ORM stores it."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection

from couplings_app.models import Coupling
from couplings_app.sync.bulk import new_instance, row_maker
from dataverse import values
from erp_app.models import Contact, Customer
from mappings_app.models import TableMapping

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])


def _general(text):
    """parse_datetime without its fast path: the text with a space around it."""
    return values.parse_datetime(f" {text} ")


@pytest.mark.parametrize("text", [
    "2026-12-03T20:22:57Z", "2026-12-03T20:22:57z", "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z", "2024-02-29T12:00:00Z",
])
def test_a_dataverse_timestamp_parses_as_the_general_parser_reads_it(text):
    parsed = values.parse_datetime(text)
    assert parsed == _general(text)
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize("text", [
    "2026-02-30T20:22:57Z", "2026-12-03T24:00:00Z", "2026-12-03T20:22:60Z",
    "0000-12-03T20:22:57Z", "2026-12-03T2a:22:57Z", "+026-12-03T20:22:57Z",
    "2026-12-03T 0:22:57Z",
])
def test_a_text_the_general_parser_refuses_is_refused(text):
    with pytest.raises(ValueError):
        _general(text)
    with pytest.raises(ValueError):
        values.parse_datetime(text)


def test_a_new_instance_holds_what_the_constructor_gives():
    given = dict(no="CT-1", type="Company", name="Contoso", customer_id=5, salesperson_id=None,
                 email="a@b.c")
    made, built = new_instance(Contact, **given), Contact(**given)
    called = ("_state", "system_id", "modified_at")  # a callable default: a value each
    assert {k: v for k, v in made.__dict__.items() if k not in called} == \
        {k: v for k, v in built.__dict__.items() if k not in called}
    assert made.system_id != built.system_id  # a callable default is called per instance


def test_a_related_record_and_plain_values_of_a_new_instance():
    mapping = TableMapping(pk=42, name="CUSTOMERS")
    made = new_instance(Coupling, mapping=mapping, local_id=3, remote_entity="account")
    assert (made.mapping_id, made.mapping, made.local_id) == (mapping.pk, mapping, 3)


def test_a_record_and_its_key_both_given_are_set_in_their_order():
    mapping = TableMapping(pk=42, name="CUSTOMERS")
    made = new_instance(Coupling, mapping=mapping, mapping_id=None)
    built = Coupling(mapping=mapping)
    built.mapping_id = None
    assert made.mapping_id is None and built.mapping_id is None
    assert made.mapping is None and built.mapping is None


@pytest.mark.parametrize("when", [
    datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
    datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2))),
])
def test_a_datetime_is_stored_as_the_orm_stores_it(when):
    field = Customer._meta.get_field("modified_at")
    assert row_maker([field], connection)(Customer(modified_at=when)) == \
        [field.get_db_prep_save(when, connection)]
