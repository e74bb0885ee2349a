"""Each action is a POST under a permission: GET is refused (405), a viewer is refused (403),
an operator's action does what it says and returns with a message."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from couplings_app.models import Coupling, JobQueueHold, SyncError, SyncJob
from tests.couplings_app.page_fixtures import fill_logs

pytestmark = pytest.mark.django_db


@pytest.fixture
def logs(mapping):
    fill_logs(mapping, 12)
    return mapping


def post_urls(mapping):
    coupling = Coupling.objects.order_by("pk").first()
    schedule = Schedule.objects.get(name=f"sync:{mapping.name}")
    job = SyncJob.objects.order_by("pk").first()
    record = [mapping.pk, coupling.local_id]
    urls = [reverse("couplings:record_match", args=record),
            reverse("couplings:record_uncouple", args=record),
            reverse("couplings:sync_modified"), reverse("couplings:full_sync"),
            reverse("couplings:full_sync_answer"),
            reverse("couplings:syncjob_cancel", args=[job.pk]),
            reverse("couplings:syncjob_delete_old"), reverse("couplings:syncjob_delete_all"),
            reverse("couplings:syncerror_retry"), reverse("couplings:syncerror_uncouple"),
            reverse("couplings:syncerror_delete_old"),
            reverse("couplings:syncerror_delete_all"),
            reverse("couplings:skipped_resolve", args=[coupling.pk])]
    urls += [reverse("couplings:records_bulk", args=[mapping.pk, a])
             for a in ("match", "sync", "uncouple")]
    urls += [reverse("couplings:mapping_action", args=[mapping.pk, a])
             for a in ("sync", "full", "match", "uncouple", "reset")]
    urls += [reverse("couplings:mappings_bulk", args=[a]) for a in ("sync", "match", "uncouple")]
    urls += [reverse("couplings:skipped_action", args=[a]) for a in
             ("retry", "retry_all", "sync", "restore", "delete_records", "uncouple",
              "find_deleted")]
    urls += [reverse("couplings:jobqueue_action", args=[schedule.pk, a])
             for a in ("hold", "ready", "run")]
    return urls


def test_every_action_refuses_get(operator, logs):
    for url in post_urls(logs):
        assert operator.get(url).status_code == 405, url


def test_every_action_refuses_a_viewer(viewer, logs):
    for url in post_urls(logs):
        assert viewer.post(url).status_code == 403, url
    coupling = Coupling.objects.first()
    for name in ("record_couple", "record_sync"):
        url = reverse(f"couplings:{name}", args=[logs.pk, coupling.local_id])
        assert viewer.get(url).status_code == 403, url


def test_an_operator_may_not_reset_watermarks_but_an_administrator_may(operator, administrator,
                                                                        logs):
    url = reverse("couplings:mapping_action", args=[logs.pk, "reset"])
    assert operator.post(url).status_code == 403
    logs.local_synced_until = timezone.now()
    logs.save()
    assert administrator.post(url).status_code == 302
    logs.refresh_from_db()
    assert logs.local_synced_until is None


def said(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_synchronize_modified_records_of_a_mapping_queues_its_jobs(operator, mapping):
    url = reverse("couplings:mapping_action", args=[mapping.pk, "sync"])
    response = operator.post(url, {"next": "/integration/table-mappings/"})
    assert response.status_code == 302 and response["Location"] == "/integration/table-mappings/"
    jobs = list(SyncJob.objects.order_by("pk"))
    assert [j.direction for j in jobs] == ["to_crm", "from_crm"]
    assert said(response) == [f"Queued synchronization of CUSTOMER (jobs #{jobs[0].pk}, "
                              f"#{jobs[1].pk})."]


def test_an_action_returns_to_the_page_it_was_started_from(operator, logs):
    response = operator.post(reverse("couplings:skipped_action", args=["retry_all"]),
                             HTTP_REFERER="http://testserver/integration/skipped/?kind=conflict")
    assert response["Location"] == "http://testserver/integration/skipped/?kind=conflict"
    assert not Coupling.objects.filter(skipped=True).exists()


def test_delete_entries_older_than_7_days(operator, logs):
    old = timezone.now() - timezone.timedelta(days=8)
    SyncJob.objects.filter(pk__in=SyncJob.objects.order_by("pk")[:3].values("pk")) \
        .update(created_at=old)
    SyncError.objects.filter(pk__in=SyncError.objects.order_by("pk")[:5].values("pk")) \
        .update(created_at=old)
    response = operator.post(reverse("couplings:syncerror_delete_old"))
    assert SyncError.objects.count() == 7 and "Deleted 5 errors" in said(response)[0]
    operator.post(reverse("couplings:syncjob_delete_old"))
    assert SyncJob.objects.count() == 9


def test_delete_all_entries_keeps_running_jobs(operator, logs):
    running = SyncJob.objects.create(mapping=logs, mapping_name=logs.name, status="running")
    operator.post(reverse("couplings:syncjob_delete_all"))
    assert list(SyncJob.objects.all()) == [running]
    assert not SyncError.objects.exists()  # the jobs' errors went with them
    assert Coupling.objects.count() == 12  # couplings stay; their last-job links are cleared


def test_delete_coupling_of_a_record(operator, logs):
    coupling = Coupling.objects.first()
    response = operator.post(reverse("couplings:record_uncouple",
                                     args=[logs.pk, coupling.local_id]))
    assert not Coupling.objects.filter(pk=coupling.pk).exists()
    assert "Deleted the coupling of Customer" in said(response)[0]


def test_bulk_delete_couplings_of_selected_records(operator, logs):
    ids = list(Coupling.objects.values_list("local_id", flat=True)[:4])
    operator.post(reverse("couplings:records_bulk", args=[logs.pk, "uncouple"]), {"pk": ids})
    assert Coupling.objects.count() == 8


def test_delete_couplings_of_errors(operator, logs):
    errors = list(SyncError.objects.values_list("pk", flat=True)[:2])
    operator.post(reverse("couplings:syncerror_uncouple"), {"pk": errors})
    assert Coupling.objects.count() == 10


def test_retry_and_delete_couplings_on_the_skipped_page(operator, logs):
    skipped = list(Coupling.objects.filter(skipped=True).values_list("pk", flat=True))
    operator.post(reverse("couplings:skipped_action", args=["retry"]), {"pk": skipped[:1]})
    assert not Coupling.objects.get(pk=skipped[0]).skipped
    operator.post(reverse("couplings:skipped_action", args=["uncouple"]), {"pk": skipped[1:]})
    assert not Coupling.objects.filter(pk__in=skipped[1:]).exists()


def test_an_action_without_a_selection_says_so(operator, logs):
    response = operator.post(reverse("couplings:skipped_action", args=["sync"]))
    assert said(response) == ["Select one or more records first."]


def test_set_on_hold_then_ready(operator, mapping):
    schedule = Schedule.objects.get(name="sync:CUSTOMER")
    operator.post(reverse("couplings:jobqueue_action", args=[schedule.pk, "hold"]))
    schedule.refresh_from_db()
    assert schedule.repeats == 0
    html = operator.get(reverse("couplings:jobqueue_list")).content.decode()
    assert ">On Hold<" in html and "Set Status to Ready" in html
    mapping.schedule_minutes = 10
    mapping.save()  # the schedule follows the mapping, and stays on hold
    schedule.refresh_from_db()
    assert schedule.minutes == 10 and schedule.repeats == 0
    operator.post(reverse("couplings:jobqueue_action", args=[schedule.pk, "ready"]))
    schedule.refresh_from_db()
    assert schedule.repeats == -1 and not JobQueueHold.objects.exists()


def test_run_now_queues_the_entrys_jobs(operator, mapping):
    schedule = Schedule.objects.get(name="sync:CUSTOMER")
    response = operator.post(reverse("couplings:jobqueue_action", args=[schedule.pk, "run"]))
    assert SyncJob.objects.filter(mapping=mapping, status="queued").count() == 2
    assert said(response)[0].startswith("Queued CUSTOMER - Dynamics 365 Sales synchronization job")


def test_runs_that_find_nothing_put_the_entry_on_hold_with_inactivity_timeout(mapping):
    from couplings_app import jobqueue

    mapping.inactivity_timeout_minutes = 60
    mapping.save()
    long_ago = timezone.now() - timezone.timedelta(hours=3)
    SyncJob.objects.create(mapping=mapping, mapping_name=mapping.name, status="succeeded",
                           created_at=long_ago, modified=3)
    idle = SyncJob.objects.create(mapping=mapping, mapping_name=mapping.name,
                                  status="succeeded", unchanged=5)
    task = type("Task", (), {"success": True, "result": [idle.pk]})()
    jobqueue.after_scheduled_run(task)
    entry = jobqueue.entries()[0]
    assert entry.status == "On Hold with Inactivity Timeout" and entry.next_run is None
    busy = SyncJob.objects.create(mapping=mapping, mapping_name=mapping.name,
                                  status="succeeded", modified=1)
    jobqueue.after_scheduled_run(type("Task", (), {"success": True, "result": [busy.pk]})())
    assert not JobQueueHold.objects.exists()


def test_the_question_after_a_full_synchronization(administrator, mapping):
    session = administrator.session
    session["full_sync_started"] = (timezone.now() - timezone.timedelta(minutes=1)).isoformat()
    session.save()
    SyncJob.objects.create(mapping=mapping, mapping_name=mapping.name, full=True,
                           status="running")
    html = administrator.get(reverse("mappings:connection")).content.decode()
    assert "A full synchronization is running" in html
    SyncJob.objects.update(status="succeeded")
    html = administrator.get(reverse("mappings:connection")).content.decode()
    assert "The full synchronization has finished" in html
    response = administrator.post(reverse("couplings:full_sync_answer"), {"keep": "yes"})
    mapping.refresh_from_db()
    assert mapping.sync_only_coupled is False and "cleared on 1 mapping" in said(response)[0]
    html = administrator.get(reverse("mappings:connection")).content.decode()
    assert "has finished" not in html


def test_only_an_administrator_answers_yes_it_changes_the_mappings(operator, mapping):
    """Yes clears Synch. Only Coupled Records on the mappings: configuration, not operation."""
    answer = reverse("couplings:full_sync_answer")
    assert operator.post(answer, {"keep": "yes"}).status_code == 403
    assert operator.post(answer, {"keep": "no"}).status_code == 302
    mapping.refresh_from_db()
    assert mapping.sync_only_coupled is True
