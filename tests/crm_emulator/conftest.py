"""Fixtures of the embedded CRM's tests: a registered application, its token, and `api`, a small
Web API client over Django's test client; `crm`, the project's own Dataverse client against the
embedded CRM served over real HTTP (tests using it need `transaction=True`)."""

import json
import uuid

import pytest

from crm_emulator import knobs
from crm_emulator.apps_registry import register_application
from crm_emulator.server import ensure_running, free_port, token_url

ROOT = "/crm/api/data/v9.2/"
TENANT, CLIENT_ID, SECRET = "demo", "test-client", "test-secret"


@pytest.fixture(autouse=True)
def fresh_knobs():
    """Faults and limits are cached per process for a second: never carry them across tests."""
    knobs.forget()
    yield
    knobs.forget()


@pytest.fixture
def app_user(db):
    return register_application(TENANT, CLIENT_ID, SECRET, "tests")


@pytest.fixture
def token(client, app_user):
    response = client.post(f"/crm/{TENANT}/oauth2/v2.0/token", {
        "grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": SECRET,
        "scope": "http://testserver/.default"})
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


class Api:
    def __init__(self, client, token):
        self.client = client
        self.token = token

    def headers(self, extra):
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {**headers, **(extra or {})}

    def get(self, path, params=None, headers=None):
        return self.client.get(ROOT + path, params or {}, headers=self.headers(headers))

    def post(self, path, body, headers=None):
        return self.client.post(ROOT + path, json.dumps(body), content_type="application/json",
                                headers=self.headers(headers))

    def patch(self, path, body, headers=None):
        return self.client.patch(ROOT + path, json.dumps(body), content_type="application/json",
                                 headers=self.headers(headers))

    def delete(self, path, headers=None):
        return self.client.delete(ROOT + path, headers=self.headers(headers))

    def batch(self, body: str, boundary: str, headers=None):
        return self.client.post(ROOT + "$batch", body.encode(),
                                content_type=f"multipart/mixed; boundary={boundary}",
                                headers=self.headers(headers))

    def create(self, set_name, body):
        response = self.post(set_name, body, {"Prefer": "return=representation"})
        assert response.status_code == 201, response.content
        return response.json()


@pytest.fixture
def api(client, token):
    return Api(client, token)


@pytest.fixture
def account(api):
    return api.create("accounts", {"name": "Contoso Ltd.", "accountnumber": "C00010"})


def new_id() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def crm(settings):
    dataverse = pytest.importorskip("dataverse.client")
    settings.CRM_URL = ""
    settings.SITE_URL = f"http://127.0.0.1:{free_port()}"
    from dataverse.auth import ClientCredentials
    from dataverse.batch import BatchOperation

    register_application("demo", "client-test", "client-secret", "client tests")
    with ensure_running() as root:
        auth = ClientCredentials(token_url(root, "demo"), "client-test", "client-secret",
                                 root + ".default")
        yield dataverse.DataverseClient(root, auth, page_size=50, sleep=lambda s: None), \
            BatchOperation
