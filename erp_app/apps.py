from django.apps import AppConfig


class ErpAppConfig(AppConfig):
    name = "erp_app"
    verbose_name = "ERP"

    def ready(self):
        from erp_app import pages  # noqa: F401  registers the ERP tables' pages
