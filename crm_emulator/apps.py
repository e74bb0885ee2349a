from django.apps import AppConfig


class CrmEmulatorConfig(AppConfig):
    name = "crm_emulator"
    verbose_name = "Embedded CRM"

    def ready(self):
        from crm_emulator import logs

        logs.install()
