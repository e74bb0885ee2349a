"""Every URL of the project, for every role: what each may see and what each may change.

The URLs come from the same walk over the URL patterns as the login and CSRF tests
(tests/syncadmin/test_login_required.py), with their arguments replaced by real objects and every
action a URL takes spelled out. Each role GETs every URL and POSTs to every URL (the test client
handles CSRF; tests/security/test_csrf.py shows that a POST without the token is refused):

- anonymous: sent to the login page, nothing changes;
- a logged-in user without a role: 403 everywhere but the home page, nothing changes;
- viewer: reads every page, every POST is refused and nothing in either database changes;
- operator: no POST to the configuration (connection, table and field mappings, transformation
  rules) gets through, and the configuration is the same afterwards;
- administrator: every page shows and every action is accepted (no 403, no server error).

The CRM answers every request with 401 (a fake, `responses`): actions that reach it fail with a
message, fast, without a network.
"""

import hashlib
import logging
import re
import uuid

import pytest
import responses
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import resolve, reverse
from django.utils import timezone
from django_q.models import Schedule

from couplings_app.choices import JobStatus, SyncResult
from couplings_app.models import Coupling, SyncError, SyncJob
from couplings_app.views import MAPPING_ACTIONS, SKIPPED_ACTIONS
from erp_app.demo import seed_erp
from erp_app.pages import site
from mappings_app.models import Connection, FieldMapping, TableMapping, TransformationRule
from tests.couplings_app.page_fixtures import user_with_role
from tests.syncadmin.test_login_required import PUBLIC, sample_urls

pytestmark = pytest.mark.django_db(databases=["default", "crm"])

FAKE_CRM = "https://crm.invalid/api/data/v9.2/"
# Logging out ends the crawl's session; logging in is the one page anybody may post to.
NOT_POSTED = {"logout", "login", "admin:logout"}
ACTIONS = {
    "couplings:records_bulk": ["match", "sync", "uncouple"],
    "couplings:mapping_action": sorted(MAPPING_ACTIONS),
    "couplings:mappings_bulk": sorted(MAPPING_ACTIONS),
    "couplings:skipped_action": sorted(SKIPPED_ACTIONS),
    "couplings:jobqueue_action": ["hold", "ready", "run"],
}
# Models whose rows are the configuration an operator must not change, and the fields of the
# connection that Test Connection (an operator's action) records.
CONFIGURATION = (Connection, TableMapping, FieldMapping, TransformationRule,
                 TableMapping.dependencies.through)
# Staff only, not a role: the admin site and the embedded CRM's fault and throttle controls.
ADMIN_ONLY = ("/admin/", "/crm/_emulator/")
TEST_RESULT = {"last_tested_at", "last_test_ok", "last_test_message", "integration_user_id"}


@pytest.fixture
def offline_crm():
    """A CRM that refuses every request (401), so no action waits for a network."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as fake:
        fake.add_callback(responses.POST, re.compile(r"https://crm\.invalid/.*"),
                          callback=lambda request: (401, {}, '{"error": "invalid_client"}'))
        fake.add_callback(responses.GET, re.compile(r"https://crm\.invalid/.*"),
                          callback=lambda request: (401, {}, '{"error": "invalid_client"}'))
        yield fake


@pytest.fixture
def quiet_refusals():
    """Hundreds of 403s are expected here: not one logged warning (with a traceback) each."""
    logger = logging.getLogger("django.request")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


@pytest.fixture
def world(offline_crm, quiet_refusals):
    """One real object behind every URL argument: ERP records of every page, a mapping with a
    field mapping and a rule, a job, an error, a skipped coupling, a job queue entry and a CRM
    account."""
    from crm_emulator.browse import browse_user_id
    from crm_emulator.schema import BY_NAME
    from crm_emulator.store import WriteOp, write_one

    seed_erp(customers=2)
    Connection.get()
    Connection.objects.filter(pk=1).update(service_root=FAKE_CRM,
                                           authority_url="https://crm.invalid")
    mapping = TableMapping.objects.create(
        name="CUSTOMER", local_model="erp_app.customer", remote_entity="account",
        remote_entity_set="accounts", remote_key="accountid",
        remote_modified_attribute="modifiedon", direction="bidirectional")
    other = TableMapping.objects.create(
        name="CONTACT", local_model="erp_app.contact", remote_entity="contact",
        remote_entity_set="contacts", remote_key="contactid", direction="to_crm")
    other.dependencies.add(mapping)
    rule = TransformationRule.objects.create(code="UPPER", type="uppercase")
    FieldMapping.objects.create(table_mapping=mapping, local_field="name", remote_attribute="name",
                                transformation_rule=rule)
    customer = site.get("customer").model.objects.order_by("pk").first()
    job = SyncJob.objects.create(mapping=mapping, mapping_name=mapping.name, direction="to_crm",
                                 status=JobStatus.RUNNING, started_at=timezone.now())
    SyncError.objects.create(job=job, mapping=mapping, direction="to_crm",
                             local_model="erp_app.customer", local_id=customer.pk,
                             remote_entity="account", message="Customer: something failed")
    coupling = Coupling.objects.create(
        mapping=mapping, local_model="erp_app.customer", local_id=customer.pk,
        remote_entity="account", remote_id=uuid.uuid4(), skipped=True,
        last_result_to_crm=SyncResult.FAILURE, conflict_local={"name": "a"},
        conflict_remote={"name": "b"})
    schedule = Schedule.objects.create(name="sync:CUSTOMER", func="couplings_app.tasks.x",
                                       schedule_type=Schedule.MINUTES, minutes=5)
    op = WriteOp("POST", BY_NAME["account"], body={"name": "Adatum"})
    write_one(op, browse_user_id())
    return {"mapping": mapping, "rule": rule, "customer": customer, "job": job,
            "coupling": coupling, "schedule": schedule, "account": op.row.rowid,
            "errors": list(SyncError.objects.values_list("pk", flat=True))}


def _pk_for(name, kwarg, world):
    if name.startswith("erp:"):
        return None  # set per page below
    if name.startswith("mappings:transformationrule"):
        return world["rule"].pk
    if name.startswith("couplings:syncjob"):
        return world["job"].pk
    if name.startswith("couplings:skipped"):
        return world["coupling"].pk
    if name == "couplings:jobqueue_action":
        return world["schedule"].pk
    if name.startswith("couplings:record") and kwarg == "pk":
        return world["customer"].pk
    return world["mapping"].pk


def crawl(world):
    """(view name, URL) for every URL pattern of the project (the CRM's bearer-token API aside),
    with real objects and every action of a URL that takes one."""
    urls = []
    for sample in sorted(set(sample_urls())):
        if PUBLIC.match(sample):
            continue
        match = resolve(sample)
        name = match.view_name
        if match.namespace not in {"erp", "mappings", "couplings", "crm_emulator"}:
            urls.append((name, sample))  # the admin site, login, logout, home
            continue
        kwargs = dict(match.kwargs)
        variants = [kwargs]
        for key in kwargs:
            if key in {"pk", "mapping"}:
                if name.startswith("erp:"):
                    model = site.get(kwargs["model"]).model
                    kwargs[key] = model.objects.order_by("pk").values_list("pk", flat=True)[0]
                else:
                    kwargs[key] = _pk_for(name, key, world)
            elif key == "set_name":
                kwargs[key] = "accounts"
            elif key == "rowid":
                kwargs[key] = world["account"]
        if "action" in kwargs:
            variants = [{**kwargs, "action": action} for action in ACTIONS[name]]
        urls += [(name, reverse(name, kwargs=v)) for v in variants]
    # Deleting comes last, so an administrator's crawl finds every object until then.
    return sorted(urls, key=lambda item: "delete" in item[1] or "uncouple" in item[1])


def post_data(world):
    return {"pk": [str(world["mapping"].pk), str(world["customer"].pk)]
            + [str(pk) for pk in world["errors"]] + [str(world["coupling"].pk)],
            "confirm": "yes", "keep": "yes", "side": "local", "next": "/", "name": "X",
            "code": "X", "type": "uppercase"}


def checksum(models=None, skip=frozenset()):
    """{table: digest of its rows}, both databases."""
    sums = {}
    for model in models or apps.get_models(include_auto_created=True):
        if model is Session:
            continue
        db = "crm" if model._meta.app_label == "crm_emulator" else "default"
        fields = [f.attname for f in model._meta.concrete_fields if f.attname not in skip]
        rows = model._base_manager.using(db).order_by("pk").values_list(*fields)
        sums[model._meta.db_table] = hashlib.sha256(repr(list(rows)).encode()).hexdigest()
    return sums


def changed(before, after):
    return sorted(table for table in before if before[table] != after[table])


def client_for(role):
    client = Client()
    if role == "no-role":
        client.force_login(get_user_model().objects.create_user("nobody", "n@example.com", "pw"))
    elif role != "anonymous":
        client.force_login(user_with_role(role))
    return client


def to_login(response):
    return response.status_code == 302 and "login" in response["Location"]


def refused(url, response):
    """403, 405, or for the admin site (which wants a staff login) a redirect."""
    if url.startswith("/admin/"):
        return response.status_code == 302
    return response.status_code in (403, 405)


def test_the_crawl_covers_every_url_pattern(world):
    names = {name for name, _ in crawl(world)}
    wanted = {resolve(u).view_name for u in sample_urls() if not PUBLIC.match(u)}
    assert names == wanted
    assert {"mappings:connection_edit", "couplings:skipped_resolve", "crm_emulator:browse_delete",
            "erp:edit"} <= names


def test_anonymous_changes_nothing(world):
    client = client_for("anonymous")
    before = checksum()
    for name, url in crawl(world):
        if name in NOT_POSTED:
            continue
        response = client.post(url, post_data(world))
        assert to_login(response) or response.status_code in (401, 403, 405), url
    assert changed(before, checksum()) == []


def test_a_user_without_a_role_sees_only_the_home_page(world):
    client = client_for("no-role")
    before = checksum()
    for name, url in crawl(world):
        response = client.get(url)
        if name in {"home", "login"}:
            assert response.status_code == 200, url
        else:
            assert refused(url, response), f"GET {url}: {response.status_code}"
        if name in NOT_POSTED:
            continue
        response = client.post(url, post_data(world))
        assert refused(url, response), f"POST {url}: {response.status_code}"
    assert changed(before, checksum()) == []


def test_a_viewer_reads_every_page_and_changes_nothing(world):
    client = client_for("viewer")
    before = checksum()
    readable = set()
    for name, url in crawl(world):
        response = client.get(url)
        if response.status_code == 200:
            readable.add(name)
        if name in NOT_POSTED:
            continue
        response = client.post(url, post_data(world))
        assert refused(url, response), f"POST {url}: {response.status_code}"
    assert changed(before, checksum()) == []
    for name in ("erp:list", "erp:detail", "mappings:connection", "mappings:tablemapping_detail",
                 "mappings:fieldmapping_list", "mappings:transformationrule_detail",
                 "couplings:syncjob_list", "couplings:syncjob_detail", "couplings:syncerror_list",
                 "couplings:skipped_detail", "couplings:jobqueue_list",
                 "crm_emulator:browse_list"):
        assert name in readable, name


def test_an_operator_changes_no_configuration(world):
    client = client_for("operator")
    before = checksum(CONFIGURATION, skip=TEST_RESULT)
    accepted = set()
    for name, url in crawl(world):
        if name.startswith("mappings:") and name.endswith(("_edit", "_add", "_delete")):
            response = client.get(url)
            assert response.status_code == 403, f"GET {url}: {response.status_code}"
        if name in NOT_POSTED:
            continue
        response = client.post(url, post_data(world))
        if name.startswith("mappings:") and name != "mappings:connection_test":
            assert response.status_code in (403, 405), f"POST {url}: {response.status_code}"
        if response.status_code not in (403, 405):
            accepted.add(name)
    assert changed(before, checksum(CONFIGURATION, skip=TEST_RESULT)) == []
    # ... while the work of an operator is done: synchronizing, coupling, the logs, ERP records
    assert {"couplings:sync_modified", "couplings:record_uncouple", "couplings:syncjob_cancel",
            "couplings:syncerror_delete_all", "couplings:jobqueue_action", "erp:edit",
            "mappings:connection_test"} <= accepted


def test_an_administrator_may_do_everything(world):
    client = client_for("administrator")
    urls = [(name, url) for name, url in crawl(world) if not url.startswith(ADMIN_ONLY)]
    before = checksum()
    for _, url in urls:
        response = client.get(url)
        assert response.status_code in (200, 302, 405), f"GET {url}: {response.status_code}"
    assert changed(before, checksum()) == [], "a GET changed something"
    before = checksum(CONFIGURATION)
    for name, url in urls:
        if name in NOT_POSTED:
            continue
        response = client.post(url, post_data(world))
        assert response.status_code != 403, f"POST {url}: {response.status_code}"
        # A record deleted earlier in the crawl (a cascade) answers 404 to its own delete.
        assert response.status_code != 404 or "delete" in url, f"POST {url}: 404"
    assert changed(before, checksum(CONFIGURATION)) != []
