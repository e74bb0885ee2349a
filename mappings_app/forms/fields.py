"""Form fields of the mappings pages that take more care than Django's own: a JSON object every
database stores, and ids a database column holds.
"""

import json
import math

from django import forms
from django.core.exceptions import ValidationError

from syncadmin.forms import MAX_ID


class JSONObjectField(forms.JSONField):
    """A JSON object that every database stores: no NaN or Infinity, no NUL character or lone
    surrogate (PostgreSQL's jsonb refuses them), nested no deeper than a person types."""

    MAX_DEPTH = 20
    default_error_messages = {"not_object": 'Enter a JSON object, e.g. {"name": "value"}.'}

    @staticmethod
    def _number(text):
        number = float(text)
        if not math.isfinite(number):
            raise ValueError(text)
        return number

    def _loads(self, text):
        return json.loads(text, parse_float=self._number, parse_constant=self._refuse)

    @staticmethod
    def _refuse(text):
        raise ValueError(text)

    def _problem(self, value, depth=0):
        if depth > self.MAX_DEPTH:
            return f"Nested more than {self.MAX_DEPTH} levels deep."
        if isinstance(value, dict):
            items = [*value.keys(), *value.values()]
        elif isinstance(value, list):
            items = value
        elif isinstance(value, str):
            if "\x00" in value:
                return "A text contains a NUL character (\\u0000)."
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return "A text contains an unpaired surrogate (\\ud800-\\udfff)."
            return None
        else:
            return None
        return next(filter(None, (self._problem(item, depth + 1) for item in items)), None)

    def to_python(self, value):
        if self.disabled:
            return value
        if value in self.empty_values:
            return {}
        if isinstance(value, str):
            try:
                value = self._loads(value)
            except (ValueError, RecursionError):
                raise ValidationError(self.error_messages["invalid"], code="invalid") from None
        if not isinstance(value, dict):
            raise ValidationError(self.error_messages["not_object"], code="invalid")
        problem = self._problem(value)
        if problem:
            raise ValidationError(problem, code="invalid")
        return value

    def bound_data(self, data, initial):
        if self.disabled:
            return initial
        if data is None:
            return None
        try:
            value = self._loads(data)
        except (ValueError, RecursionError):
            return forms.fields.InvalidJSONInput(data)
        # A refused value is shown again as typed: parsed, an escaped lone surrogate would be
        # written back into the page as a character no encoding can send.
        return forms.fields.InvalidJSONInput(data) if self._problem(value) else value


class IdsField(forms.ModelMultipleChoiceField):
    """Ids a database column holds; a larger number is refused before it reaches the query."""

    def _check_values(self, value):
        if any(str(v).isascii() and str(v).isdigit() and int(str(v)) > MAX_ID for v in value):
            raise ValidationError(self.error_messages["invalid_pk_value"],
                                  code="invalid_pk_value", params={"pk": "…"})
        return super()._check_values(value)
