"""The token handshake's expected 401 leaves no "Unauthorized" line in the server log; real
refusals still do."""

import logging

import pytest

from crm_emulator import logs
from crm_emulator.server import BackgroundServer, answers
from tests.crm_emulator.conftest import ROOT, TENANT

pytestmark = pytest.mark.django_db(databases=["default", "crm"])


def warnings_of(caplog):
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_call_without_a_token_is_challenged_quietly(client, caplog):
    caplog.set_level(logging.DEBUG)
    response = client.get(ROOT + "accounts")
    assert response.status_code == 401 and "Bearer" in response["WWW-Authenticate"]
    assert not warnings_of(caplog), [r.getMessage() for r in caplog.records]
    assert any(r.name == "crm_emulator" and "challenge" in r.getMessage()
               for r in caplog.records)


def test_an_expired_or_forged_token_is_challenged_quietly(client, caplog):
    caplog.set_level(logging.INFO)
    response = client.get(ROOT + "WhoAmI", headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401
    assert not warnings_of(caplog)


def test_real_refusals_are_still_logged(client, api, app_user, caplog):
    caplog.set_level(logging.INFO)
    assert api.get("nosuchset").status_code == 404
    wrong = client.post(f"/crm/{TENANT}/oauth2/v2.0/token", {
        "grant_type": "client_credentials", "client_id": "test-client",
        "client_secret": "wrong", "scope": "x/.default"})
    assert wrong.status_code == 401
    messages = [r.getMessage() for r in warnings_of(caplog) if r.name == "django.request"]
    assert any(m.startswith("Not Found: /crm/api/") for m in messages), messages
    assert any(m.startswith("Unauthorized: /crm/demo/oauth2/") for m in messages), messages


@pytest.mark.django_db(transaction=True, databases=["default", "crm"])
def test_the_probe_of_a_running_emulator_logs_no_warning(caplog):
    server_logger = logging.getLogger("django.server")
    server_logger.addHandler(caplog.handler)  # django.server does not propagate
    caplog.set_level(logging.INFO)
    server = BackgroundServer()
    server.server.RequestHandlerClass.verbose = True  # its access log on, as run_emulator's
    try:
        assert answers(server.url)
    finally:
        server.stop()
        server_logger.removeHandler(caplog.handler)
    assert not warnings_of(caplog), [r.getMessage() for r in caplog.records]


def test_the_access_log_keeps_other_client_errors():
    record = logging.LogRecord("django.server", logging.WARNING, __file__, 1, '"%s" %s %s',
                               ("GET /crm/api/data/v9.2/nosuch HTTP/1.1", "404", "99"), None)
    record.status_code = 404
    assert logs.ExpectedChallenges().filter(record) and record.levelno == logging.WARNING
    challenge = logging.LogRecord("django.server", logging.WARNING, __file__, 1, '"%s" %s %s',
                                  ("GET /crm/api/data/v9.2/ HTTP/1.1", "401", "0"), None)
    challenge.status_code = 401
    logs.ExpectedChallenges().filter(challenge)
    assert challenge.levelno == logging.DEBUG
