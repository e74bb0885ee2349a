"""`manage.py run_emulator [--port P] [--host H] [--seed]`: the embedded CRM alone, threaded.

Serves only the CRM's URLs (Web API at /crm/api/data/v9.2/, token endpoint at
/crm/<tenant>/oauth2/v2.0/token, control knobs) until interrupted, and prints the environment
settings that make syncadmin (another checkout, another machine) use it as its CRM. The demo
application (CRM_TENANT_ID / CRM_CLIENT_ID / CRM_CLIENT_SECRET of this process) is registered
first, so those settings get a token.
"""

from django.conf import settings
from django.core.management.base import BaseCommand

from crm_emulator.apps_registry import register_application
from crm_emulator.server import authority_url, make_server, service_root, token_url

DEMO_SECRET = "demo-secret"
ANY_ADDRESS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def reach_settings(url: str, tenant: str, client_id: str, secret: str) -> list[str]:
    """The environment settings (NAME=value lines) that reach the CRM at service root `url`."""
    lines = [f"CRM_URL={url}", f"CRM_AUTHORITY_URL={authority_url(url)}",
             f"CRM_TENANT_ID={tenant}", f"CRM_CLIENT_ID={client_id}"]
    if secret == DEMO_SECRET:
        lines.append(f"CRM_CLIENT_SECRET={DEMO_SECRET}")
    else:  # never print a real secret
        lines.append("# CRM_CLIENT_SECRET=<the value of CRM_CLIENT_SECRET this emulator was "
                     "started with>")
    return lines


class Command(BaseCommand):
    help = ("Serves the embedded CRM (Dataverse Web API emulator) alone until interrupted; prints "
            "the CRM_* settings that reach it.")

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--seed", action="store_true", help="Seed demo data first.")
        parser.add_argument("--quiet", action="store_true", help="Do not log requests.")

    def handle(self, *args, port, host, seed, quiet, **options):
        tenant = settings.CRM_TENANT_ID or "demo"
        if seed:
            from crm_emulator.seed import seed_crm

            self.stdout.write(f"Seeded: {seed_crm()}")
        else:
            register_application(tenant, settings.CRM_CLIENT_ID, settings.CRM_CLIENT_SECRET,
                                 "syncadmin")
        server = make_server(host, port, verbose=not quiet)
        url = service_root(ANY_ADDRESS.get(host, host), server.server_address[1])
        lines = reach_settings(url, tenant, settings.CRM_CLIENT_ID, settings.CRM_CLIENT_SECRET)
        self.stdout.write(self.style.SUCCESS(f"Embedded CRM at {url}"))
        self.stdout.write(f"Token endpoint: {token_url(url, tenant)}")
        self.stdout.write("To use it as syncadmin's CRM, set in the environment:")
        for line in lines:
            self.stdout.write(f"  {line}")
        self.stdout.write("Press Ctrl-C to stop.")
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("\nStopping…")
        finally:
            server.server_close()
