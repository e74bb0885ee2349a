"""`manage.py match_couple [--mapping NAME] [--dry-run]`: Match-Based Coupling."""

from django.core.management.base import BaseCommand, CommandError

from couplings_app.choices import JobTrigger
from couplings_app.sync.coupling import CouplingRefused, match_based_coupling, match_fields
from mappings_app.connection import crm_client
from mappings_app.models import TableMapping
from mappings_app.order import sync_order
from syncadmin.migrated import require_migrated


class Command(BaseCommand):
    help = "Couples uncoupled records to the one CRM record their match fields find."

    def add_arguments(self, parser):
        parser.add_argument("--mapping", action="append", metavar="NAME")
        parser.add_argument("--dry-run", action="store_true",
                            help="List what would be coupled; couple nothing.")

    def handle(self, *args, mapping, dry_run, **options):
        require_migrated()
        names = set(mapping or [])
        unknown = names - set(TableMapping.objects.values_list("name", flat=True))
        if unknown:
            raise CommandError(f"No table mapping named {', '.join(sorted(unknown))}.")
        targets = [m for m in sync_order() if (m.name in names if names else m.is_enabled)]
        with crm_client() as client:
            for table_mapping in targets:
                if not names and not match_fields(table_mapping):
                    continue
                try:
                    outcome = match_based_coupling(table_mapping, client=client, dry_run=dry_run,
                                                   trigger=JobTrigger.COMMAND)
                except CouplingRefused as exc:
                    raise CommandError(str(exc)) from exc
                verb = "would couple" if dry_run else "coupled"
                self.stdout.write(f"{table_mapping.name}: {verb} {len(outcome.coupled)}, "
                                  f"no match {len(outcome.no_match)}, "
                                  f"ambiguous {len(outcome.ambiguous)}")
                if dry_run:
                    for record, remote_id in outcome.coupled:
                        self.stdout.write(f"  {record} → {remote_id}")
