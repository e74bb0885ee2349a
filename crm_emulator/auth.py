"""OAuth 2.0 client credentials for the embedded CRM, like Microsoft Entra ID's token endpoint.

`issue_token()` answers `POST /crm/<tenant>/oauth2/v2.0/token`; `user_from_header()` checks a
request's `Authorization: Bearer ...`. Tokens are signed with the project's SECRET_KEY
(django.core.signing) and carry the application user's id and an expiry; client secrets are
kept as salted hashes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid

from django.core import signing

from crm_emulator.models import Application

TOKEN_SALT = "crm_emulator.token"
TOKEN_LIFETIME = 3599  # seconds, as Entra ID's default access tokens
HASH_PREFIX = "sha256"


def hash_secret(secret: str, salt: str | None = None) -> str:
    # Client secrets are long random strings, not passwords: a salted SHA-256 is enough, and
    # keeps the token endpoint fast.
    salt = salt or secrets.token_hex(8)
    digest = hashlib.sha256(f"{salt}:{secret}".encode()).hexdigest()
    return f"{HASH_PREFIX}${salt}${digest}"


def check_secret(secret: str, encoded: str) -> bool:
    try:
        _, salt, _ = encoded.split("$", 2)
    except ValueError:
        return False
    return hmac.compare_digest(hash_secret(secret, salt), encoded)


class TokenError(Exception):
    def __init__(self, status: int, error: str, description: str):
        super().__init__(description)
        self.status, self.error, self.description = status, error, description

    def as_json(self) -> dict:
        return {"error": self.error, "error_description": self.description,
                "error_codes": [int(self.description[6:13])] if self.description[6:13].isdigit()
                else [], "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())}


def issue_token(tenant: str, form) -> dict:
    if form.get("grant_type") != "client_credentials":
        raise TokenError(400, "unsupported_grant_type", (
            "AADSTS70003: The app requested an unsupported grant type "
            f"'{form.get('grant_type') or ''}'."))
    client_id, secret = form.get("client_id") or "", form.get("client_secret") or ""
    if not form.get("scope"):
        raise TokenError(400, "invalid_request", (
            "AADSTS90014: The required field 'scope' is missing from the credential."))
    app = Application.objects.filter(tenant=tenant, client_id=client_id).first()
    if app is None:
        raise TokenError(400, "unauthorized_client", (
            f"AADSTS700016: Application with identifier '{client_id}' was not found in the "
            f"directory '{tenant}'."))
    if not check_secret(secret, app.secret_hash):
        raise TokenError(401, "invalid_client", (
            "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in "
            f"the request is the client secret value, not the client secret ID, for a secret "
            f"added to app '{client_id}'."))
    token = signing.dumps({"uid": str(app.userid), "app": client_id, "tid": tenant},
                          salt=TOKEN_SALT, compress=True)
    return {"token_type": "Bearer", "expires_in": TOKEN_LIFETIME,
            "ext_expires_in": TOKEN_LIFETIME, "access_token": token}


def user_from_token(token: str) -> uuid.UUID | None:
    try:
        payload = signing.loads(token, salt=TOKEN_SALT, max_age=TOKEN_LIFETIME)
        return uuid.UUID(payload["uid"])
    except (signing.BadSignature, KeyError, ValueError, TypeError):
        return None


def user_from_header(header: str | None) -> uuid.UUID | None:
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return user_from_token(token.strip())
