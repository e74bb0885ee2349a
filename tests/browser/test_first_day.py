"""An administrator's whole first day, in a real browser, on the demo data (seed_demo's default
size): Connection Setup, Test Connection, Use Default Synchronization Setup, Match-Based
Coupling of CUSTOMER, Run Full Synchronization answered Yes (jobs go on creating records), an
edit in the CRM and one in the ERP, Synchronize Modified Records. Then what must hold:

1. no duplicate on either side by natural key;
2. each edit reached the other side, and records nobody edited did not change;
3. every coupling a page shows as "Coupled" has both its records;
4. a crawl of every same-site link answers no 4xx or 5xx, and no page, job message or error
   shows a Python exception name or a database's error text.

django-q2 runs in sync mode (`Conf.SYNC = True`), as in test_operations.py: a queued job runs in
the web request that queued it, so when the page comes back the job has finished.
"""

from __future__ import annotations

import collections
import html.parser
import re
import time
from urllib.parse import urljoin, urlsplit

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.forms.models import model_to_dict
from django.test import Client
from playwright.sync_api import expect

from couplings_app.choices import JobStatus
from couplings_app.models import Coupling, SyncError, SyncJob
from crm_emulator.schema import BY_NAME, BY_SET
from erp_app.models import Contact, Customer, Item, Salesperson
from mappings_app.connection import crm_client
from mappings_app.models import TableMapping
from tests.browser.conftest import PASSWORD, login

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.django_db(transaction=True, databases=["default", "crm"])]

CRM_NAME = "First Day Renamed Traders"
ERP_PHONE = "+45 70 12 34 56"
MAX_PAGES = 700
PER_SHAPE = 5  # pages fetched per URL shape (path with ids masked, query keys): the crawl reaches
# every kind of page instead of hundreds of sort orders of one list

# What a person must never read: a Python exception's name or a database's own words.
EXCEPTION_NAME = re.compile(r"\b(?:[A-Z][a-zA-Z]*(?:Error|Exception)|DoesNotExist|"
                            r"MultipleObjectsReturned|NoReverseMatch)\b")
DATABASE_TEXT = re.compile(r"Traceback|UNIQUE constraint|violates|IntegrityError|"
                           r"duplicate key value")
# Words of the UI that look like exception names but are captions (none so far: captions such
# as "Integration Synchronization Errors" have a space before the word).
UI_WORDS: set[str] = set()
# Bugs known and reported, outside this test's files: what the crawl finds of them makes the
# test an expected failure (after every other check passed) until they are fixed.
KNOWN_BUGS = {
    # The card of a posted sales invoice links each line's Line No. (generic/object_detail.html,
    # the first cell of a related row) to the line's get_absolute_url, but PostedSalesInvoiceLine
    # has no page in erp_app/pages.py: every such link answers 404.
    re.compile(r"^/erp/postedsalesinvoiceline/\d+/ .*: 404$"):
        "posted sales invoice cards link their lines to /erp/postedsalesinvoiceline/<id>/, "
        "which answers 404 (the line has no page)",
}


@pytest.fixture
def administrator(crm_app, monkeypatch, settings, live_server):
    monkeypatch.setattr("django_q.conf.Conf.SYNC", True)
    settings.SITE_URL = live_server.url  # the live server also serves the embedded CRM
    call_command("seed_demo")  # the default size, as `make demo` seeds it
    user = get_user_model().objects.create_user("administrator", "administrator@example.com",
                                                PASSWORD)
    user.groups.add(Group.objects.get(name="administrator"))
    return user


# --- helpers ----------------------------------------------------------------------------------
def open_nav(page, item):
    """The navigation bar's Dynamics 365 Sales menu, then one of its pages."""
    page.locator("nav").get_by_role("button", name="Dynamics 365 Sales").or_(
        page.locator("nav").get_by_role("link", name="Dynamics 365 Sales")).first.click()
    page.locator("nav .dropdown-menu.show").get_by_text(item, exact=True).click()


def bad_words(text: str) -> list[str]:
    """Exception names and database texts in `text` (scripts and styles left out)."""
    text = re.sub(r"<(script|style)\b.*?</\1>", "", text, flags=re.S | re.I)
    found = [m.group(0) for m in EXCEPTION_NAME.finditer(text) if m.group(0) not in UI_WORDS]
    found += [m.group(0) for m in DATABASE_TEXT.finditer(text)]
    return sorted(set(found))


def entity(name: str):
    return BY_NAME.get(name) or BY_SET[name]


def crm_rows(client, logical_name: str) -> list[dict]:
    return list(client.iter_rows(entity(logical_name).set_name))


def duplicates(rows, key) -> dict:
    counts = collections.Counter(key(r) for r in rows)
    return {k: n for k, n in counts.items() if n > 1 and all(v not in (None, "") for v in k)}


def crm_duplicates(client) -> dict[str, dict]:
    found = {}
    for name, attribute in (("transactioncurrency", "isocurrencycode"),
                            ("product", "productnumber"), ("uomschedule", "name"),
                            ("pricelevel", "name"), ("invoice", "invoicenumber"),
                            ("systemuser", "internalemailaddress")):
        found[f"{name}.{attribute}"] = duplicates(crm_rows(client, name),
                                                  lambda r, a=attribute: (r.get(a),))
    found["productpricelevel (pricelevelid, productid, uomid)"] = duplicates(
        crm_rows(client, "productpricelevel"),
        lambda r: (r.get("_pricelevelid_value"), r.get("_productid_value"), r.get("_uomid_value")))
    active = [r for r in crm_rows(client, "account") if r.get("statecode") == 0]
    for attribute in ("accountnumber", "name"):
        found[f"active account (customertypecode, {attribute})"] = duplicates(
            active, lambda r, a=attribute: (r.get("customertypecode"), r.get(a)))
    return {k: v for k, v in found.items() if v}


def erp_duplicates() -> dict[str, dict]:
    found = {}
    for model, fields in ((Salesperson, ("email",)), (Customer, ("name",)), (Customer, ("no",)),
                          (Item, ("no",)), (Contact, ("no",))):
        rows = model.objects.values_list(*fields)
        found[f"{model.__name__}.{'+'.join(fields)}"] = duplicates(rows, lambda r: tuple(r))
    return {k: v for k, v in found.items() if v}


def erp_state(record) -> dict:
    record.refresh_from_db()
    return {**model_to_dict(record),
            **{f.attname: getattr(record, f.attname) for f in record._meta.concrete_fields}}


def missing_counterparts(client) -> list[str]:
    """Couplings a page shows as Coupled (no pending create, no deleted side) whose ERP or CRM
    record does not exist."""
    shown = Coupling.objects.filter(pending_create=False, deleted_side="")
    missing = []
    by_entity = collections.defaultdict(list)
    by_model = collections.defaultdict(list)
    for coupling in shown:
        by_entity[coupling.remote_entity].append(coupling)
        by_model[coupling.local_model].append(coupling)
    for name, couplings in by_entity.items():
        meta = entity(name)
        found = client.get_many(meta.set_name, meta.primary_id,
                                [str(c.remote_id) for c in couplings], select=[meta.primary_id])
        missing += [f"{c} (mapping {c.mapping and c.mapping.name}): no CRM {name}"
                    for c in couplings if str(c.remote_id) not in found]
    for label, couplings in by_model.items():
        model = apps.get_model(label)
        found = set(model._default_manager.filter(pk__in=[c.local_id for c in couplings])
                    .values_list("pk", flat=True))
        missing += [f"{c} (mapping {c.mapping and c.mapping.name}): no ERP {label}"
                    for c in couplings if c.local_id not in found]
    return missing


class Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


SKIP = re.compile(r"^/(accounts/logout|admin/|static/|media/|crm/api/|crm/_emulator/|"
                  r"crm/[^/]+/oauth2/)")


def shape(url: str) -> tuple:
    parts = urlsplit(url)
    path = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<uuid>",
                  parts.path)
    path = re.sub(r"/\d+(?=/|$)", "/<id>", path)
    keys = tuple(sorted({kv.split("=")[0] for kv in parts.query.split("&") if kv}))
    return path, keys


def crawl(client, start: list[str], hosts: set[str]) -> tuple[list[str], list[str], int]:
    """Breadth-first over same-site links; returns (failures, bad texts, pages fetched)."""
    queue = collections.deque(start)
    seen = set(start)
    came_from = {}
    per_shape = collections.Counter()
    failures, texts, fetched = [], [], 0
    while queue and fetched < MAX_PAGES:
        url = queue.popleft()
        fetched += 1
        try:
            response = client.get(url, follow=True)
        except Exception as exc:  # noqa: BLE001 - the crawl reports what a page raised
            failures.append(f"{url} (linked from {came_from.get(url, 'the menu')}): raised "
                            f"{type(exc).__name__}: {str(exc)[:300]}")
            continue
        final = response.redirect_chain[-1][0] if response.redirect_chain else url
        if response.status_code >= 400:
            failures.append(f"{url} (linked from {came_from.get(url, 'the menu')}): "
                            f"{response.status_code}")
        if "html" not in response.get("Content-Type", ""):
            continue
        body = response.content.decode(response.charset or "utf-8", "replace")
        words = bad_words(body)
        if words:
            texts.append(f"{url} (linked from {came_from.get(url, 'the menu')}): {words}")
        if urlsplit(final).path.startswith("/accounts/login/"):
            failures.append(f"{url} (linked from {came_from.get(url, 'the menu')}): sends the "
                            "administrator to the login page")
        parser = Links()
        parser.feed(body)
        for href in parser.hrefs:
            if href.startswith(("#", "javascript:", "mailto:", "tel:")):
                continue
            target = urljoin(urljoin("http://testserver", final), href)
            parts = urlsplit(target)
            if parts.netloc not in hosts or SKIP.match(parts.path):
                continue
            link = parts.path + (f"?{parts.query}" if parts.query else "")
            if link in seen:
                continue
            seen.add(link)
            came_from[link] = url
            key = shape(link)
            if per_shape[key] >= PER_SHAPE:
                continue
            per_shape[key] += 1
            queue.append(link)
    print(f"\ncrawl: {fetched} pages of {len(per_shape)} kinds, {len(queue)} links left")
    for key in sorted(per_shape):
        print(f"  {per_shape[key]} x {key[0]} {'&'.join(key[1])}")
    return failures, texts, fetched


def print_jobs(title, jobs):
    print(f"\n{title}:")
    for job in jobs:
        took = ((job.finished_at - job.started_at).total_seconds()
                if job.finished_at and job.started_at else 0)
        print(f"  #{job.pk} {job.mapping_name:<22} {job.direction:<8} {job.status:<9} "
              f"{took:6.1f} s {job.counters()} {job.message}")


# --- the walk ---------------------------------------------------------------------------------
def test_first_day_on_the_demo_data(page, live_server, administrator, screenshot):
    url = live_server.url
    started = time.monotonic()
    # Jobs run inline: a click that queues the full synchronization waits for all of it.
    page.set_default_timeout(240_000)
    page.on("dialog", lambda dialog: dialog.accept())  # forms with data-confirm ask first
    login(page, live_server, "administrator")
    screenshot("first-day-01-home")

    # Connection Setup, Test Connection
    open_nav(page, "Connection Setup")
    expect(page.locator("h1")).to_have_text("Dynamics 365 Sales Connection Setup")
    test_button = page.get_by_role("button", name="Test Connection")
    if test_button.count():
        test_button.click()
        expect(page.locator(".alert-success")).to_contain_text("Connected")
    enable = page.get_by_role("button", name="Enable", exact=True)
    if enable.count():  # "Tests the connection, then enables it"
        enable.click()
        expect(page.locator(".alert-success")).to_contain_text("enabled")
    screenshot("first-day-02-connection-tested")

    # Use Default Synchronization Setup
    page.click("button:has-text('Use Default Synchronization Setup')")
    page.click("button:has-text('Yes, use the default setup')")
    expect(page.locator(".alert-success")).to_contain_text("created")
    screenshot("first-day-03-default-setup")

    # Integration Table Mappings → CUSTOMER → Match-Based Coupling
    page.locator("main").get_by_role("link", name="Integration Table Mappings",
                                     exact=True).click()
    expect(page.locator("h1")).to_have_text("Integration Table Mappings")
    row = page.locator("tbody tr", has_text="Customers and the accounts")
    row.get_by_role("button", name="Actions on CUSTOMER").click()
    row.get_by_role("link", name="View", exact=True).click()
    expect(page.locator("h1")).to_contain_text("CUSTOMER")
    page.locator("main").get_by_role("button", name="Synchronization").click()
    menu = page.locator(".dropdown-menu.show")
    caption = re.compile(r"^Match-Based Coupling")
    menu.get_by_role("link", name=caption).or_(menu.get_by_role("button", name=caption)).click()
    criteria = page.locator("table[data-criteria]")
    expect(page.locator(".alert-success").or_(criteria).first).to_be_visible()
    if criteria.count():  # its steps: the coupling criteria, answered as the default setup made
        screenshot("first-day-04a-match-criteria")  # them
        page.get_by_role("button", name="Run Match-Based Coupling").click()
    expect(page.locator(".alert-success").first).to_contain_text(
        "atch-based coupling of CUSTOMER")  # its result, or "Queued …" while it runs
    screenshot("first-day-04-customer-matched")
    matched = list(Coupling.objects.filter(local_model="erp_app.customer")
                   .values_list("pk", flat=True))
    assert matched, "Match-Based Coupling of CUSTOMER coupled no customer of the demo"

    # Connection Setup → Run Full Synchronization → Yes → the question answered Yes
    open_nav(page, "Connection Setup")
    page.click("button:has-text('Run Full Synchronization')")
    expect(page.locator("h1")).to_have_text("Run Full Synchronization")
    screenshot("first-day-05-full-sync-confirm")
    page.click("button:has-text('Yes, run the full synchronization')")
    expect(page.locator(".alert-success")).to_contain_text("Queued Run Full Synchronization")
    expect(page.locator("#full-sync-question")).to_contain_text("has finished")
    screenshot("first-day-06-full-sync-question")
    yes = page.locator("button[name=keep][value=yes]")
    expect(yes, "the administrator is offered no Yes").to_be_visible(timeout=10_000)
    yes.click()
    expect(page.locator(".alert-success")).to_contain_text("Synch. Only Coupled Records is "
                                                           "cleared")
    expect(page.locator("#full-sync-question")).to_have_count(0)
    assert not TableMapping.objects.filter(is_enabled=True, sync_only_coupled=True).exists()
    screenshot("first-day-07-full-sync-answered-yes")
    assert not SyncJob.objects.exclude(status__in=JobStatus.finished()).exists()

    print_jobs("full synchronization", SyncJob.objects.all())
    open_nav(page, "Integration Synchronization Jobs")
    expect(page.locator("[data-job-status=running]")).to_have_count(0)
    screenshot("first-day-08-job-log-after-full-sync")

    # Two customers the match coupled, whose salesperson the CRM knows: A is renamed in the
    # CRM, B's phone changes in the ERP. Three more stay as they are, with their accounts.
    good = [c for c in Coupling.objects.filter(pk__in=matched, skipped=False,
                                               pending_create=False)
            .exclude(last_result_to_crm="failure").exclude(last_result_from_crm="failure")
            .order_by("local_id")
            if Customer.objects.filter(pk=c.local_id).exclude(salesperson=None).exists()]
    assert len(good) >= 5, f"only {len(good)} matched customers synchronized cleanly"
    a, b, *untouched = good[:5]
    customer_a = Customer.objects.get(pk=a.local_id)
    customer_b = Customer.objects.get(pk=b.local_id)
    items = [c for c in Coupling.objects.filter(local_model="erp_app.item", pending_create=False)
             .order_by("local_id")[:3]]
    contacts = [c for c in Coupling.objects.filter(local_model="erp_app.contact",
                                                   pending_create=False).order_by("local_id")[:3]]
    watched = untouched + items + contacts

    with crm_client() as client:
        def crm_state(coupling):
            return client.get(entity(coupling.remote_entity).set_name, coupling.remote_id)

        customer_a_before = erp_state(customer_a)
        before = {c.pk: (erp_state(apps.get_model(c.local_model).objects.get(pk=c.local_id)),
                         crm_state(c)) for c in watched}
        account_b_before = crm_state(b)

        # The CRM side: the customer's card → Dynamics 365 Sales → Open the coupled account
        page.goto(f"{url}/erp/customer/{customer_a.pk}/")
        page.locator("main").get_by_role("button", name="Dynamics 365 Sales",
                                         exact=True).click()
        page.locator(".dropdown-menu.show").get_by_text("Open the coupled account",
                                                        exact=True).click()
        expect(page.locator("#id_name")).to_have_value(customer_a.name)
        page.fill("#id_name", CRM_NAME)
        page.click("button:has-text('Save')")
        expect(page.locator(".alert-success")).to_contain_text("Saved")
        screenshot("first-day-09-crm-account-renamed")

        # The ERP side: customer B's edit page
        page.goto(f"{url}/erp/customer/{customer_b.pk}/edit/")
        page.fill("#id_phone_no", ERP_PHONE)
        page.click("button:has-text('Save')")
        expect(page.locator(".alert-success")).to_contain_text("Saved")
        screenshot("first-day-10-erp-customer-phone")

        # Connection Setup → Synchronize Modified Records → Yes
        open_nav(page, "Connection Setup")
        last_job = SyncJob.objects.order_by("-pk").values_list("pk", flat=True).first()
        page.click("button:has-text('Synchronize Modified Records')")
        expect(page.locator(".alert-success")).to_contain_text("Queued")
        screenshot("first-day-11-modified-records")
        modified_jobs = list(SyncJob.objects.filter(pk__gt=last_job).order_by("pk"))
        print_jobs("modified records", modified_jobs)
        assert modified_jobs, "Synchronize Modified Records queued no job"
        assert not [j for j in modified_jobs if j.status not in JobStatus.finished()]
        open_nav(page, "Integration Synchronization Jobs")
        screenshot("first-day-12-job-log-after-modified")
        open_nav(page, "Integration Synchronization Errors")
        screenshot("first-day-13-errors")
        open_nav(page, "Couplings")
        screenshot("first-day-14-couplings")

        # 1. No duplicate on either side by natural key
        assert crm_duplicates(client) == {}
        assert erp_duplicates() == {}

        # 2. Each edit reached the other side; nothing nobody edited changed
        customer_a_after = erp_state(customer_a)
        assert customer_a_after["name"] == CRM_NAME
        assert {k: (v, customer_a_after[k]) for k, v in customer_a_before.items()
                if customer_a_after[k] != v and k not in ("name", "modified_at")} == {}
        account_b = crm_state(b)
        assert account_b["telephone1"] == ERP_PHONE
        assert {k: v for k, v in account_b.items()
                if k not in ("telephone1", "modifiedon", "@odata.etag", "versionnumber")} == {
            k: v for k, v in account_b_before.items()
            if k not in ("telephone1", "modifiedon", "@odata.etag", "versionnumber")}
        changed = {}
        for coupling in watched:
            after = (erp_state(apps.get_model(coupling.local_model).objects
                               .get(pk=coupling.local_id)), crm_state(coupling))
            for side, old, new in (("ERP", before[coupling.pk][0], after[0]),
                                   ("CRM", before[coupling.pk][1], after[1])):
                diff = {k: (old.get(k), new.get(k)) for k in set(old) | set(new)
                        if old.get(k) != new.get(k)}
                if diff:
                    changed[f"{coupling} {side}"] = diff
        assert changed == {}, "records nobody edited changed in the modified-records run"

        # 3. Every coupling shown as Coupled has both its records
        assert missing_counterparts(client) == []

    # 4. No exception name or database text in any job message or error ...
    job_texts = [f"job #{j.pk} {j.mapping_name} {j.direction}: {bad_words(j.message or '')}"
                 for j in SyncJob.objects.all() if bad_words(j.message or "")]
    error_texts = [f"error #{e.pk} {e.mapping_id}: {bad_words(e.message + ' ' + (e.detail or ''))}"
                   for e in SyncError.objects.all()
                   if bad_words(e.message + " " + (e.detail or ""))]
    assert job_texts == [] and error_texts == []

    # ... nor on any page, and no page answers 4xx or 5xx: a crawl as the same administrator
    web = Client()
    web.force_login(administrator)
    menu = [a.get_attribute("href") for a in page.locator("nav .dropdown-menu a").all()]
    start = ["/"] + [urlsplit(h).path for h in menu if h and not SKIP.match(urlsplit(h).path)]
    hosts = {"testserver", urlsplit(url).netloc}
    failures, texts, fetched = crawl(web, list(dict.fromkeys(start)), hosts)
    print(f"\nfirst day: crawled {fetched} pages; walk took {time.monotonic() - started:.0f} s")
    known = {reason: [f for f in failures if pattern.match(f)]
             for pattern, reason in KNOWN_BUGS.items()}
    known = {reason: found for reason, found in known.items() if found}
    unknown = [f for f in failures if not any(f in found for found in known.values())]
    assert unknown == [], "\n".join(unknown)
    assert texts == [], "\n".join(texts)
    if known:
        pytest.xfail("; ".join(f"{reason} (e.g. {found[0]})" for reason, found in known.items()))
