"""The rules' registry: which hooks run for which mapping, keyed by (ERP table, CRM entity,
direction).

A rule module registers each hook it has with `register(hook, model, entity, direction)`; the
package's entry points (`check_local`, `before_run`, `after_page`, `complete_payload`) ask
`hooks(name, run)` for those of the run's mapping and direction and call them in the order the
modules registered them. A mapping no rule names gets none: a rule never runs where it does not
apply, and adding one touches no if-chain.
"""

from collections import defaultdict
from collections.abc import Callable

HOOKS = ("check_local", "before_run", "after_page", "complete_payload")

_registered: dict[tuple[str, str, str, str], list[Callable]] = defaultdict(list)


class RuleStopped(Exception):
    """A rule that cannot go on for the whole run (the message says which and what to do)."""


def register(hook: str, model: str, entity: str, direction: str):
    """Registers the decorated function as `hook` of the mappings of ERP table `model` (as
    app_label.model) and CRM entity `entity`, for runs in `direction` (Direction.TO_CRM or
    Direction.FROM_CRM)."""
    if hook not in HOOKS:
        raise ValueError(f"{hook!r} is not a rule hook ({', '.join(HOOKS)}).")

    def decorate(function):
        key = (hook, model, entity, str(direction))
        if function not in _registered[key]:
            _registered[key].append(function)
        return function

    return decorate


def hooks(hook: str, run) -> list[Callable]:
    """The functions registered as `hook` for the run's mapping and direction."""
    return _registered.get((hook, run.mapping.local_model, run.entity, str(run.direction)), [])


def registered() -> dict[tuple[str, str, str, str], list[Callable]]:
    """Every registration, (hook, model, entity, direction) → functions (for the tests and the
    package's docstring to be checked against)."""
    return {key: list(functions) for key, functions in _registered.items() if functions}
