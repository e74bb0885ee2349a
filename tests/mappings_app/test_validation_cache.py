"""A mapping's validation reads only the CRM metadata already cached: saving a mapping never asks
the CRM (no HTTP from clean()); with nothing cached it checks what it can and says the CRM's
metadata was not read yet. Only the forms (and Refresh CRM Metadata) read the CRM."""

import ast
from pathlib import Path

import pytest
import requests
from django.core.exceptions import ValidationError

from mappings_app import metadata
from mappings_app.models import EntityMetadata, FieldMapping, TableMapping

pytestmark = pytest.mark.django_db

APP = Path(__file__).resolve().parents[2] / "mappings_app"


@pytest.fixture
def no_crm(monkeypatch):
    """Any request to the CRM fails the test, and so does opening a client."""
    def refuse(*args, **kwargs):
        raise AssertionError("validation asked the CRM")

    monkeypatch.setattr(requests.Session, "request", refuse)
    monkeypatch.setattr("mappings_app.connection.crm_client", refuse)
    monkeypatch.setattr(metadata, "refresh", refuse)


def customer_mapping(**values):
    return TableMapping(name="CUSTOMER", local_model="erp_app.customer", remote_entity="account",
                        remote_entity_set="accounts", remote_key="accountid", **values)


def test_a_table_mapping_is_validated_without_asking_the_crm(no_crm):
    mapping = customer_mapping(local_filter="city = ")
    with pytest.raises(ValidationError) as refused:
        mapping.full_clean()
    errors = refused.value.message_dict
    assert errors["remote_entity"] == [
        "The CRM's metadata of 'account' was not read yet. Read it with Refresh CRM metadata on "
        "the Connection Setup page (the mapping pages read it too), then save again."]
    assert errors["local_filter"][0].startswith("Table filter:")  # what it can, it checks


def test_a_field_mapping_is_validated_without_asking_the_crm(no_crm):
    mapping = customer_mapping()
    mapping.save()
    fm = FieldMapping(table_mapping=mapping, local_field="nothing", remote_attribute="name")
    with pytest.raises(ValidationError) as refused:
        fm.full_clean()
    errors = refused.value.message_dict
    assert "Customer has no field 'nothing'." in errors["local_field"]
    assert "was not read yet" in errors["remote_attribute"][0]


def test_with_the_metadata_cached_validation_uses_it(no_crm):
    EntityMetadata.objects.create(
        logical_name="account", entity_set="accounts", primary_id="accountid",
        primary_name="name", attributes=[
            {"name": "accountid", "type": "Uniqueidentifier"},
            {"name": "modifiedon", "type": "DateTime"},
            {"name": "name", "type": "String", "max_length": 160},
            {"name": "customertypecode", "type": "Picklist", "options": {"3": "Customer"}}])
    mapping = customer_mapping()
    mapping.full_clean()
    mapping.save()
    FieldMapping(table_mapping=mapping, local_field="name", remote_attribute="name").full_clean()
    constant = FieldMapping(table_mapping=mapping, remote_attribute="customertypecode",
                            constant_value=str(2**31), direction="to_crm")
    with pytest.raises(ValidationError, match="is not an option of customertypecode"):
        constant.full_clean()


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            names.add(node.module or "")
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_the_models_import_neither_the_metadata_nor_the_connection():
    for module in ("models.py", "state.py", "kinds.py"):
        imported = _imports(APP / module)
        for name in ("mappings_app.metadata", "mappings_app.connection", "mappings_app.values"):
            assert name not in imported, (module, name)


def test_validation_never_reads_the_crm():
    imported = _imports(APP / "validation.py")
    assert "mappings_app.connection" not in imported
    assert "mappings_app.values" not in imported
    calls = [node for node in ast.walk(ast.parse((APP / "validation.py").read_text()))
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
             and isinstance(node.func.value, ast.Name) and node.func.value.id == "metadata"]
    assert calls
    for call in calls:
        assert call.func.attr != "refresh"
        if call.func.attr in ("entity", "attributes"):
            assert any(k.arg == "fetch" and k.value.value is False for k in call.keywords)
