"""What every page of the apps uses: the permission check, the way back to where the user was, and
the CRM action that turns the CRM's failures into a message a person can act on.

    @require_POST
    @permission("mappings_app.sync_tablemapping")
    def some_action(request):
        with crm_action(request, "The synchronization") as crm:
            job = do_it(client=crm.client)
        if not crm.failed:
            messages.success(request, f"... (job #{job.pk})")
        return back(request, "mappings:connection")
"""

from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme

from dataverse.errors import DataverseError
from mappings_app.connection import crm_client, scrub
from mappings_app.metadata import MetadataUnavailable
from syncadmin.permissions import permission

__all__ = ["CRM_ERRORS", "PermissionRequired", "back", "crm_action", "is_crm_error",
           "local_target", "model_perms", "permission"]

# What reaching the CRM or reading its metadata may raise: shown as a message, never a 500.
CRM_ERRORS = (DataverseError, OSError, MetadataUnavailable)


def is_crm_error(exc) -> bool:
    return isinstance(exc, CRM_ERRORS)


def back(request, default="home", *, referer=True):
    """Where the user was: a safe `next` (posted, else in the address), else the referring page
    of this site (unless `referer` is False: a form that posts to itself), else `default` (a URL
    name or an address)."""
    targets = [request.POST.get("next"), request.GET.get("next")]
    if referer:
        targets.append(request.headers.get("referer"))
    for target in targets:
        if target and url_has_allowed_host_and_scheme(target, {request.get_host()}):
            return HttpResponseRedirect(target)  # a URL, never a view name to reverse
    return redirect(default)


class PermissionRequired(PermissionRequiredMixin):
    """`permission` of a class-based view: 403 unless the user has `permission_required`."""

    raise_exception = True


def model_perms(user, model) -> dict[str, bool]:
    """Which of view / add / change / delete the user may do with `model` (to show buttons)."""
    opts = model._meta
    return {action: user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}")
            for action in ("view", "add", "change", "delete")}


def local_target(target) -> str | None:
    """`target` when it is an address of this site's own (a path, never another host): what a
    page may carry on as `next` in the links it makes."""
    if target and url_has_allowed_host_and_scheme(target, {"_"}) and target.startswith("/") \
            and not target.startswith("//"):
        return target
    return None


class crm_action:  # noqa: N801 - used like a function: `with crm_action(request, "…") as crm:`
    """A `with` block that does something in the CRM: `crm.client` opens the connection's client
    when first used (and closes it at the end of the block).

    A CRM failure ends the block and is not raised: `crm.failed` is True and `crm.problem` says
    what happened. With a `request`, the user reads "<what> did not happen: the CRM did not answer
    as expected (…). Test the connection, then try again."; with `problem` ("The CRM could not be
    searched"), nothing is said and `crm.problem` is "<problem>: …", for the page to show. The
    CRM's own words are scrubbed of the client secret. The `refused` exceptions (a refusal the
    code raises on purpose, its words written for a person) end the block the same way, their
    words the message. Anything else (a bug) is raised as it is."""

    def __init__(self, request=None, what="The action", *, problem="", refused=(),
                 connection=None):
        self.request, self.what, self.lead, self.refused = request, what, problem, refused
        self.connection = connection
        self.failed, self.problem = False, None
        self._opened = None
        self._client = None

    @property
    def client(self):
        if self._client is None:
            opened = crm_client(self.connection)
            self._client = opened.__enter__()
            self._opened = opened
        return self._client

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, traceback):
        if self._opened is not None:
            opened, self._opened = self._opened, None
            try:
                if opened.__exit__(kind, exc, traceback):
                    return True
            except BaseException as closing:
                if closing is not exc and not is_crm_error(closing):
                    raise
                exc = closing
        if exc is not None and isinstance(exc, self.refused):
            self.failed, self.problem = True, str(exc)
            if self.request is not None:
                messages.error(self.request, self.problem)
            return True
        if exc is None or not is_crm_error(exc):
            return False
        self.failed = True
        said = scrub(str(exc))
        if self.lead:
            self.problem = f"{self.lead}: {said}"
        else:
            self.problem = (f"{self.what} did not happen: the CRM did not answer as expected "
                            f"({said}). Test the connection, then try again.")
            if self.request is not None:
                messages.error(self.request, self.problem)
        return True
