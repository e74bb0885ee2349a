"""Pages of the couplings, the job log, the error log, the skipped records and the job queue, and
the synchronization actions of the ERP records, the Connection Setup and the table mappings; one
module per page family:

- records: the Dynamics 365 Sales menu of an ERP record, bulk actions on the ERP lists;
- criteria: the Match Based Coupling Criteria step, and what is said once coupling is queued;
- mappings: Synchronize Modified Records, Run Full Synchronization, a mapping's actions;
- logs: the job log and the error log;
- skipped: couplings and the Coupled Data Synchronization Errors;
- jobqueue: the Job Queue Entries.

Views are thin: each action is a POST (CSRF) under a permission (403 without it) that calls one
function of couplings_app.services / tasks / page_tasks / jobqueue / sync, says what it did in a
message and returns to where the user was (syncadmin.toolkit: `permission`, `back`,
`crm_action`).
"""

from couplings_app.views.criteria import mapping_match_criteria, record_match_criteria
from couplings_app.views.jobqueue import jobqueue_action, jobqueue_list
from couplings_app.views.logs import (
    SyncErrorList,
    SyncJobList,
    syncerror_delete_all,
    syncerror_delete_old,
    syncerror_retry,
    syncerror_retry_all,
    syncerror_uncouple,
    syncjob_cancel,
    syncjob_delete_all,
    syncjob_delete_old,
    syncjob_detail,
    syncjob_progress,
)
from couplings_app.views.mappings import (
    MAPPING_ACTIONS,
    full_sync,
    full_sync_answer,
    mapping_action,
    mappings_bulk,
    sync_modified,
)
from couplings_app.views.records import (
    record_couple,
    record_crm,
    record_log,
    record_match,
    record_sync,
    record_uncouple,
    records_bulk,
)
from couplings_app.views.skipped import (
    SKIPPED_ACTIONS,
    CouplingList,
    SkippedList,
    skipped_action,
    skipped_detail,
    skipped_resolve,
)

__all__ = [
    "MAPPING_ACTIONS", "SKIPPED_ACTIONS", "CouplingList", "SkippedList", "SyncErrorList",
    "SyncJobList", "full_sync", "full_sync_answer", "jobqueue_action", "jobqueue_list",
    "mapping_action", "mapping_match_criteria", "mappings_bulk", "record_couple", "record_crm",
    "record_log", "record_match", "record_match_criteria", "record_sync", "record_uncouple",
    "records_bulk", "skipped_action", "skipped_detail", "skipped_resolve", "sync_modified",
    "syncerror_delete_all", "syncerror_delete_old", "syncerror_retry", "syncerror_retry_all",
    "syncerror_uncouple", "syncjob_cancel", "syncjob_delete_all", "syncjob_delete_old",
    "syncjob_detail", "syncjob_progress",
]
