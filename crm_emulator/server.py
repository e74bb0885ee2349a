"""Serving the embedded CRM outside the project's web server.

`ensure_running()` (a context manager) and `embedded_crm_url()` give the service root of the CRM
the sync should talk to: `settings.CRM_URL` when set; else the project's own server
(`settings.SITE_URL`) when it answers at /crm/api/data/v9.2/; else a threaded WSGI server on a
free loopback port, serving only the CRM's URLs, started for the duration of the context (or of
the process, for `embedded_crm_url()`). `token_url()` names the token endpoint for a service root.
`run_emulator` serves the same way in the foreground.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler

API_PATH = "/crm/api/data/v9.2/"
STANDALONE_URLCONF = "crm_emulator.standalone_urls"
logger = logging.getLogger(__name__)


class CrmWSGIHandler(WSGIHandler):
    """Django's WSGI application, answering only the CRM's URLs."""

    def get_response(self, request):
        request.urlconf = STANDALONE_URLCONF
        return super().get_response(request)


class CrmRequestHandler(WSGIRequestHandler):
    """Hands the socket to the fault knobs (so they can drop the connection); quiet unless
    `verbose`."""

    verbose = False

    def get_environ(self):
        environ = super().get_environ()
        environ["crm_emulator.socket"] = self.connection
        return environ

    def log_message(self, format, *args):  # noqa: A002
        if self.verbose:
            super().log_message(format, *args)

    def handle(self):
        with contextlib.suppress(OSError):  # a connection dropped on purpose
            super().handle()


class CrmServer(ThreadedWSGIServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        logger.debug("embedded CRM: connection from %s ended abruptly", client_address)


def make_server(host: str = "127.0.0.1", port: int = 0, verbose: bool = False) -> CrmServer:
    handler = type("Handler", (CrmRequestHandler,), {"verbose": verbose})
    server = CrmServer((host, port), handler, ipv6=":" in host)
    server.set_app(CrmWSGIHandler())
    return server


def service_root(host: str, port: int) -> str:
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}{API_PATH}"


class BackgroundServer:
    """A CRM server in a daemon thread; `url` is its service root."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.server = make_server(host, port)
        self.host, self.port = self.server.server_address[:2]
        self.url = service_root(host, self.port)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                       name=f"embedded-crm-{self.port}")
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def answers(service_root_url: str, timeout: float = 1.0) -> bool:
    """Whether an embedded CRM answers at this service root (any answer with our header)."""
    try:
        with urllib.request.urlopen(service_root_url, timeout=timeout) as response:
            return response.headers.get("X-Crm-Emulator") == "1"
    except urllib.error.HTTPError as error:
        return error.headers.get("X-Crm-Emulator") == "1"
    except (OSError, ValueError):
        return False


def site_crm_url() -> str:
    return settings.SITE_URL.rstrip("/") + API_PATH


_process_server: BackgroundServer | None = None
_process_lock = threading.Lock()


def embedded_crm_url() -> str:
    """The CRM's service root; starts a server for the rest of the process when none answers."""
    global _process_server
    if settings.CRM_URL:
        return settings.CRM_URL.rstrip("/") + "/"
    if answers(site_crm_url()):
        return site_crm_url()
    with _process_lock:
        if _process_server is None:
            _process_server = BackgroundServer()
        return _process_server.url


@contextlib.contextmanager
def ensure_running():
    """Yields the CRM's service root, serving the embedded CRM meanwhile if nothing does."""
    if settings.CRM_URL:
        yield settings.CRM_URL.rstrip("/") + "/"
        return
    if answers(site_crm_url()):
        yield site_crm_url()
        return
    server = BackgroundServer()
    try:
        yield server.url
    finally:
        server.stop()


def authority_url(service_root_url: str) -> str | None:
    """The authority of an embedded CRM's service root (`http://host:port/crm`), else None."""
    parts = urlsplit(service_root_url)
    if "/crm/api/data/" not in parts.path:
        return None
    prefix = parts.path.split("/crm/api/data/", 1)[0]
    return f"{parts.scheme}://{parts.netloc}{prefix}/crm"


def token_url(service_root_url: str, tenant: str) -> str:
    """The token endpoint: the embedded CRM's own for an embedded service root, else the one of
    CRM_AUTHORITY_URL (Microsoft Entra ID unless set)."""
    from dataverse.auth import token_endpoint

    return token_endpoint(authority_url(service_root_url) or settings.CRM_AUTHORITY_URL, tenant)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
