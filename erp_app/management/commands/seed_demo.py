"""`manage.py seed_demo [--customers N] [--size N]`: demo data in the ERP and in the embedded
CRM; `--size` adds records in the ERP until every default mapping's table holds at least N."""

from django.core.management.base import BaseCommand

from erp_app.demo import seed_erp


class Command(BaseCommand):
    help = "Creates realistic demo data on both sides (idempotent: missing records only)."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=40, help="Number of ERP customers.")
        parser.add_argument(
            "--size",
            type=int,
            default=0,
            help="At least N records in each ERP table a default mapping synchronizes "
            "(customers, contacts, vendors, items, resources, price groups, sales prices, "
            "posted sales invoices), for size tests. Default 0: the demo alone.",
        )

    def handle(self, *args, customers, size=0, **options):
        for name, value in (("--customers", customers), ("--size", size)):
            if value < 0:
                self.stderr.write(f"{name} must be 0 or more.")
                raise SystemExit(2)
        counts = seed_erp(customers=customers, size=size)
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
