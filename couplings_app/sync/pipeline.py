"""Overlapping the CRM's work with this process's: while the CRM writes one page's `$batch`
or serves the next page, the engine works on the page it has.

Only HTTP runs in the helper threads (the client allows it: its token has a lock, urllib3's
connection pool is thread-safe); every database query stays in the calling thread, inside its
transactions.
"""

from concurrent.futures import Future, ThreadPoolExecutor

_END = object()


def read_ahead(pages):
    """The pages of `pages` (an iterator that does HTTP only), the next one fetched in a thread
    while the caller works on the current one."""
    iterator = iter(pages)
    with ThreadPoolExecutor(1, thread_name_prefix="crm-read") as pool:
        future = pool.submit(next, iterator, _END)
        while (page := future.result()) is not _END:
            future = pool.submit(next, iterator, _END)
            yield page


class Sender:
    """Sends up to `depth` pages' writes at once in threads of its own; `submit` returns at
    once. (The client bounds the requests of all of them together.)"""

    def __init__(self, depth: int = 1):
        self._pool = ThreadPoolExecutor(depth, thread_name_prefix="crm-write")

    def submit(self, function, *args, **kwargs) -> Future:
        return self._pool.submit(function, *args, **kwargs)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def done(value) -> Future:
    """A future that already holds `value`."""
    future = Future()
    future.set_result(value)
    return future
