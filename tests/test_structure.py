"""The shape of the code, checked on every run (issue #15, "One place for each decision").

- A SyncJob row is created and changes state only through SyncJob's methods (plan, open, take_up,
  wait, start, beat, expect, finish, fail, cancel, fail_dead): nothing else in the product
  creates one, updates one, saves one or assigns its state fields.
- No module imports another module's private name (`from x import _y`, `x._y`).
- No product module is over 500 lines (migrations and the demo data aside).

The checks read the source with `ast`; each scanner is also run here on a small example it must
refuse, so a scanner that stopped finding anything fails too.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOT_PRODUCT = {"tests", ".venv", "node_modules", "static", "templates"}
MAX_LINES = 500
LONG_ALLOWED = {"erp_app/demo.py": "demo data"}
# Private names of the standard library used on purpose, with the reason.
_REGEX_PARSER = ("a Replace rule's pattern is parsed to refuse constructs that take exponential "
                 "time; the standard library offers no public parser")
PRIVATE_ALLOWED = {
    ("mappings_app/transformations.py", "re._parser"): _REGEX_PARSER,
    ("mappings_app/transformations.py", "re._constants"): _REGEX_PARSER,
}
# Names that start with an underscore but are a library's documented API.
PUBLIC_ANYWAY = {
    "_meta": "Django's Model _meta API (docs: ref/models/meta)",
    "_default_manager": "Django's documented manager of a model class",
}
JOB_FILE = "couplings_app/models.py"
JOB_FIELDS = {"status", "started_at", "finished_at", "heartbeat_at", "cancel_requested",
              "progress_total", "progress_done", "message", "inserted", "modified", "deleted",
              "unchanged", "skipped", "failed", "coupled", "uncoupled", "direction"}
WRITES = {"update", "create", "get_or_create", "update_or_create", "bulk_create", "bulk_update",
          "save"}
MANAGERS = {"objects", "_default_manager", "_base_manager"}


def product_files():
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in NOT_PRODUCT or "migrations" in rel.parts:
            continue
        yield rel.as_posix(), path.read_text(encoding="utf-8")


# --- SyncJob writes ------------------------------------------------------------------------------
def _is_jobish(name: str) -> bool:
    """A name that holds a job or jobs: job, jobs, last_job, planned_jobs, job_ids is not one."""
    lowered = name.lower()
    return lowered in ("job", "jobs", "syncjob") or lowered.endswith(("_job", "_jobs"))


def _chain(node):
    """The names along a call chain's receiver: SyncJob.objects.filter(..).update → [SyncJob,
    objects, filter]; self.job → [self, job]."""
    names = []
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute):
            names.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Name):
            names.append(node.id)
            return names[::-1]
        else:
            return names[::-1]


def _is_job_rows(chain, tracked) -> bool:
    """The chain starts at SyncJob's manager, at a job (or jobs), or at a name holding one."""
    if len(chain) >= 2 and chain[0] == "SyncJob" and chain[1] in MANAGERS:
        return True
    return any(_is_jobish(name) or name in tracked for name in chain)


def job_writes(source: str, filename: str = "<source>") -> list[str]:
    """Where this source creates or changes a SyncJob row: "line: what"."""
    tree = ast.parse(source, filename)
    found = []
    tracked: set[str] = set()  # names assigned a SyncJob queryset: dead = SyncJob.objects...
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            chain = _chain(node.value)
            if len(chain) >= 2 and chain[0] == "SyncJob" and chain[1] in MANAGERS:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                tracked |= {t.id for t in targets if isinstance(t, ast.Name)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id == "SyncJob":
                found.append(f"{node.lineno}: SyncJob(...) made outside SyncJob's methods")
            elif isinstance(node.func, ast.Attribute) and node.func.attr in WRITES:
                receiver = _chain(node.func.value)
                if _is_job_rows(receiver, tracked):
                    found.append(f"{node.lineno}: {'.'.join(receiver)}.{node.func.attr}(...)")
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Attribute) and target.attr in JOB_FIELDS:
                owner = _chain(target.value)
                if any(_is_jobish(name) for name in owner):
                    found.append(f"{node.lineno}: {'.'.join(owner)}.{target.attr} = ...")
    return found


def test_syncjob_rows_change_only_through_syncjob_methods():
    found = [f"{path}:{where}" for path, source in product_files() if path != JOB_FILE
             for where in job_writes(source, path)]
    assert not found, ("SyncJob rows created or changed outside SyncJob's methods "
                       "(couplings_app/models.py):\n" + "\n".join(found))


@pytest.mark.parametrize("line", [
    "job = SyncJob(mapping_name='X')",
    "SyncJob.objects.create(mapping_name='X')",
    "SyncJob.objects.filter(pk=1).update(status='failed')",
    "SyncJob.objects.bulk_create([])",
    "SyncJob._default_manager.filter(pk=1).update(heartbeat_at=None)",
    "job.save()",
    "run.job.save(update_fields=['status'])",
    "job.status = 'failed'",
    "self.job.finished_at = None",
    "run.job.progress_total = 3",
    "jobs.update(status='failed')",
    "mapping.jobs.filter(status='queued').update(status='failed')",
    "dead = SyncJob.objects.filter(pk=1)\ndead.update(status='failed')",
])
def test_the_job_scanner_finds(line):
    assert job_writes(line)


@pytest.mark.parametrize("line", [
    "SyncJob.objects.filter(pk=1).exists()",
    "job.finish(message='done')",
    "SyncJob.plan(mapping, 'to_crm')",
    "Coupling.objects.filter(last_job_to_crm__in=ids).update(last_job_to_crm=None)",
    "MappingLock.objects.filter(job=job).update(job=None)",
    "JobQueueHold.objects.filter(pk=1).update(reason='manual')",
    "error.status = 3",
    "self.status = status",
])
def test_the_job_scanner_leaves_alone(line):
    assert not job_writes(line)


# --- private names ----------------------------------------------------------------------------
def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_uses(source: str, filename: str = "<source>") -> list[tuple[int, str]]:
    """Another module's private names this source uses: (line, "module._name")."""
    tree = ast.parse(source, filename)
    modules: dict[str, str] = {}  # local name → the module it is bound to
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                modules[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            for alias in node.names:
                if _private(alias.name):
                    found.append((node.lineno, f"{module}.{alias.name}"))
                else:  # `from package import module`: module._x is checked too
                    modules[alias.asname or alias.name] = f"{module}.{alias.name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr) \
                and node.attr not in PUBLIC_ANYWAY \
                and isinstance(node.value, ast.Name) and node.value.id in modules:
            found.append((node.lineno, f"{modules[node.value.id]}.{node.attr}"))
    return found


def test_no_module_uses_another_modules_private_names():
    found = []
    for path, source in product_files():
        found += [f"{path}:{line}: {name}" for line, name in private_uses(source, path)
                  if (path, name) not in PRIVATE_ALLOWED]
    assert not found, "private names of another module:\n" + "\n".join(found)


@pytest.mark.parametrize("source", [
    "from couplings_app.sync.coupling import _job",
    "from .batch import _match",
    "from couplings_app import tasks\ntasks._user(1)",
    "import couplings_app.tasks\ncouplings_app._x",
    "from re import _parser",
])
def test_the_private_scanner_finds(source):
    assert private_uses(source)


@pytest.mark.parametrize("source", [
    "from couplings_app.sync.coupling import couple",
    "from couplings_app import tasks\ntasks.enqueue('x')",
    "def f(self):\n    return self._client",
    "model._meta.label",
    "from dataclasses import __version__",
    "from mappings_app.models import TableMapping\nTableMapping._meta.get_field('name')",
])
def test_the_private_scanner_leaves_alone(source):
    assert not private_uses(source)


# --- size ----------------------------------------------------------------------------------------
def long_modules(files) -> list[str]:
    return [f"{path}: {source.count(chr(10))} lines" for path, source in files
            if path not in LONG_ALLOWED and source.count("\n") > MAX_LINES]


def test_no_product_module_is_over_500_lines():
    found = long_modules(product_files())
    assert not found, (f"modules over {MAX_LINES} lines (split them by concern):\n"
                       + "\n".join(found))


def test_the_size_check_finds_a_long_module():
    assert long_modules([("x.py", "x = 1\n" * (MAX_LINES + 1))])
    assert not long_modules([("x.py", "x = 1\n" * MAX_LINES)])
    assert not long_modules([("erp_app/demo.py", "x = 1\n" * (MAX_LINES + 1))])
