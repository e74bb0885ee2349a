"""URLs of the whole project."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from syncadmin.views import HomeView

urlpatterns = [
    path("", HomeView.as_view(), name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("erp/", include("erp_app.urls")),
    path("integration/", include("mappings_app.urls")),
    path("integration/", include("couplings_app.urls")),
    path("crm/", include("crm_emulator.urls")),
    path("admin/", admin.site.urls),
]
