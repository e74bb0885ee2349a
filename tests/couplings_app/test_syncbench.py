"""`manage.py syncbench --records 2000`: a smoke test of the benchmark's phases and correctness
checks (its speed is the benchmark's business, not the suite's); and the demo phase's duplicate
count, by table."""

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from couplings_app.bench.demo import duplicates_made

ROOT = Path(__file__).resolve().parents[2]
PHASES = ["floor", "full push", "incremental after full", "no-op rerun",
          "incremental (steady state)", "conflicts", "full pull", "demo, all default mappings",
          "reference: incremental after full", "reference: incremental (steady state)",
          "correctness"]


@pytest.mark.own_databases
@pytest.mark.slow
def test_syncbench_runs_every_phase_and_checks_both_sides():
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "REDIS_URL", "CRM_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    # The demo at a small size: its check is what is tested here, not how it scales.
    result = subprocess.run([sys.executable, "manage.py", "syncbench", "--records", "2000",
                             "--demo-records", "300", "--json"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=900)
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
    # Cost follows change: both incremental phases read the CRM by the delta link, among 2,000
    # records and among the reference's 1,000, and carry their ratio to the reference.
    for name in ("incremental after full", "incremental (steady state)"):
        phase, reference = by_name[name], by_name[f"reference: {name}"]
        assert phase["records"] == reference["records"] == 200
        assert (phase["among"], reference["among"]) == (2000, 1000)
        assert phase["crm_read_by"] == reference["crm_read_by"] == "delta link"
        assert phase["http_requests"] > 0 and phase["failed"] == 0
        assert phase["ratio_to_reference"] == round(phase["seconds"] / reference["seconds"], 2)
    # Every default mapping on the demo's data: all jobs succeeded, and the check by natural
    # key holds on both sides.
    demo = by_name["demo, all default mappings"]
    assert demo["demo_size"] == 300 and demo["jobs_not_succeeded"] == 0
    assert demo["records"] >= 8 * 300 and demo["http_requests"] > 0
    correctness = demo["correctness"]
    assert correctness["ok"], correctness
    assert correctness["duplicates"] == correctness["missing_counterparts"] == 0
    assert {"CUSTOMER", "CONTACT", "ITEM-PRODUCT", "SALESPRC-PRODUCTPRICE",
            "POSTEDSALESINV-INV"} <= set(correctness["mappings"])
    assert correctness["mappings"]["CUSTOMER"]["natural_key"] == "no = accountnumber"


def census(local: list[str], remote: list[str]):
    return Counter(local), Counter(remote)


def test_a_record_created_again_where_its_key_was_is_a_duplicate():
    before = census(["C1", "C2"], ["C1"])
    assert duplicates_made(before, census(["C1", "C2"], ["C1", "C2"])) == 0
    assert duplicates_made(before, census(["C1", "C2"], ["C1", "C1", "C2"])) == 1  # C1 again
    assert duplicates_made(before, census(["C1", "C2"], ["C1", "C2", "C2"])) == 1  # C2 twice
    assert duplicates_made(before, census(["C1", "C1", "C2"], ["C1", "C2"])) == 1  # ERP copy


def test_records_sharing_a_key_each_get_their_counterpart():
    # The demo's contacts share e-mails: each is created once in the CRM.
    before = census(["a@x", "a@x", "a@x"], [])
    assert duplicates_made(before, census(["a@x"] * 3, ["a@x"] * 3)) == 0
    assert duplicates_made(before, census(["a@x"] * 3, ["a@x"] * 4)) == 1


def test_a_number_given_by_a_number_series_and_another_mappings_rows_are_not_duplicates():
    # A CRM account without a number gets the ERP's (new on both sides); a product of the other
    # mapping of the same table was never this mapping's.
    before = census(["ITEM-1"], ["ITEM-1"])
    assert duplicates_made(before, census(["ITEM-1", "CRM1"], ["ITEM-1", "CRM1", "RES-1"])) == 0


@pytest.mark.own_databases
@pytest.mark.slow
def test_syncbench_reports_the_budgets_of_the_dataverse_profile():
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "REDIS_URL", "CRM_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    result = subprocess.run([sys.executable, "manage.py", "syncbench", "--records", "500",
                             "--reference-records", "0", "--demo-records", "0",
                             "--crm-profile", "dataverse", "--json"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    by_name = {p["phase"]: p for p in json.loads(result.stdout)}
    assert by_name["correctness"]["ok"]
    baseline = by_name["baseline full push (one request at a time)"]
    for phase in (by_name["full push"], by_name["full pull"], baseline,
                  by_name["incremental after full"]):
        # What the phase sent, as the CRM accounted it, and the ceiling its budgets allow.
        assert phase["crm_usage"]["requests"] > 0, phase
        assert phase["crm_usage"]["execution_seconds"] > 0, phase
        assert phase["ceiling_records_per_second"] > 0 and phase["ratio_to_ceiling"] > 0
        assert phase["limited_by"] in {"requests", "execution time", "concurrency"}
        assert phase["failed"] == 0 and phase["throttled"] >= 0
    assert baseline["records"] == by_name["full push"]["records"] == 500
    # The baseline's client sends one record per operation (no bulk message): the CRM saw
    # creates, not bulk records.
    assert baseline["crm_usage"]["operations"].get("create") == 500
    assert "bulk_records" not in baseline["crm_usage"]["operations"]
    assert "ceiling_records_per_second" not in by_name["no-op rerun"]


@pytest.mark.parametrize("internal", [["--serve-crm", "8123"], ["--worker", "--set", "main"]])
def test_the_internal_roles_refuse_the_users_databases(internal):
    """`--serve-crm` opens the CRM's control endpoint and `--worker` writes: only on the
    scratch databases syncbench makes, never on the ones in use."""
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="scratch databases"):
        call_command("syncbench", *internal)
