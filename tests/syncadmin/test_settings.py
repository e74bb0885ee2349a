"""Settings come from the environment: SQLite by default, PostgreSQL and Redis when given."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, syncadmin.settings as s
print(json.dumps({
    "default": {k: str(v) if k == "NAME" else v for k, v in s.DATABASES["default"].items()},
    "crm_engine": s.DATABASES["crm"]["ENGINE"],
    "q": s.Q_CLUSTER, "debug": s.DEBUG, "crm_url": s.CRM_URL, "hosts": s.ALLOWED_HOSTS,
    "secure": s.SESSION_COOKIE_SECURE, "hsts": s.SECURE_HSTS_SECONDS,
}, default=str))
"""
VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "CRM_URL",
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "SECURE",
    "CRM_DATABASE_URL",
    "DJANGO_ALLOW_ASYNC_UNSAFE",  # set by the browser tests; refused by check --deploy
)


def load_settings(tmp_path, **env):
    clean = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    clean.update(DATA_DIR=str(tmp_path), **env)
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=clean,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)


def test_it_defaults_to_sqlite_tuned_for_concurrent_writers(tmp_path):
    s = load_settings(tmp_path)
    db = s["default"]
    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert db["NAME"] == str(tmp_path / "db.sqlite3")
    assert db["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert db["OPTIONS"]["timeout"] >= 20
    assert "journal_mode=WAL" in db["OPTIONS"]["init_command"]
    assert s["crm_engine"] == "django.db.backends.sqlite3"


def test_it_reads_postgresql_from_database_url(tmp_path):
    s = load_settings(tmp_path, DATABASE_URL="postgres://app:pw@db.example:5433/erp")
    db = s["default"]
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["HOST"], db["PORT"], db["NAME"], db["USER"]) == ("db.example", 5433, "erp", "app")
    # The embedded CRM keeps its own database whatever the ERP uses.
    assert s["crm_engine"] == "django.db.backends.sqlite3"


def test_it_puts_django_q_on_the_database_by_default(tmp_path):
    q = load_settings(tmp_path)["q"]
    assert q["orm"] == "default" and "redis" not in q


def test_it_puts_django_q_on_redis_when_redis_url_is_set(tmp_path):
    q = load_settings(tmp_path, REDIS_URL="redis://cache.example:6380/2")["q"]
    assert q["redis"] == "redis://cache.example:6380/2" and "orm" not in q


def test_django_q_values_are_safe(tmp_path):
    q = load_settings(tmp_path)["q"]
    assert q["retry"] > q["timeout"], "a long task would run twice"
    assert 0 < q["max_attempts"] <= 5, "0 retries forever"
    assert q["catch_up"] is False, "missed slots would all run after downtime"


def test_debug_is_off_unless_set(tmp_path):
    assert load_settings(tmp_path)["debug"] is False
    assert load_settings(tmp_path, DEBUG="1")["debug"] is True


def test_crm_url_unset_means_the_embedded_crm(tmp_path):
    assert load_settings(tmp_path)["crm_url"] == ""
    org = "https://contoso.crm.dynamics.com/api/data/v9.2/"
    assert load_settings(tmp_path, CRM_URL=org)["crm_url"] == org


def test_secure_turns_on_tls_settings(tmp_path):
    s = load_settings(tmp_path, SECURE="1", ALLOWED_HOSTS="sync.example.com")
    assert s["secure"] is True and s["hsts"] >= 31536000
    assert s["hosts"] == ["sync.example.com"]


def test_without_secret_key_a_private_key_file_is_shared_by_processes(tmp_path):
    load_settings(tmp_path)
    key_file = tmp_path / ".secret_key"
    assert key_file.stat().st_mode & 0o077 == 0, "the key file must be private"
    first = key_file.read_text()
    load_settings(tmp_path)
    assert key_file.read_text() == first


@pytest.mark.own_databases
@pytest.mark.slow
def test_check_deploy_passes_with_production_settings(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    env.update(
        DATA_DIR=str(tmp_path),
        SECURE="1",
        ALLOWED_HOSTS="sync.example.com",
        SECRET_KEY="x" * 20 + "production-secret-key-with-enough-entropy-1234567890",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
