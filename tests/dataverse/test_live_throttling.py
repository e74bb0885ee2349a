# ruff: noqa: F811  (fixtures imported from live_conftest, then used as arguments)
"""The Dataverse client, live: service protection limits (429 and Retry-After). The emulator's
throttle clock moves only by the client's recorded sleeps where a test needs time to pass.

The CRM, the client and their helpers are in live_conftest.py.
"""

from __future__ import annotations

import time
import types

import pytest

from crm_emulator import throttle
from dataverse import Throttled
from tests.dataverse.live_conftest import (  # noqa: F401  (fixtures)
    app_user,
    connect,
    create_accounts,
    crm_process_server,
    crm_server,
    live,
)

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])


# --- service protection limits ----------------------------------------------------------------


@pytest.fixture
def throttle_clock(monkeypatch):
    """The emulator's throttle clock, moved only by the client's (recorded) sleeps."""
    now = [1_800_000.0]  # the start of a window for every window length used below
    monkeypatch.setattr(throttle, "time", types.SimpleNamespace(time=lambda: now[0]))
    return now


class Waits(list):
    """The waits a client asked for; its `sleep` records one and lets that much time pass on
    the throttle clock."""

    def __init__(self, clock):
        super().__init__()
        self.clock = clock

    def sleep(self, seconds):
        self.append(seconds)
        self.clock[0] += seconds


@pytest.fixture
def waits(throttle_clock):
    return Waits(throttle_clock)


def test_throttled_then_success_after_retry_after(connect, waits):
    client = connect(sleep=waits.sleep)
    create_accounts(client, ["Throttled Co"])  # 1 request of the window
    throttle.set_limit(requests=3, window_seconds=10)
    for _ in range(3):
        assert len(list(client.iter_rows("accounts", select=["name"]))) == 1
    assert waits == []
    before = client.request_count
    rows = list(client.iter_rows("accounts", select=["name"]))  # the 4th: 429, wait, resend
    assert [r["name"] for r in rows] == ["Throttled Co"]
    assert waits == [10.0]  # as the Retry-After said: the rest of the window
    assert client.request_count - before == 2


def test_throttled_write_is_resent_too(connect, waits):
    client = connect(sleep=waits.sleep)
    throttle.set_limit(requests=1, window_seconds=5)
    client.who_am_i()
    # a POST without an id of ours: not idempotent, but a 429 means it did not run
    rowid = client.create("accounts", {"name": "After the wait"})
    assert waits == [5.0]
    assert client.get("accounts", rowid)["name"] == "After the wait"
    assert len(list(client.iter_rows("accounts", select=["name"]))) == 1


def test_throttled_beyond_retries(connect, sleeps, throttle_clock):
    # sleeps are recorded, the throttle clock stands still
    client = connect(max_throttle_retries=2)
    throttle.set_limit(requests=1, window_seconds=60)
    client.who_am_i()
    before = client.request_count
    with pytest.raises(Throttled) as caught:
        client.get_path("WhoAmI")
    error = caught.value
    assert error.status == 429 and error.code == "0x80072322" and error.retry_after == 60
    assert error.retried
    assert sleeps == [60.0, 60.0]
    assert client.request_count - before == 3


def test_retry_after_longer_than_allowed_is_not_waited_out(connect, sleeps, throttle_clock):
    client = connect(max_retry_after=30)
    throttle.set_limit(requests=1, window_seconds=300)
    client.who_am_i()
    with pytest.raises(Throttled) as caught:
        client.get_path("WhoAmI")
    assert caught.value.retry_after == 300 and sleeps == []


def test_throttled_in_real_time(connect):
    """No fake clock: a one-second window really passes while the client waits."""
    waits: list[float] = []

    def sleep(seconds):
        waits.append(seconds)
        time.sleep(seconds)

    client = connect(sleep=sleep, max_retries=3)
    client.who_am_i()
    throttle.set_limit(requests=2, window_seconds=1)
    for _ in range(6):  # a window may turn between requests: go on until refused once
        client.get_path("WhoAmI")
        if waits:
            break
    assert waits and all(0 < w <= 1 for w in waits)

