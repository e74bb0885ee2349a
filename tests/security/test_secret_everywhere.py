"""The CRM's client secret comes from the environment and shows nowhere: on no page, in no log
record, in no error message, in no row of any table (job log, error log, the connection's test
result, django-q2's task results and failures), in no output of `manage.py sync`.

The hard case is a failing connection whose answers quote the secret back: the token endpoint
refuses the secret and repeats it, then (the secret accepted) the Web API answers 500 and 401
with it in the message. Test Connection, Enable, Refresh Metadata, the default setup, a sync job
run by django-q2, `manage.py sync` and the record actions all meet those answers; then every page
of the project is read, every log record at DEBUG, every table.
"""

import logging
import os
import re
import subprocess
import sys
from io import StringIO
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import responses
from django.apps import apps
from django.core.management import call_command
from django.urls import reverse
from django_q.conf import Conf
from django_q.models import Task

from couplings_app import tasks
from couplings_app.models import SyncError, SyncJob
from mappings_app.models import Connection
from tests.security.test_roles_crawl import (  # noqa: F401 - fixtures
    crawl,
    quiet_refusals,
    world,
)

pytestmark = pytest.mark.django_db(databases=["default", "crm"])

SECRET = "Echoed+Secret/4711=qZ~"
# As sent in the token request's form body, or quoted in a URL: an echo may use either.
FORMS = {SECRET, quote_plus(SECRET), quote(SECRET, safe="")}
TOKEN_URL = re.compile(r"https://crm\.invalid/[^/]+/oauth2/v2\.0/token")
API_URL = re.compile(r"https://crm\.invalid/api/data/v9\.2/.*")
ROOT = Path(__file__).resolve().parents[2]


def token_refused(request):
    """Entra ID's answer to a wrong secret, quoting what it was sent."""
    body = ('{"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client '
            f'secret provided. Received: {SECRET} ({request.body})"}}')
    return 401, {"WWW-Authenticate": f'Bearer error="{SECRET}"'}, body


def api_failing(request):
    """A Web API that fails and quotes the secret: 500 for reads, 401 for writes."""
    body = ('{"error": {"code": "0x80040216", "message": "An unexpected error occurred: '
            f'client_secret={SECRET}"}}}}')
    return (500 if request.method == "GET" else 401), {"x-ms-diagnostics": SECRET}, body


@pytest.fixture
def offline_crm(settings, monkeypatch):
    """Overrides the crawl's CRM (every URL of the crawl's `world` meets this one): the secret
    is wrong until `accept_token()`, then the Web API fails. Retries do not wait."""
    settings.CRM_CLIENT_SECRET = SECRET
    monkeypatch.setattr("dataverse.http.Transport._backoff", lambda self, attempt: 0)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as fake:
        fake.add_callback(responses.POST, TOKEN_URL, callback=token_refused)
        for method in (responses.GET, responses.POST, responses.PATCH, responses.DELETE):
            fake.add_callback(method, API_URL, callback=api_failing)

        def accept_token():
            fake.replace(responses.POST, TOKEN_URL, json={
                "access_token": "a-token", "token_type": "Bearer", "expires_in": 3600})

        fake.accept_token = accept_token
        yield fake


@pytest.fixture
def every_log_record(caplog):
    """Every record of every logger at DEBUG, including loggers that do not propagate."""
    caplog.set_level(logging.DEBUG)
    quiet = [lg for lg in logging.root.manager.loggerDict.values()
             if isinstance(lg, logging.Logger) and not lg.propagate]
    for logger in quiet:
        logger.addHandler(caplog.handler)
    yield caplog
    for logger in quiet:
        logger.removeHandler(caplog.handler)


def run_everything(client, objects, seen):
    """The actions that meet the CRM, each answer kept in `seen` as (what, text)."""
    mapping, customer, coupling = objects["mapping"], objects["customer"], objects["coupling"]
    record = {"mapping": mapping.pk, "pk": customer.pk}
    posts = [
        (reverse("mappings:connection_test"), {}),
        (reverse("mappings:connection_enable"), {}),
        (reverse("mappings:refresh_metadata"), {}),
        (reverse("mappings:default_setup"), {"confirm": "yes"}),
        (reverse("couplings:full_sync"), {}),
        (reverse("couplings:record_match", kwargs=record), {}),
        (reverse("couplings:record_sync", kwargs=record), {"direction": "to_crm"}),
        (reverse("couplings:record_couple", kwargs=record),
         {"remote_id": "00000000-0000-0000-0000-000000000001", "after": "none"}),
        (reverse("couplings:record_couple", kwargs=record), {"create": "yes"}),
        (reverse("couplings:skipped_resolve", args=[coupling.pk]), {"side": "local"}),
        (reverse("couplings:skipped_action", args=["restore"]), {"pk": [coupling.pk]}),
    ]
    for url, data in posts:
        response = client.post(url, data, follow=True)
        seen.append((f"POST {url}", response.content.decode()))
    gets = [reverse("mappings:tablemapping_preview", args=[mapping.pk]) + "?remote=Adatum",
            reverse("mappings:tablemapping_preview", args=[mapping.pk]) + f"?local={customer.no}",
            reverse("couplings:record_couple", kwargs=record) + "?q=Adatum",
            reverse("couplings:skipped_detail", args=[coupling.pk])]
    for url in gets:
        seen.append((f"GET {url}", client.get(url).content.decode()))
    # Synchronization jobs as the cluster runs them (django-q2 in-process, its Tasks saved) ...
    tasks.enqueue_mapping(mapping)
    tasks.enqueue_all(full=True)
    # ... and as `manage.py sync` runs it.
    out, err = StringIO(), StringIO()
    try:
        call_command("sync", mapping=["CUSTOMER"], stdout=out, stderr=err)
    except (SystemExit, Exception) as exc:  # noqa: BLE001 - its message is searched too
        seen.append(("manage.py sync raised", f"{type(exc).__name__}: {exc}"))
    seen.append(("manage.py sync", out.getvalue() + err.getvalue()))


def every_row():
    """(table, text of all its rows) of every table of both databases."""
    for model in apps.get_models(include_auto_created=True):
        db = "crm" if model._meta.app_label == "crm_emulator" else "default"
        rows = model._base_manager.using(db).values_list()
        yield model._meta.db_table, repr(list(rows))


def test_the_secret_is_in_no_page_log_message_or_table(
        world,  # noqa: F811 - the fixture imported above
        offline_crm, every_log_record, admin_client, django_capture_on_commit_callbacks,
        monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", True)  # what is queued runs when the request commits
    seen = []
    with django_capture_on_commit_callbacks(execute=True):
        run_everything(admin_client, world, seen)  # the secret refused, echoed
    offline_crm.accept_token()
    Connection.objects.filter(pk=1).update(is_enabled=True)
    with django_capture_on_commit_callbacks(execute=True):
        run_everything(admin_client, world, seen)  # the Web API fails, echoes
    # Every page; of the ERP's, those of customers (the records the jobs and errors are about).
    pages = [url for name, url in crawl(world)
             if not name.startswith("erp:") or url.startswith("/erp/customer/")]
    pages += [reverse("couplings:syncjob_detail", args=[pk])
              for pk in SyncJob.objects.values_list("pk", flat=True)]
    pages += [reverse(f"admin:django_q_{'success' if task.success else 'failure'}_change",
                      args=[task.pk]) for task in Task.objects.all()]
    pages += [reverse("couplings:syncerror_list"), reverse("mappings:connection"),
              "/admin/django_q/failure/", "/admin/django_q/success/", "/admin/django_q/ormq/"]
    for url in pages:
        response = admin_client.get(url)
        seen.append((f"GET {url}", response.content.decode(errors="replace")))
    seen += [(f"log {r.name}", r.getMessage() + (r.exc_text or ""))
             for r in every_log_record.records]
    seen += [("logs as formatted, tracebacks included", every_log_record.text)]
    seen += list(every_row())
    seen += [("cookies", str(admin_client.cookies))]

    leaks = [where for where, text in seen if any(form in text for form in FORMS)]
    assert leaks == []
    # The test saw the failures it is about: the echoed answers reached the pages and the logs.
    tokens = [c for c in offline_crm.calls if "oauth2" in c.request.url]
    assert tokens and any("/api/data/" in c.request.url for c in offline_crm.calls)
    assert any("AADSTS7000215" in text for _, text in seen)
    assert any("0x80040216" in text or "unexpected error" in text for _, text in seen)
    assert SyncJob.objects.filter(status="failed").exists() or SyncError.objects.exists()
    assert Task.objects.exists(), "django-q2 ran no task"
    assert Connection.objects.get().last_test_ok is False


def test_the_secret_is_read_from_the_environment_and_stored_nowhere(tmp_path):
    probe = "import syncadmin.settings as s; print(s.CRM_CLIENT_SECRET)"
    env = {"PATH": os.environ.get("PATH", ""), "DATA_DIR": str(tmp_path), "SECRET_KEY": "x" * 50,
           "CRM_CLIENT_SECRET": "from-the-environment-1"}
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout
    assert out.strip() == "from-the-environment-1"
    for model in apps.get_models():
        for field in model._meta.get_fields():
            assert "secret" not in field.name.lower() or model._meta.app_label == "crm_emulator", \
                f"{model.__name__}.{field.name}"
