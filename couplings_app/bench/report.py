"""The benchmark's output: the sets' phases in one list (`compose`), with the ratios issue #16
asks for, as JSON or as a table (`table`), and what makes the run fail (`problems`)."""

from couplings_app.bench.customers import AFTER_FULL, STEADY
from couplings_app.bench.demo import PHASE as DEMO

# Columns in the order they print; one shows only when a phase has a value for it.
COLUMNS = ("phase", "records", "among", "seconds", "records_per_second", "http_requests",
           "sql_queries", "peak_memory_mb", "ratio_to_floor", "ratio_to_reference",
           "crm_read_by", "sync_cpu_seconds", "crm_cpu_seconds",
           "ceiling_records_per_second", "ratio_to_ceiling", "limited_by", "throttled", "failed")
FLOOR_RATIOS = ("full push", "full pull", "floor", "baseline full push (one request at a time)")
REFERENCE = "reference: "


def compose(sets: dict[str, list[dict]]) -> list[dict]:
    """Main phases in order, the baseline after the full push, the demo after the full pull,
    the reference's incremental phases, and the customers' correctness last."""
    main = list(sets.get("main", []))
    correctness = [r for r in main if r.get("phase") == "correctness"]
    results = [r for r in main if r.get("phase") != "correctness"]
    for row in sets.get("baseline", []):
        at = next((i + 1 for i, r in enumerate(results) if r["phase"] == "full push"),
                  len(results))
        results.insert(at, row)
    results += sets.get("demo", [])
    reference = {r["phase"]: r for r in sets.get("reference", [])}
    for name in (AFTER_FULL, STEADY):
        if name in reference:
            results.append({**reference[name], "phase": REFERENCE + name})
    add_ratios(results)
    return results + correctness


def add_ratios(results):
    by_name = {r.get("phase"): r for r in results}
    floor = (by_name.get("floor") or {}).get("seconds")
    for result in results:
        if floor and result.get("seconds") is not None and result["phase"] in FLOOR_RATIOS:
            result["ratio_to_floor"] = round(result["seconds"] / floor, 2)
    for name in (AFTER_FULL, STEADY):
        reference = (by_name.get(REFERENCE + name) or {}).get("seconds")
        if name in by_name and reference:
            by_name[name]["ratio_to_reference"] = round(by_name[name]["seconds"] / reference, 2)


def table(results) -> str:
    rows = [r for r in results if r.get("phase") != "correctness"]
    columns = [c for c in COLUMNS if c == "phase" or any(r.get(c) is not None for r in rows)]
    lines = [" | ".join(columns), " | ".join("---" for _ in columns)]
    for result in rows:
        lines.append(" | ".join(cell(result.get(c)) for c in columns))
    lines.append("")
    check = next((r for r in results if r.get("phase") == "correctness"), None)
    if check:
        lines.append("correctness (customers): " + ("OK" if check.get("ok") else "FAILED")
                     + " — " + ", ".join(f"{k}={v}" for k, v in check.items()
                                        if k not in {"phase", "ok"}))
    demo = next((r for r in results if r.get("phase") == DEMO), None)
    if demo:
        c = demo["correctness"]
        lines.append(
            f"correctness ({DEMO}, seed_demo --size {demo['demo_size']}): "
            + ("OK" if c["ok"] else "FAILED")
            + f" — coupled={demo['records']}, duplicates={c['duplicates']}, "
              f"missing_counterparts={c['missing_counterparts']}, "
              f"key_mismatches={c['key_mismatches']}; jobs={demo['jobs']} "
              f"(not succeeded: {demo['jobs_not_succeeded']}), records failed="
              f"{demo['failed']}, of them not one of the demo's deliberate failures (README: "
              f"a salesperson the CRM has no user for, and what depends on it; a currency "
              f"without an ISO code; ...): {c['unexpected_failures']}")
        lines += [f"  {text}" for text in c["first_unexpected"]]
        wrong = [f"{name}: {v}" for name, v in c["mappings"].items() if not v["ok"]]
        lines += [f"  {line}" for line in wrong]
    return "\n".join(lines)


def cell(value) -> str:
    return "" if value is None else str(value)


def problems(results) -> list[str]:
    """What makes the command fail: a correctness check that did not hold."""
    found = []
    check = next((r for r in results if r.get("phase") == "correctness"), None)
    if check and not check.get("ok"):
        found.append("customers: " + ", ".join(f"{k}={v}" for k, v in check.items()
                                               if k not in {"phase", "ok"}))
    demo = next((r for r in results if r.get("phase") == DEMO), None)
    if demo and not demo["correctness"]["ok"]:
        c = demo["correctness"]
        found.append(f"{DEMO}: " + ", ".join(
            [f"{name} {v}" for name, v in c["mappings"].items() if not v["ok"]]
            + [f"jobs not succeeded: {demo['jobs_not_succeeded']}"] * bool(
                demo["jobs_not_succeeded"])
            + [f"failed records not deliberate: {c['first_unexpected']}"] * bool(
                c["unexpected_failures"])))
    return found
