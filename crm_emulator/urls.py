"""URLs of the embedded CRM, included at /crm/: the Web API, the token endpoint, the control
knobs (api_patterns, also served alone by `run_emulator`) and the browse pages."""

from django.urls import path, re_path

from crm_emulator import browse, views

app_name = "crm_emulator"

api_patterns = [
    path("api/data/v9.2/", views.api_view, name="api_root"),
    re_path(r"^api/data/v9\.2/(?P<resource>.+)$", views.api_view, name="api"),
    path("<str:tenant>/oauth2/v2.0/token", views.token_view, name="token"),
    path("_emulator/faults", views.faults_view, name="faults"),
    path("_emulator/throttle", views.throttle_view, name="throttle"),
    path("_emulator/profile", views.profile_view, name="profile"),
]

browse_patterns = [
    path("browse/", browse.index, name="browse"),
    path("browse/<str:set_name>/", browse.record_list, name="browse_list"),
    path("browse/<str:set_name>/new/", browse.record_edit, name="browse_new"),
    path("browse/<str:set_name>/<uuid:rowid>/", browse.record_edit, name="browse_edit"),
    path("browse/<str:set_name>/<uuid:rowid>/delete/", browse.record_delete,
         name="browse_delete"),
]

urlpatterns = api_patterns + browse_patterns
