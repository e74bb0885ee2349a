"""The forms of the Connection Setup, Integration Table Mapping and Integration Field Mapping
pages.

Validation is the models' own (`clean()` → mappings_app.validation, which reads only cached CRM
metadata); these forms read the CRM's metadata (on a cache miss) before the model validates, and
add the dependency-cycle check. They never show or take the client secret.
"""

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from dataverse.errors import DataverseError
from mappings_app import metadata, order
from mappings_app.forms.choices import (
    attribute_choices,
    entity_choices,
    local_field_choices,
    local_model_choices,
)
from mappings_app.forms.fields import IdsField, JSONObjectField
from mappings_app.models import Connection, FieldMapping, TableMapping, TransformationRule
from syncadmin.forms import BootstrapModelForm, formfield


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
        # Every editable field (the page groups them in tabs); the watermarks have their own
        # action (Reset watermarks), never a field to type in.
        exclude = ["local_synced_until", "remote_synced_until"]
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
        if entity:
            # Read here, from the CRM when not cached yet: the model's clean() reads the cache only.
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
