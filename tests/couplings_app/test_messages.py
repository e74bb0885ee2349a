"""What a person reads about a failure names the record, the rule and what to do: never a Python
exception's name nor the database's own text (those go to the server log)."""

import pytest

from couplings_app.choices import JobStatus
from couplings_app.models import SyncError
from couplings_app.sync import rules
from couplings_app.sync.runner import synchronize
from erp_app.models import Salesperson

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "crm"])

TECHNICAL = ("UNIQUE", "constraint", "IntegrityError", "ValueError", "KeyError", "Traceback",
             "duplicate key", "violates")


def test_a_crm_record_the_erp_refuses_says_which_value_is_taken(crm, demo, as_crm_user):
    taken = Salesperson.objects.get(code="RB")
    as_crm_user.create("systemusers", {
        "firstname": "Rita", "lastname": "Bloom", "fullname": "Rita Bloom",
        "internalemailaddress": "rita.bloom@cronus.example", "domainname": "rita@cronus.example",
        "islicensed": True, "isdisabled": False})

    [job] = synchronize(demo["SALESPEOPLE"], client=crm, full=True, only_coupled=False)

    [error] = SyncError.objects.filter(job=job, remote_label__contains="Rita Bloom")
    assert "Code 'RB' is already used by salesperson/purchaser RB." in error.message
    assert "couple them" in error.message
    assert not any(word in error.message + error.detail for word in TECHNICAL)
    assert Salesperson.objects.filter(code="RB").get().pk == taken.pk


def test_an_unexpected_problem_stops_the_job_without_naming_the_exception(crm, demo,
                                                                           monkeypatch):
    def broken(run):
        raise KeyError("transactioncurrencyid")

    monkeypatch.setattr(rules, "before_run", broken)
    [job] = synchronize(demo["CURRENCY"], client=crm, full=True, only_coupled=False)
    assert job.status == JobStatus.FAILED
    assert job.message.startswith("The job stopped on an unexpected problem (logged on the "
                                  f"server as sync job {job.pk}).")
    assert not any(word in job.message for word in TECHNICAL + ("transactioncurrencyid",))


def test_a_rule_that_cannot_go_on_says_what_to_do(crm, demo):
    [job] = synchronize(demo["ITEM-PRODUCT"], client=crm, full=True, only_coupled=False)
    assert job.status == JobStatus.FAILED
    assert job.message.startswith("The items' price list needs the local currency")
    assert "Synchronize the CURRENCY mapping first." in job.message


def test_a_crm_record_is_named_by_its_name_not_its_id(crm, demo):
    """Seed rule: only CRM contacts of an account coupled to a customer come to the ERP. The
    contact of a vendor's account is refused, and the message names both by name."""
    for name in ("CURRENCY", "SALESPEOPLE", "CUSTOMER"):
        synchronize(demo[name], client=crm, full=True, only_coupled=False)
    [job] = synchronize(demo["CONTACT"], client=crm, full=True, only_coupled=False,
                        direction="from_crm")
    errors = list(SyncError.objects.filter(job=job, message__contains="Nod Publishers"))
    assert errors, list(SyncError.objects.filter(job=job).values_list("message", flat=True))
    for error in errors:
        assert error.remote_label == f"contact {error.message.split(':')[0].split(' ', 1)[1]}"
        assert "the CRM account 'Nod Publishers' (" in error.message
        assert "is not coupled to a customer. Couple it first (CUSTOMER mapping)." in \
            error.message
        assert not error.remote_label.startswith("contact ") or \
            not error.remote_label[8:].replace("-", "").isalnum()
