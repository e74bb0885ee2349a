"""Every failure answer becomes a typed error carrying status, code, message and details."""

import pytest

from dataverse.errors import (
    AuthenticationError,
    Conflict,
    DataverseError,
    DuplicateRecord,
    NotFound,
    PreconditionFailed,
    ServerError,
    Throttled,
    ValidationError,
    error_for_status,
    parse_error_code,
)

from .conftest import ROOT

GUID = "00aa00aa-bb11-cc22-dd33-44ee44ee44ee"


def _error(code, message="boom", **extra):
    return {"error": {"code": code, "message": message, **extra}}


@pytest.mark.parametrize(
    "status, body, cls",
    [
        (404, _error("0x80040217", "account With Id = x Does Not Exist"), NotFound),
        (
            412,
            _error("0x80060882", "The version of the existing record doesn't match"),
            PreconditionFailed,
        ),
        (
            412,
            _error("0x80040237", "A record with matching key values already exists."),
            DuplicateRecord,
        ),
        (409, _error("Conflict", "Entity already exists"), DuplicateRecord),
        (409, _error("Conflict", "locked"), Conflict),
        (400, _error("0x80048d19", "Error identified in Payload"), ValidationError),
        (422, _error("InvalidValue"), ValidationError),
        (401, _error("0x80072560", "not authorized"), AuthenticationError),
        (403, _error("0x80040220", "missing privilege"), AuthenticationError),
        (429, _error("0x80072322", "Number of requests exceeded"), Throttled),
        (500, _error("0x80040216", "unexpected"), ServerError),
        (502, "<html>Bad gateway</html>", ServerError),
        (418, None, DataverseError),
    ],
)
def test_status_maps_to_typed_error(status, body, cls):
    import json

    raw = json.dumps(body) if isinstance(body, dict) else body
    err = error_for_status(status, raw, method="GET", url=ROOT + "accounts")
    assert type(err) is cls
    assert err.status == status
    assert isinstance(err, DataverseError)


@pytest.mark.parametrize(
    "code, numeric",
    [
        ("0x80040217", 0x80040217),  # Dataverse: hex
        ("-2147220969", 0x80040217),  # .NET SDK style: signed decimal
        ("2147746327", 0x80040217),  # unsigned decimal
        ("NotFound", None),  # a name
        (None, None),
    ],
)
def test_error_code_as_hex_digits_or_name(code, numeric):
    assert parse_error_code(code) == numeric


def test_validation_error_carries_code_message_and_details(rsps, dv):
    rsps.post(
        ROOT + "accounts",
        status=400,
        json={
            "error": {
                "code": "InvalidValue",
                "message": "One or more values are invalid",
                "target": "name",
                "details": [
                    {"code": "TooLong", "message": "name is longer than 160", "target": "name"}
                ],
            }
        },
    )
    with pytest.raises(ValidationError) as info:
        dv.create("accounts", {"name": "x" * 200})
    err = info.value
    assert err.status == 400
    assert err.code == "InvalidValue"
    assert err.message == "One or more values are invalid"
    assert err.details == [
        {"code": "TooLong", "message": "name is longer than 160", "target": "name"}
    ]
    assert err.method == "POST"
    assert "HTTP 400" in str(err) and "InvalidValue" in str(err)


@pytest.mark.parametrize("code", ["0x80044331", "-2147204303", "12345"])
def test_validation_error_keeps_code_as_sent(rsps, dv, code):
    rsps.patch(ROOT + f"accounts({GUID})", status=400, json=_error(code, "bad"))
    with pytest.raises(ValidationError) as info:
        dv.update("accounts", GUID, {"name": "x"})
    assert info.value.code == code
    assert info.value.numeric_code == parse_error_code(code)


def test_not_found_on_get(rsps, dv):
    rsps.get(
        ROOT + f"accounts({GUID})",
        status=404,
        json=_error("0x80040217", f"account With Id = {GUID} Does Not Exist"),
    )
    with pytest.raises(NotFound) as info:
        dv.get("accounts", GUID)
    assert info.value.code == "0x80040217"
    assert GUID in info.value.message
    assert len(rsps.calls) == 1  # a 404 is not retried


def test_precondition_failed_on_stale_etag(rsps, dv):
    rsps.patch(ROOT + f"accounts({GUID})", status=412, json=_error("0x80060882", "version"))
    with pytest.raises(PreconditionFailed) as info:
        dv.update("accounts", GUID, {"name": "x"}, etag='W/"100"')
    assert info.value.status == 412
    assert not info.value.retried


def test_odata_v2_style_message_and_non_json_bodies():
    err = error_for_status(
        400, '{"error": {"code": "", "message": {"lang": "en", "value": "Bad"}}}'
    )
    assert err.message == "Bad" and err.code is None
    err = error_for_status(500, "")
    assert err.message == "HTTP 500"
