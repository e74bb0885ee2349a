"""Forms of the mappings pages: connection, table mapping, field mappings, rules, tests, preview.

Validation is the models' own (`clean()` → mappings_app.validation, cached metadata only); the
forms add the choice lists, read the CRM's metadata when it is not cached yet, and check that
dependencies make no cycle. One module per page group:

- choices.py: installed tables, CRM entities and attributes, ERP field paths, Table Filter hints;
- fields.py: the JSON object and id fields;
- mappings.py: Connection Setup, Integration Table Mapping, Integration Field Mapping (formset);
- rules.py: Transformation Rule, its test, the mapping preview.
"""

from mappings_app.forms.choices import (
    attribute_choices,
    entity_choices,
    local_field_choices,
    local_model_choices,
    table_filter_hint,
    table_filter_hints,
)
from mappings_app.forms.fields import IdsField, JSONObjectField
from mappings_app.forms.mappings import (
    BaseFieldMappingFormSet,
    ConnectionForm,
    FieldMappingForm,
    FieldMappingFormSet,
    TableMappingForm,
)
from mappings_app.forms.rules import PreviewForm, RuleTestForm, TransformationRuleForm

__all__ = [
    "BaseFieldMappingFormSet",
    "ConnectionForm",
    "FieldMappingForm",
    "FieldMappingFormSet",
    "IdsField",
    "JSONObjectField",
    "PreviewForm",
    "RuleTestForm",
    "TableMappingForm",
    "TransformationRuleForm",
    "attribute_choices",
    "entity_choices",
    "local_field_choices",
    "local_model_choices",
    "table_filter_hint",
    "table_filter_hints",
]
