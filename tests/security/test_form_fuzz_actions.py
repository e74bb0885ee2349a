"""Form fuzz: the records' Dynamics 365 Sales menu (Set Up Coupling, Match, Synchronize Now,
Uncouple), bulk actions on lists, conflict resolution, the job queue and the synchronization
actions.

What every answer must satisfy is in forms.py; the world the forms work on in conftest.py."""

import pytest
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from couplings_app.models import Coupling, SyncJob
from mappings_app.models import TableMapping
from tests.security.forms import assert_answered, post_form, rolled_back, said
from tests.security.strategies import (
    HOSTILE,
    IDS,
    MISSING,
    SCALAR,
    VALUE,
    apply,
    few,
)

pytestmark = pytest.mark.django_db


# --- the records' Dynamics 365 Sales menu: Set Up Coupling, Match, Synchronize Now, Uncouple ----
@few(20)
@given(remote_id=st.one_of(IDS, HOSTILE, st.uuids().map(str), st.just(MISSING)),
       after=st.one_of(st.sampled_from(["", "to_crm", "from_crm"]), SCALAR, st.just(MISSING)),
       create=st.one_of(st.just(MISSING), st.just("yes"), SCALAR), q=HOSTILE)
def test_set_up_coupling_refuses_by_field(admin_client, world, remote_id, after, create, q):
    url = reverse("couplings:record_couple", args=[world["customers"].pk, world["customer"].pk])
    data = apply({}, {"remote_id": remote_id, "after": after, "create": create})
    with rolled_back():
        post_form(admin_client, url, data, [Coupling, SyncJob, TableMapping])
        assert_answered(admin_client.get(url, {"q": q}), 200)


@few(25)
@given(direction=st.one_of(st.sampled_from(["to_crm", "from_crm"]), SCALAR, st.just(MISSING)),
       next_url=st.one_of(HOSTILE, st.sampled_from(["//evil.test/", "https://evil.test/",
                                                    "/a\r\nSet-Cookie: x=1", "\x00/",
                                                    "javascript:alert(1)"]), st.just(MISSING)))
def test_synchronize_now_never_fails(admin_client, world, direction, next_url):
    url = reverse("couplings:record_sync", args=[world["customers"].pk, world["customer"].pk])
    with rolled_back():
        response = admin_client.post(url, apply({}, {"direction": direction, "next": next_url}))
        assert_answered(response)
        if response.status_code == 302:
            assert not response.url.startswith(("//", "http", "javascript")), response.url
        else:  # asked again: the page says why
            assert said(response), "Synchronize Now refused without a word"


HUGE_PK = "9" * 25


@pytest.mark.parametrize("name, method", [
    ("record_couple", "get"), ("record_couple", "post"), ("record_match", "post"),
    ("record_sync", "get"), ("record_sync", "post"), ("record_uncouple", "post"),
    ("record_log", "get"), ("record_crm", "get"),
])
def test_record_actions_on_missing_records_are_not_found(admin_client, world, name, method):
    mapping, customer = world["customers"], world["customer"]
    for args in ([mapping.pk, HUGE_PK], [HUGE_PK, customer.pk], [mapping.pk, 999999],
                 [world["people"].pk, customer.pk + 1000]):
        response = getattr(admin_client, method)(reverse(f"couplings:{name}", args=args))
        assert_answered(response, 404)


def test_record_actions_answer_with_a_message_when_the_crm_is_away(admin_client, world):
    mapping, customer = world["customers"], world["customer"]
    for name in ("record_match", "record_uncouple"):
        response = admin_client.post(reverse(f"couplings:{name}", args=[mapping.pk, customer.pk]),
                                     {"next": "/\x00"})
        assert_answered(response, 302)
        assert said(response)


# --- bulk actions on lists, conflict resolution, the job queue ----------------------------------
PKS = st.lists(st.one_of(IDS, st.just("1")), max_size=4)


def bulk_urls(world):
    mapping = world["customers"]
    return (
        [reverse("couplings:records_bulk", args=[mapping.pk, a])
         for a in ("match", "sync", "uncouple")]
        + [reverse("couplings:mappings_bulk", args=[a])
           for a in ("sync", "full", "match", "uncouple", "reset")]
        + [reverse(f"mappings:tablemapping_bulk_{a}") for a in ("reset", "enable", "disable")]
        + [reverse(f"couplings:syncerror_{a}") for a in ("retry", "uncouple")]
        + [reverse("couplings:skipped_action", args=[a])
           for a in ("retry", "sync", "restore", "delete_records", "uncouple")]
    )


@few(30)
@given(pks=PKS, extra=st.dictionaries(st.sampled_from(["next", "action", "confirm", "all"]),
                                      SCALAR, max_size=2))
def test_bulk_actions_take_only_ids_that_exist(admin_client, world, pks, extra):
    for url in bulk_urls(world):
        with rolled_back():
            response = admin_client.post(url, {"pk": pks, **extra})
            assert_answered(response, 302)
            assert said(response), f"{url} answered without a word"


@few(20)
@given(side=st.one_of(st.sampled_from(["local", "remote", "fields"]), SCALAR, st.just(MISSING)),
       takes=st.dictionaries(st.one_of(HOSTILE, st.sampled_from(["name", "no", "pk", "id"])),
                             st.one_of(st.just("remote"), SCALAR), max_size=3))
def test_conflict_resolution_never_fails(admin_client, world, side, takes):
    coupling = world["coupling"]
    data = apply({f"take_{k}": v for k, v in takes.items()}, {"side": side})
    with rolled_back():
        response = admin_client.post(reverse("couplings:skipped_resolve", args=[coupling.pk]),
                                     data)
        # 400: a hostile field name can make a body Django's multipart parser refuses itself.
        assert_answered(response, 302, 400, 404)
        if response.status_code == 302:
            assert said(response)


@few(15)
@given(action=st.one_of(st.sampled_from(["hold", "ready", "run"]), HOSTILE), pk=IDS,
       next_url=HOSTILE)
def test_job_queue_and_job_actions_never_fail(admin_client, world, action, pk, next_url):
    schedule, job = world["schedule"], world["job"]
    with rolled_back():
        if action.isascii() and action.replace("-", "").replace("_", "").isalnum():
            response = admin_client.post(
                reverse("couplings:jobqueue_action", args=[schedule.pk, action]),
                {"next": next_url})
            assert_answered(response, 302, 404)
        if pk.isascii() and pk.isdigit():
            for name in ("syncjob_cancel",):
                assert_answered(admin_client.post(reverse(f"couplings:{name}", args=[pk])),
                                302, 404)
            assert_answered(admin_client.get(reverse("couplings:syncjob_detail", args=[pk])),
                            200, 404)
        assert_answered(admin_client.post(reverse("couplings:syncjob_cancel", args=[job.pk]),
                                          {"next": next_url}), 302)


@few(15)
@given(values=st.dictionaries(st.sampled_from(["confirm", "keep", "next", "names", "full"]),
                              VALUE, max_size=3))
def test_synchronization_and_setup_actions_never_fail(admin_client, world, values):
    data = apply({}, values)
    for name in ("couplings:sync_modified", "couplings:full_sync", "couplings:full_sync_answer",
                 "mappings:default_setup", "mappings:refresh_metadata",
                 "mappings:connection_disable"):
        with rolled_back():
            assert_answered(admin_client.post(reverse(name), data), 200, 302)

