"""Every page renders for a viewer; a viewer sees no action button; an operator sees them."""

import pytest
from django.urls import reverse

from couplings_app.models import Coupling, SyncJob
from tests.couplings_app.page_fixtures import fill_logs

pytestmark = pytest.mark.django_db

LIST_PAGES = ["couplings:coupling_list", "couplings:syncjob_list", "couplings:syncerror_list",
              "couplings:skipped_list", "couplings:jobqueue_list"]
# Texts of buttons only people who may act see.
ACTION_TEXTS = ["Delete Entries Older Than 7 Days", "Delete All", "Retry All", "Find for Deleted",
                "Restore Records", "Set On Hold", "Run Now", "formaction=", "Synchronize Now",
                "Set Up Coupling", "Match-Based Coupling", "Delete Coupling",
                "Synchronize Modified Records", "Run Full Synchronization"]


@pytest.fixture
def logs(mapping):
    fill_logs(mapping, 12)
    return mapping


@pytest.mark.parametrize("name", LIST_PAGES)
def test_each_list_page_renders(viewer, logs, name):
    response = viewer.get(reverse(name))
    assert response.status_code == 200


@pytest.mark.parametrize("name", LIST_PAGES)
def test_a_viewer_sees_no_action_buttons(viewer, logs, name):
    html = viewer.get(reverse(name)).content.decode()
    shown = [text for text in ACTION_TEXTS if text in html]
    assert not shown


def test_the_job_log_shows_every_counter_and_the_chart(viewer, logs):
    html = viewer.get(reverse("couplings:syncjob_list")).content.decode()
    for caption in ("Start Date/Time", "Finish Date/Time", "Duration", "Inserted", "Modified",
                    "Deleted", "Unchanged", "Skipped", "Failed", "Coupled", "Uncoupled",
                    "Trigger", "Direction"):
        assert caption in html
    assert "<svg" in html and "Synchronized and failed records" in html


def test_failed_drills_down_to_the_jobs_errors(viewer, logs):
    job = SyncJob.objects.filter(failed__gt=0).first()
    html = viewer.get(reverse("couplings:syncjob_list")).content.decode()
    assert f"/integration/errors/?job={job.pk}" in html
    errors = viewer.get(reverse("couplings:syncerror_list"), {"job": job.pk}).content.decode()
    assert "1 entry" in errors


def test_a_running_job_polls_its_progress_until_it_ends(viewer, mapping):
    job = SyncJob.objects.create(mapping=mapping, mapping_name=mapping.name, status="running",
                                 progress_done=40, progress_total=100)
    html = viewer.get(reverse("couplings:syncjob_list")).content.decode()
    assert f'hx-get="{reverse("couplings:syncjob_progress", args=[job.pk])}"' in html
    live = viewer.get(reverse("couplings:syncjob_progress", args=[job.pk]))
    assert live.status_code == 200 and 'hx-trigger="every 2s"' in live.content.decode()
    assert "40 / 100" in live.content.decode()
    SyncJob.objects.filter(pk=job.pk).update(status="succeeded")
    done = viewer.get(reverse("couplings:syncjob_progress", args=[job.pk]))
    assert done.status_code == 286  # htmx stops polling
    assert "hx-trigger" not in done.content.decode()


def test_the_job_detail_page_shows_its_errors(viewer, logs):
    job = SyncJob.objects.filter(failed__gt=0).first()
    html = viewer.get(job.get_absolute_url()).content.decode()
    assert f"Job #{job.pk}" in html and "something failed" in html


def test_the_error_log_shows_both_records_and_the_detail_behind_a_toggle(viewer, logs):
    html = viewer.get(reverse("couplings:syncerror_list")).content.decode()
    assert "<details" in html and "Traceback" in html
    assert "/erp/customer/" in html and "/crm/browse/accounts/" in html


def test_the_couplings_page_filters_by_skipped(viewer, logs):
    skipped = Coupling.objects.filter(skipped=True).count()
    html = viewer.get(reverse("couplings:coupling_list"), {"skipped": "yes"}).content.decode()
    assert f"{skipped} entries" in html


def test_the_skipped_page_lists_conflicts_and_failures(viewer, logs):
    html = viewer.get(reverse("couplings:skipped_list")).content.decode()
    assert "Conflict" in html and "Failed" in html


def test_an_operator_sees_the_action_buttons(operator, logs):
    html = operator.get(reverse("couplings:skipped_list")).content.decode()
    assert "Retry All" in html and "Restore Records" in html and "Delete Couplings" in html
    html = operator.get(reverse("couplings:syncerror_list")).content.decode()
    assert "Delete Entries Older Than 7 Days" in html and "Synchronize" in html
    html = operator.get(reverse("couplings:jobqueue_list")).content.decode()
    assert "Set On Hold" in html and "Run Now" in html


def test_the_job_queue_lists_one_entry_per_enabled_mapping(viewer, mapping):
    html = viewer.get(reverse("couplings:jobqueue_list")).content.decode()
    assert "CUSTOMER - Dynamics 365 Sales synchronization job" in html
    assert ">Ready<" in html


def test_erp_lists_have_a_coupled_column_and_filter(viewer, logs):
    response = viewer.get(reverse("erp:list", kwargs={"model": "customer"}))
    html = response.content.decode()
    assert "Coupled to Dynamics 365 Sales" in html and 'data-coupled="yes"' in html
    only_uncoupled = viewer.get(reverse("erp:list", kwargs={"model": "customer"}),
                                {"coupled": "no"}).content.decode()
    assert 'data-coupled="yes"' not in only_uncoupled


def test_erp_pages_of_unmapped_tables_have_no_crm_menu(viewer, mapping):
    html = viewer.get(reverse("erp:list", kwargs={"model": "vendor"})).content.decode()
    assert "Coupled to Dynamics 365 Sales" not in html


def test_the_record_page_has_the_dynamics_menu(operator, logs):
    coupling = Coupling.objects.first()
    url = reverse("erp:detail", kwargs={"model": "customer", "pk": coupling.local_id})
    html = operator.get(url).content.decode()
    for caption in ("Dynamics 365 Sales", "Set Up Coupling", "Match-Based Coupling",
                    "Synchronize Now", "Delete Coupling", "Synchronization Log",
                    "Open the coupled account"):
        assert caption in html


def test_a_viewer_sees_the_record_menu_without_actions(viewer, logs):
    coupling = Coupling.objects.first()
    url = reverse("erp:detail", kwargs={"model": "customer", "pk": coupling.local_id})
    html = viewer.get(url).content.decode()
    assert "Synchronization Log" in html and "Open the coupled account" in html
    assert "Synchronize Now" not in html and "Set Up Coupling" not in html


def test_the_record_log_shows_the_records_jobs_and_errors(viewer, logs):
    coupling = Coupling.objects.filter(last_job_to_crm__isnull=False).first()
    url = reverse("couplings:record_log", args=[logs.pk, coupling.local_id])
    html = viewer.get(url).content.decode()
    assert f"#{coupling.last_job_to_crm_id}" in html and "something failed" in html


def test_the_table_mapping_page_shows_errors_and_skipped(administrator, logs):
    html = administrator.get(logs.get_absolute_url()).content.decode()
    assert "No. of Errors: 12" in html and "No. of Skipped:" in html
    assert "Synchronize Modified Records" in html and "Match-Based Coupling" in html


def test_connection_setup_has_the_synchronization_actions(operator, administrator, viewer):
    url = reverse("mappings:connection")
    assert "Run Full Synchronization" in operator.get(url).content.decode()
    assert "Synchronize Modified Records" in administrator.get(url).content.decode()
    assert "Run Full Synchronization" not in viewer.get(url).content.decode()


def test_anonymous_people_are_sent_to_log_in(client, mapping):
    for name in LIST_PAGES:
        response = client.get(reverse(name))
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
