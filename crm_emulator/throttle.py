"""Service protection limits: N requests per user per time window, then 429 with Retry-After.

Off by default; `set_limit(requests=N, window_seconds=W)` / `clear_limit()` at run time (shared by
every process through knobs.py). Counts live in the crm database, so every process serving the
CRM counts against the same limit.
"""

from __future__ import annotations

import math
import time

from django.db import IntegrityError, transaction
from django.db.models import F

from crm_emulator import errors, knobs
from crm_emulator.models import ThrottleCount
from crm_emulator.routers import CRM_DB

KNOB = "throttle"


def set_limit(requests: int, window_seconds: int = 300) -> dict:
    if requests < 1 or window_seconds < 1:
        raise ValueError("requests and window_seconds must be positive")
    value = {"requests": int(requests), "window_seconds": int(window_seconds)}
    knobs.put(KNOB, value)
    return value


def clear_limit() -> None:
    knobs.put(KNOB, None)
    ThrottleCount.objects.all().delete()


def get_limit() -> dict | None:
    return knobs.get(KNOB)


def check(user_id) -> None:
    """Counts one request of `user_id`; raises the 429 refusal once over the limit."""
    limit = get_limit()
    if not limit or user_id is None:
        return
    window_seconds = limit["window_seconds"]
    now = time.time()
    window = int(now // window_seconds)
    with transaction.atomic(using=CRM_DB):
        updated = ThrottleCount.objects.filter(userid=user_id, window=window).update(
            count=F("count") + 1)
        if not updated:
            try:
                with transaction.atomic(using=CRM_DB):
                    ThrottleCount.objects.create(userid=user_id, window=window, count=1)
            except IntegrityError:
                ThrottleCount.objects.filter(userid=user_id, window=window).update(
                    count=F("count") + 1)
        count = ThrottleCount.objects.get(userid=user_id, window=window).count
    if count > limit["requests"]:
        retry_after = max(1, math.ceil((window + 1) * window_seconds - now))
        raise errors.throttled(limit["requests"], window_seconds, retry_after)
