from django.apps import AppConfig


class CouplingsAppConfig(AppConfig):
    name = "couplings_app"
    verbose_name = "Couplings"
