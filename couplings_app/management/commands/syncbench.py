"""`manage.py syncbench --records N [--reference-records R] [--demo-records D]
[--crm-profile dataverse [--time-scale F]] [--json]`: the benchmark, on scratch databases.

The command makes a temporary folder (never the user's data), migrates both databases there
once, and runs each set of phases (couplings_app/bench: reference, main, baseline, demo) on a
copy of them: it serves the embedded CRM from the copy in a separate process
(`syncbench --serve-crm`, with its Dataverse profile on if asked), and runs the phases in a
worker process (`syncbench --worker --set NAME`), so the sync pays real HTTP, JSON and process
costs.
"""

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from couplings_app.bench import SETS as SET_NAMES
from couplings_app.bench import report
from couplings_app.bench.budget import DEFAULT_TIME_SCALE, PROFILES


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Command(BaseCommand):
    help = ("Measures the floor, full push, incremental changes (right after it, in steady "
            "state, against a 1,000-record reference), conflicts, full pull and every default "
            "mapping on the demo's data, optionally under the CRM's Dataverse profile.")

    def add_arguments(self, parser):
        parser.add_argument("--records", type=int, default=10000)
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--reference-records", type=int, default=1000,
                            help="Size of the reference set the incremental phases are "
                                 "compared to (0: none).")
        parser.add_argument("--demo-records", type=int, default=None,
                            help="seed_demo --size of the demo phase (default: --records; "
                                 "0: no demo phase).")
        parser.add_argument("--crm-profile", choices=PROFILES,
                            help="Switch the embedded CRM's service-protection profile on.")
        parser.add_argument("--time-scale", type=float, default=DEFAULT_TIME_SCALE,
                            help="The profile's times and budgets scaled by this factor.")
        parser.add_argument("--worker", action="store_true", help="(internal)")
        parser.add_argument("--serve-crm", type=int, metavar="PORT", help="(internal)")
        parser.add_argument("--set", dest="set_name", choices=SET_NAMES, help="(internal)")
        parser.add_argument("--service-root", help="(internal)")
        parser.add_argument("--out", help="(internal)")

    def handle(self, *args, records, json: bool, worker, service_root, out, **options):
        if records < 1:
            raise CommandError("--records must be at least 1.")
        if (options["serve_crm"] or worker) and not scratch_only():
            raise CommandError("--serve-crm and --worker are syncbench's own: they run only on "
                               "the scratch databases syncbench makes (run it without them).")
        if options["serve_crm"]:
            return serve_crm(options["serve_crm"], options["crm_profile"], options["time_scale"])
        if worker:
            return self.work(options["set_name"], records, service_root, out,
                             bool(options["crm_profile"]))
        reference = options["reference_records"]
        demo = records if options["demo_records"] is None else options["demo_records"]
        if reference < 0 or demo < 0:
            raise CommandError("--reference-records and --demo-records must be 0 or more.")
        if options["crm_profile"] and options["time_scale"] <= 0:
            raise CommandError("--time-scale must be more than 0.")
        plan = Plan(records, reference, demo, options["crm_profile"], options["time_scale"])
        with tempfile.TemporaryDirectory(prefix="syncbench-") as scratch:
            sets = self.orchestrate(plan, Path(scratch))
        results = report.compose(sets)
        self.stdout.write(dump(results) if json else report.table(results))
        problems = report.problems(results)
        if problems:
            raise CommandError("The benchmark's correctness check failed: " + "; ".join(problems))

    def orchestrate(self, plan, scratch: Path) -> dict[str, list[dict]]:
        """Migrates the scratch databases once, then runs each set on a copy of them."""
        manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
        env = {k: v for k, v in os.environ.items()
               if k not in {"DATABASE_URL", "CRM_DATABASE_URL", "REDIS_URL", "CRM_URL"}}
        env.update(SECRET_KEY=SCRATCH_KEY, PYTHONUNBUFFERED="1")
        self.stderr.write(f"syncbench: {plan.records} records, scratch databases in {scratch}")
        template = scratch / "migrated"
        template.mkdir()
        for database in ("default", "crm"):
            subprocess.run([*manage, "migrate", "--noinput", "-v0", "--database", database],
                           env={**env, "DATA_DIR": str(template)}, check=True, stdout=sys.stderr)
        sets = {}
        for name, size in plan.sets():
            self.stderr.write(f"syncbench: set {name!r}, {size} records")
            folder = scratch / name
            shutil.copytree(template, folder)
            try:
                sets[name] = self.run_set(manage, {**env, "DATA_DIR": str(folder)}, name, size,
                                          plan, folder)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
        return sets

    def run_set(self, manage, env, name, size, plan, folder: Path) -> list[dict]:
        """One set: its own CRM process (with the profile on if asked), then its worker."""
        port = free_port()
        root = f"http://127.0.0.1:{port}/crm/api/data/v9.2/"
        crm = [*manage, "syncbench", "--serve-crm", str(port)]
        if plan.profile:
            crm += ["--crm-profile", plan.profile, "--time-scale", str(plan.time_scale)]
        server = subprocess.Popen(crm, env=env, stdout=subprocess.DEVNULL)
        try:
            wait_for(root, server)
            worker = [*manage, "syncbench", "--worker", "--set", name, "--records", str(size),
                      "--service-root", root, "--out", str(folder / "results.json")]
            worker_env = {**env, "CRM_URL": root, "SYNCBENCH_CRM_PID": str(server.pid)}
            if plan.profile:
                worker += ["--crm-profile", plan.profile]
            if name == "baseline":  # one request at a time, no bulk messages (interface B)
                worker_env.update(CRM_MAX_PARALLEL="1", CRM_BULK_MESSAGES="0")
            subprocess.run(worker, env=worker_env, check=True, stdout=sys.stderr)
            return json_load(folder / "results.json")
        finally:
            server.send_signal(signal.SIGINT)  # a clean stop, as Ctrl-C
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()

    def work(self, set_name, records, service_root, out, profile: bool):
        from couplings_app.bench import run_set
        from crm_emulator.apps_registry import register_application
        from mappings_app.models import Connection

        register_application(settings.CRM_TENANT_ID, settings.CRM_CLIENT_ID,
                             settings.CRM_CLIENT_SECRET, "syncadmin")
        connection = Connection.get()
        connection.service_root = service_root
        connection.authority_url = service_root.split("/api/data/")[0]
        connection.tenant_id = settings.CRM_TENANT_ID
        connection.save()
        results = run_set(set_name or "main", records, service_root, profile)
        Path(out).write_text(dump(results))


@dataclass
class Plan:
    records: int
    reference: int
    demo: int
    profile: str | None
    time_scale: float

    def sets(self):
        """(set, records) in the order they run: the reference before the main run."""
        if self.reference:
            yield "reference", self.reference
        yield "main", self.records
        if self.profile:
            yield "baseline", self.records
        if self.demo:
            yield "demo", self.demo


SCRATCH_KEY = "syncbench-scratch-key-" + "x" * 40


def scratch_only() -> bool:
    """Is this process one the orchestrator started on its scratch databases (they and only
    they get its secret key and a DATA_DIR under the system's temporary folder)?"""
    data_dir = Path(settings.DATA_DIR).resolve()
    return settings.SECRET_KEY == SCRATCH_KEY and data_dir.is_relative_to(
        Path(tempfile.gettempdir()).resolve())


def serve_crm(port: int, profile: str | None, time_scale: float):
    """The set's embedded CRM, as `run_emulator` serves it, with the Dataverse profile switched
    on in its process (the profile lives in the serving process's memory, as Dataverse's
    accounting lives on its web server). Its control endpoint is open to the worker, which reads
    the profile's usage there: this CRM serves the benchmark's scratch databases only, on
    loopback."""
    from crm_emulator import budget
    from crm_emulator.apps_registry import register_application
    from crm_emulator.server import make_server

    settings.CRM_EMULATOR_CONTROL = True
    # A 404 the sync expects (a row it probes for) is not news in the benchmark's output.
    logging.getLogger("django.request").setLevel(logging.ERROR)
    register_application(settings.CRM_TENANT_ID or "demo", settings.CRM_CLIENT_ID,
                         settings.CRM_CLIENT_SECRET, "syncadmin")
    if profile:
        budget.set_profile(time_scale=time_scale)
    server = make_server("127.0.0.1", port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


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
