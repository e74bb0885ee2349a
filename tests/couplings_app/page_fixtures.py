"""Fixtures of the pages' tests: a user per role, a mapping without a CRM, log rows in bulk."""

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from couplings_app.choices import JobStatus, JobType, SyncResult
from couplings_app.models import Coupling, SyncError, SyncJob
from erp_app.models import Customer
from mappings_app.models import TableMapping

PASSWORD = "pw-role-1"


def user_with_role(role):
    user = get_user_model().objects.create_user(f"{role}-user", f"{role}@example.com", PASSWORD)
    user.groups.add(Group.objects.get(name=role))
    return user


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def viewer(db):
    return client_for(user_with_role("viewer"))


@pytest.fixture
def operator(db):
    return client_for(user_with_role("operator"))


@pytest.fixture
def administrator(db):
    return client_for(user_with_role("administrator"))


@pytest.fixture
def mapping(db):
    """The CUSTOMER mapping as the default setup makes it (no CRM needed to exist)."""
    return TableMapping.objects.create(
        name="CUSTOMER", local_model="erp_app.customer", remote_entity="account",
        remote_entity_set="accounts", remote_key="accountid",
        remote_modified_attribute="modifiedon", direction="bidirectional")


def make_customers(n, start=0):
    return Customer.objects.bulk_create(
        [Customer(no=f"C{start + i:06d}", name=f"Customer {start + i}") for i in range(n)])


def fill_logs(mapping, n):
    """n jobs, n errors and n couplings (some failed, some skipped) in bulk."""
    now = timezone.now()
    start = Customer.objects.count()
    customers = make_customers(n, start)
    jobs = SyncJob.objects.bulk_create([
        SyncJob(mapping=mapping, mapping_name=mapping.name, direction="to_crm",
                status=JobStatus.SUCCEEDED if i % 7 else JobStatus.FAILED,
                created_at=now - timedelta(hours=i % 300),
                started_at=now - timedelta(hours=i % 300),
                finished_at=now - timedelta(hours=i % 300) + timedelta(seconds=3),
                inserted=i % 5, modified=i % 3, failed=i % 2)
        for i in range(n)], batch_size=2000)
    SyncError.objects.bulk_create([
        SyncError(job=jobs[i], mapping=mapping, direction="to_crm" if i % 2 else "from_crm",
                  local_model="erp_app.customer", local_id=customers[i].pk,
                  local_label=f"Customer {customers[i].no}", remote_entity="account",
                  remote_id=uuid.uuid4(), remote_label="account x",
                  message=f"Customer {customers[i].no}: something failed", detail="Traceback…")
        for i in range(n)], batch_size=2000)
    Coupling.objects.bulk_create([
        Coupling(mapping=mapping, local_model="erp_app.customer", local_id=customers[i].pk,
                 remote_entity="account", remote_id=uuid.uuid4(),
                 last_result_to_crm=SyncResult.FAILURE if i % 3 == 0 else SyncResult.SUCCESS,
                 last_job_to_crm=jobs[i], skipped=i % 4 == 0,
                 conflict_local={"name": "a"} if i % 4 == 0 else None,
                 conflict_remote={"name": "b"} if i % 4 == 0 else None,
                 last_error="x" if i % 3 == 0 else "")
        for i in range(n)], batch_size=2000)
    return jobs


# The job log after two synchronizations: a full one with long messages, then a modified one.
MESSAGES = ["5 coupled, 35 without a match, 0 with more than one match.",
            "28 inserted, 5 modified, 7 failed, 28 coupled.",
            "49 inserted, 11 failed, 49 coupled.", "Nothing to synchronize.", "7 unchanged."]


def two_synchronizations():
    start = timezone.now() - timedelta(hours=1)
    jobs = []
    for run, full in enumerate((True, False)):
        for i, message in enumerate(MESSAGES):
            at = start + timedelta(minutes=30 * run, seconds=i)
            jobs.append(SyncJob(
                mapping_name="SALESPRC-PRODUCTPRICE", direction="to_crm", full=full,
                type=JobType.COUPLING if i == 0 else JobType.SYNCHRONIZATION,
                status=JobStatus.SUCCEEDED, created_at=at, started_at=at,
                finished_at=at + timedelta(seconds=1), inserted=28, modified=5, failed=7,
                coupled=28, unchanged=7, skipped=1, message=message))
    SyncJob.objects.bulk_create(jobs)
