from django.apps import AppConfig


class CrmEmulatorConfig(AppConfig):
    name = "crm_emulator"
    verbose_name = "Embedded CRM"

    def ready(self):
        from django.db.models.signals import post_migrate

        from crm_emulator import logs

        logs.install()
        post_migrate.connect(register_demo_application, sender=self,
                             dispatch_uid="crm-register-demo-application")


def register_demo_application(sender, using=None, **kwargs):
    """Once the CRM's database exists, the application syncadmin signs in with (CRM_CLIENT_ID and
    its secret) is registered with its application user: `setup_defaults` works before
    `seed_demo`. Only for the embedded CRM, and only on its own database."""
    from django.conf import settings

    from crm_emulator.apps_registry import register_application
    from crm_emulator.routers import CRM_DB

    if settings.CRM_URL or using != CRM_DB or not kwargs.get("plan"):
        return  # (no plan: a flush, not a migration)
    register_application(settings.CRM_TENANT_ID or "demo", settings.CRM_CLIENT_ID,
                         settings.CRM_CLIENT_SECRET, "syncadmin")
