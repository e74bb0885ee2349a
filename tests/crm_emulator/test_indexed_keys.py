"""Indexed attributes (crm_emulator/keys.py): `eq` and `In` on the primary name, the Quick Find
columns and the natural keys read an index kept in step with every write, and compare as
Dataverse's SQL collation does (case and trailing spaces ignored)."""

from importlib import import_module

import pytest
from django.apps import apps as django_apps
from django.db import connections
from django.test.utils import CaptureQueriesContext

from crm_emulator import keys
from crm_emulator.models import Key
from tests.crm_emulator.conftest import new_id

pytestmark = pytest.mark.django_db(databases=["default", "crm"])
IN = "Microsoft.Dynamics.CRM.In(PropertyName='accountnumber',PropertyValues=[{}])"


def names(api, query):
    response = api.get(f"accounts?$select=name&$filter={query}")
    assert response.status_code == 200, response.content
    return sorted(row["name"] for row in response.json()["value"])


def test_in_compares_as_the_collation_does(api):
    api.create("accounts", {"name": "Upper", "accountnumber": "C-1 "})
    api.create("accounts", {"name": "Other", "accountnumber": "C-2"})
    assert names(api, IN.format("'c-1'")) == ["Upper"]
    assert names(api, IN.format("'C-1','c-2  '")) == ["Other", "Upper"]
    assert names(api, "accountnumber eq 'c-2'") == ["Other"]
    assert names(api, "name eq 'UPPER'") == ["Upper"]


def test_indexed_filters_read_the_index_not_the_table(api):
    api.create("accounts", {"name": "Fabrikam", "accountnumber": "C-1"})
    with CaptureQueriesContext(connections["crm"]) as queries:
        assert names(api, IN.format("'C-1'")) == ["Fabrikam"]
    reads = [q["sql"] for q in queries.captured_queries if "accountnumber" in q["sql"]
             or Key._meta.db_table in q["sql"]]
    assert reads and all(Key._meta.db_table in sql for sql in reads)
    assert not any("json" in sql.lower() or "->" in sql for sql in reads)


def test_a_match_read_of_two_priorities_is_one_read_of_the_index(api):
    """`In(no, …) or In(name, …)`, as the engine's match before create asks: one union of two
    index reads; `rowid IN (…) OR rowid IN (…)` would walk the whole table on SQLite."""
    api.create("accounts", {"name": "By number", "accountnumber": "C-1"})
    api.create("accounts", {"name": "By name"})
    api.create("accounts", {"name": "Neither", "accountnumber": "C-9"})
    by_name = "Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=['by NAME'])"
    with CaptureQueriesContext(connections["crm"]) as queries:
        assert names(api, f"{IN.format(chr(39) + 'c-1' + chr(39))} or {by_name}") == [
            "By name", "By number"]
    reads = [q["sql"] for q in queries.captured_queries if Key._meta.db_table in q["sql"]]
    assert len(reads) == 1 and reads[0].count(" OR ") == 0 and "UNION" in reads[0]


def test_the_index_follows_updates_and_deletions(api):
    rowid = new_id()
    api.create("accounts", {"accountid": rowid, "name": "Fabrikam", "accountnumber": "OLD"})
    assert api.patch(f"accounts({rowid})", {"accountnumber": "NEW"},
                     {"If-Match": "*"}).status_code == 204
    assert names(api, IN.format("'OLD'")) == []
    assert names(api, IN.format("'NEW'")) == ["Fabrikam"]
    assert api.patch(f"accounts({rowid})", {"accountnumber": None},
                     {"If-Match": "*"}).status_code == 204
    assert names(api, IN.format("'NEW'")) == []
    assert set(Key.objects.filter(rowid=rowid).values_list("attribute", flat=True)) == {"name"}
    assert api.delete(f"accounts({rowid})").status_code == 204
    assert names(api, "name eq 'Fabrikam'") == []
    assert not Key.objects.filter(rowid=rowid).exists()


def test_a_value_too_long_for_the_index_is_compared_on_the_table(api):
    domain = "d" * (keys.KEY_LENGTH + 50)
    user = api.create("systemusers", {"lastname": "Long", "domainname": domain})
    assert not Key.objects.filter(rowid=user["systemuserid"], attribute="domainname").exists()
    response = api.get(f"systemusers?$select=lastname&$filter=domainname eq '{domain.upper()}'")
    assert [row["lastname"] for row in response.json()["value"]] == ["Long"]


def test_not_in_keeps_rows_without_a_value_out_as_sql_does(api):
    api.create("accounts", {"name": "One", "accountnumber": "1"})
    api.create("accounts", {"name": "Two", "accountnumber": "2"})
    api.create("accounts", {"name": "None"})
    not_in = "Microsoft.Dynamics.CRM.NotIn(PropertyName='accountnumber',PropertyValues=['1'])"
    assert names(api, not_in) == ["Two"]
    assert names(api, "not (accountnumber eq '1')") == ["Two"]


def test_rows_stored_before_the_index_existed_are_indexed_by_the_migration(api):
    migration = import_module("crm_emulator.migrations.0003_key")
    rowid = api.create("accounts", {"name": "Before ", "accountnumber": "B-1"})["accountid"]
    indexed = sorted(Key.objects.values_list("entity", "attribute", "value", "rowid"))
    Key.objects.all().delete()
    assert names(api, IN.format("'B-1'")) == []

    class Editor:
        connection = connections["crm"]

    migration.index_existing_rows(django_apps, Editor())
    assert names(api, IN.format("'B-1'")) == ["Before "]
    assert sorted(Key.objects.values_list("entity", "attribute", "value", "rowid")) == indexed
    assert dict(Key.objects.filter(rowid=rowid).values_list("attribute", "value")) == {
        "name": "before", "accountnumber": "b-1"}
