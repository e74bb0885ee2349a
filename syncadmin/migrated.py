"""Commands that need both databases set up say so, instead of failing on a missing table."""

from django.conf import settings
from django.core.management.base import CommandError
from django.db import connections
from django.db.migrations.executor import MigrationExecutor


def _unapplied(alias: str) -> bool:
    connection = connections[alias]
    executor = MigrationExecutor(connection)
    return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def require_migrated() -> None:
    """Raises CommandError naming the command to run when a database lacks its migrations."""
    missing = []
    if _unapplied("default"):
        missing.append("python manage.py migrate")
    if not settings.CRM_URL and "crm" in connections and _unapplied("crm"):
        missing.append("python manage.py migrate --database crm")
    if missing:
        raise CommandError("The database is not set up yet. Run first: "
                           + " and ".join(f"`{m}`" for m in missing) + ".")
