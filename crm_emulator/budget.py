"""The "Dataverse profile": real Dataverse's server time and service-protection budget, simulated.

Off by default (the embedded CRM then answers as fast as it can, as before). `set_profile()` turns
it on for every thread of the serving process; from then on every Web API request

- waits `latency_seconds` (the network round trip to a cloud region, not server time) and the
  server time its work costs (`seconds_per_operation` for a create, update, delete or read, also
  for each part of a `$batch`; `seconds_per_bulk_request` + `seconds_per_bulk_record` per target
  for CreateMultiple / UpdateMultiple / UpsertMultiple). Time is spent by sleeping, so parallel
  requests overlap as they do on a real server;
- is accounted per user (the token's user) against the three service-protection limits, as
  documented in "Service protection API limits" (learn.microsoft.com/power-apps/developer/
  data-platform/api-limits): per user and per web server, over a 300-second *sliding* window,
  6,000 requests and 1,200 seconds of combined execution time; 52 concurrent requests. A request
  arriving when a limit is exceeded gets 429 with Dataverse's code and message (0x80072322 number
  of requests, 0x80072321 execution time, 0x80072326 concurrent requests) and `Retry-After` in
  whole seconds: for the first two, until enough of the window has slid for the request to pass;
  the concurrency limit "will immediately return an error" (same page), so 1 second. A `$batch`
  is one request for the request count; its parts' server time adds up (same page: "You could send
  fewer requests by bundling them in batch operations. The combined execution time limit will
  counter this."). A refused request is not counted.
- carries `x-ms-dop-hint` ("Send parallel requests": the recommended degree of parallelism), and
  the debugging headers `x-ms-ratelimit-burst-remaining-xrm-requests` /
  `x-ms-ratelimit-time-remaining-xrm-requests` the same page describes.

The accounting lives in this process's memory, not in the database: Dataverse "enforces these
limits independently" on each web server, and one process of the embedded CRM is one such server.

`time_scale` shortens everything for benchmarks with the ratios kept: the window, latency and
server times are multiplied by it, and so are the request and execution-time budgets, so a run
meets the same limits in a shorter time. Overrides are given in real (unscaled) units.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field

from crm_emulator import errors

# Real Dataverse. Limits: "Service protection API limits" (defaults per web server). dop_hint: a
# trial or developer environment has a single web server and answers `x-ms-dop-hint: 4` (or 5;
# production environments with more servers answer more, e.g. 48). Times, from Microsoft's
# figures for a small standard table without plug-ins ("Optimize performance for bulk
# operations"; the bulk operations sample): single requests reach about 50,000 records an hour
# one after the other (0.07 s a request = latency 0.03 + server 0.04); the bulk messages give "up
# to 5x" the throughput of ExecuteMultiple (`$batch`), so a bulk record costs a fifth of a batch
# part (0.008 s) after the request's own 0.05 s, which puts CreateMultiple of 100 records at
# about 0.9 s, as the sample reports ("Created 100 records in 1 seconds").
DATAVERSE = {
    "window_seconds": 300.0,
    "max_requests": 6000,
    "max_execution_seconds": 1200.0,
    "max_concurrent": 52,
    "dop_hint": 4,
    "latency_seconds": 0.03,
    "seconds_per_operation": 0.04,
    "seconds_per_bulk_request": 0.05,
    "seconds_per_bulk_record": 0.008,
}
SCALED_TIMES = ("window_seconds", "max_execution_seconds", "latency_seconds",
                "seconds_per_operation", "seconds_per_bulk_request", "seconds_per_bulk_record")
USAGE_KEYS = ("requests", "execution_seconds", "busy_seconds", "throttled",
              "max_concurrent_seen")

clock = time.monotonic  # module attributes, so tests can run the window on a clock of their own
sleep = time.sleep
_lock = threading.Lock()
_local = threading.local()
_state = {"profile": None, "generation": 0}
_windows: dict = {}  # user id -> Window
_usage: dict = {}


class Window:
    """One user's requests in the sliding window: [arrival, server seconds, still in window]."""

    def __init__(self):
        self.events: deque = deque()
        self.seconds = 0.0
        self.in_flight = 0

    def slide(self, now: float, width: float):
        while self.events and self.events[0][0] <= now - width:
            event = self.events.popleft()
            event[2] = False
            self.seconds -= event[1]
        if not self.events:
            self.seconds = 0.0  # no drift of the running sum

    def seconds_until(self, now: float, width: float, index: int) -> int:
        """Whole seconds until the event at `index` leaves the window (at least 1)."""
        return max(1, math.ceil(self.events[index][0] + width - now))


@dataclass
class Ticket:
    """A request admitted under the profile; `finish()` spends and accounts its server time."""

    user_id: object
    event: list
    profile: dict
    generation: int
    operations: int = 1
    bulk_records: int | None = None
    kinds: Counter = field(default_factory=Counter)


# --- the profile ---------------------------------------------------------------------------------
def set_profile(time_scale: float = 1.0, **overrides) -> dict:
    """Switches the profile on (real Dataverse's numbers, `overrides` in real units, everything
    scaled by `time_scale`) and starts usage afresh; returns the profile in force."""
    unknown = set(overrides) - set(DATAVERSE)
    if unknown:
        raise ValueError(f"Unknown profile setting(s): {', '.join(sorted(unknown))}. Known: "
                         f"{', '.join(DATAVERSE)}.")
    time_scale = float(time_scale)
    if not time_scale > 0:
        raise ValueError("time_scale must be greater than 0.")
    real = {**DATAVERSE, **overrides}
    for name, value in real.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise ValueError(f"The profile setting {name} must be a number, 0 or more.")
    for name in ("window_seconds", "max_requests", "max_execution_seconds", "max_concurrent",
                 "dop_hint"):
        if not real[name] > 0:
            raise ValueError(f"The profile setting {name} must be greater than 0.")
    profile = {name: float(real[name]) * (time_scale if name in SCALED_TIMES else 1.0)
               for name in DATAVERSE}
    profile["max_requests"] = max(1, round(real["max_requests"] * time_scale))
    profile["max_concurrent"] = int(real["max_concurrent"])
    profile["dop_hint"] = int(real["dop_hint"])
    profile["time_scale"] = time_scale
    with _lock:
        _state["profile"] = profile
        _state["generation"] += 1
        _windows.clear()
        reset_usage_locked()
    return dict(profile)


def clear_profile() -> None:
    """Back to answering at full speed, unlimited. The usage of the last profile stays readable."""
    with _lock:
        _state["profile"] = None
        _state["generation"] += 1
        _windows.clear()


def get_profile() -> dict | None:
    profile = _state["profile"]
    return dict(profile) if profile else None


def dop_hint() -> int | None:
    profile = _state["profile"]
    return profile["dop_hint"] if profile else None


# --- usage ----------------------------------------------------------------------------------------
def reset_usage_locked():
    _usage.clear()
    _usage.update({"requests": 0, "execution_seconds": 0.0, "busy_seconds": 0.0, "throttled": 0,
                   "max_concurrent_seen": 0, "operations": Counter()})


def reset_usage() -> None:
    with _lock:
        reset_usage_locked()


def usage() -> dict:
    """What the users sent since the profile was set (or `reset_usage()`): requests admitted,
    simulated server seconds, busy seconds (latency + server time), 429s sent, the most
    concurrent requests of one user, and records by kind of operation."""
    with _lock:
        if not _usage:
            reset_usage_locked()
        result = {key: _usage[key] for key in USAGE_KEYS}
        result["operations"] = dict(_usage["operations"])
    return result


def ceiling(usage: dict, profile: dict) -> dict:
    """The least wall time in which the three budgets allow this mix of requests: each budget
    refills at its rate (`max_requests` / `max_execution_seconds` per window) and concurrency
    caps how much busy time fits in one second."""
    window = profile["window_seconds"]
    bounds = {
        "requests": usage["requests"] * window / profile["max_requests"],
        "execution time": usage["execution_seconds"] * window / profile["max_execution_seconds"],
        "concurrency": usage["busy_seconds"] / profile["max_concurrent"],
    }
    limited_by = max(bounds, key=bounds.get)
    return {"seconds": bounds[limited_by], "limited_by": limited_by}


# --- one request ----------------------------------------------------------------------------------
def window_text(seconds: float) -> str:
    return f"{seconds:g}"


def refuse(error: errors.ApiError):
    _usage["throttled"] = _usage.get("throttled", 0) + 1
    raise error


def admit(user_id) -> Ticket | None:
    """Admits one request of `user_id` (None when the profile is off); raises the 429 refusal of
    the limit it would exceed."""
    profile = _state["profile"]
    if profile is None or user_id is None:
        return None
    width = profile["window_seconds"]
    now = clock()
    with _lock:
        if _state["profile"] is not profile:
            return None
        if not _usage:
            reset_usage_locked()
        window = _windows.setdefault(user_id, Window())
        window.slide(now, width)
        if window.in_flight >= profile["max_concurrent"]:
            refuse(errors.too_many_concurrent(profile["max_concurrent"], 1))
        count = len(window.events)
        if count >= profile["max_requests"]:
            wait = window.seconds_until(now, width, count - profile["max_requests"])
            refuse(errors.throttled(profile["max_requests"], window_text(width), wait))
        limit = profile["max_execution_seconds"]
        if window.seconds > limit:
            excess, index = window.seconds - limit, 0
            while index < count - 1 and excess > window.events[index][1]:
                excess -= window.events[index][1]
                index += 1
            wait = window.seconds_until(now, width, index)
            refuse(errors.too_much_execution_time(round(limit * 1000), window_text(width), wait))
        event = [now, 0.0, True]
        window.events.append(event)
        window.in_flight += 1
        _usage["requests"] += 1
        _usage["max_concurrent_seen"] = max(_usage["max_concurrent_seen"], window.in_flight)
    ticket = Ticket(user_id, event, profile, _state["generation"])
    _local.ticket = ticket
    return ticket


def current() -> Ticket | None:
    return getattr(_local, "ticket", None)


def record(kind: str, count: int = 1) -> None:
    """Counts records of the request being served by kind (create, update, delete, read)."""
    ticket = current()
    if ticket is not None and count:
        ticket.kinds[kind] += count


def record_bulk(count: int) -> None:
    """The request being served is a bulk message with `count` targets."""
    ticket = current()
    if ticket is not None:
        ticket.bulk_records = count
        ticket.kinds["bulk_records"] += count


def record_parts(count: int) -> None:
    """The request being served is a `$batch` of `count` parts (each one operation)."""
    ticket = current()
    if ticket is not None:
        ticket.operations = count


def refused_latency() -> None:
    """A refused request still travels the network both ways."""
    profile = _state["profile"]
    if profile and profile["latency_seconds"]:
        sleep(profile["latency_seconds"])


def server_seconds(ticket: Ticket) -> float:
    profile = ticket.profile
    if ticket.bulk_records is not None:
        return (profile["seconds_per_bulk_request"]
                + ticket.bulk_records * profile["seconds_per_bulk_record"])
    return ticket.operations * profile["seconds_per_operation"]


def finish(ticket: Ticket) -> dict:
    """Spends the request's server time (holding its concurrency slot), then its latency;
    accounts both; returns the headers of the answer."""
    _local.ticket = None
    profile = ticket.profile
    seconds = server_seconds(ticket)
    if seconds:
        sleep(seconds)
    with _lock:
        current_profile = _state["generation"] == ticket.generation
        window = _windows.get(ticket.user_id) if current_profile else None
        if window is not None:
            window.in_flight -= 1
            ticket.event[1] = seconds
            if ticket.event[2]:
                window.seconds += seconds
            _usage["execution_seconds"] += seconds
            _usage["busy_seconds"] += seconds + profile["latency_seconds"]
            _usage["operations"].update(ticket.kinds)
            remaining_requests = max(0, profile["max_requests"] - len(window.events))
            remaining_seconds = max(0.0, profile["max_execution_seconds"] - window.seconds)
    if profile["latency_seconds"]:
        sleep(profile["latency_seconds"])
    if window is None:
        return {}
    return {"x-ms-ratelimit-burst-remaining-xrm-requests": str(remaining_requests),
            "x-ms-ratelimit-time-remaining-xrm-requests": f"{remaining_seconds:,.2f}"}
