"""Measure the Dataverse client paging through many rows of the embedded CRM: is memory flat?

    .venv/bin/python tools/measure_paging.py --rows 100000 [--page-size 5000] [--select name,...]

Three processes, so each one's memory is its own:
1. this one prepares a scratch directory (DATA_DIR: both SQLite databases and the secret key;
   the user's databases are never touched), migrates it, registers an application and inserts
   the accounts straight into the emulator's storage (models.Row, in chunks);
2. `manage.py run_emulator` serves the CRM from that directory on a free loopback port;
3. a client process (this script with --client, importing only `dataverse`, no Django) pages
   through every account with `iter_pages` and reports rows, pages, requests, seconds and its
   memory: the tracemalloc peak and ru_maxrss after 10,000 rows and after the last row.
The report ends with the server's peak resident memory. The scratch directory is removed.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
TENANT, CLIENT_ID = "measure", "measure-paging"
CHECKPOINT = 10_000
INSERT_CHUNK = 5_000


# --- the client process (no Django) ----------------------------------------------------------


def maxrss_kib() -> int:
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss // 1024 if sys.platform == "darwin" else rss  # bytes on macOS, KiB on Linux


def run_client(args: argparse.Namespace) -> None:
    import tracemalloc

    sys.path.insert(0, str(BASE_DIR))
    from dataverse import ClientCredentials, DataverseClient

    # Started before the preparing process grew (ru_maxrss survives fork and exec on Linux):
    # the service root, token endpoint and secret come on stdin once the server answers.
    given = json.loads(sys.stdin.readline())
    auth = ClientCredentials(given["token_url"], CLIENT_ID, given["secret"],
                             given["root"] + ".default")
    client = DataverseClient(given["root"], auth=auth, timeout=300)
    client.who_am_i()  # the token and the connection: not part of the measure
    select = [s for s in args.select.split(",") if s] or None
    result: dict = {"baseline_maxrss_kib": maxrss_kib(), "baseline_hwm_kib": peak_rss_kib(),
                    "checkpoints": []}
    rows = pages = 0
    next_checkpoint = args.every
    before = client.request_count
    tracemalloc.start()
    started = time.perf_counter()
    for page in client.iter_pages("accounts", select=select, page_size=args.page_size):
        rows += len(page)
        pages += 1
        del page
        if rows >= next_checkpoint:
            current, peak = tracemalloc.get_traced_memory()
            result["checkpoints"].append({
                "rows": rows, "seconds": round(time.perf_counter() - started, 2),
                "traced_current": current, "traced_peak": peak, "maxrss_kib": maxrss_kib(),
                "hwm_kib": peak_rss_kib()})
            while next_checkpoint <= rows:
                next_checkpoint += args.every
    seconds = time.perf_counter() - started
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    result.update(rows=rows, pages=pages, requests=client.request_count - before,
                  seconds=round(seconds, 2), traced_current=current, traced_peak=peak,
                  maxrss_kib=maxrss_kib(), hwm_kib=peak_rss_kib())
    print(json.dumps(result))


# --- the preparing process (Django, scratch databases) ---------------------------------------


def setup_django(data_dir: Path) -> None:
    os.environ["DATA_DIR"] = str(data_dir)
    for name in ("DATABASE_URL", "CRM_DATABASE_URL", "CRM_URL"):
        os.environ.pop(name, None)  # never the user's databases or CRM
    os.environ["DEBUG"] = "0"  # DEBUG would keep every query in memory
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "syncadmin.settings")
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    from django.conf import settings

    for alias in ("default", "crm"):
        name = Path(settings.DATABASES[alias]["NAME"]).resolve()
        if data_dir.resolve() not in name.parents:
            raise SystemExit(f"refusing to run: the {alias} database {name} is outside {data_dir}")


def prepare(rows: int, secret: str) -> uuid.UUID:
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    from crm_emulator.apps_registry import register_application
    from crm_emulator.models import Row
    from crm_emulator.routers import CRM_DB
    from crm_emulator.schema import BY_NAME
    from crm_emulator.store import CHUNK, UnitOfWork, next_versions

    call_command("migrate", database="default", verbosity=0)
    call_command("migrate", database=CRM_DB, verbosity=0)
    owner = register_application(TENANT, CLIENT_ID, secret, "measure paging")
    defaults = UnitOfWork(owner).defaults(BY_NAME["account"])
    now = timezone.now()
    cities = ["Atlanta", "London", "Copenhagen", "Munich"]
    with transaction.atomic(using=CRM_DB):
        version = next_versions(rows)
        for start in range(0, rows, INSERT_CHUNK):  # never every row in memory at once
            chunk = [
                Row(entity="account", rowid=uuid.uuid4(), createdon=now, modifiedon=now,
                    createdby=owner, modifiedby=owner, versionnumber=version + n,
                    data={**defaults, "name": f"Measured account {n:07d}",
                          "accountnumber": f"M{n:07d}", "address1_city": cities[n % 4],
                          "telephone1": f"+45 {n:08d}", "customertypecode": 3,
                          "creditlimit": float(n % 10_000)})
                for n in range(start, min(rows, start + INSERT_CHUNK))
            ]
            Row.objects.bulk_create(chunk, batch_size=CHUNK)
    return owner


def start_server(data_dir: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "DATA_DIR": str(data_dir), "DEBUG": "0"}
    with open(data_dir / "emulator.log", "wb") as log:  # a file: a full pipe would block it
        return subprocess.Popen(
            [sys.executable, str(BASE_DIR / "manage.py"), "run_emulator", "--host", "127.0.0.1",
             "--port", str(port), "--quiet"],
            cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
        )


def wait_until_answering(root: str, server: subprocess.Popen, log: Path,
                         timeout: float = 60) -> None:
    from crm_emulator.server import answers

    deadline = time.monotonic() + timeout
    while not answers(root):
        if server.poll() is not None:
            raise SystemExit(f"the emulator stopped:\n{log.read_text()[-2000:]}")
        if time.monotonic() > deadline:
            raise SystemExit(f"the emulator did not answer at {root} within {timeout:.0f} s")
        time.sleep(0.2)


def peak_rss_kib(pid: int | str = "self") -> int | None:
    """VmHWM: the peak resident memory of a process (Linux), its own since exec."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def mib(kib: int | None) -> str:
    return "n/a" if kib is None else f"{kib / 1024:.1f} MiB"


def report(args, result: dict, inserted_s: float, server_kib: int | None) -> None:
    print(f"rows inserted:  {args.rows:,} in {inserted_s:.1f} s (straight into the storage)")
    print(f"client paging:  page_size={args.page_size}, select={args.select or '(all columns)'}")
    print(f"rows seen:      {result['rows']:,}")
    print(f"pages:          {result['pages']}")
    print(f"requests:       {result['requests']}")
    print(f"seconds:        {result['seconds']:.1f} "
          f"({result['rows'] / max(result['seconds'], 1e-9):,.0f} rows/s)")
    print(f"client before paging (imports, token): ru_maxrss {mib(result['baseline_maxrss_kib'])}"
          f", VmHWM {mib(result['baseline_hwm_kib'])}")
    print(f"{'client memory after':<22}{'tracemalloc peak':>18}{'tracemalloc now':>18}"
          f"{'ru_maxrss':>14}{'VmHWM':>14}")
    points = [*result["checkpoints"]]
    if not points or points[-1]["rows"] != result["rows"]:
        points.append({"rows": result["rows"], "traced_peak": result["traced_peak"],
                       "traced_current": result["traced_current"],
                       "maxrss_kib": result["maxrss_kib"], "hwm_kib": result["hwm_kib"]})
    for point in points:
        print(f"{point['rows']:>12,} rows      {point['traced_peak'] / 2**20:>14.1f} MiB"
              f"{point['traced_current'] / 2**20:>14.1f} MiB{mib(point['maxrss_kib']):>14}"
              f"{mib(point['hwm_kib']):>14}")
    print(f"server (run_emulator) peak RSS: {mib(server_kib)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=5000)
    parser.add_argument("--select", default="",
                        help="comma-separated columns (default: every column)")
    parser.add_argument("--every", type=int, default=CHECKPOINT,
                        help="report the client's memory every this many rows (default 10,000)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        run_client(args)
        return

    client = subprocess.Popen(
        [sys.executable, __file__, "--client", "--page-size", str(args.page_size),
         "--select", args.select, "--every", str(args.every)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    data_dir = Path(tempfile.mkdtemp(prefix="measure-paging-"))
    server = None
    try:
        setup_django(data_dir)
        from crm_emulator.server import free_port, service_root, token_url

        secret = secrets.token_urlsafe(24)
        started = time.perf_counter()
        prepare(args.rows, secret)
        inserted_s = time.perf_counter() - started
        port = free_port()
        root = service_root("127.0.0.1", port)
        server = start_server(data_dir, port)
        wait_until_answering(root, server, data_dir / "emulator.log")
        given = {"root": root, "token_url": token_url(root, TENANT), "secret": secret}
        out, err = client.communicate(json.dumps(given) + "\n")
        if client.returncode:
            raise SystemExit(f"the client failed:\n{err[-4000:]}")
        result = json.loads(out.strip().splitlines()[-1])
        server_kib = peak_rss_kib(server.pid)
        report(args, result, inserted_s, server_kib)
        if result["rows"] != args.rows:
            raise SystemExit(f"expected {args.rows:,} rows, saw {result['rows']:,}")
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        if args.keep:
            print(f"scratch directory kept: {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
