"""`manage.py syncbench --records 2000`: a smoke test of the benchmark's correctness checks
(its speed is the benchmark's business, not the suite's)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PHASES = ["floor", "full push", "no-op rerun", "incremental", "conflicts", "full pull",
          "correctness"]


@pytest.mark.own_databases
@pytest.mark.slow
def test_syncbench_runs_every_phase_and_checks_both_sides():
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "REDIS_URL", "CRM_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    result = subprocess.run([sys.executable, "manage.py", "syncbench", "--records", "2000",
                             "--json"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    phases = json.loads(result.stdout)
    assert [p["phase"] for p in phases] == PHASES
    check = phases[-1]
    assert check["ok"] and check["mismatches"] == 0 and check["duplicate_couplings"] == 0
    by_name = {p["phase"]: p for p in phases}
    assert by_name["conflicts"]["skipped"] >= 100
    for name in ("floor", "full push", "full pull"):
        assert by_name[name]["records"] == 2000 and by_name[name]["http_requests"] > 0
        assert by_name[name]["peak_memory_mb"] > 0
