"""`manage.py syncbench --records N [--json]`: the benchmark, on scratch databases.

The command makes a temporary folder for both databases (never the user's data), serves the
embedded CRM from it in a separate process (`run_emulator`), and runs the phases in a worker
process (`syncbench --worker`), so the sync pays real HTTP, JSON and process costs.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

COLUMNS = ("phase", "records", "seconds", "records_per_second", "http_requests", "sql_queries",
           "peak_memory_mb", "ratio_to_floor", "sync_cpu_seconds", "crm_cpu_seconds")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Command(BaseCommand):
    help = "Measures full push, no-op rerun, incremental, conflicts and full pull vs. the floor."

    def add_arguments(self, parser):
        parser.add_argument("--records", type=int, default=10000)
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--worker", action="store_true", help="(internal)")
        parser.add_argument("--service-root", help="(internal)")
        parser.add_argument("--out", help="(internal)")

    def handle(self, *args, records, json: bool, worker, service_root, out, **options):
        if records < 1:
            raise CommandError("--records must be at least 1.")
        if worker:
            return self.work(records, service_root, out)
        with tempfile.TemporaryDirectory(prefix="syncbench-") as scratch:
            results = self.orchestrate(records, Path(scratch))
        add_ratios(results)
        if json:
            self.stdout.write(dump(results))
        else:
            self.stdout.write(table(results))
        correctness = results[-1]
        if not correctness.get("ok"):
            raise CommandError(f"The benchmark's correctness check failed: {correctness}")

    def orchestrate(self, records, scratch: Path) -> list[dict]:
        manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
        env = {k: v for k, v in os.environ.items()
               if k not in {"DATABASE_URL", "CRM_DATABASE_URL", "REDIS_URL", "CRM_URL"}}
        env.update(DATA_DIR=str(scratch), SECRET_KEY="syncbench-scratch-key-" + "x" * 40,
                   PYTHONUNBUFFERED="1")
        self.stderr.write(f"syncbench: {records} records, scratch databases in {scratch}")
        for database in ("default", "crm"):
            subprocess.run([*manage, "migrate", "--noinput", "-v0", "--database", database],
                           env=env, check=True, stdout=sys.stderr)
        port = free_port()
        root = f"http://127.0.0.1:{port}/crm/api/data/v9.2/"
        server = subprocess.Popen([*manage, "run_emulator", "--port", str(port), "--quiet"],
                                  env=env, stdout=subprocess.DEVNULL)
        try:
            wait_for(root, server)
            result_file = scratch / "results.json"
            worker_env = {**env, "CRM_URL": root, "SYNCBENCH_CRM_PID": str(server.pid)}
            subprocess.run([*manage, "syncbench", "--worker", "--records", str(records),
                            "--service-root", root, "--out", str(result_file)],
                           env=worker_env, check=True, stdout=sys.stderr)
            return json_load(result_file)
        finally:
            server.send_signal(signal.SIGINT)  # a clean stop, as Ctrl-C
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()

    def work(self, records, service_root, out):
        from couplings_app.bench import run_phases
        from crm_emulator.apps_registry import register_application
        from mappings_app.models import Connection

        register_application(settings.CRM_TENANT_ID, settings.CRM_CLIENT_ID,
                             settings.CRM_CLIENT_SECRET, "syncadmin")
        connection = Connection.get()
        connection.service_root = service_root
        connection.authority_url = service_root.split("/api/data/")[0]
        connection.tenant_id = settings.CRM_TENANT_ID
        connection.save()
        results = run_phases(records, service_root)
        Path(out).write_text(dump(results))


def wait_for(root, server, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise CommandError("The embedded CRM did not start.")
        try:
            urllib.request.urlopen(root, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answers (401 without a token)
        except OSError:
            time.sleep(0.2)
    raise CommandError("The embedded CRM did not answer in time.")


def json_load(path: Path):
    return json.loads(path.read_text())


def dump(results) -> str:
    return json.dumps(results, indent=2)


def add_ratios(results):
    floor = next((r["seconds"] for r in results if r.get("phase") == "floor"), None)
    for result in results:
        if floor and result.get("seconds") is not None and result["phase"] in (
                "full push", "full pull", "floor"):
            result["ratio_to_floor"] = round(result["seconds"] / floor, 2)


def table(results) -> str:
    lines = [" | ".join(COLUMNS), " | ".join("---" for _ in COLUMNS)]
    for result in results:
        if result.get("phase") == "correctness":
            continue
        lines.append(" | ".join(str(result.get(c, "")) for c in COLUMNS))
    check = results[-1]
    lines.append("")
    lines.append("correctness: " + ("OK" if check.get("ok") else "FAILED") + " — " + ", ".join(
        f"{k}={v}" for k, v in check.items() if k not in {"phase", "ok"}))
    return "\n".join(lines)
