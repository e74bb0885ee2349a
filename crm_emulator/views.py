"""HTTP entry points of the embedded CRM: the Web API, the token endpoint and the control knobs.

Thin by design: the Web API view checks the bearer token, the Dataverse profile's budget
(budget.py), the service protection limit knob and the fault knobs, then hands the request to
api.handle() (or batch.execute()) and turns the answer into an HttpResponse. These views opt out
of the project's login requirement and CSRF checks: they are called by programs with tokens, not
by browsers with sessions.
"""

from __future__ import annotations

import json
import threading
import uuid
from contextlib import nullcontext

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.db import connections
from django.http import HttpResponse, JsonResponse
from django.urls import NoReverseMatch, reverse
from django.views.decorators.csrf import csrf_exempt

from crm_emulator import api, auth, batch, budget, errors, faults, logs, throttle
from crm_emulator.routers import CRM_DB

FAULT_ERRORS = {
    500: ("0x80040216", "An unexpected error occurred."),
    502: ("0x80040216", "Bad gateway."),
    503: ("0x80072321", "The service is temporarily unavailable. Try again later."),
    504: ("0x80044151", "The request timed out."),
}


def service_root(request) -> str:
    return request.build_absolute_uri(reverse("crm_emulator:api_root"))


def http_response(answer: api.ApiResponse) -> HttpResponse:
    response = HttpResponse(answer.content(), status=answer.status,
                            content_type=answer.content_type())
    if answer.body is None and "Content-Type" in response:
        del response["Content-Type"]
    for name, value in answer.headers.items():
        if name != "Content-Type":
            response[name] = value
    return response


def unauthorized(request) -> HttpResponse:
    """The bearer challenge: expected in the token handshake, so not logged as a problem."""
    response = HttpResponse(status=401)
    del response["Content-Type"]
    authorize = request.build_absolute_uri(f"/crm/{settings.CRM_TENANT_ID}/oauth2/authorize")
    response["WWW-Authenticate"] = (
        f"Bearer authorization_uri={authorize}, resource_id={service_root(request)}")
    return logs.expected_challenge(request, response)


def fault_response(status: int) -> HttpResponse:
    code, message = FAULT_ERRORS.get(status, FAULT_ERRORS[500])
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def after_faults(request, response: HttpResponse, settings_: dict) -> HttpResponse:
    """The faults that strike once the request is processed: a dropped connection, a garbled
    body."""
    if faults.roll(settings_["drop_rate"]):
        if not faults.drop_connection(request.META):
            # No socket to close: promise more than is sent, so the client never gets a whole
            # answer (it times out or sees the connection broken).
            response["Content-Length"] = str(len(response.content) + 4096)
        return response
    if faults.roll(settings_["malformed_rate"]):
        garbled = HttpResponse(response.content[: len(response.content) // 2] + b'{"\x00<garbled',
                               status=200 if response.status_code == 204 else response.status_code,
                               content_type="application/json; odata.metadata=minimal")
        return garbled
    return response


@login_not_required
@csrf_exempt
def api_view(request, resource=""):
    user_id = auth.user_from_header(request.headers.get("Authorization"))
    if user_id is None:
        response = unauthorized(request)
    else:
        response = serve(request, resource, user_id)
    hint = budget.dop_hint()
    if hint is not None:
        response["x-ms-dop-hint"] = str(hint)
    response["OData-Version"] = "4.0"
    response["X-Crm-Emulator"] = "1"
    response["REQ_ID"] = str(uuid.uuid4())
    return response


def serve(request, resource: str, user_id) -> HttpResponse:
    """One request; under the Dataverse profile, admitted by its budget first and answered once
    its simulated server time is spent."""
    try:
        ticket = budget.admit(user_id)
    except errors.ApiError as error:
        budget.refused_latency()
        return http_response(api.error_response(error))
    if ticket is None:
        return serve_admitted(request, resource, user_id)
    try:
        response = serve_admitted(request, resource, user_id)
    finally:
        headers = budget.finish(ticket)
    for name, value in headers.items():
        response[name] = value
    return response


_sqlite_turn = threading.Lock()


def database_turn():
    """The CRM's database work one request at a time on SQLite, side by side elsewhere.

    SQLite lets one writer in at a time, and the tests' shared in-memory database refuses a
    second at once ("table is locked") instead of waiting: a client writing in parallel would get
    HTTP 500 where Dataverse takes its requests side by side. The fault knobs' sleeps and the
    Dataverse profile's server time are spent outside this turn, so parallel requests still
    overlap as they do on Dataverse.
    """
    return _sqlite_turn if connections[CRM_DB].vendor == "sqlite" else nullcontext()


def serve_admitted(request, resource: str, user_id) -> HttpResponse:
    with database_turn():
        try:
            throttle.check(user_id)
        except errors.ApiError as error:
            return http_response(api.error_response(error))
        knobs = faults.get_faults()
    status = faults.before(knobs)
    if status is not None:
        return fault_response(status)
    api_request = api.ApiRequest(
        method=request.method, path=resource,
        params={k: request.GET.get(k) for k in request.GET},
        headers={k.lower(): v for k, v in request.headers.items()},
        body=request.body, user_id=user_id, root=service_root(request))
    with database_turn():
        if resource == "$batch":
            response = batch_response(api_request)
        else:
            response = http_response(api.handle(api_request))
    return after_faults(request, response, knobs)


def batch_response(api_request: api.ApiRequest) -> HttpResponse:
    if api_request.method != "POST":
        return http_response(api.error_response(errors.method_not_allowed("$batch")))
    try:
        answers, continued = batch.execute(api_request)
    except errors.ApiError as error:
        return http_response(api.error_response(error))
    budget.record_parts(sum(len(response) if request == "changeset" else 1
                            for request, response in answers))
    content_type, body = batch.render_response(answers)
    response = HttpResponse(body, status=200, content_type=content_type)
    if continued:
        response["Preference-Applied"] = "odata.continue-on-error"
    return response


@login_not_required
@csrf_exempt
def token_view(request, tenant):
    if request.method != "POST":
        return JsonResponse({"error": "invalid_request",
                             "error_description": "AADSTS900561: The endpoint only accepts POST "
                                                  "requests."}, status=405)
    try:
        return JsonResponse(auth.issue_token(tenant, request.POST))
    except auth.TokenError as error:
        return JsonResponse(error.as_json(), status=error.status)


# --- control knobs (tests, demos) -------------------------------------------------------------
def may_control(request) -> bool:
    if getattr(settings, "CRM_EMULATOR_CONTROL", False):
        return True
    user = getattr(request, "user", None)
    return bool(user and user.is_authenticated and user.is_staff)


def control(request, current, apply, clear, render=lambda value: {"value": value}):
    if not may_control(request):
        if not request.user.is_authenticated:
            try:  # a person: to the login page, like every page of the project
                return redirect_to_login(request.get_full_path())
            except NoReverseMatch:  # served alone (run_emulator): there is no login page
                pass
        return JsonResponse({"error": "The emulator's controls need a staff login or "
                                      "CRM_EMULATOR_CONTROL=True."}, status=403)
    if request.method == "GET":
        return JsonResponse(render(current()))
    if request.method == "DELETE":
        clear()
        return JsonResponse(render(current()))
    if request.method != "POST":
        return JsonResponse({"error": "Use GET, POST or DELETE."}, status=405)
    # JSON only (and the CSRF token, like every state change of the project's pages).
    if not request.content_type == "application/json":
        return JsonResponse({"error": "Send the settings as application/json."}, status=415)
    try:
        settings_ = json.loads(request.body or b"{}")
        apply(**settings_)
    except (ValueError, TypeError) as error:
        return JsonResponse({"error": str(error)}, status=400)
    return JsonResponse(render(current()))


@login_not_required
def faults_view(request):
    return control(request, faults.get_faults, faults.set_faults, faults.clear_faults)


@login_not_required
def throttle_view(request):
    return control(request, throttle.get_limit, throttle.set_limit, throttle.clear_limit)


def profile_state() -> dict:
    return {"profile": budget.get_profile(), "usage": budget.usage()}


@login_not_required
def profile_view(request):
    """The Dataverse profile (budget.py): GET it and its usage, POST set_profile's arguments
    (usage starts afresh), DELETE to switch it off."""
    return control(request, profile_state, budget.set_profile, budget.clear_profile,
                   render=lambda state: state)
