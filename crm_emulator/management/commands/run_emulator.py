"""`manage.py run_emulator [--port P] [--host H] [--seed]`: the embedded CRM alone, threaded.

Serves only the CRM's URLs (Web API at /crm/api/data/v9.2/, token endpoint at
/crm/<tenant>/oauth2/v2.0/token, control knobs) until interrupted.
"""

from django.core.management.base import BaseCommand

from crm_emulator.server import make_server, service_root, token_url


class Command(BaseCommand):
    help = "Serves the embedded CRM (Dataverse Web API emulator) alone until interrupted."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--seed", action="store_true", help="Seed demo data first.")
        parser.add_argument("--quiet", action="store_true", help="Do not log requests.")

    def handle(self, *args, port, host, seed, quiet, **options):
        if seed:
            from crm_emulator.seed import seed_crm

            self.stdout.write(f"Seeded: {seed_crm()}")
        server = make_server(host, port, verbose=not quiet)
        url = service_root(host, server.server_address[1])
        from django.conf import settings

        self.stdout.write(self.style.SUCCESS(
            f"Embedded CRM at {url}\nToken endpoint: "
            f"{token_url(url, settings.CRM_TENANT_ID or 'demo')}\nPress Ctrl-C to stop."))
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("\nStopping…")
        finally:
            server.server_close()
