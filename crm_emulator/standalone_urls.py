"""The URLs `run_emulator` and crm_emulator.server serve: the CRM's Web API and token endpoint
only, at the same paths as in the project (/crm/...)."""

from django.urls import include, path

from crm_emulator.urls import api_patterns

urlpatterns = [path("crm/", include((api_patterns, "crm_emulator")))]
