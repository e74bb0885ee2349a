"""URLs of the mappings pages, mounted at /integration/."""

from django.urls import path

from mappings_app import views

app_name = "mappings"

urlpatterns = [
    path("connection/", views.connection, name="connection"),
    path("connection/edit/", views.connection_edit, name="connection_edit"),
    path("connection/test/", views.connection_test, name="connection_test"),
    path("connection/enable/", views.connection_enable, name="connection_enable"),
    path("connection/disable/", views.connection_disable, name="connection_disable"),
    path("connection/default-setup/", views.default_setup, name="default_setup"),
    path("connection/refresh-metadata/", views.refresh_metadata, name="refresh_metadata"),
    path("table-mappings/", views.TableMappingListView.as_view(), name="tablemapping_list"),
    path("table-mappings/add/", views.TableMappingAdd.as_view(), name="tablemapping_add"),
    path("table-mappings/reset/", views.tablemapping_bulk_reset, name="tablemapping_bulk_reset"),
    path("table-mappings/enable/", views.tablemapping_bulk_enable, name="tablemapping_bulk_enable"),
    path(
        "table-mappings/disable/",
        views.tablemapping_bulk_disable,
        name="tablemapping_bulk_disable",
    ),
    path("table-mappings/<int:pk>/", views.tablemapping_detail, name="tablemapping_detail"),
    path(
        "table-mappings/<int:pk>/edit/", views.TableMappingEdit.as_view(), name="tablemapping_edit"
    ),
    path(
        "table-mappings/<int:pk>/delete/",
        views.TableMappingDelete.as_view(),
        name="tablemapping_delete",
    ),
    path("table-mappings/<int:pk>/reset/", views.tablemapping_reset, name="tablemapping_reset"),
    path(
        "table-mappings/<int:pk>/reset-watermarks/",
        views.tablemapping_reset_watermarks,
        name="tablemapping_reset_watermarks",
    ),
    path("table-mappings/<int:pk>/fields/", views.fieldmapping_list, name="fieldmapping_list"),
    path(
        "table-mappings/<int:pk>/preview/", views.tablemapping_preview, name="tablemapping_preview"
    ),
    path(
        "transformation-rules/",
        views.TransformationRuleListView.as_view(),
        name="transformationrule_list",
    ),
    path(
        "transformation-rules/add/",
        views.TransformationRuleAdd.as_view(),
        name="transformationrule_add",
    ),
    path(
        "transformation-rules/<int:pk>/",
        views.transformationrule_detail,
        name="transformationrule_detail",
    ),
    path(
        "transformation-rules/<int:pk>/edit/",
        views.TransformationRuleEdit.as_view(),
        name="transformationrule_edit",
    ),
    path(
        "transformation-rules/<int:pk>/delete/",
        views.TransformationRuleDelete.as_view(),
        name="transformationrule_delete",
    ),
]
