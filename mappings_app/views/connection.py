"""BC's Dynamics 365 Sales Connection Setup page: the connection, Test Connection, Enable /
Disable, Use Default Synchronization Setup, and reading the CRM's metadata again."""

import logging

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from mappings_app import metadata
from mappings_app.connection import check_connection, crm_client, scrub
from mappings_app.defaults import BY_NAME, apply_default_setup
from mappings_app.forms import ConnectionForm
from mappings_app.models import Connection, TableMapping
from syncadmin.toolkit import CRM_ERRORS, back, crm_action, permission

log = logging.getLogger(__name__)


def integration_user_name(conn) -> str | None:
    """The integration user's full name, read from the CRM's systemusers (one request, quick to
    give up); None when there is no user yet, the last Test Connection failed or the CRM does
    not answer with a name: the page shows the id then."""
    if not conn.integration_user_id or (conn.last_tested_at and not conn.last_test_ok):
        return None
    try:
        with crm_client(conn) as client:
            client.transport.timeout = 5  # a name is a courtesy: the page does not wait long
            client.transport.max_retries = 0
            row = client.get("systemusers", conn.integration_user_id, select=["fullname"])
    except Exception:  # noqa: BLE001 - any failure: the id says who it is
        log.info("The integration user's name could not be read from the CRM.")
        return None
    name = str(row.get("fullname") or "").strip() if isinstance(row, dict) else ""
    return name or None


@require_GET
@permission("mappings_app.view_connection")
def connection(request):
    conn = Connection.get()
    user = request.user
    return render(
        request,
        "mappings_app/connection.html",
        {
            "connection": conn,
            "integration_user_name": integration_user_name(conn),
            "mapping_count": TableMapping.objects.count(),
            "can_change": user.has_perm("mappings_app.change_connection"),
            "can_test": user.has_perm("mappings_app.test_connection"),
            "can_setup": user.has_perm("mappings_app.add_tablemapping"),
        },
    )


@permission("mappings_app.change_connection")
def connection_edit(request):
    conn = Connection.get()
    form = ConnectionForm(request.POST if request.method == "POST" else None, instance=conn)
    if request.method == "POST":
        if form.is_valid():
            form.save()
            messages.success(request, "Saved the connection setup. Test the connection next.")
            return redirect("mappings:connection")
        messages.error(request, "Nothing was saved: correct the fields marked below.")
    return render(request, "mappings_app/connection_form.html", {"form": form, "connection": conn})


@require_POST
@permission("mappings_app.test_connection")
def connection_test(request):
    ok, message = check_connection()
    (messages.success if ok else messages.error)(request, message)
    return redirect("mappings:connection")


@require_POST
@permission("mappings_app.change_connection")
def connection_enable(request):
    conn = Connection.get()
    ok, message = check_connection(conn)
    if not ok:
        messages.error(request, f"The connection was not enabled: {message}")
    else:
        conn.set_enabled(True)
        messages.success(request, f"The connection is enabled. {message}")
    return redirect("mappings:connection")


@require_POST
@permission("mappings_app.change_connection")
def connection_disable(request):
    Connection.get().set_enabled(False)
    messages.success(request, "The connection is disabled: no synchronization runs.")
    return redirect("mappings:connection")


def apply_defaults(request, names=None) -> bool:
    """Runs the default setup, with its outcome as a message; True when it worked."""
    try:
        counts = apply_default_setup(names)
    except ValidationError as exc:
        messages.error(request, "The default setup was not applied: " + " ".join(exc.messages))
    except CRM_ERRORS as exc:
        messages.error(
            request,
            "The default setup was not applied: the CRM's metadata could not be read "
            f"({scrub(str(exc))}). Test the connection, then try again.",
        )
    except Exception as exc:  # noqa: BLE001 - an admin sees what failed instead of a 500
        log.exception("Default synchronization setup failed")
        messages.error(request, f"The default setup was not applied: {scrub(str(exc))}")
    else:
        messages.success(
            request,
            f"Default synchronization setup: {counts['created']} created, {counts['reset']} "
            f"reset, {counts['unchanged']} unchanged.",
        )
        return True
    return False


@require_POST
@permission("mappings_app.add_tablemapping")
def default_setup(request):
    """BC's Use Default Synchronization Setup: asks first, then creates or resets."""
    if request.POST.get("confirm") != "yes":
        return render(
            request,
            "mappings_app/default_setup_confirm.html",
            {"mappings": list(BY_NAME.values()), "existing": TableMapping.objects.count()},
        )
    apply_defaults(request)
    return redirect("mappings:connection")


@require_POST
@permission("mappings_app.change_connection")
def refresh_metadata(request):
    names = sorted(set(TableMapping.objects.values_list("remote_entity", flat=True)))
    if not names:
        messages.warning(request, "No table mapping names a CRM entity yet: nothing to refresh.")
        return back(request, "mappings:connection", referer=False)
    with crm_action(problem="The CRM's metadata could not be read") as crm:
        metadata.refresh(names)
    if crm.failed:
        messages.error(request, crm.problem)
    else:
        messages.success(request, f"Read the CRM's description of {', '.join(names)}.")
    return back(request, "mappings:connection", referer=False)
