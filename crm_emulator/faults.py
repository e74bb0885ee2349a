"""Fault knobs for tests and demos: make the embedded CRM misbehave on purpose.

    set_faults(error_rate=0.3)                      # 30% of API requests answered 500 or 503
    set_faults(error_rate=1, error_statuses=[503])  # every request answered 503
    set_faults(latency_ms=800)                      # every request 0.8 s slower
    set_faults(drop_rate=0.1)                       # 10% processed, then the connection dropped
    set_faults(malformed_rate=0.1)                  # 10% processed, then a garbled body
    set_faults(hang_rate=0.1, hang_ms=2000)         # 10% hang 2 s, then 504 (a client timeout)
    clear_faults()

Errors, latency and hangs come before the request is processed (nothing is written: a hung
request is answered 504 once the hang is over, long after a client with a shorter timeout gave
up, so the client sees a timeout and cannot know whether anything was written); a dropped
connection and a malformed body come after it (the write happened, the client cannot know):
the nastiest case for "no duplicates". Only the Web API is affected, not the token endpoint.
Settings live in the crm database (knobs.py), so every process serving the CRM sees them.
"""

from __future__ import annotations

import random
import socket
import time

from crm_emulator import knobs

KNOB = "faults"
DEFAULTS = {"error_rate": 0.0, "error_statuses": [500, 503], "latency_ms": 0,
            "drop_rate": 0.0, "malformed_rate": 0.0, "hang_rate": 0.0, "hang_ms": 0}
_random = random.Random()


def set_faults(**settings) -> dict:
    unknown = set(settings) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"Unknown fault settings: {', '.join(sorted(unknown))}")
    faults = {**DEFAULTS, **settings}
    for name in ("error_rate", "drop_rate", "malformed_rate", "hang_rate"):
        faults[name] = float(faults[name])
        if not 0 <= faults[name] <= 1:
            raise ValueError(f"{name} must be between 0 and 1")
    faults["latency_ms"] = int(faults["latency_ms"])
    faults["hang_ms"] = int(faults["hang_ms"])
    if faults["hang_rate"] and faults["hang_ms"] <= 0:
        raise ValueError("hang_rate needs hang_ms (how long a hung request hangs)")
    faults["error_statuses"] = [int(s) for s in faults["error_statuses"]] or [500]
    knobs.put(KNOB, faults)
    return faults


def clear_faults() -> None:
    knobs.put(KNOB, None)


def get_faults() -> dict:
    return {**DEFAULTS, **(knobs.get(KNOB) or {})}


def seed(value) -> None:
    """Makes the choice of spoiled requests repeatable (as far as the order of requests is)."""
    _random.seed(value)


def roll(rate: float) -> bool:
    return rate > 0 and _random.random() < rate


def before(faults: dict) -> int | None:
    """Sleeps the latency; returns an error status to answer instead of processing, or None."""
    if faults["latency_ms"]:
        time.sleep(faults["latency_ms"] / 1000)
    if roll(faults["hang_rate"]):
        time.sleep(faults["hang_ms"] / 1000)
        return 504
    if roll(faults["error_rate"]):
        return _random.choice(faults["error_statuses"])
    return None


def drop_connection(environ) -> bool:
    """Closes the client's connection under the response, where the server lets us reach it
    (our own server in crm_emulator.server, gunicorn). Returns False when it cannot."""
    sock = environ.get("crm_emulator.socket") or environ.get("gunicorn.socket")
    if sock is None:
        return False
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    return True
