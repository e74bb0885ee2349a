from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CouplingsAppConfig(AppConfig):
    name = "couplings_app"
    verbose_name = "Couplings"

    def ready(self):
        from couplings_app import erp_pages, signals

        signals.connect_erp_models()
        erp_pages.install()
        post_migrate.connect(_roles_after_migrate, dispatch_uid="couplings_app.roles")


def _roles_after_migrate(sender, **kwargs):
    """After the last app's post_migrate (every permission exists by then)."""
    from django.apps import apps

    if sender.label != list(apps.get_app_configs())[-1].label:
        return
    from couplings_app.roles import ensure_roles

    ensure_roles()
