"""`manage.py setup_defaults`: BC's "Use Default Synchronization Setup"."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from dataverse.errors import DataverseError
from mappings_app.defaults import BY_NAME, apply_default_setup
from mappings_app.metadata import MetadataUnavailable
from syncadmin.migrated import require_migrated


class Command(BaseCommand):
    help = "Creates, or resets to their defaults, the standard table and field mappings."

    def add_arguments(self, parser):
        parser.add_argument(
            "names", nargs="*", metavar="MAPPING", help="Reset only these mappings (default: all)."
        )

    def handle(self, *args, names, **options):
        require_migrated()
        unknown = [n for n in names if n not in BY_NAME]
        if unknown:
            raise CommandError(
                f"No default mapping named {', '.join(unknown)}. Known: {', '.join(BY_NAME)}."
            )
        try:
            counts = apply_default_setup(names or None)
        except (DataverseError, OSError, MetadataUnavailable) as exc:
            raise CommandError(f"The CRM's metadata could not be read: {exc}") from exc
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        if options["verbosity"] == 0:
            return
        self.stdout.write(
            f"Default synchronization setup: {counts['created']} created, "
            f"{counts['reset']} reset, {counts['unchanged']} unchanged."
        )
