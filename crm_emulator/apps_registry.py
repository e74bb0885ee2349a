"""App registrations of the embedded CRM: who may get a token, and as which CRM user it acts.

`register_application(tenant, client_id, secret, name)` is idempotent: it creates the
registration and its application user (a systemuser with `applicationid`, non-interactive,
integration user) once, and updates the secret when it changed.
"""

from __future__ import annotations

import uuid

from django.db import transaction

from crm_emulator.auth import check_secret, hash_secret
from crm_emulator.models import Application, Row
from crm_emulator.routers import CRM_DB
from crm_emulator.schema import BY_NAME
from crm_emulator.store import WriteOp, write_one

APP_NAMESPACE = uuid.UUID("5f0e7c3e-5a0b-4a55-8f5e-6a7d1b2c3d4e")


def application_guid(tenant: str, client_id: str) -> uuid.UUID:
    """The Entra ID application (client) id: the client id itself when it is a GUID."""
    try:
        return uuid.UUID(client_id)
    except ValueError:
        return uuid.uuid5(APP_NAMESPACE, f"{tenant}/{client_id}")


def register_application(tenant: str, client_id: str, secret: str, name: str) -> uuid.UUID:
    """Registers (or updates) an application; returns the id of its application user."""
    with transaction.atomic(using=CRM_DB):
        app = Application.objects.select_for_update().filter(
            tenant=tenant, client_id=client_id).first()
        if app is not None:
            changed = []
            if not check_secret(secret, app.secret_hash):
                app.secret_hash = hash_secret(secret)
                changed.append("secret_hash")
            if app.name != name:
                app.name = name
                changed.append("name")
            if changed:
                app.save(update_fields=changed)
            if Row.objects.filter(entity="systemuser", rowid=app.userid).exists():
                return app.userid
            userid = app.userid
        else:
            userid = uuid.uuid5(APP_NAMESPACE, f"user/{tenant}/{client_id}")
            Application.objects.create(tenant=tenant, client_id=client_id,
                                       secret_hash=hash_secret(secret), name=name, userid=userid)
        if not Row.objects.filter(entity="systemuser", rowid=userid).exists():
            domain = f"{client_id}@{tenant}.crm.example".lower()[:1024]
            write_one(WriteOp("POST", BY_NAME["systemuser"], body={
                "systemuserid": str(userid), "firstname": "#", "lastname": name,
                "domainname": domain, "internalemailaddress": domain[:100],
                "applicationid": str(application_guid(tenant, client_id)),
                "accessmode": 4, "islicensed": False, "isintegrationuser": True,
            }), userid)
        return userid


def application_user_ids() -> set:
    return set(Application.objects.values_list("userid", flat=True))
