"""Run-time settings shared by every process serving the CRM, kept in the crm database.

Reads are cached for `TTL` seconds per process, so a fault or a limit set by a test or by
`POST /crm/_emulator/faults` reaches every server process within a second, without a query per
request.
"""

from __future__ import annotations

import threading
import time

from crm_emulator.models import Knob

TTL = 1.0
_cache: dict[str, tuple[float, object]] = {}
_lock = threading.Lock()


def get(name: str, default=None):
    now = time.monotonic()
    with _lock:
        cached = _cache.get(name)
    if cached and now - cached[0] < TTL:
        return cached[1]
    row = Knob.objects.filter(name=name).first()
    value = row.value if row is not None else default
    with _lock:
        _cache[name] = (now, value)
    return value


def put(name: str, value) -> None:
    if value is None:
        Knob.objects.filter(name=name).delete()
    else:
        Knob.objects.update_or_create(name=name, defaults={"value": value})
    forget()


def forget() -> None:
    with _lock:
        _cache.clear()
