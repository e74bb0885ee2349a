"""`manage.py sync [--mapping NAME] [--full | --modified] [--direction to|from] [--json]`."""

import json

from django.core.management.base import BaseCommand, CommandError

from couplings_app.choices import JobTrigger
from couplings_app.models import SyncJob
from couplings_app.sync.runner import synchronize
from mappings_app.choices import Direction
from mappings_app.connection import crm_client
from mappings_app.models import TableMapping
from mappings_app.order import sync_order
from syncadmin.migrated import require_migrated

DIRECTIONS = {"to": Direction.TO_CRM, "from": Direction.FROM_CRM}


class Command(BaseCommand):
    help = "Runs synchronization jobs now, in this process, and prints their counters."

    def add_arguments(self, parser):
        parser.add_argument("--mapping", action="append", metavar="NAME",
                            help="A table mapping (repeatable); default: all enabled, in order.")
        kind = parser.add_mutually_exclusive_group()
        kind.add_argument("--full", action="store_true",
                          help="All records; uncoupled ones are created and coupled.")
        kind.add_argument("--modified", action="store_true",
                          help="Records modified since the last run (the default).")
        parser.add_argument("--direction", choices=sorted(DIRECTIONS))
        parser.add_argument("--json", action="store_true", help="Print the jobs as JSON.")

    def handle(self, *args, mapping, full, modified, direction, json: bool, **options):
        require_migrated()
        if mapping:
            found = {m.name: m for m in TableMapping.objects.filter(name__in=mapping)}
            missing = [name for name in mapping if name not in found]
            if missing:
                raise CommandError(f"No table mapping named {', '.join(missing)}.")
            mappings = [m for m in sync_order() if m.name in found]
        else:
            mappings = [m for m in sync_order() if m.is_enabled]
        jobs: list[SyncJob] = []
        with crm_client() as client:
            for table_mapping in mappings:
                wanted = DIRECTIONS.get(direction)
                if wanted and wanted not in table_mapping.runs:
                    continue
                jobs += synchronize(table_mapping, direction=wanted, full=full,
                                    only_coupled=False if full else None, client=client,
                                    trigger=JobTrigger.COMMAND)
        if json:
            self.stdout.write(dump(jobs))
        else:
            for job in jobs:
                counters = " ".join(f"{k}={v}" for k, v in job.counters().items())
                self.stdout.write(f"#{job.pk} {job.mapping_name} {job.direction} "
                                  f"{job.get_status_display()}: {counters}"
                                  + (f" — {job.message}" if job.message else ""))
        if any(job.status == "failed" for job in jobs):
            raise SystemExit(1)


def dump(jobs) -> str:
    return json.dumps([{"id": job.pk, "mapping": job.mapping_name, "direction": job.direction,
                        "status": job.status, "message": job.message, **job.counters()}
                       for job in jobs], indent=2)
