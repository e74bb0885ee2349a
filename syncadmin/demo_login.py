"""The demo's administrator login: created once with a random password kept in a private file."""

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model

DEMO_USERNAME = "admin"


def login_file() -> Path:
    return Path(settings.DATA_DIR) / ".demo-login"


def ensure_demo_admin() -> tuple[str, str]:
    """Returns (username, password), creating the superuser or restoring its password."""
    path = login_file()
    password = path.read_text().strip() if path.exists() else ""
    if not password:
        password = secrets.token_urlsafe(12)
        path.touch(mode=0o600)
        path.write_text(password)
    users = get_user_model().objects
    user = users.filter(username=DEMO_USERNAME).first()
    if user is None:
        users.create_superuser(DEMO_USERNAME, "admin@example.com", password)
    elif not user.check_password(password) or not user.is_superuser or not user.is_active:
        user.set_password(password)
        user.is_superuser = user.is_staff = user.is_active = True
        user.save()
    return DEMO_USERNAME, password
