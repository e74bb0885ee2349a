"""A sync worker that dies: runs one mapping's full synchronization in its own process and kills
itself with SIGKILL at a chosen point (tests/reliability/test_crash.py starts it).

    python tests/reliability/crash_worker.py POINT MAPPING DIRECTION PAGE_SIZE

DATABASE_URL names the test database (the test's own); the CRM is the one the Connection row
points to (a BackgroundServer of the test). POINT is where the process dies:

- `none`: never by itself; the test kills it (while a write is in flight in the CRM);
- `after_batch`: the second write (`$batch` or bulk message) has returned, its couplings are
  not saved yet;
- `local_writes`: the first chunk of ERP records is written, its couplings are not;
- `before_watermark`: every page is done, the watermark has not moved;
- `claim`: the mapping is claimed, its job not yet marked running;
- `hand_over`: the first direction is done and has handed the claim to the second, which has
  not started.

The process runs the engine's one entry point (`synchronize`, as `manage.py sync --full` and
the django-q2 task do); DIRECTION `scheduled` runs instead what a job queue entry runs
(`couplings_app.tasks.scheduled_sync`: modified records, both directions), pages of PAGE_SIZE.
Exit status 3 means it finished without dying: the point was never reached, and the test says
so.
"""

import os
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOT_REACHED = 3


def die():
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def after_calls(function, calls):
    """`function` that kills the process right after its `calls`-th call returns."""
    seen = {"n": 0}

    def wrapper(*args, **kwargs):
        result = function(*args, **kwargs)
        seen["n"] += 1
        if seen["n"] >= calls:
            die()
        return result

    return wrapper


def after_success(function):
    """`function` that kills the process right after it first returns a true value."""
    def wrapper(*args, **kwargs):
        result = function(*args, **kwargs)
        if result:
            die()
        return result

    return wrapper


def arm(point):
    from couplings_app import locks
    from couplings_app.sync import from_crm, runner
    from dataverse import DataverseClient

    if point == "none":
        return
    if point == "claim":
        locks.claim = after_success(locks.claim)
    elif point == "hand_over":
        locks.hand_over = after_success(locks.hand_over)
    elif point == "after_batch":
        DataverseClient.write = after_calls(DataverseClient.write, 2)
    elif point == "local_writes":
        real = from_crm._bulk_or_one_by_one

        def write_then_die(objs, bulk, one):
            errors = real(objs, bulk, one)
            if objs:
                die()
            return errors

        from_crm._bulk_or_one_by_one = write_then_die
    elif point == "before_watermark":
        runner.move_watermark = lambda *args, **kwargs: die()
    else:
        raise SystemExit(f"unknown crash point {point!r}")


def main(point, mapping_name, direction, page_size):
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "syncadmin.settings")
    import django

    django.setup()
    from couplings_app.choices import JobTrigger
    from couplings_app.sync.runner import synchronize
    from mappings_app.connection import crm_client
    from mappings_app.models import TableMapping

    arm(point)
    mapping = TableMapping.objects.get(name=mapping_name)
    print("started", flush=True)
    if direction == "scheduled":
        from functools import partial

        from couplings_app import tasks
        from couplings_app.sync import runner

        runner.synchronize = partial(runner.synchronize, page_size=int(page_size))
        tasks.scheduled_sync(mapping.pk)
        return NOT_REACHED
    with crm_client() as client:
        synchronize(mapping, direction=direction or None, full=True, only_coupled=False,
                    client=client, page_size=int(page_size), trigger=JobTrigger.COMMAND)
    return NOT_REACHED


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
