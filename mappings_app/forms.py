"""Forms of the mappings pages: connection, table mapping, field mappings, rules, tests, preview.

Validation is the models' own (`clean()` → mappings_app.validation); the forms add the choice
lists (installed tables, CRM entities and attributes, ERP field paths) and the dependency-cycle
check, and never show or take the client secret.
"""

import json
import math

from django import forms
from django.apps import apps
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.utils.text import capfirst

from dataverse.errors import DataverseError
from mappings_app import metadata, order
from mappings_app.models import (
    Connection,
    EntityMetadata,
    FieldMapping,
    TableMapping,
    TransformationRule,
)
from syncadmin.forms import MAX_ID, BootstrapFormMixin, BootstrapModelForm, formfield

# Django's own tables and the product's bookkeeping (mappings, couplings, the embedded CRM's
# storage) are never synchronized; every other installed app's concrete tables may be.
OWN_APPS = {"mappings_app", "couplings_app", "crm_emulator", "django_q"}


def local_model_choices() -> list[tuple[str, str]]:
    """Installed concrete models as app_label.modelname, the ERP's first."""
    found = []
    for model in apps.get_models():
        opts = model._meta
        config = opts.app_config
        if config.name.startswith("django.") or opts.app_label in OWN_APPS:
            continue
        if opts.abstract or opts.proxy or opts.auto_created:
            continue
        found.append(
            (opts.app_label != "erp_app", opts.app_label, opts.verbose_name, opts.label_lower)
        )
    found.sort(key=lambda item: (item[0], item[1], str(item[2])))
    return [(value, f"{capfirst(label)} ({value})") for _, _, label, value in found]


# What a table filter never needs: the row id and the bookkeeping fields every ERP table has.
FILTER_SKIPPED = {"id", "system_id", "modified_at"}
NUMBERS = (models.DecimalField, models.IntegerField, models.FloatField)


def _filter_fields(model):
    fields = [f for f in model._meta.concrete_fields
              if f.name not in FILTER_SKIPPED and not f.primary_key]
    first = ("no", "code", "name", "description", "type")  # what a person filters on first
    return sorted(fields, key=lambda f: first.index(f.name) if f.name in first else len(first))


def _first(fields, test):
    return next((f for f in fields if test(f)), None)


def _key_of(model) -> str | None:
    names = {f.name for f in model._meta.concrete_fields}
    return next((n for n in ("code", "no", "name") if n in names), None)


def table_filter_hint(model) -> dict | None:
    """The Table Filter's hint for one ERP table: some of its field names, a reference followed
    to its record's field, and examples that name its own fields (each one parses)."""
    from mappings_app.local_filter import FilterError, parse

    if model is None:
        return None
    fields = _filter_fields(model)
    choice = _first(fields, lambda f: f.choices and not f.is_relation)
    boolean = _first(fields, lambda f: isinstance(f, models.BooleanField))
    nullable = _first(fields, lambda f: f.is_relation and f.null)
    reference = nullable or _first(fields, lambda f: f.is_relation)
    number = _first(fields, lambda f: isinstance(f, models.DecimalField)) or _first(
        fields, lambda f: isinstance(f, NUMBERS) and not f.is_relation)
    date = _first(fields, lambda f: isinstance(f, models.DateField)
                  and not isinstance(f, models.DateTimeField))
    city = _first(fields, lambda f: f.name == "city")
    text = _first(fields, lambda f: f.name in ("name", "description")) or _first(
        fields, lambda f: isinstance(f, models.CharField) and not f.choices
        and f.name not in ("no", "code"))
    # A party's name (customer, vendor, contact) is a company's; other texts are descriptions.
    like = (f"{text.name} contains 'Corp'" if city and text.name == "name"
            else f"{text.name} startswith A") if text else None
    candidates = []
    if choice:
        value = choice.flatchoices[0][0]
        candidates.append(f"{choice.name} = {value}"
                          + (f" AND {nullable.name} != empty" if nullable else ""))
    if city:
        candidates.append("(city = 'New York' OR city = Boston)"
                          + (f" AND NOT {boolean.name} = true" if boolean else ""))
    elif boolean:
        candidates.append(f"{boolean.name} = false")
    if number:
        candidates.append(f"{number.name} >= 1000" + (f" AND {like}" if like else ""))
    elif like:
        candidates.append(like)
    if date:
        candidates.append(f"{date.name} >= 2024-01-01")
    if nullable and not choice:
        candidates.append(f"{nullable.name} != empty")
    if text and len(candidates) < 2:
        candidates.append(f"NOT {text.name} = empty")
    examples = []
    for candidate in candidates:
        try:
            parse(model, candidate)
        except (FilterError, ValidationError, ValueError):
            continue
        examples.append(candidate)
    follow = None
    if reference is not None and _key_of(reference.related_model):
        follow = f"{reference.name}.{_key_of(reference.related_model)}"
    return {"table": capfirst(model._meta.verbose_name), "fields": [f.name for f in fields][:10],
            "more_fields": max(0, len(fields) - 10), "reference": follow,
            "examples": examples[:3]}


def table_filter_hints() -> dict[str, dict]:
    """table_filter_hint of every table the Table field offers, by app_label.model."""
    hints = {}
    for value, _ in local_model_choices():
        try:
            hints[value] = table_filter_hint(apps.get_model(value))
        except (LookupError, ValueError):
            continue
    return hints


def entity_choices(current: str = "") -> list[tuple[str, str]]:
    """The CRM's entities: from EntityDefinitions when the CRM answers, else the cached ones."""
    names = {}
    try:
        from mappings_app.connection import crm_client

        with crm_client() as client:
            for definition in client.entity_definitions():
                names[definition["LogicalName"]] = definition.get("EntitySetName") or ""
    except (DataverseError, OSError):
        pass
    for logical_name, entity_set in EntityMetadata.objects.values_list(
        "logical_name", "entity_set"
    ):
        names.setdefault(logical_name, entity_set)
    if current and metadata.LOGICAL_NAME.fullmatch(current):
        names.setdefault(current, "")
    return [("", "---------")] + [
        (name, f"{name} ({entity_set})" if entity_set else name)
        for name, entity_set in sorted(names.items())
    ]


def local_field_choices(model, current: str = "") -> list:
    """The model's fields, then one level of foreign-key paths (company.customer) per reference."""
    if model is None:
        return [(current, current)] if current else []
    direct, grouped, known = [], [], set()
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        direct.append((field.name, f"{field.name} · {field.verbose_name}"))
        known.add(field.name)
        if field.is_relation:
            related = field.related_model
            paths = [
                (f"{field.name}.{sub.name}", f"{field.name}.{sub.name} · {sub.verbose_name}")
                for sub in related._meta.concrete_fields
                if not sub.primary_key
            ]
            known.update(path for path, _ in paths)
            grouped.append((f"via {field.name} ({related._meta.verbose_name})", paths))
    choices = [("", "— none (constant) —"), ("Fields", direct), *grouped]
    if current and current not in known:
        choices.insert(1, (current, current))
    return choices


def attribute_choices(entity: str, current: str = "") -> list | None:
    """The CRM entity's attributes with their type, or None when its metadata cannot be read."""
    try:
        attributes = metadata.attributes(entity)
    except (metadata.MetadataUnavailable, DataverseError, OSError):
        return None
    choices = [("", "— none (constant) —")]
    for name, attribute in sorted(attributes.items()):
        detail = attribute["type"]
        if attribute.get("max_length"):
            detail += f", max {attribute['max_length']}"
        if attribute.get("targets"):
            detail += " → " + ", ".join(attribute["targets"])
        choices.append((name, f"{name} ({detail})"))
    names = {c[0] for c in choices}
    if current and current not in names:
        choices.append((current, current))
    return choices


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


class ConnectionForm(BootstrapModelForm):
    """The connection's settings; the secret is not among them (CRM_CLIENT_SECRET only)."""

    class Meta:
        model = Connection
        fields = ["service_root", "tenant_id", "client_id", "local_currency_code"]
        formfield_callback = formfield


class TableMappingForm(BootstrapModelForm):
    local_model = forms.ChoiceField(label="Table")
    remote_entity = forms.ChoiceField(label="Integration Table")

    class Meta:
        model = TableMapping
        fields = [
            "name",
            "description",
            "local_model",
            "remote_entity",
            "remote_entity_set",
            "remote_key",
            "remote_modified_attribute",
            "direction",
            "is_enabled",
            "priority",
            "dependencies",
            "sync_only_coupled",
            "create_new_if_no_match",
            "sync_after_coupling",
            "update_conflict_resolution",
            "deletion_conflict_resolution",
            "delete_remote_with_local",
            "local_filter",
            "remote_filter",
            "local_template",
            "remote_template",
            "schedule_minutes",
            "inactivity_timeout_minutes",
            "disable_event_rescheduling",
        ]
        field_classes = {"local_template": JSONObjectField, "remote_template": JSONObjectField,
                         "dependencies": IdsField}
        widgets = {
            "local_filter": forms.Textarea(attrs={"rows": 2, "class": "font-monospace"}),
            "remote_filter": forms.Textarea(attrs={"rows": 2, "class": "font-monospace"}),
            "local_template": forms.Textarea(attrs={"rows": 3, "class": "font-monospace"}),
            "remote_template": forms.Textarea(attrs={"rows": 3, "class": "font-monospace"}),
            "dependencies": forms.SelectMultiple(attrs={"size": 6}),
        }
        help_texts = {
            "remote_entity_set": "Empty: taken from the CRM's description of the entity.",
            "remote_key": "Empty: the entity's primary id, e.g. accountid.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        instance = self.instance
        self.fields["local_model"].choices = [("", "---------")] + local_model_choices()
        current = self.data.get("remote_entity") if self.is_bound else instance.remote_entity
        self.fields["remote_entity"].choices = entity_choices(current or "")
        self.fields["remote_entity"].help_text = TableMapping._meta.get_field(
            "remote_entity"
        ).help_text
        self.fields[
            "local_model"
        ].help_text = "The ERP table. Any installed app's table may be synchronized."
        self.fields["remote_entity_set"].required = False
        self.fields["remote_key"].required = False
        dependencies = self.fields["dependencies"]
        if instance.pk:
            dependencies.queryset = TableMapping.objects.exclude(pk=instance.pk)
        for name in ("local_model", "remote_entity"):
            widget = self.fields[name].widget
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} form-select".strip()

    def clean(self):
        data = super().clean()
        entity = data.get("remote_entity")
        if entity and (not data.get("remote_entity_set") or not data.get("remote_key")):
            try:
                described = metadata.entity(entity)
            except (metadata.MetadataUnavailable, DataverseError, OSError):
                described = None  # the model's clean() says what is wrong with the entity
            if described is not None:
                data["remote_entity_set"] = data.get("remote_entity_set") or described.entity_set
                data["remote_key"] = data.get("remote_key") or described.primary_id
                self.instance.remote_entity_set = data["remote_entity_set"]
                self.instance.remote_key = data["remote_key"]
        for name in ("remote_entity_set", "remote_key"):
            if entity and not data.get(name) and name not in self.errors:
                self.add_error(name, "Enter it: the CRM's description of the entity is missing.")
        return data

    def clean_dependencies(self):
        dependencies = self.cleaned_data["dependencies"]
        if self.instance.pk and dependencies:
            try:
                order.check_no_cycle(self.instance, dependencies)
            except ValidationError as exc:
                raise ValidationError(exc.message_dict["dependencies"]) from None
        return dependencies


class FieldMappingForm(BootstrapModelForm):
    """One row of the Integration Field Mapping page."""

    local_field = forms.ChoiceField(label="Field Name", required=False)
    remote_attribute = forms.ChoiceField(label="Integration Table Field Name", required=False)

    class Meta:
        model = FieldMapping
        fields = [
            "position",
            "is_enabled",
            "local_field",
            "direction",
            "remote_attribute",
            "constant_value",
            "transformation_rule",
            "transformation_direction",
            "lookup_mapping",
            "validate_field",
            "clear_value_on_failed_sync",
            "not_null",
            "use_for_matching",
            "case_sensitive_matching",
            "match_priority",
        ]
        widgets = {
            "position": forms.NumberInput(attrs={"style": "width: 4.5em"}),
            "match_priority": forms.NumberInput(attrs={"style": "width: 4.5em"}),
        }

    def __init__(
        self,
        *args,
        table_mapping=None,
        local_choices=None,
        remote_choices=None,
        mappings=None,
        rules=None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        instance = self.instance
        self._set_choices("local_field", local_choices, instance.local_field)
        if remote_choices is None:
            self.fields["remote_attribute"] = forms.CharField(
                label="Integration Table Field Name", required=False, max_length=100
            )
            self.fields["remote_attribute"].widget.attrs["class"] = "form-control"
        else:
            self._set_choices("remote_attribute", remote_choices, instance.remote_attribute)
        if mappings is not None:
            self.fields["lookup_mapping"].queryset = mappings
        if rules is not None:
            self.fields["transformation_rule"].queryset = rules
        for name in self.fields:
            widget = self.fields[name].widget
            if not isinstance(widget, forms.CheckboxInput):
                css = widget.attrs.get("class", "")
                widget.attrs["class"] = css.replace("form-control", "form-control form-control-sm")
                widget.attrs["class"] = widget.attrs["class"].replace(
                    "form-select", "form-select form-select-sm"
                )
            widget.attrs.setdefault("aria-label", str(self.fields[name].label))

    def full_clean(self):
        super().full_clean()
        # A row's hidden fields (its id, its table mapping) show no message of their own: their
        # refusal (a stale or altered page) is said at the top of the row.
        for name in [n for n in self._errors if n in self.fields
                     and self.fields[n].widget.is_hidden]:
            for message in self._errors.pop(name):
                self._errors.setdefault(
                    NON_FIELD_ERRORS, self.error_class(error_class="nonfield")
                ).append(f"The row's hidden field {name!r}: {message} Reload the page.")

    def _set_choices(self, name, choices, current):
        field = self.fields[name]
        choices = list(choices or [])
        flat = {
            value
            for value, label in choices
            for value in ([v for v, _ in label] if isinstance(label, list) else [value])
        }
        if current and current not in flat:
            choices.insert(1, (current, current))
        field.choices = choices
        field.widget.attrs["class"] = "form-select"


class BaseFieldMappingFormSet(forms.BaseInlineFormSet):
    max_rows = 300  # far more fields than any ERP table has

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        mapping = self.instance
        self.local_choices = local_field_choices(mapping.local_model_class)
        self.remote_choices = attribute_choices(mapping.remote_entity)
        self.mappings = TableMapping.objects.all()
        self.rules = TransformationRule.objects.all()

    def total_form_count(self):
        total = super().total_form_count()
        management = self.management_form if self.is_bound else None
        if management is not None and management.is_valid() \
                and management.cleaned_data["TOTAL_FORMS"] > self.max_rows:
            # Refused ("Please submit at most ..."): only the stored rows are shown again.
            return min(total, self.initial_form_count())
        return total

    def get_form_kwargs(self, index):
        kwargs = super().get_form_kwargs(index)
        kwargs.update(
            table_mapping=self.instance,
            local_choices=self.local_choices,
            remote_choices=self.remote_choices,
            mappings=self.mappings,
            rules=self.rules,
        )
        return kwargs

    @property
    def empty_form(self):
        form = self.form(
            auto_id=self.auto_id,
            prefix=self.add_prefix("__prefix__"),
            empty_permitted=True,
            use_required_attribute=False,
            **self.get_form_kwargs(None),
            renderer=self.renderer,
        )
        self.add_fields(form, None)
        return form

    def clean(self):
        super().clean()
        # The lookups a field mapping adds must not make the mappings wait on each other.
        lookups = [
            form.cleaned_data["lookup_mapping"]
            for form in self.forms
            if getattr(form, "cleaned_data", None)
            and not form.cleaned_data.get("DELETE")
            and form.cleaned_data.get("lookup_mapping")
            and form.cleaned_data.get("is_enabled")
            and form.cleaned_data["lookup_mapping"].pk != self.instance.pk
        ]
        if lookups:
            try:
                order.check_no_cycle(self.instance, lookups)
            except ValidationError as exc:
                raise ValidationError(
                    "Lookup Through " + " ".join(exc.message_dict["dependencies"])
                ) from None


FieldMappingFormSet = forms.inlineformset_factory(
    TableMapping,
    FieldMapping,
    form=FieldMappingForm,
    formset=BaseFieldMappingFormSet,
    fk_name="table_mapping",
    extra=1,
    can_delete=True,
    # Bounded: a tampered TOTAL_FORMS must not make the page build thousands of rows.
    max_num=BaseFieldMappingFormSet.max_rows,
    absolute_max=BaseFieldMappingFormSet.max_rows,
    validate_max=True,
)


class TransformationRuleForm(BootstrapModelForm):
    class Meta:
        model = TransformationRule
        fields = [
            "code",
            "description",
            "type",
            "find_value",
            "replace_value",
            "regex",
            "case_sensitive",
            "start_position",
            "length",
            "precision",
            "rounding_direction",
            "date_format",
            "lookup_table",
            "lookup_default",
        ]
        field_classes = {"lookup_table": JSONObjectField}
        widgets = {
            "regex": forms.TextInput(attrs={"class": "font-monospace"}),
            "lookup_table": forms.Textarea(attrs={"rows": 4, "class": "font-monospace"}),
        }


class RuleTestForm(BootstrapFormMixin, forms.Form):
    sample = forms.CharField(label="Sample value", max_length=1000, required=False, strip=False)


class PreviewForm(BootstrapFormMixin, forms.Form):
    local = forms.CharField(label="ERP record (No. or Code)", required=False, max_length=100)
    remote = forms.CharField(
        label="CRM record (id, or text to search by name)", required=False, max_length=200
    )
