"""Pages of the mappings, one module per page family: connection (Connection Setup),
tablemappings (Integration Table Mappings), fieldmappings (Integration Field Mappings and the
preview), rules (Transformation Rules).

Views stay thin: the work is done by mappings_app's functions (check_connection,
apply_default_setup, metadata.refresh, sync_order, preview, values); adding, editing and deleting
a table mapping or a rule are syncadmin's generic views. Viewing needs the model's view
permission, every change its add/change/delete permission (403 otherwise) and a POST.
"""

from mappings_app.views.connection import (
    connection,
    connection_disable,
    connection_edit,
    connection_enable,
    connection_test,
    default_setup,
    refresh_metadata,
)
from mappings_app.views.fieldmappings import fieldmapping_list, tablemapping_preview
from mappings_app.views.rules import (
    TransformationRuleAdd,
    TransformationRuleDelete,
    TransformationRuleEdit,
    TransformationRuleListView,
    transformationrule_detail,
)
from mappings_app.views.tablemappings import (
    TableMappingAdd,
    TableMappingDelete,
    TableMappingEdit,
    TableMappingListView,
    tablemapping_bulk_disable,
    tablemapping_bulk_enable,
    tablemapping_bulk_reset,
    tablemapping_detail,
    tablemapping_reset,
    tablemapping_reset_watermarks,
)

__all__ = [
    "TableMappingAdd", "TableMappingDelete", "TableMappingEdit", "TableMappingListView",
    "TransformationRuleAdd", "TransformationRuleDelete", "TransformationRuleEdit",
    "TransformationRuleListView", "connection", "connection_disable", "connection_edit",
    "connection_enable", "connection_test", "default_setup", "fieldmapping_list",
    "refresh_metadata", "tablemapping_bulk_disable", "tablemapping_bulk_enable",
    "tablemapping_bulk_reset", "tablemapping_detail", "tablemapping_preview",
    "tablemapping_reset", "tablemapping_reset_watermarks", "transformationrule_detail",
]
