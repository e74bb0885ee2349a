"""Keeps the embedded CRM's rows in the "crm" database and everything else out of it."""

CRM_APP = "crm_emulator"
CRM_DB = "crm"


class CrmRouter:
    def db_for_read(self, model, **hints):
        return CRM_DB if model._meta.app_label == CRM_APP else None

    db_for_write = db_for_read

    def allow_relation(self, obj1, obj2, **hints):
        if CRM_APP in {obj1._meta.app_label, obj2._meta.app_label}:
            return obj1._meta.app_label == obj2._meta.app_label
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if app_label == CRM_APP:
            return db == CRM_DB
        return db != CRM_DB
