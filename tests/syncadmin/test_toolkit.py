"""The views' toolkit (syncadmin.toolkit): the way back, and the CRM action that turns the CRM's
failures into a message naming what did not happen and what to do. No CRM is needed: the client
is a stand-in."""

from contextlib import contextmanager

import pytest
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.test import RequestFactory

from dataverse.errors import DataverseError
from syncadmin import toolkit


def make_request(method="post", data=None, **headers):
    request = getattr(RequestFactory(), method)("/here/", data or {}, headers=headers)
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    return request


def said(request):
    return [str(m) for m in get_messages(request)]


@pytest.fixture
def client_opened(monkeypatch):
    """crm_client replaced by a stand-in that records when it is opened and closed."""
    log = []

    @contextmanager
    def fake_client(connection=None):
        log.append("open")
        try:
            yield "client"
        finally:
            log.append("close")

    monkeypatch.setattr(toolkit, "crm_client", fake_client)
    return log


def test_back_follows_a_next_of_this_site():
    response = toolkit.back(make_request(data={"next": "/integration/jobs/"}), "/default/")
    assert response.url == "/integration/jobs/"


def test_back_never_follows_another_host():
    request = make_request(data={"next": "https://evil.example/"},
                           referer="https://evil.example/x")
    assert toolkit.back(request, "/default/").url == "/default/"


def test_back_takes_the_referring_page_unless_told_not_to():
    request = make_request(referer="http://testserver/erp/customer/")
    assert toolkit.back(request, "/default/").url == "http://testserver/erp/customer/"
    assert toolkit.back(request, "/default/", referer=False).url == "/default/"


def test_local_target_is_a_path_of_this_site_only():
    assert toolkit.local_target("/integration/") == "/integration/"
    assert toolkit.local_target("//evil.example/") is None
    assert toolkit.local_target("https://evil.example/") is None
    assert toolkit.local_target("") is None


def test_the_client_is_opened_only_when_used_and_closed_at_the_end(client_opened):
    with toolkit.crm_action(make_request(), "The coupling") as crm:
        assert client_opened == []
        assert crm.client == "client"
    assert client_opened == ["open", "close"]
    assert not crm.failed


def test_a_crm_failure_is_a_message_naming_what_did_not_happen(client_opened):
    request = make_request()
    with toolkit.crm_action(request, "The coupling") as crm:
        crm.client  # noqa: B018 - opens it
        raise DataverseError("The record is locked.")
    assert crm.failed
    assert client_opened == ["open", "close"]
    [message] = said(request)
    assert message.startswith("The coupling did not happen: the CRM did not answer as expected")
    assert "The record is locked." in message and "Test the connection" in message
    assert "DataverseError" not in message and "Traceback" not in message


def test_a_connection_that_cannot_be_reached_is_a_crm_failure(client_opened):
    request = make_request()
    with toolkit.crm_action(request, "The synchronization") as crm:
        raise ConnectionRefusedError("Connection refused")
    assert crm.failed and "Connection refused" in said(request)[0]


def test_a_problem_is_kept_for_the_page_and_not_said(client_opened):
    request = make_request()
    with toolkit.crm_action(request, problem="The CRM could not be searched") as crm:
        raise DataverseError("Service unavailable")
    assert crm.problem == "The CRM could not be searched: Service unavailable"
    assert said(request) == []


def test_a_refusal_is_said_in_its_own_words(client_opened):
    request = make_request()
    with toolkit.crm_action(request, "The synchronization", refused=(ValueError,)) as crm:
        raise ValueError("Choose a direction the mapping runs in.")
    assert crm.failed
    assert said(request) == ["Choose a direction the mapping runs in."]


def test_anything_else_is_raised_and_the_client_closed(client_opened):
    with pytest.raises(KeyError), toolkit.crm_action(make_request(), "The action") as crm:
        crm.client  # noqa: B018 - opens it
        raise KeyError("a bug")
    assert client_opened == ["open", "close"]


def test_the_client_secret_never_reaches_the_message(client_opened, settings):
    settings.CRM_CLIENT_SECRET = "s3cr3t-value"
    request = make_request()
    with toolkit.crm_action(request, "The coupling"):
        raise DataverseError("token request with client_secret=s3cr3t-value refused")
    assert "s3cr3t-value" not in said(request)[0]
