"""How a phase is measured: wall seconds, records per second, HTTP requests, SQL queries, the
peak resident memory of this process, the CPU seconds of this process and of the CRM's, how the
CRM → ERP half read its candidates, and (with the Dataverse profile on) the CRM's budgets."""

import cProfile
import os
import sys
import threading
import time

from django.db import connection


def cpu_seconds(pid) -> float | None:
    """User + system CPU time of another process (the CRM's), or None if it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError, TypeError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def progress(text):
    print(f"  {text}", file=sys.stderr, flush=True)


class ReadWatch:
    """Which way the engine read the CRM's changes during a phase: it asks the client for change
    tracking with the mapping's delta link (`sync/delta.py`), or without one (establishing a new
    link: no link yet, a refused one, a full run — and then it reads by the watermark). Only
    observes the client's calls; what they return is untouched."""

    def __init__(self, client):
        self.client, self.calls = client, []

    def __enter__(self):
        original = self.client.iter_changes

        def watched(*args, **kwargs):
            self.calls.append(bool(kwargs.get("delta_link")))
            return original(*args, **kwargs)

        self.client.iter_changes = watched
        return self

    def __exit__(self, *exc):
        del self.client.iter_changes  # the class's method again
        return False

    @property
    def read_by(self) -> str:
        if not self.calls:
            return "no change tracking"
        if all(self.calls):
            return "delta link"
        if any(self.calls):
            return "watermark (delta link refused)"
        return "watermark"


class Phase:
    """Measures one phase: time, requests, queries, and peak memory sampled every 20 ms.
    `budget` (bench.budget.Budget, or None): the CRM's usage read before and after."""

    def __init__(self, name, client, records, budget=None, watch_reads=False):
        self.name, self.client, self.records = name, client, records
        self.budget = budget
        self.reads = ReadWatch(client) if watch_reads else None
        self.queries = 0
        self.peak_kb = 0
        self.extra = {}

    def _count(self, execute, sql, params, many, context):
        self.queries += 1
        return execute(sql, params, many, context)

    def _sample(self):
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, rss_kb())
            self._stop.wait(0.02)

    def __enter__(self):
        self._usage = self.budget.usage() if self.budget else None
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        self._requests = self.client.request_count
        self._wrapper = connection.execute_wrapper(self._count)
        self._wrapper.__enter__()
        if self.reads:
            self.reads.__enter__()
        folder = os.environ.get("SYNCBENCH_PROFILE")  # a folder for one cProfile file per phase
        self._profile = cProfile.Profile() if folder else None
        progress(f"{self.name}…")
        self._crm_pid = os.environ.get("SYNCBENCH_CRM_PID")
        self._crm_cpu = cpu_seconds(self._crm_pid)
        self._cpu = time.process_time()
        self._start = time.perf_counter()
        if self._profile:
            self._profile.enable()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._start
        self.cpu = time.process_time() - self._cpu
        crm_cpu = cpu_seconds(self._crm_pid)
        self.crm_cpu = None if crm_cpu is None or self._crm_cpu is None else \
            crm_cpu - self._crm_cpu
        if self._profile:
            self._profile.disable()
            folder = os.environ["SYNCBENCH_PROFILE"]
            os.makedirs(folder, exist_ok=True)
            self._profile.dump_stats(os.path.join(folder, self.name.replace(" ", "-") + ".prof"))
        if self.reads:
            self.reads.__exit__(*exc)
        self._wrapper.__exit__(*exc)
        self._stop.set()
        self._sampler.join()
        self.peak_kb = max(self.peak_kb, rss_kb())
        self.requests = self.client.request_count - self._requests
        if self.budget and exc[0] is None:
            self.extra.update(self.budget.report(self._usage, self.budget.usage(),
                                                 self.records, self.seconds))
        return False

    def result(self) -> dict:
        result = {
            "phase": self.name, "records": self.records, "seconds": round(self.seconds, 3),
            "records_per_second": round(self.records / self.seconds) if self.seconds else None,
            "http_requests": self.requests, "sql_queries": self.queries,
            "peak_memory_mb": round(self.peak_kb / 1024, 1),
            # CPU seconds of the sync process and of the CRM's: on a busy machine wall time
            # varies, these much less; their sum against the wall shows the overlap.
            "sync_cpu_seconds": round(self.cpu, 2),
            "crm_cpu_seconds": None if self.crm_cpu is None else round(self.crm_cpu, 2),
        }
        if self.reads:
            result["crm_read_by"] = self.reads.read_by
        result.update(self.extra)
        return result
