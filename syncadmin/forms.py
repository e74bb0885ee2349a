"""Form helpers shared by every app."""

from django import forms
from django.db import models


class BootstrapFormMixin:
    """Gives each widget Bootstrap's classes, and marks fields with errors as invalid."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for bound in self.fields.values():
            widget = bound.widget
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, (forms.Select, forms.SelectMultiple)):
                css = "form-select"
            else:
                css = "form-control"
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()
            if isinstance(widget, forms.DateInput):
                widget.input_type = "date"

    def full_clean(self):
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid"
                widget.attrs["aria-invalid"] = "true"


class BootstrapModelForm(BootstrapFormMixin, forms.ModelForm):
    pass


def formfield(db_field, **kwargs):
    """Form fields of model forms; URLs assume https (Django 6's default) without warnings."""
    if isinstance(db_field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return db_field.formfield(**kwargs)


MAX_ID = 2**63 - 1  # the largest id a database column holds


def selected_pks(values) -> list[int]:
    """The ids ticked in a bulk form; anything else (text, "²", an id no column holds) is not
    an id of a row and is left out."""
    return [int(v) for v in values
            if v.isascii() and v.isdigit() and len(v) <= 19 and int(v) <= MAX_ID]
