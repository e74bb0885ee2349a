from django.apps import AppConfig


class CouplingsAppConfig(AppConfig):
    name = "couplings_app"
    verbose_name = "Couplings"

    def ready(self):
        from couplings_app import signals

        signals.connect_erp_models()
