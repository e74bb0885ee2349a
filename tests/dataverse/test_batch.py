"""$batch: the multipart request body, and parsing answers with failures and change sets."""

import email
import json
import re

import pytest
import requests
import responses

from dataverse import (
    BatchOperation,
    DataverseError,
    NotFound,
    PreconditionFailed,
    TransportError,
    ValidationError,
)
from dataverse.batch import parse_batch

from .conftest import ROOT

G1 = "00000000-0000-0000-0000-000000000001"
G2 = "00000000-0000-0000-0000-000000000002"
G3 = "00000000-0000-0000-0000-000000000003"
OWNER = "11111111-2222-3333-4444-555555555555"
BATCH_URL = ROOT + "$batch"


def http_part(status_line, headers=(), body="", content_id=None):
    mime = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id:
        mime.append(f"Content-ID: {content_id}")
    return "\r\n".join([*mime, "", status_line, *headers, "", body])


def multipart(boundary, parts):
    out = []
    for part in parts:
        out += [f"--{boundary}", part]
    out += [f"--{boundary}--", ""]
    return "\r\n".join(out)


def created(guid, content_id=None):
    return http_part(
        "HTTP/1.1 204 No Content",
        [
            "OData-Version: 4.0",
            f"Location: {ROOT}accounts({guid})",
            f"OData-EntityId: {ROOT}accounts({guid})",
        ],
        content_id=content_id,
    )


def no_content(content_id=None):
    return http_part("HTTP/1.1 204 No Content", ["OData-Version: 4.0"], content_id=content_id)


def failed(status_line, code, message, content_id=None):
    return http_part(
        status_line,
        ["Content-Type: application/json; odata.metadata=minimal", "OData-Version: 4.0"],
        json.dumps({"error": {"code": code, "message": message}}),
        content_id=content_id,
    )


def batch_answer(
    rsps, body, boundary="batchresponse_c1bd45c1-dd81-470d-b897-e965846aad2f", status=200
):
    rsps.post(
        BATCH_URL, status=status, body=body, content_type=f"multipart/mixed; boundary={boundary}"
    )


def sent_parts(call):
    """The request as the stdlib MIME parser sees it (an independent check of the format)."""
    ctype = call.request.headers["Content-Type"]
    raw = call.request.body
    raw = raw if isinstance(raw, bytes) else raw.encode()
    return email.message_from_bytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + raw)


OPS = [
    BatchOperation(
        "POST", "accounts", data={"name": "A", "ownerid@odata.bind": f"/systemusers({OWNER})"}
    ),
    BatchOperation("PATCH", "accounts", id=G2, data={"name": "B"}, etag='W/"5"'),
    BatchOperation("DELETE", "accounts", id=G3),
]


def test_batch_request_body_format(rsps, dv):
    boundary = "batchresponse_1"
    batch_answer(rsps, multipart(boundary, [created(G1), no_content(), no_content()]), boundary)
    dv.batch(OPS)
    call = rsps.calls[0]
    assert call.request.method == "POST"
    assert call.request.url == BATCH_URL
    ctype = call.request.headers["Content-Type"]
    assert ctype.startswith("multipart/mixed; boundary=batch_")
    assert call.request.headers["Prefer"] == "odata.continue-on-error"
    body = call.request.body.decode()
    boundary = ctype.split("boundary=")[1]
    assert body.startswith(f"--{boundary}\r\n")
    assert body.rstrip().endswith(f"--{boundary}--")
    assert "\r\n" in body and not re.search(r"[^\r]\n", body)  # CRLF line ends only
    assert f"POST {ROOT}accounts HTTP/1.1\r\n" in body
    assert f"PATCH {ROOT}accounts({G2}) HTTP/1.1\r\n" in body
    assert f"DELETE {ROOT}accounts({G3}) HTTP/1.1\r\n" in body

    message = sent_parts(call)
    assert message.is_multipart()
    parts = message.get_payload()
    assert len(parts) == 3
    for part in parts:
        assert part.get_content_type() == "application/http"
        assert part["Content-Transfer-Encoding"] == "binary"
    post = parts[0].get_payload()
    head, payload = re.split(r"\r?\n\r?\n", post, maxsplit=1)
    assert "Content-Type: application/json" in head
    assert json.loads(payload) == {"name": "A", "ownerid@odata.bind": f"/systemusers({OWNER})"}
    assert 'If-Match: W/"5"' in parts[1].get_payload()


def test_batch_with_one_failure_continues(rsps, dv):
    batch_answer(
        rsps,
        multipart(
            "batchresponse_c1bd45c1-dd81-470d-b897-e965846aad2f",
            [
                created(G1),
                failed(
                    "HTTP/1.1 412 Precondition Failed",
                    "0x80060882",
                    "The version of the existing record doesn't match",
                ),
                no_content(),
            ],
        ),
    )
    results = dv.batch(OPS)
    assert len(results) == 3
    assert results[0].ok and results[0].status == 204 and results[0].id == G1
    assert not results[1].ok
    assert isinstance(results[1].error, PreconditionFailed)
    assert results[1].error.code == "0x80060882"
    assert results[1].status == 412
    assert results[1].id == G2
    assert results[2].ok and results[2].id == G3
    assert dv.request_count == 1


def test_batch_without_continue_on_error_stops_at_first_failure(rsps, dv):
    boundary = "batchresponse_2"
    batch_answer(
        rsps,
        multipart(boundary, [created(G1), failed("HTTP/1.1 404 Not Found", "0x80040217", "gone")]),
        boundary,
    )
    results = dv.batch(OPS, continue_on_error=False)
    assert "Prefer" not in rsps.calls[0].request.headers
    assert results[0].ok
    assert isinstance(results[1].error, NotFound)
    assert results[2].status is None
    assert results[2].error.code == "NotExecuted"


def test_atomic_batch_is_one_change_set_and_maps_content_ids(rsps, dv):
    ops = [
        BatchOperation("POST", "accounts", id=G1, key="accountid", data={"name": "A"}),
        BatchOperation("PATCH", "accounts", id=G2, data={"name": "B"}),
    ]
    cs = "changesetresponse_a2e4fb3f-4cc4-4b54-a1d2-4b1ec4fa3a4c"
    changeset = "\r\n".join(
        [
            f"Content-Type: multipart/mixed; boundary={cs}",
            "",
            # answered out of order: matched by Content-ID, not by position
            multipart(
                cs,
                [
                    http_part(
                        "HTTP/1.1 200 OK",
                        ["Content-Type: application/json", 'ETag: W/"9"'],
                        json.dumps({"@odata.etag": 'W/"9"', "accountid": G2, "name": "B"}),
                        content_id="2",
                    ),
                    created(G1, content_id="1"),
                ],
            ).rstrip("\r\n"),
        ]
    )
    batch_answer(rsps, multipart("batchresponse_3", [changeset]), "batchresponse_3")
    results = dv.batch(ops, atomic=True)

    message = sent_parts(rsps.calls[0])
    outer = message.get_payload()
    assert len(outer) == 1 and outer[0].get_content_type() == "multipart/mixed"
    inner = outer[0].get_payload()
    assert [p["Content-ID"] for p in inner] == ["1", "2"]
    assert f'"accountid": "{G1}"' in inner[0].get_payload()
    assert "If-Match: *" in inner[1].get_payload()

    assert [r.ok for r in results] == [True, True]
    assert results[0].id == G1 and results[0].status == 204
    assert results[1].etag == 'W/"9"' and results[1].data["name"] == "B"
    assert results[1].status == 200


def test_failed_change_set_fails_every_operation(rsps, dv):
    ops = [
        BatchOperation("POST", "accounts", data={"name": "A"}),
        BatchOperation("POST", "accounts", data={"name": ""}),
    ]
    batch_answer(
        rsps,
        multipart(
            "batchresponse_4",
            [failed("HTTP/1.1 400 Bad Request", "0x80044331", "A validation error occurred.")],
        ),
        "batchresponse_4",
    )
    results = dv.batch(ops, atomic=True)
    assert all(isinstance(r.error, ValidationError) for r in results)
    assert all(r.error.code == "0x80044331" for r in results)


def test_change_set_response_parsing_with_lf_line_ends():
    text = (
        "--batchresponse_x\n"
        "Content-Type: multipart/mixed; boundary=changesetresponse_y\n"
        "\n"
        "--changesetresponse_y\n"
        "Content-Type: application/http\n"
        "Content-Transfer-Encoding: binary\n"
        "Content-ID: 1\n"
        "\n"
        "HTTP/1.1 201 Created\n"
        "Content-Type: application/json\n"
        "\n"
        '{"ItemId": 7}\n'
        "--changesetresponse_y--\n"
        "--batchresponse_x\n"
        "Content-Type: application/http\n"
        "\n"
        "HTTP/1.1 200 OK\n"
        "Content-Type: application/json\n"
        "\n"
        '{"value": []}\n'
        "--batchresponse_x--\n"
    )
    items = parse_batch('multipart/mixed; boundary="batchresponse_x"', text)
    assert isinstance(items[0], list)
    assert items[0][0].status == 201
    assert items[0][0].content_id == "1"
    assert items[0][0].json() == {"ItemId": 7}
    assert items[1].status == 200 and items[1].json() == {"value": []}


def test_batch_is_split_at_the_size_limit(rsps, make_client):
    dv = make_client()

    def answer(request):
        count = request.body.decode().count("Content-Type: application/http")
        body = multipart("b", [no_content() for _ in range(count)])
        return (200, {"Content-Type": "multipart/mixed; boundary=b"}, body)

    rsps.add_callback(responses.POST, BATCH_URL, callback=answer)
    ops = [
        BatchOperation("DELETE", "accounts", id=f"00000000-0000-0000-0000-{n:012d}")
        for n in range(2500)
    ]
    results = dv.batch(ops)
    assert len(results) == 2500 and all(r.ok for r in results)
    sizes = [c.request.body.decode().count("Content-Type: application/http") for c in rsps.calls]
    assert sizes == [1000, 1000, 500]
    assert results[1700].id == "00000000-0000-0000-0000-000000001700"


def test_atomic_batch_too_large_or_with_get_is_refused(dv):
    with pytest.raises(ValueError):
        dv.batch([BatchOperation("DELETE", "accounts", id=G1)] * 1001, atomic=True)
    with pytest.raises(ValueError):
        dv.batch([BatchOperation("GET", "accounts", id=G1)], atomic=True)
    assert dv.batch([]) == []


def test_batch_resent_after_503_settles_echoes_of_first_attempt(rsps, dv, sleeps):
    ops = [
        BatchOperation("POST", "accounts", id=G1, key="accountid", data={"name": "A"}),
        BatchOperation("DELETE", "accounts", id=G2),
        BatchOperation("PATCH", "accounts", id=G3, data={"name": "C"}, etag='W/"1"'),
    ]
    rsps.post(BATCH_URL, body=requests.ConnectionError("dropped"))
    batch_answer(
        rsps,
        multipart(
            "batchresponse_5",
            [
                failed(
                    "HTTP/1.1 412 Precondition Failed",
                    "0x80040237",
                    "A record with matching key values already exists.",
                ),
                failed("HTTP/1.1 404 Not Found", "0x80040217", "Does Not Exist"),
                failed("HTTP/1.1 412 Precondition Failed", "0x80060882", "version mismatch"),
            ],
        ),
        "batchresponse_5",
    )
    # Read back: the record with the create's own id exists, so the first attempt made it.
    rsps.get(re.compile(re.escape(ROOT + "accounts?")), json={"value": [{"accountid": G1}]})
    results = dv.batch(ops)
    assert len(sleeps) == 1
    assert results[0].ok and results[0].id == G1  # the first attempt created it
    assert results[1].ok  # and deleted this one
    # a stale ETag after a resend stays a conflict, flagged as possibly our own echo
    assert isinstance(results[2].error, PreconditionFailed) and results[2].error.retried


def test_a_resent_create_refused_for_another_records_unique_value_stays_refused(
        rsps, dv, sleeps):
    """On a resend, "already exists" is the first attempt's echo only if the record with the
    create's own id exists: here another currency holds the ISO code, and nothing was made."""
    ops = [BatchOperation("POST", "transactioncurrencies", id=G1, key="transactioncurrencyid",
                          data={"isocurrencycode": "EUR"})]
    rsps.post(BATCH_URL, body=requests.ConnectionError("dropped"))
    batch_answer(rsps, multipart("batchresponse_6", [
        failed("HTTP/1.1 412 Precondition Failed", "0x80040237",
               "A record with matching key values already exists.")]), "batchresponse_6")
    rsps.get(re.compile(re.escape(ROOT + "transactioncurrencies?")), json={"value": []})
    [result] = dv.batch(ops)
    assert not result.ok and result.error.retried
    assert "transactioncurrencyid" in rsps.calls[-1].request.url  # it was read back


def test_batch_with_plain_creates_is_not_blindly_resent(rsps, dv, sleeps):
    rsps.post(BATCH_URL, body=requests.ConnectionError("dropped"))
    with pytest.raises(TransportError):
        dv.batch([BatchOperation("POST", "accounts", data={"name": "A"})])
    assert len(rsps.calls) == 1 and sleeps == []


def test_batch_get_operation(rsps, dv):
    batch_answer(
        rsps,
        multipart(
            "batchresponse_6",
            [
                http_part(
                    "HTTP/1.1 200 OK",
                    ["Content-Type: application/json"],
                    json.dumps({"@odata.etag": 'W/"3"', "accountid": G1, "name": "A"}),
                )
            ],
        ),
        "batchresponse_6",
    )
    [result] = dv.batch([BatchOperation("GET", "accounts", id=G1)])
    assert result.data["name"] == "A" and result.etag == 'W/"3"' and result.id == G1
    assert f"GET {ROOT}accounts({G1}) HTTP/1.1" in rsps.calls[0].request.body.decode()


def test_whole_batch_refused_raises(rsps, dv):
    rsps.post(BATCH_URL, status=400, json={"error": {"code": "0x0", "message": "bad batch"}})
    with pytest.raises(DataverseError) as info:
        dv.batch(OPS)
    assert info.value.status == 400


def test_unknown_batch_method_is_refused():
    with pytest.raises(ValueError):
        BatchOperation("MERGE", "accounts", id=G1)
    with pytest.raises(ValueError):
        BatchOperation("PATCH", "accounts")
