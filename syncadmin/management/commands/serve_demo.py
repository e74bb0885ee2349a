"""`manage.py serve_demo`: the web server and a django-q2 cluster together; Ctrl-C stops both."""

import os
import signal
import subprocess
import sys
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand

from syncadmin.demo_login import ensure_demo_admin


class Command(BaseCommand):
    help = "Runs the web server and the django-q2 cluster of the demo until interrupted."

    def handle(self, *args, **options):
        # `kill` (SIGTERM) stops the demo as cleanly as Ctrl-C does.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        username, password = ensure_demo_admin()
        site = urlsplit(settings.SITE_URL)
        address = f"{site.hostname}:{site.port or 80}"
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        processes = [
            subprocess.Popen([*manage, "runserver", address, "--noreload"], env=env),
            subprocess.Popen([*manage, "qcluster"], env=env),
        ]
        self.stdout.write(
            self.style.SUCCESS(
                f"\nsyncadmin runs at {settings.SITE_URL}/  —  log in as {username} / {password}\n"
                "(web server and django-q2 cluster; press Ctrl-C to stop both)\n"
            )
        )
        try:
            while all(p.poll() is None for p in processes):
                time.sleep(0.5)
            self.stderr.write("A process of the demo stopped; stopping the other.")
        except KeyboardInterrupt:
            self.stdout.write("\nStopping…")
        finally:
            for process in processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGINT)
            for process in processes:
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
