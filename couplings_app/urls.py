"""URLs of the couplings pages and the synchronization actions, mounted at /integration/."""

from django.urls import path

from couplings_app import views

app_name = "couplings"

RECORD = "records/<int:mapping>/<int:pk>/"

urlpatterns = [
    # the Dynamics 365 Sales menu of an ERP record, and bulk actions on ERP lists
    path(f"{RECORD}couple/", views.record_couple, name="record_couple"),
    path(f"{RECORD}match/", views.record_match, name="record_match"),
    path(f"{RECORD}match/criteria/", views.record_match_criteria, name="record_match_criteria"),
    path(f"{RECORD}sync/", views.record_sync, name="record_sync"),
    path(f"{RECORD}uncouple/", views.record_uncouple, name="record_uncouple"),
    path(f"{RECORD}log/", views.record_log, name="record_log"),
    path(f"{RECORD}crm/", views.record_crm, name="record_crm"),
    path("records/<int:mapping>/bulk/<slug:action>/", views.records_bulk, name="records_bulk"),
    # Connection Setup and Integration Table Mappings
    path("sync/modified/", views.sync_modified, name="sync_modified"),
    path("sync/full/", views.full_sync, name="full_sync"),
    path("sync/full/answer/", views.full_sync_answer, name="full_sync_answer"),
    path("table-mappings/<int:pk>/<slug:action>/run/", views.mapping_action, name="mapping_action"),
    path("table-mappings/<int:pk>/match/criteria/", views.mapping_match_criteria,
         name="mapping_match_criteria"),
    path("table-mappings/bulk/<slug:action>/run/", views.mappings_bulk, name="mappings_bulk"),
    # Integration Synchronization Jobs
    path("jobs/", views.SyncJobList.as_view(), name="syncjob_list"),
    path("jobs/<int:pk>/", views.syncjob_detail, name="syncjob_detail"),
    path("jobs/<int:pk>/progress/", views.syncjob_progress, name="syncjob_progress"),
    path("jobs/<int:pk>/cancel/", views.syncjob_cancel, name="syncjob_cancel"),
    path("jobs/delete-old/", views.syncjob_delete_old, name="syncjob_delete_old"),
    path("jobs/delete-all/", views.syncjob_delete_all, name="syncjob_delete_all"),
    # Integration Synchronization Errors
    path("errors/", views.SyncErrorList.as_view(), name="syncerror_list"),
    path("errors/retry/", views.syncerror_retry, name="syncerror_retry"),
    path("errors/retry-all/", views.syncerror_retry_all, name="syncerror_retry_all"),
    path("errors/delete-coupling/", views.syncerror_uncouple, name="syncerror_uncouple"),
    path("errors/delete-old/", views.syncerror_delete_old, name="syncerror_delete_old"),
    path("errors/delete-all/", views.syncerror_delete_all, name="syncerror_delete_all"),
    # Couplings and Coupled Data Synchronization Errors
    path("couplings/", views.CouplingList.as_view(), name="coupling_list"),
    path("skipped/", views.SkippedList.as_view(), name="skipped_list"),
    path("skipped/<int:pk>/", views.skipped_detail, name="skipped_detail"),
    path("skipped/<int:pk>/resolve/", views.skipped_resolve, name="skipped_resolve"),
    path("skipped/do/<slug:action>/", views.skipped_action, name="skipped_action"),
    # Job Queue Entries
    path("job-queue/", views.jobqueue_list, name="jobqueue_list"),
    path("job-queue/<int:pk>/<slug:action>/", views.jobqueue_action, name="jobqueue_action"),
]
