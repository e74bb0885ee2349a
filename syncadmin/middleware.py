"""Two small answers every page needs.

- FaviconMiddleware: /favicon.ico, which browsers and tools ask for on their own (logged in or
  not), goes to the static icon instead of a 404 in the server log.
- ActionPageMiddleware: an action's address (a POST behind a button) reached by GET — a page
  reloaded after its redirect failed, a bookmark, a link pasted into a mail — answers a page of
  the site saying which action it is and where to go, instead of an empty 405. The status stays
  405 (the Allow header too): nothing was done.
"""

from django.http import HttpResponsePermanentRedirect
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import Resolver404, resolve
from django.utils.http import url_has_allowed_host_and_scheme

FAVICON = "syncadmin/favicon.ico"

# BC's captions of the actions, by URL name (and `action` where one URL serves several).
ACTIONS = {
    "mappings:connection_test": "Test Connection",
    "mappings:connection_enable": "Enable (the connection)",
    "mappings:connection_disable": "Disable (the connection)",
    "mappings:default_setup": "Use Default Synchronization Setup",
    "mappings:refresh_metadata": "Refresh the CRM's metadata",
    "mappings:tablemapping_reset": "Reset to Default",
    "mappings:tablemapping_reset_watermarks": "Reset watermarks",
    "mappings:tablemapping_bulk_reset": "Reset to Default (selected table mappings)",
    "mappings:tablemapping_bulk_enable": "Enable (selected table mappings)",
    "mappings:tablemapping_bulk_disable": "Disable (selected table mappings)",
    "couplings:sync_modified": "Synchronize Modified Records",
    "couplings:full_sync": "Run Full Synchronization",
    "couplings:full_sync_answer": "the answer to the question after a full synchronization",
    "couplings:record_match": "Match-Based Coupling",
    "couplings:record_uncouple": "Delete Coupling",
    "couplings:syncjob_cancel": "Cancel (a synchronization job)",
    "couplings:syncjob_delete_old": "Delete Entries Older Than 7 Days",
    "couplings:syncjob_delete_all": "Delete All Entries",
    "couplings:syncerror_retry": "Retry",
    "couplings:syncerror_retry_all": "Retry All",
    "couplings:syncerror_uncouple": "Delete Coupling",
    "couplings:syncerror_delete_old": "Delete Entries Older Than 7 Days",
    "couplings:syncerror_delete_all": "Delete All Entries",
    "couplings:skipped_resolve": "Resolve (a skipped record)",
    ("couplings:jobqueue_action", "run"): "Run Now",
    ("couplings:jobqueue_action", "hold"): "Set On Hold",
    ("couplings:jobqueue_action", "ready"): "Set Status to Ready",
    ("couplings:jobqueue_action", "minutes"): "No. of Minutes between Runs (save)",
    ("couplings:mapping_action", "sync"): "Synchronize Modified Records",
    ("couplings:mapping_action", "full"): "Run Full Synchronization",
    ("couplings:mapping_action", "match"): "Match-Based Coupling",
    ("couplings:mapping_action", "uncouple"): "Delete Couplings",
    ("couplings:mapping_action", "reset"): "Reset watermarks",
    ("couplings:mappings_bulk", "sync"): "Synchronize Modified Records (selected mappings)",
    ("couplings:mappings_bulk", "full"): "Run Full Synchronization (selected mappings)",
    ("couplings:mappings_bulk", "match"): "Match-Based Coupling (selected mappings)",
    ("couplings:mappings_bulk", "reset"): "Reset watermarks (selected mappings)",
    ("couplings:mappings_bulk", "uncouple"): "Delete Couplings (selected mappings)",
    ("couplings:records_bulk", "sync"): "Synchronize (selected records)",
    ("couplings:records_bulk", "match"): "Match-Based Coupling (selected records)",
    ("couplings:records_bulk", "uncouple"): "Delete Coupling (selected records)",
    ("couplings:skipped_action", "retry"): "Retry",
    ("couplings:skipped_action", "retry_all"): "Retry All",
    ("couplings:skipped_action", "sync"): "Synchronize",
    ("couplings:skipped_action", "restore"): "Restore Records",
    ("couplings:skipped_action", "delete_records"): "Delete Records",
    ("couplings:skipped_action", "uncouple"): "Delete Couplings",
    ("couplings:skipped_action", "find_deleted"): "Find records deleted in the CRM",
    "crm_emulator:browse_delete": "Delete (a record of the embedded CRM)",
}
# Where the action's button is, when the address itself does not say (see _back).
BACK = {
    "couplings:sync_modified": "mappings:connection",
    "couplings:full_sync": "mappings:connection",
    "couplings:full_sync_answer": "mappings:connection",
}


class FaviconMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == "/favicon.ico":
            return HttpResponsePermanentRedirect(static(FAVICON))
        return self.get_response(request)


def _caption(match) -> str:
    if match is None:
        return ""
    action = match.kwargs.get("action")
    return ACTIONS.get((match.view_name, action)) or ACTIONS.get(match.view_name, "")


def _resolves(path: str):
    try:
        return resolve(path)
    except Resolver404:
        return None


def _back(request, match) -> str:
    """The page the action's button is on: the page the user came from, else the nearest page
    above the action's address (/integration/job-queue/5/run/ → /integration/job-queue/)."""
    referer = request.headers.get("referer")
    if referer and url_has_allowed_host_and_scheme(referer, {request.get_host()}) \
            and referer.rstrip("/") != request.build_absolute_uri(request.path).rstrip("/"):
        return referer
    if match is not None and match.view_name in BACK:
        from django.urls import reverse

        return reverse(BACK[match.view_name])
    parts = [p for p in request.path.split("/") if p]
    while parts:
        parts.pop()
        candidate = "/" + "".join(f"{p}/" for p in parts)
        found = _resolves(candidate)
        if found is not None and found.view_name not in BACK and not _caption(found):
            return candidate
    return "/"


def _wants_page(request, response) -> bool:
    return (response.status_code == 405 and not response.content
            and request.method in ("GET", "HEAD")
            and not request.path.startswith("/crm/api/")  # the CRM's Web API speaks JSON
            and not request.headers.get("HX-Request")
            and request.accepts("text/html"))


class ActionPageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not _wants_page(request, response):
            return response
        match = getattr(request, "resolver_match", None)
        page = render(request, "405.html", {
            "action": _caption(match), "back": _back(request, match),
            "allowed": response.get("Allow", ""),
        }, status=405)
        if response.has_header("Allow"):
            page["Allow"] = response["Allow"]
        return page
