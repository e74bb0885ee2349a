"""The benchmark's phases, run inside a worker process of `manage.py syncbench`.

Each worker runs one **set** on scratch databases of its own (its own DATA_DIR) and talks to an
embedded CRM served by a separate process over loopback HTTP, so every phase pays real HTTP, JSON
and process costs:

- `main` (customers.run_phases): floor, full push, incremental after full, no-op rerun,
  incremental (steady state), conflicts, full pull, and the field-by-field check;
- `reference` (the same up to the steady state, at 1,000 records): what the incremental phases
  are divided by (`ratio_to_reference`, issue #16 part 2);
- `demo` (demo.run_demo): every default mapping on the demo's data set, and its check by natural
  key;
- `baseline` (customers.run_baseline, with the Dataverse profile): the full push, one request at
  a time.

Each phase reports wall seconds, records per second, HTTP requests, SQL queries, the peak
resident memory of the worker during the phase (measure.Phase), and with the Dataverse profile
on, the CRM's budgets (budget.Budget).
"""

from couplings_app.bench.customers import check, run_baseline, run_phases
from couplings_app.bench.demo import run_demo

SETS = ("main", "reference", "demo", "baseline")


def run_set(name: str, records: int, service_root: str, profile: bool = False) -> list[dict]:
    from couplings_app.bench.budget import Budget

    budget = Budget(service_root) if profile else None
    if name == "main":
        return run_phases(records, service_root, budget=budget)
    if name == "reference":
        return run_phases(records, service_root, reference=True, budget=budget)
    if name == "demo":
        return run_demo(records, budget=budget)
    if name == "baseline":
        return run_baseline(records, budget=budget)
    raise ValueError(f"no benchmark set {name!r}")


__all__ = ["SETS", "check", "run_set"]
