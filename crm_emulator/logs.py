"""Keeps the normal token handshake out of the server log.

A client calls the Web API without a token (or with one that just expired), gets 401 with a
`WWW-Authenticate` challenge, fetches a token and calls again: that 401 is the protocol, not a
problem. Django would log it twice: "Unauthorized: /crm/api/..." (django.request, see
views.unauthorized(), which marks its response as logged and logs it at DEBUG here instead) and
the access log line of the development server (django.server, which `ExpectedChallenges` lowers
to DEBUG). Every other 4xx/5xx, including a refused client secret at the token endpoint, is
logged as before.
"""

from __future__ import annotations

import logging

logger = logging.getLogger("crm_emulator")
API_PATH = "/crm/api/data/"


def expected_challenge(request, response):
    """Logs the Web API's 401 challenge at DEBUG only (django.request skips logged responses)."""
    response._has_been_logged = True
    logger.debug("Bearer challenge (401) for %s %s", request.method, request.path)
    return response


class ExpectedChallenges(logging.Filter):
    """django.server's access log: a 401 of the Web API is the handshake, logged at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        if (getattr(record, "status_code", None) == 401 and args
                and f" {API_PATH}" in str(args[0])):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


def install():
    server_logger = logging.getLogger("django.server")
    if not any(isinstance(f, ExpectedChallenges) for f in server_logger.filters):
        server_logger.addFilter(ExpectedChallenges())
