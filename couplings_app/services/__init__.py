"""What the pages' actions do, one function each (views and tasks call these; none repeats them).

The engine (couplings_app.sync) does the synchronizing; these modules only choose what to hand it.
Views call them as `services.X`:

- states: what a coupling is, as every page says it (`coupling_state`, `state_q`), and the
  addresses of a record on both sides;
- crm_search: Set Up Coupling's search of the CRM, the CRM's names of records;
- records: per record or selection — couple, create in the CRM, Synchronize Now, Match-Based
  Coupling's criteria;
- logs: retry errors, delete old log entries;
- problems: skipped and failed couplings, and couplings whose counterpart was deleted (Find for
  Deleted, Restore Records, Delete Records).
"""

from couplings_app.services.crm_search import (
    SEARCH_LIMIT,
    Candidate,
    SearchResult,
    crm_name,
    crm_names,
    search_crm,
    search_crm_records,
)
from couplings_app.services.logs import (
    LOG_KEEP_DAYS,
    delete_log,
    retriable_errors,
    retry_errors,
)
from couplings_app.services.problems import (
    RetryAll,
    delete_couplings,
    delete_records,
    find_deleted,
    problem_couplings,
    restore_records,
    retry_all,
    retry_couplings,
    synchronize_couplings,
)
from couplings_app.services.records import (
    Criterion,
    apply_match_criteria,
    couple_record,
    create_in_crm,
    directions_of,
    match_criteria,
    suggested_direction,
    synchronize_now,
    synchronize_selected,
)
from couplings_app.services.states import (
    COUPLED,
    CRM_DELETED,
    ERP_DELETED,
    NOT_COUPLED,
    NOT_CREATED,
    STATE_CHOICES,
    STATES,
    CouplingState,
    coupling_crm_url,
    coupling_of,
    coupling_state,
    crm_url,
    label,
    local_url,
    mappings_of,
    state_q,
)

__all__ = [
    "COUPLED",
    "CRM_DELETED",
    "Candidate",
    "CouplingState",
    "Criterion",
    "ERP_DELETED",
    "LOG_KEEP_DAYS",
    "NOT_COUPLED",
    "NOT_CREATED",
    "RetryAll",
    "SEARCH_LIMIT",
    "STATES",
    "STATE_CHOICES",
    "SearchResult",
    "apply_match_criteria",
    "couple_record",
    "coupling_crm_url",
    "coupling_of",
    "coupling_state",
    "create_in_crm",
    "crm_name",
    "crm_names",
    "crm_url",
    "delete_couplings",
    "delete_log",
    "delete_records",
    "directions_of",
    "find_deleted",
    "label",
    "local_url",
    "mappings_of",
    "match_criteria",
    "problem_couplings",
    "restore_records",
    "retriable_errors",
    "retry_all",
    "retry_couplings",
    "retry_errors",
    "search_crm",
    "search_crm_records",
    "state_q",
    "suggested_direction",
    "synchronize_couplings",
    "synchronize_now",
    "synchronize_selected",
]
