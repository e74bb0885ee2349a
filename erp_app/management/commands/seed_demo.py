"""`manage.py seed_demo [--customers N]`: demo data in the ERP and in the embedded CRM."""

from django.core.management.base import BaseCommand

from erp_app.demo import seed_erp


class Command(BaseCommand):
    help = "Creates realistic demo data on both sides (idempotent: missing records only)."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=40, help="Number of ERP customers.")

    def handle(self, *args, customers, **options):
        if customers < 0:
            self.stderr.write("--customers must be 0 or more.")
            raise SystemExit(2)
        counts = seed_erp(customers=customers)
        summary = ", ".join(f"{n} {name}" for name, n in counts.items())
        self.stdout.write(f"ERP: {summary}.")
        try:
            from crm_emulator.seed import seed_crm
        except ImportError:
            return
        crm_counts = seed_crm()
        if crm_counts:
            summary = ", ".join(f"{n} {name}" for name, n in crm_counts.items())
            self.stdout.write(f"Embedded CRM: {summary}.")
