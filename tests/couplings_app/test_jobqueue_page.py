"""Job Queue Entries page: BC's captions, never internal names; Run Now of an entry whose mapping
is gone says so; No. of Minutes between Runs is edited from the entry (POST, CSRF, permission,
validated) and the django-q2 schedule follows."""

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django_q.models import Schedule

from couplings_app import schedules
from couplings_app.models import SyncJob
from mappings_app.models import TableMapping

pytestmark = pytest.mark.django_db

LIST = reverse("couplings:jobqueue_list")
CAPTION = "CUSTOMER - Dynamics 365 Sales synchronization job"


def action(pk, name):
    return reverse("couplings:jobqueue_action", args=[pk, name])


def said(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def entry_of(mapping):
    return schedules.mapping_schedules(mapping.pk).get()


def test_the_page_shows_captions_not_internal_names(viewer, mapping):
    html = viewer.get(LIST).content.decode()
    assert CAPTION in html and "Customer Statistics - Dynamics 365 Sales synchronization" in html
    text = html.replace('data-entry="sync:', "")
    assert "sync:" not in text


@pytest.mark.parametrize("name, message", [
    ("hold", f"{CAPTION} is on hold: it does not run until set to Ready."),
    ("ready", f"{CAPTION} is ready: it runs within a minute, then every 30 minutes."),
])
def test_messages_name_the_entry_by_its_caption(operator, mapping, name, message):
    response = operator.post(action(entry_of(mapping).pk, name))
    assert response.status_code == 302 and said(response) == [message]


def test_run_now_says_which_entry_it_queued(operator, mapping):
    response = operator.post(action(entry_of(mapping).pk, "run"))
    jobs = SyncJob.objects.filter(mapping=mapping, status="queued").order_by("pk")
    assert said(response) == [f"Queued {CAPTION} (jobs #{jobs[0].pk}, #{jobs[1].pk})."]


def test_run_now_after_a_rename_runs_the_renamed_mapping(operator, mapping):
    schedule = entry_of(mapping)
    mapping.rename("CUSTOMERS")
    response = operator.post(action(schedule.pk, "run"))
    assert response.status_code == 302
    assert said(response)[0].startswith("Queued CUSTOMERS - Dynamics 365 Sales synchronization")
    assert set(SyncJob.objects.values_list("mapping_name", flat=True)) == {"CUSTOMERS"}


def test_run_now_of_an_entry_whose_mapping_is_gone_says_so(operator, mapping):
    gone = Schedule.objects.create(name="sync:GONE", func=schedules.SCHEDULE_FUNC,
                                   args=repr((mapping.pk + 1000,)),
                                   schedule_type=Schedule.MINUTES, minutes=30)
    html = operator.get(LIST).content.decode()
    assert "GONE - Dynamics 365 Sales synchronization job" in html
    assert "Its table mapping no longer exists" in html
    response = operator.post(action(gone.pk, "run"))
    assert response.status_code == 302
    [message] = said(response)
    assert message.startswith("Not run: GONE - Dynamics 365 Sales synchronization job has no "
                              "table mapping any more")
    assert "DoesNotExist" not in message and not SyncJob.objects.exists()


def test_an_administrator_changes_the_minutes_between_runs(administrator, mapping):
    html = administrator.get(LIST).content.decode()
    assert 'name="minutes"' in html and action(entry_of(mapping).pk, "minutes") in html
    response = administrator.post(action(entry_of(mapping).pk, "minutes"), {"minutes": "10"})
    assert said(response) == [f"{CAPTION} now runs every 10 minutes."]
    assert TableMapping.objects.get(pk=mapping.pk).schedule_minutes == 10
    assert entry_of(mapping).minutes == 10
    mapping.refresh_from_db()
    mapping.save()  # a later save of the mapping keeps the new interval
    assert entry_of(mapping).minutes == 10


def test_the_statistics_entry_has_its_own_minutes(administrator, mapping):
    statistics = Schedule.objects.get(name=schedules.STATISTICS_SCHEDULE)
    administrator.post(action(statistics.pk, "minutes"), {"minutes": "60"})
    statistics.refresh_from_db()
    assert statistics.minutes == 60 and entry_of(mapping).minutes == 30


@pytest.mark.parametrize("minutes", ["0", "-5", "abc", "", "10081", "1e3", "99999999999999999"])
def test_minutes_out_of_range_are_refused_with_a_message(administrator, mapping, minutes):
    response = administrator.post(action(entry_of(mapping).pk, "minutes"), {"minutes": minutes})
    assert response.status_code == 302
    assert said(response) == [f"{CAPTION} was not changed: No. of Minutes between Runs must be "
                              "a whole number from 1 to 10080."]
    assert entry_of(mapping).minutes == 30
    assert TableMapping.objects.get(pk=mapping.pk).schedule_minutes == 30


def test_an_operator_may_not_change_the_minutes(operator, mapping):
    html = operator.get(LIST).content.decode()
    assert 'name="minutes"' not in html
    response = operator.post(action(entry_of(mapping).pk, "minutes"), {"minutes": "5"})
    assert response.status_code == 403 and entry_of(mapping).minutes == 30


def test_changing_the_minutes_needs_a_post_with_csrf(mapping):
    from tests.couplings_app.page_fixtures import user_with_role

    client = Client(enforce_csrf_checks=True)
    client.force_login(user_with_role("administrator"))
    url = action(entry_of(mapping).pk, "minutes")
    assert client.post(url, {"minutes": "5"}).status_code == 403
    assert client.get(url).status_code == 405
    assert entry_of(mapping).minutes == 30
