"""The form fuzz tests (test_form_fuzz_*.py) feed every form and action random and hostile
values as an administrator (so permission is never what refuses). Here: what every answer must
satisfy, and how they post: no server error, a refusal names the field it refuses, nothing
half-saved. The CRM answers nothing (its address is a closed port, see conftest.py): the forms
fall back on the cached metadata, and the actions that would reach the CRM say so in a message.
Each hypothesis example runs in a savepoint rolled back afterwards (`rolled_back`), so examples
never see each other's writes."""

import html
from contextlib import contextmanager
from html.parser import HTMLParser

from django.contrib.messages import get_messages
from django.db import transaction

from mappings_app.models import (
    Connection,
    FieldMapping,
    TableMapping,
    TransformationRule,
)


# --- what every answer must satisfy -------------------------------------------------------------
class _Fields(HTMLParser):
    """The form controls of a page: name -> [attributes of each element with that name]."""

    def __init__(self):
        super().__init__()
        self.controls = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("input", "select", "textarea") and attrs.get("name"):
            self.controls.setdefault(attrs["name"], []).append(attrs)


def controls(response) -> dict:
    parser = _Fields()
    parser.feed(response.content.decode())
    return parser.controls


def said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def assert_names_the_fields(response, form):
    """The refusal shows each error, and marks the field it belongs to or names it."""
    page = response.content.decode()
    found = controls(response)
    assert form.errors, "refused without an error"
    for name, messages in form.errors.items():
        assert name == "__all__" or name in form.fields, f"error on an unknown field {name!r}"
        field = form.fields.get(name)
        for message in messages:
            assert html.escape(message) in page, f"{name}: {message!r} is not shown"
        if field is None:
            continue
        label = str(field.label or name)
        named = any(html.escape(f"{label}: {m}") in page or label.lower() in m.lower()
                    for m in messages)
        marked = not field.widget.is_hidden and any(
            e.get("aria-invalid") == "true" for e in found.get(form.add_prefix(name), []))
        assert named or marked, f"the error of {name!r} neither marks nor names the field"


def assert_answered(response, *allowed):
    """No server error (the test client raises one), and an expected status."""
    assert response.status_code in (allowed or (200, 302)), response.status_code


def rows(*model_classes):
    """Everything stored in these tables, to show that a refusal saved nothing."""
    return {m.__name__: list(m.objects.order_by("pk").values()) for m in model_classes}


@contextmanager
def rolled_back():
    """One hypothesis example: its writes are undone when it ends."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def post_form(client, url, data, tables, context_key="form"):
    """Posts a form; a refusal must name its fields and leave every table as it was."""
    before = rows(*tables)
    response = client.post(url, data)
    assert_answered(response)
    form = response.context[context_key] if response.status_code == 200 else None
    if form is not None and form.is_bound and form.is_valid():
        assert said(response), "a valid form was shown again without a word"  # e.g. CRM away
    elif form is not None:
        assert_names_the_fields(response, form)
        assert rows(*tables) == before, "a refused form saved something"
    return response


def post_data(form) -> dict:
    """What a browser posts for an unbound form as it is shown."""
    data = {}
    for name in form.fields:
        value = form[name].value()
        if isinstance(value, bool):
            if value:
                data[form.add_prefix(name)] = "on"
            continue
        if value is None:
            value = ""
        if isinstance(value, (list, tuple)):
            value = [str(v) for v in value]
        elif hasattr(value, "pk"):
            value = value.pk
        data[form.add_prefix(name)] = value if isinstance(value, list) else str(value)
    return data


MAPPING_TABLES = (TableMapping, FieldMapping, TransformationRule, Connection)

