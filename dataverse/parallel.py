"""Parallel requests within Dataverse's service protection limits: a gate shared by every thread
of one transport (Retry-After) and a width that follows the service's `x-ms-dop-hint`.

What Dataverse documents, and what follows from it here:
- "Send parallel requests" (learn.microsoft.com/power-apps/developer/data-platform/
  send-parallel-requests): the optimum degree of parallelism varies with the servers an
  environment has, so use the integer the service returns in the `x-ms-dop-hint` response
  header. The concurrent-request limit is 52 by default; exceeding it is answered at once.
  So: at most min(max_parallel, the last hint seen, 52) requests in flight.
- "Service protection API limits" (.../data-platform/api-limits): limits are per user over a
  5-minute sliding window (6,000 requests, 1,200 s of execution time, 52 concurrent); once
  exceeded, "a service protection API Limit error will be returned on subsequent requests ...
  until the Retry-After duration has ended". A 429 therefore speaks for the whole user, not for
  the one request: once any thread is told to wait, no thread sends before that time (`Gate`),
  instead of each thread running into the same 429 on purpose.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

MAX_CONCURRENT = 52  # Dataverse's default limit of concurrent requests per user


class Gate:
    """The time before which no request may be sent, shared by every thread of a transport.

    `close_for(seconds)` is called by the thread that was told to wait (it then sleeps those
    seconds itself); `wait(sleep)` is called before every request. A thread sleeps at most
    once for each closing time, so a test's recorded `sleep` (which does not let time pass)
    never spins, and a thread never waits twice for the wait it already slept.
    """

    def __init__(self, clock: Callable[[], float]):
        self.clock = clock
        self._lock = threading.Lock()
        self._until: float | None = None
        self._slept = threading.local()  # the closing time this thread already waited for

    @property
    def until(self) -> float | None:
        return self._until

    def close_for(self, seconds: float) -> None:
        """No request before `seconds` from now (the longest wait asked for wins)."""
        until = self.clock() + seconds
        with self._lock:
            if self._until is None or until > self._until:
                self._until = until
            self._slept.until = until  # the caller sleeps `seconds` itself

    def remaining(self) -> float:
        """Seconds this thread still has to wait before sending (0 when it may send)."""
        with self._lock:
            until = self._until
        if until is None or getattr(self._slept, "until", None) == until:
            return 0.0
        return max(0.0, until - self.clock())

    def wait(self, sleep: Callable[[float], None]) -> None:
        """Sleep until the gate opens; again only if another thread closed it for longer."""
        while True:
            with self._lock:
                until = self._until
            if until is None or getattr(self._slept, "until", None) == until:
                return
            delay = until - self.clock()
            self._slept.until = until
            if delay <= 0:
                return
            sleep(delay)


class Width:
    """At most `limit()` tasks at once; the limit is read again each time one starts, so a
    `x-ms-dop-hint` learned from the first answers narrows (or widens) what follows."""

    def __init__(self, limit: Callable[[], int]):
        self.limit = limit
        self.running = 0
        self._cond = threading.Condition()

    def __enter__(self) -> Width:
        with self._cond:
            while self.running >= max(1, self.limit()):
                self._cond.wait()
            self.running += 1
        return self

    def __exit__(self, *exc: Any) -> None:
        with self._cond:
            self.running -= 1
            self._cond.notify_all()


MIN_SPLIT = 250


def balanced(items: Sequence[Any], size: int, width: int) -> list[Sequence[Any]]:
    """`items` in chunks of at most `size`, as many as whole rounds of `width` requests need and
    of equal length: 5,000 records at 1,000 a request and 4 at once go as 8 requests of 625 (two
    full rounds), not 5 of 1,000 (a second round of one request while three slots idle). A
    request's server time grows with its records, so equal chunks finish together. A set is not
    cut below MIN_SPLIT records a request: every request counts against the service's request
    budget (6,000 per 5 minutes) and pays its latency, so a few records go in one."""
    count = len(items)
    if not count:
        return []
    rounds = -(-count // (max(1, size) * max(1, width)))
    pieces = min(rounds * max(1, width), -(-count // min(size, MIN_SPLIT)))
    step = -(-count // pieces)
    return [items[start:start + step] for start in range(0, count, step)]


def width_of(max_parallel: int, dop_hint: int | None) -> int:
    """How many requests may be in flight: max_parallel, narrowed by the service's hint, never
    more than Dataverse's concurrency limit."""
    width = max(1, max_parallel)
    if dop_hint:
        width = min(width, dop_hint)
    return min(width, MAX_CONCURRENT)


def run_all(tasks: Sequence[Callable[[], Any]], max_parallel: int, width: Width) -> list[Any]:
    """Each task's result, in order. With one task, or max_parallel 1, they run here one after
    the other (the sequential client); else on a pool of up to max_parallel threads, each task
    holding a place of `width` (shared by every call on one client, so two writes at once
    together stay within the bound). Every task runs to its end before an error is raised (the
    first, in task order), so nothing is still writing when the caller hears of it."""
    if len(tasks) <= 1 or max_parallel <= 1:
        return [task() for task in tasks]

    def run(task: Callable[[], Any]) -> Any:
        with width:
            return task()

    threads = min(len(tasks), width_of(max_parallel, None))
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dataverse") as pool:
        futures = [pool.submit(run, task) for task in tasks]
    errors = [f.exception() for f in futures if f.exception() is not None]
    if errors:
        raise errors[0]
    return [f.result() for f in futures]
