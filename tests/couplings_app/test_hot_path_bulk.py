"""The bulk writes of a page store each value as the ORM would: a row is prepared with a call
only for the values whose type the database does not take as they are (a datetime, a UUID on
SQLite), and those are converted as before."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection

from couplings_app.models import Coupling
from couplings_app.sync.bulk import bulk_insert, bulk_set, new_instance, row_maker
from erp_app.models import Customer

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])


def test_a_row_holds_what_the_orm_would_write():
    fields = [f for f in Customer._meta.concrete_fields if not f.primary_key]
    customer = Customer(no="B1", name="Bulk", credit_limit_lcy=Decimal("12.50"),
                        modified_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    made = row_maker(fields, connection)(customer)
    orm = [None if (v := getattr(customer, f.attname)) is None
           else f.get_db_prep_save(v, connection) for f in fields]
    assert made == orm


def test_couplings_inserted_and_updated_in_bulk_read_back_as_written():
    when = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    remote = uuid.uuid4()
    coupling = new_instance(Coupling, local_model="erp_app.customer", local_id=7,
                            remote_entity="account", remote_id=remote,
                            local_modified_at=when, pending_create=True,
                            conflict_local={"name": "x"}, last_error="")
    bulk_insert(Coupling, [coupling])
    stored = Coupling.objects.get(pk=coupling.pk)
    assert (stored.remote_id, stored.local_modified_at, stored.pending_create,
            stored.conflict_local) == (remote, when, True, {"name": "x"})

    later = datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)
    coupling.local_modified_at, coupling.pending_create, coupling.conflict_local = \
        later, False, None
    coupling.last_error = "refused"
    bulk_set(Coupling, [coupling], ["local_modified_at", "pending_create", "conflict_local",
                                    "last_error"])
    stored = Coupling.objects.get(pk=coupling.pk)
    assert (stored.local_modified_at, stored.pending_create, stored.conflict_local,
            stored.last_error) == (later, False, None, "refused")
