"""The synchronization order of table mappings: dependencies first, then by priority.

A mapping depends on the mappings it names as dependencies and on those whose couplings its
lookup field mappings read (a customer's salesperson needs SALESPEOPLE's couplings). For the
default setup this gives the seeds' order: CURRENCY, SALESPEOPLE, UNIT OF MEASURE, CUSTOMER,
VENDOR, CONTACT, RESOURCE-PRODUCT, ITEM-PRODUCT, then prices and invoices.
"""

import heapq

from django.core.exceptions import ValidationError

from mappings_app.models import FieldMapping, TableMapping


def dependency_graph(mappings) -> dict[int, set[int]]:
    ids = {m.pk for m in mappings}
    graph = {m.pk: set() for m in mappings}
    through = TableMapping.dependencies.through.objects.filter(from_tablemapping_id__in=ids)
    for from_id, to_id in through.values_list("from_tablemapping_id", "to_tablemapping_id"):
        if to_id in ids:
            graph[from_id].add(to_id)
    lookups = FieldMapping.objects.filter(
        table_mapping_id__in=ids, lookup_mapping__isnull=False, is_enabled=True
    ).values_list("table_mapping_id", "lookup_mapping_id")
    for from_id, to_id in lookups:
        if to_id in ids and to_id != from_id:
            graph[from_id].add(to_id)
    return graph


def find_cycle(graph: dict[int, set[int]]) -> list[int] | None:
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def sync_order(mappings=None) -> list[TableMapping]:
    """The mappings in the order they must run; a dependency cycle raises ValidationError."""
    mappings = list(mappings if mappings is not None else TableMapping.objects.all())
    by_id = {m.pk: m for m in mappings}
    graph = dependency_graph(mappings)
    cycle = find_cycle(graph)
    if cycle:
        names = " → ".join(by_id[i].name for i in cycle)
        raise ValidationError(
            f"The mappings depend on each other in a cycle: {names}. "
            "Remove a dependency or a lookup field mapping to break it."
        )
    waiting = {node: set(deps) for node, deps in graph.items()}
    ready = [(by_id[n].priority, by_id[n].name, n) for n, deps in waiting.items() if not deps]
    heapq.heapify(ready)
    ordered = []
    while ready:
        _, _, node = heapq.heappop(ready)
        ordered.append(by_id[node])
        for other, deps in waiting.items():
            if node in deps:
                deps.discard(node)
                if not deps:
                    heapq.heappush(ready, (by_id[other].priority, by_id[other].name, other))
    return ordered


def check_no_cycle(mapping: TableMapping, extra_dependencies=()) -> None:
    """Refuses dependencies that would make `mapping` wait on itself."""
    mappings = list(TableMapping.objects.all())
    graph = dependency_graph(mappings)
    graph.setdefault(mapping.pk, set()).update(d.pk for d in extra_dependencies)
    cycle = find_cycle(graph)
    if cycle:
        names = {m.pk: m.name for m in mappings}
        raise ValidationError(
            {
                "dependencies": "This makes a cycle: "
                + " → ".join(names.get(i, str(i)) for i in cycle)
                + "."
            }
        )
