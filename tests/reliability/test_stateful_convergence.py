"""Convergence, as a state machine: hypothesis plays random sequences of creates, edits and
deletes of customers in the ERP and accounts in the CRM, couplings, uncouplings and
synchronization runs (to the CRM, from it, both) of the CUSTOMER mapping, with new records
created across (Synch. Only Coupled Records off).

After every step: never a duplicate (no CRM account number held twice, unless an uncoupling made
the sync create a second counterpart, as BC does). At the end, after a last synchronization: both
sides agree on every mapped field, and every edit's value is on both sides, unless a conflict
(listed on the skipped records' page), an error (in the error log) or a policy explains the
difference: a deleted counterpart (deletion-conflict resolution None reports it), a record
coupled or uncoupled by hand, or what the ERP alone gave a record created from the CRM.
"""

import itertools

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from couplings_app.models import Coupling, SyncError, SyncJob
from couplings_app.sync.coupling import couple, uncouple
from couplings_app.sync.runner import synchronize
from crm_emulator.models import Row
from erp_app.models import Contact, Customer
from mappings_app.choices import Direction
from mappings_app.connection import crm_client
from mappings_app.models import TableMapping
from tests.reliability.compare import differences, uncoupled

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])

FIELDS = {"name": "name", "city": "address1_city", "phone_no": "telephone1"}
WORDS = st.sampled_from(["Alpha", "Beta", "Gamma", "Delta", "Omega", "Sigma", "Kappa"])


@pytest.fixture
def world(crm_app):
    """The CUSTOMER mapping alone, creating across; the integration client and a person's."""
    from crm_emulator.apps_registry import register_application
    from crm_emulator.server import token_url
    from dataverse import ClientCredentials, DataverseClient

    call_command("setup_defaults", verbosity=0)
    TableMapping.objects.exclude(name="CUSTOMER").update(is_enabled=False)
    TableMapping.objects.filter(name="CUSTOMER").update(sync_only_coupled=False)
    register_application(django_settings.CRM_TENANT_ID, "a-person", "person-secret", "A person")
    with crm_client() as client:
        person = DataverseClient(client.service_root, auth=ClientCredentials(
            token_url(client.service_root, django_settings.CRM_TENANT_ID), "a-person",
            "person-secret", "http://localhost/.default"))
        yield client, person


def pick(data, items):
    """One of `items` (None if there are none). What hypothesis draws must not depend on the
    databases: timing may leave a replayed example with one record more or less, and a draw
    whose range changed makes hypothesis stop with FlakyStrategyDefinition. So it draws a number
    from a fixed range, always, and the number chooses."""
    number = data.draw(st.integers(min_value=0, max_value=999))
    return items[number % len(items)] if items else None


class Convergence(RuleBasedStateMachine):
    client = person = None  # set by the test
    counter = itertools.count()

    def __init__(self):
        super().__init__()
        # A clean slate for each example (the database is the test's, not the example's).
        SyncError.objects.all().delete()
        Coupling.objects.all().delete()
        SyncJob.objects.all().delete()
        Contact.objects.all().delete()
        Customer.objects.all().delete()
        Row.objects.filter(entity="account").delete()
        TableMapping.objects.filter(name="CUSTOMER").update(local_synced_until=None,
                                                           remote_synced_until=None)
        self.edits = {}  # ("ERP", pk) / ("CRM", id) -> {field: (sequence, value)}
        self.handled = set()  # records coupled/uncoupled by hand or deleted: policy decides
        self.uncoupled_keys = set()  # account numbers a second counterpart may carry
        self.step = 0

    @initialize(names=st.lists(WORDS, min_size=4, max_size=4))
    def two_pairs(self, names):
        """Two customers and two accounts, synchronized: the steps start from coupled pairs."""
        for name in names[:2]:
            self.create_customer(name, "Atlanta")
        for name in names[2:]:
            self.create_account(name, "Boston")
        self.synchronize()

    def mapping(self):
        return TableMapping.objects.get(name="CUSTOMER")

    def remember(self, side, ident, values):
        self.step += 1
        slot = self.edits.setdefault((side, str(ident).lower()), {})
        for field, value in values.items():
            slot[field] = (self.step, value)

    # --- the ERP -----------------------------------------------------------------------------
    @rule(name=WORDS, city=WORDS)
    def create_customer(self, name, city):
        no = f"S{next(self.counter)}"
        customer = Customer.objects.create(no=no, name=f"{name} {no}", city=city)
        self.remember("ERP", customer.pk, {"name": customer.name, "city": city})

    @rule(data=st.data(), field=st.sampled_from(sorted(FIELDS)), word=WORDS)
    def edit_customer(self, data, field, word):
        customer = pick(data, list(Customer.objects.order_by("pk")))
        if customer is None:
            return
        value = f"{word} {next(self.counter)}" if field != "phone_no" else \
            f"+1 555 {next(self.counter):04d}"
        setattr(customer, field, value)
        customer.save()
        self.remember("ERP", customer.pk, {field: value})

    @rule(data=st.data())
    def delete_customer(self, data):
        customer = pick(data, list(Customer.objects.order_by("pk")))
        if customer is None:
            return
        self.handled.add(("ERP", str(customer.pk)))
        customer.delete()

    # --- the CRM -----------------------------------------------------------------------------
    def accounts(self):
        return [r for page in self.client.iter_pages(
            "accounts", select=["accountid", "accountnumber", "name"],
            filter="customertypecode eq 3", orderby="accountid") for r in page]

    @rule(name=WORDS, city=WORDS)
    def create_account(self, name, city):
        number = f"R{next(self.counter)}"
        values = {"name": f"{name} {number}", "address1_city": city}
        ident = self.person.create("accounts", {**values, "accountnumber": number,
                                                "customertypecode": 3})
        self.remember("CRM", ident, {"name": values["name"], "city": city})

    @rule(data=st.data(), field=st.sampled_from(sorted(FIELDS)), word=WORDS)
    def edit_account(self, data, field, word):
        account = pick(data, self.accounts())
        if account is None:
            return
        value = f"{word} {next(self.counter)}" if field != "phone_no" else \
            f"+1 555 {next(self.counter):04d}"
        self.person.update("accounts", account["accountid"], {FIELDS[field]: value})
        self.remember("CRM", account["accountid"], {field: value})

    @rule(data=st.data())
    def delete_account(self, data):
        account = pick(data, self.accounts())
        if account is None:
            return
        self.handled.add(("CRM", account["accountid"].lower()))
        self.person.delete("accounts", account["accountid"])

    # --- couplings ---------------------------------------------------------------------------
    @rule(data=st.data())
    def couple_by_hand(self, data):
        coupled_local = set(Coupling.objects.values_list("local_id", flat=True))
        coupled_remote = {str(i).lower() for i in Coupling.objects.values_list("remote_id",
                                                                               flat=True)}
        customers = list(Customer.objects.exclude(pk__in=coupled_local).order_by("pk"))
        accounts = [a for a in self.accounts() if a["accountid"].lower() not in coupled_remote]
        customer, account = pick(data, customers), pick(data, accounts)
        if customer is None or account is None:
            return
        couple(self.mapping(), customer, account["accountid"], client=self.client)
        self.handled |= {("ERP", str(customer.pk)), ("CRM", account["accountid"].lower())}

    @rule(data=st.data())
    def uncouple_by_hand(self, data):
        coupling = pick(data, list(Coupling.objects.order_by("pk")))
        if coupling is None:
            return
        customer = Customer.objects.filter(pk=coupling.local_id).first()
        if customer is not None:
            self.uncoupled_keys.add(customer.no)
        self.handled |= {("ERP", str(coupling.local_id)), ("CRM", str(coupling.remote_id))}
        uncouple(self.mapping(), [coupling.local_id])

    # --- synchronization ---------------------------------------------------------------------
    def synchronize(self, direction=None):
        jobs = synchronize(self.mapping(), direction=direction, client=self.client)
        for job in jobs:
            assert job.status == "succeeded", (job.direction, job.message)
            assert job.errors.count() == job.failed, job

    @rule()
    def synchronize_both(self):
        self.synchronize()

    @rule()
    def synchronize_to_crm(self):
        self.synchronize(Direction.TO_CRM)

    @rule()
    def synchronize_from_crm(self):
        self.synchronize(Direction.FROM_CRM)

    @rule(data=st.data(), field=st.sampled_from(sorted(FIELDS)), word=WORDS)
    def edit_account_as_a_run_ends(self, data, field, word):
        """A person saves an account in the very second a run read it (stamps count seconds)."""
        self.synchronize()
        self.edit_account(data, field, word)

    # --- never a duplicate -------------------------------------------------------------------
    @invariant()
    def never_a_duplicate(self):
        numbers = [a.get("accountnumber") for a in self.accounts() if a.get("accountnumber")]
        twice = {n for n in numbers if numbers.count(n) > 1} - self.uncoupled_keys
        assert not twice, f"account numbers held by two accounts: {sorted(twice)}"
        nos = list(Customer.objects.values_list("no", flat=True))
        assert len(nos) == len(set(nos))

    # --- the end -----------------------------------------------------------------------------
    def teardown(self):
        try:
            self.synchronize()
            self.check_agreement()
        finally:
            Convergence.counter = itertools.count(next(self.counter))

    def explanation(self, coupling) -> str | None:
        if coupling.skipped and coupling.conflict_local is not None:
            return "conflict"
        if coupling.failed and (
                SyncError.objects.filter(local_model="erp_app.customer",
                                         local_id=coupling.local_id).exists()
                or SyncError.objects.filter(remote_id=coupling.remote_id).exists()):
            return "error"
        if {("ERP", str(coupling.local_id)), ("CRM", str(coupling.remote_id))} & self.handled:
            return "policy"
        return None

    def check_agreement(self):
        couplings = {(c.local_id, str(c.remote_id)): c for c in Coupling.objects.all()}
        for difference in differences(self.client, ["CUSTOMER"]):
            coupling = couplings[(difference.local_id, difference.remote_id)]
            reason = self.explanation(coupling)
            if reason is None and coupling.last_job_to_crm_id is None and (
                    difference.direction == Direction.TO_CRM or difference.remote in (None, "")):
                reason = "policy"  # created from the CRM: the ERP's own values go with its change
            assert reason, f"unexplained difference: {difference}"
        # Every record has its counterpart, or an error says why, or it was uncoupled by hand
        # (an unchanged customer is not sent again: the watermark's few seconds of overlap
        # decide whether it is, so timing may go either way), or it is a CRM account the sync
        # itself wrote last and no longer couples (left by an uncoupling: never pulled).
        me = str(self.client.who_am_i()).lower()
        writers = {a["accountid"].lower(): str(a.get("_modifiedby_value")).lower()
                   for page in self.client.iter_pages(
                       "accounts", select=["accountid", "_modifiedby_value"]) for a in page}
        for side, ids in uncoupled(self.client, ["CUSTOMER"]).get("CUSTOMER", {}).items():
            for ident in ids:
                if side == "ERP":
                    assert ("ERP", str(ident)) in self.handled or \
                        SyncError.objects.filter(local_id=ident).exists(), \
                        f"customer {ident} has no account and no error"
                else:
                    assert writers[ident] == me or \
                        SyncError.objects.filter(remote_id=ident).exists(), \
                        f"account {ident} has no customer and no error"
        # No update lost: on a pair no conflict, error or policy explains, each field holds the
        # last value typed on either side.
        rows = {a["accountid"].lower(): a for page in self.client.iter_pages(
            "accounts", select=["accountid", *FIELDS.values()]) for a in page}
        for coupling in couplings.values():
            customer = Customer.objects.filter(pk=coupling.local_id).first()
            row = rows.get(str(coupling.remote_id))
            if customer is None or row is None or coupling.pending_create or \
                    self.explanation(coupling):
                continue
            typed = {}
            for key in (("ERP", str(customer.pk)), ("CRM", str(coupling.remote_id))):
                for field, (step, value) in self.edits.get(key, {}).items():
                    if field not in typed or typed[field][0] < step:
                        typed[field] = (step, value)
            for field, (_, value) in typed.items():
                assert (getattr(customer, field), row.get(FIELDS[field])) == (value, value), \
                    f"lost update of {customer.no} {field}: typed {value!r}, ERP " \
                    f"{getattr(customer, field)!r}, CRM {row.get(FIELDS[field])!r}"


def test_random_operations_on_both_sides_converge(world):
    Convergence.client, Convergence.person = world
    run_state_machine_as_test(Convergence, settings=settings(
        max_examples=15, stateful_step_count=15, deadline=None, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]))
