"""The forms of the Transformation Rule pages (the rule, its test with a sample value) and of a
mapping's preview.
"""

from django import forms

from mappings_app.forms.fields import JSONObjectField
from mappings_app.models import TransformationRule
from syncadmin.forms import BootstrapFormMixin, BootstrapModelForm


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
