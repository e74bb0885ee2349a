"""The README's command-line path on a fresh machine: a command run before its database is set
up says what to run instead of a traceback, and `setup_defaults` works on the embedded CRM right
after `migrate --database crm` (before `seed_demo`)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def manage(tmp_path, *args):
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "REDIS_URL", "CRM_URL", "CRM_DATABASE_URL",
                        "DJANGO_ALLOW_ASYNC_UNSAFE", "DJANGO_SETTINGS_MODULE"}}
    env.update(DATA_DIR=str(tmp_path), SECRET_KEY="x" * 50)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.own_databases
@pytest.mark.slow
def test_the_readme_path_says_what_to_run_first_and_needs_no_seed(tmp_path):
    for command in (["setup_defaults"], ["match_couple"], ["sync"]):
        result = manage(tmp_path, *command)
        assert result.returncode != 0
        assert "Traceback" not in result.stderr and "OperationalError" not in result.stderr
        assert "The database is not set up yet. Run first: `python manage.py migrate` and " \
               "`python manage.py migrate --database crm`." in result.stderr
    assert manage(tmp_path, "migrate", "-v0").returncode == 0
    result = manage(tmp_path, "setup_defaults")
    assert "`python manage.py migrate --database crm`" in result.stderr
    assert manage(tmp_path, "migrate", "--database", "crm", "-v0").returncode == 0

    result = manage(tmp_path, "setup_defaults")

    assert result.returncode == 0, result.stderr[-2000:]
    assert "Default synchronization setup: 11 created" in result.stdout
    assert "AADSTS" not in result.stderr + result.stdout
