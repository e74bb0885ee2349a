"""ERP → CRM pages in flight: the writes of up to `in_flight(run)` pages are sent while the next
page is decided, and pages are finished (couplings confirmed, counters flushed) in order."""

import threading
from types import SimpleNamespace

import pytest

from couplings_app.sync import runner


class Engine:
    """Starts a page's write in the sender; records what is in flight and the finishing order."""

    def __init__(self, hold_until=1):
        self.hold_until = hold_until  # writes wait until this many are in flight (or 5 s)
        self.in_flight, self.most, self.finished = 0, 0, []
        self.lock = threading.Lock()
        self.release = threading.Event()

    def write(self, page):
        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            if self.in_flight >= self.hold_until:
                self.release.set()
        self.release.wait(5)
        with self.lock:
            self.in_flight -= 1
        return page

    def start(self, page, send):
        return send.submit(self.write, page)

    def finish(self, started):
        self.finished.append(started.result())


def a_run(max_parallel, page_size=5000, batch_size=1000):
    return SimpleNamespace(cancelled=lambda: False, flush=lambda n: None, page_size=page_size,
                           client=SimpleNamespace(max_parallel=max_parallel,
                                                  batch_size=batch_size))


@pytest.mark.parametrize(("max_parallel", "depth"), [(1, 2), (4, 2), (5, 2), (6, 3), (48, 4)])
def test_enough_pages_in_flight_to_fill_the_parallel_requests(max_parallel, depth):
    assert runner.in_flight(a_run(max_parallel)) == depth


def test_pages_are_written_side_by_side_and_finished_in_order(monkeypatch):
    monkeypatch.setattr(runner.rules, "after_page", lambda run, page: None)
    engine = Engine(hold_until=3)
    run = a_run(max_parallel=6)  # three pages in flight

    runner.write_pages(run, engine, iter([[n] for n in range(1, 8)]))

    assert engine.finished == [[n] for n in range(1, 8)]
    assert engine.most == 3


def test_a_cancelled_run_finishes_the_pages_it_sent(monkeypatch):
    monkeypatch.setattr(runner.rules, "after_page", lambda run, page: None)
    engine = Engine()
    engine.release.set()
    run = a_run(max_parallel=6)
    calls = iter([False, False, True])
    run.cancelled = lambda: next(calls)

    with pytest.raises(runner.Cancelled):
        runner.write_pages(run, engine, iter([[1], [2], [3], [4]]))

    assert engine.finished == [[1], [2]]
