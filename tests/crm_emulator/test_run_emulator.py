"""`manage.py run_emulator` alone: the settings it prints, once exported, get a token and an
answer to WhoAmI from it, with the token asked from CRM_AUTHORITY_URL, not Microsoft's."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crm_emulator.management.commands.run_emulator import reach_settings
from crm_emulator.server import free_port

ROOT_DIR = Path(__file__).resolve().parents[2]


def test_printed_settings_never_show_a_real_secret():
    url = "http://127.0.0.1:8765/crm/api/data/v9.2/"
    assert reach_settings(url, "demo", "syncadmin-demo", "demo-secret") == [
        f"CRM_URL={url}", "CRM_AUTHORITY_URL=http://127.0.0.1:8765/crm", "CRM_TENANT_ID=demo",
        "CRM_CLIENT_ID=syncadmin-demo", "CRM_CLIENT_SECRET=demo-secret"]
    lines = reach_settings(url, "demo", "app", "pr0duction-s3cret")
    assert not any("pr0duction-s3cret" in line for line in lines)
    assert lines[-1].startswith("# CRM_CLIENT_SECRET=")


@pytest.mark.slow
@pytest.mark.own_databases
@pytest.mark.django_db
def test_a_client_reaches_a_standalone_emulator_with_the_printed_settings(tmp_path, settings):
    env = {**os.environ, "DATA_DIR": str(tmp_path), "DATABASE_URL": "", "CRM_DATABASE_URL": "",
           "CRM_URL": "", "CRM_AUTHORITY_URL": "", "CRM_TENANT_ID": "demo",
           "CRM_CLIENT_ID": "syncadmin-demo", "CRM_CLIENT_SECRET": "demo-secret",
           "PYTHONUNBUFFERED": "1"}
    manage = [sys.executable, str(ROOT_DIR / "manage.py")]
    for database in ("default", "crm"):
        subprocess.run([*manage, "migrate", "--database", database, "-v", "0"], env=env,
                       check=True, cwd=ROOT_DIR, timeout=180)
    port = free_port()
    process = subprocess.Popen([*manage, "run_emulator", "--port", str(port), "--quiet"],
                               env=env, cwd=ROOT_DIR, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        printed, deadline = [], time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            printed.append(line)
            if "Press Ctrl-C" in line:
                break
        output = "".join(printed)
        exported = dict(re.findall(r"^\s+(CRM_\w+)=(\S+)$", output, re.M))
        assert set(exported) == {"CRM_URL", "CRM_AUTHORITY_URL", "CRM_TENANT_ID",
                                 "CRM_CLIENT_ID", "CRM_CLIENT_SECRET"}, output
        assert exported["CRM_URL"] == f"http://127.0.0.1:{port}/crm/api/data/v9.2/"
        for name, value in exported.items():
            setattr(settings, name, value)

        from mappings_app.connection import check_connection, crm_client
        from mappings_app.models import Connection

        connection = Connection.get()
        assert connection.service_root == exported["CRM_URL"] and not connection.is_embedded
        with crm_client(connection) as client:
            assert client.transport.auth.token_url == (
                f"http://127.0.0.1:{port}/crm/demo/oauth2/v2.0/token")
        ok, message = check_connection(connection)
        assert ok, message
    finally:
        process.terminate()
        process.wait(timeout=10)
