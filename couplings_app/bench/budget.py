"""`syncbench --crm-profile dataverse`: the embedded CRM's Dataverse profile (service protection,
issue #16 part 3, crm_emulator/budget.py), switched on in the set's CRM process and read by the
worker over its control endpoint `/crm/_emulator/profile` around each phase that writes.

Dataverse limits each application user, over a sliding 5-minute window, to 6,000 requests,
1,200 s of combined execution time and 52 concurrent requests (learn.microsoft.com, "Service
protection API limits"). The profile accounts the same three budgets (its window and budgets
shortened by `time_scale`, their ratios kept), and `crm_emulator.budget.ceiling` says how fast a
given mix of operations could at best run within them. A phase is then reported against that
ceiling: records / ceiling seconds is the best records/s the budgets allow for what the phase
actually sent, and the ratio says how much of it the client used.
"""

import json
import urllib.error
import urllib.request

PROFILES = ("dataverse",)
DEFAULT_TIME_SCALE = 0.01  # a 3-second window: 10,000 records run in reasonable time
NUMBERS = ("requests", "execution_seconds", "busy_seconds", "throttled")


def control_url(service_root: str) -> str:
    """/crm/_emulator/profile of the CRM serving `service_root` (…/crm/api/data/v9.2/)."""
    return service_root.split("/api/data/")[0] + "/_emulator/profile"


def call(url: str, method: str = "GET", body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        text = error.read().decode(errors="replace")[:300]
        raise RuntimeError(f"The embedded CRM's profile control ({method} {url}) answered "
                           f"{error.code}: {text}") from None


def difference(before: dict, after: dict) -> dict:
    """Usage during a phase: counters subtracted (operations kind by kind); the concurrency
    seen is the highest since the profile was set, as the CRM reports it."""
    delta = {k: (after.get(k) or 0) - (before.get(k) or 0) for k in NUMBERS}
    ops_before, ops_after = before.get("operations") or {}, after.get("operations") or {}
    delta["operations"] = {k: v - ops_before.get(k, 0) for k, v in ops_after.items()
                           if v - ops_before.get(k, 0)}
    delta["max_concurrent_seen"] = after.get("max_concurrent_seen")
    return delta


class Budget:
    """The CRM's profile and usage, read by the worker around each phase that writes."""

    def __init__(self, service_root: str):
        self.url = control_url(service_root)
        self.profile = call(self.url).get("profile")
        if not self.profile:
            raise RuntimeError("The embedded CRM's Dataverse profile is not on.")

    def usage(self) -> dict:
        return call(self.url).get("usage") or {}

    def report(self, before: dict, after: dict, records: int, seconds: float) -> dict:
        from crm_emulator.budget import ceiling

        used = difference(before, after)
        best = ceiling(used, self.profile)
        best_rps = records / best["seconds"] if best["seconds"] else None
        achieved = records / seconds if seconds else None
        return {
            "ceiling_records_per_second": round(best_rps) if best_rps else None,
            "ratio_to_ceiling": round(achieved / best_rps, 2) if best_rps and achieved else None,
            "limited_by": best["limited_by"],
            "throttled": used["throttled"],
            "crm_usage": used,
        }
