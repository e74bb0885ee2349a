# ruff: noqa: F811  (fixtures imported from live_conftest, then used as arguments)
"""Paging with the client over real HTTP keeps one page in memory, however many rows there are:
the peak while paging 3,000 rows is about the peak while paging 600 (same page size), whereas
keeping the rows makes it grow with them.

tracemalloc sees the whole process, so the peak includes the server thread rendering a page
(tools/measure_paging.py measures the client alone, against a server in another process)."""

import gc
import tracemalloc

import pytest

from tests.dataverse.live_conftest import (  # noqa: F401  (fixtures)
    app_user,
    bulk_accounts,
    connect,
    crm_process_server,
    crm_server,
    live,
)

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])

PAGE = 500


def peak_while_paging(client, keep: bool, **query) -> tuple[int, int]:
    """(rows seen, tracemalloc peak in bytes) of paging through `query` (this process: the
    client and the server thread answering it)."""
    kept = []
    seen = 0
    gc.collect()
    tracemalloc.start()
    try:
        for page in client.iter_pages("accounts", select=["name", "accountnumber"],
                                      page_size=PAGE, **query):
            seen += len(page)
            if keep:
                kept.extend(page)
            del page
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return seen, peak


def test_paging_memory_stays_flat(live, app_user):
    bulk_accounts(600, app_user, accountnumber="SMALL")
    bulk_accounts(2400, app_user, start=600, accountnumber="LARGE")
    live.who_am_i()  # the token first: not part of the measure
    small_rows, small = peak_while_paging(live, False, filter="accountnumber eq 'SMALL'")
    all_rows, large = peak_while_paging(live, False)
    assert (small_rows, all_rows) == (600, 3000)
    assert large / small < 2, (small, large)
    # the measure can tell: holding every row makes the peak grow with the rows
    _, held = peak_while_paging(live, True)
    assert held / large > 1.4, (large, held)
