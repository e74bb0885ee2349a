"""`POST $batch`: OData multipart/mixed batches with change sets, as Dataverse answers them.

A change set is atomic: its operations are applied as one unit of work (store.py) in one
transaction, all or nothing; when one is refused, the change set's answer is that single error
response. Requests outside change sets run in order; consecutive writes among them share one unit
of work too (each refused alone). Without `Prefer: odata.continue-on-error` the batch stops at the
first refusal; with it, it goes on and says so in `Preference-Applied`. At most 1,000 requests.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qsl, urlsplit

from crm_emulator import api, errors
from crm_emulator.schema import BY_SET
from crm_emulator.store import UnitOfWork, WriteOp

MAX_REQUESTS = 1000
API_PREFIX = "/api/data/v9.2/"


@dataclass
class Part:
    headers: dict
    method: str = ""
    url: str = ""
    request_headers: dict = field(default_factory=dict)
    body: bytes = b""

    @property
    def content_id(self) -> str | None:
        return self.headers.get("content-id") or self.request_headers.get("content-id")


@dataclass
class ChangeSet:
    parts: list[Part]


def boundary_of(content_type: str) -> str | None:
    match = re.search(r'boundary="?([^";]+)"?', content_type or "")
    return match.group(1).strip() if match else None


def split_headers(block: str) -> tuple[dict, str]:
    """(lower-case headers, what follows the blank line) of a MIME part or an HTTP message."""
    match = re.search(r"\r?\n\r?\n", block)
    head, rest = (block[:match.start()], block[match.end():]) if match else (block, "")
    headers = {}
    for line in head.splitlines():
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    return headers, rest


def split_multipart(text: str, boundary: str) -> list[str]:
    delimiter = "--" + boundary
    segments = text.split(delimiter)
    parts = []
    for segment in segments[1:]:
        if segment.startswith("--"):
            break
        segment = re.sub(r"^[ \t]*\r?\n", "", segment, count=1)
        segment = re.sub(r"\r?\n$", "", segment, count=1)
        parts.append(segment)
    return parts


def parse_http_part(headers: dict, content: str) -> Part:
    request_line, _, rest = content.lstrip("\r\n").partition("\n")
    pieces = request_line.strip().split()
    if len(pieces) < 2:
        raise errors.bad_request("A batch part does not hold a valid HTTP request line.",
                                 "0x80060888")
    request_headers, body = split_headers(rest)
    return Part(headers, pieces[0].upper(), pieces[1], request_headers,
                body.rstrip("\r\n").encode())


def parse_batch(body: bytes, content_type: str) -> list[Part | ChangeSet]:
    boundary = boundary_of(content_type)
    if not content_type.startswith("multipart/mixed") or not boundary:
        raise errors.bad_request("A $batch request needs Content-Type multipart/mixed with a "
                                 "boundary.", "0x80060888")
    items = []
    for raw in split_multipart(body.decode("utf-8"), boundary):
        headers, content = split_headers(raw)
        inner = boundary_of(headers.get("content-type", ""))
        if headers.get("content-type", "").startswith("multipart/mixed") and inner:
            parts = []
            for raw_part in split_multipart(content, inner):
                part_headers, part_content = split_headers(raw_part)
                parts.append(parse_http_part(part_headers, part_content))
            items.append(ChangeSet(parts))
        else:
            items.append(parse_http_part(headers, content))
    total = sum(len(i.parts) if isinstance(i, ChangeSet) else 1 for i in items)
    if total > MAX_REQUESTS:
        raise errors.bad_request(
            f"The number of requests in the batch ({total}) exceeds the limit of "
            f"{MAX_REQUESTS}.", "0x8005f103")
    return items


def sub_request(part: Part, parent: api.ApiRequest) -> api.ApiRequest:
    url = urlsplit(part.url)
    path = url.path
    if API_PREFIX in path:
        path = path.split(API_PREFIX, 1)[1]
    path = path.lstrip("/")
    headers = {**{k: v for k, v in parent.headers.items() if k in ("prefer",)},
               **part.request_headers}
    return api.ApiRequest(part.method, path, dict(parse_qsl(url.query, keep_blank_values=True)),
                          headers, part.body, parent.user_id, parent.root,
                          content_id=part.content_id)


def write_op(request: api.ApiRequest, content_sets: dict) -> WriteOp | None:
    """The write a request asks for, or None when it is not a write (a GET, ...)."""
    if request.method not in ("POST", "PATCH", "DELETE"):
        return None
    reference = re.fullmatch(r"(\$\d+)", request.path)
    if reference:
        entity = content_sets.get(reference.group(1))
        if entity is None:
            raise errors.bad_request(f"The Content-ID reference '{request.path}' is not valid.")
        key, sub = reference.group(1), None
    else:
        match = api.PATH_RE.match(request.path)
        entity = match and BY_SET.get(match.group("set"))
        if entity is None:
            return None  # let api.handle() give its refusal
        key, sub = match.group("key"), match.group("sub")
    if sub is not None or (key is None) != (request.method == "POST"):
        return None
    rowid = api.parse_key(entity, key) if key is not None else None
    op = WriteOp(request.method, entity, rowid,
                 body=request.json() if request.method != "DELETE" else None,
                 if_match=request.headers.get("if-match"),
                 if_none_match=request.headers.get("if-none-match"),
                 content_id=request.content_id)
    if request.content_id:
        content_sets[f"${request.content_id}"] = entity
    return op


def run_writes(pairs, user_id, *, atomic: bool, continue_on_error: bool):
    """[(request, op)] through one unit of work; [(request, response)] of those processed."""
    done = UnitOfWork(user_id).run([op for _, op in pairs], atomic=atomic,
                                   continue_on_error=continue_on_error)
    requests = dict((id(op), request) for request, op in pairs)
    answers = []
    for op in done:
        request = requests[id(op)]
        if op.error is not None:
            answers.append((request, api.error_response(op.error)))
        else:
            try:
                select = api.parse_select(op.entity, request.params.get("$select"))
                answers.append((request, api.write_response(request, op, select)))
            except errors.ApiError as error:
                answers.append((request, api.error_response(error)))
    return answers


def execute(parent: api.ApiRequest) -> tuple[list, bool]:
    """Runs a batch; returns its answers ([(request, response)] or ("changeset", [...]))
    and whether continue-on-error applied."""
    items = parse_batch(parent.body, parent.headers.get("content-type", ""))
    continue_on_error = "odata.continue-on-error" in parent.prefer
    answers, pending = [], []

    def flush() -> bool:
        """Runs the pending single writes; False when the batch must stop."""
        if not pending:
            return True
        results = run_writes(pending, parent.user_id, atomic=False,
                             continue_on_error=continue_on_error)
        pending.clear()
        answers.extend(results)
        return continue_on_error or all(r.status < 400 for _, r in results)

    for item in items:
        if isinstance(item, ChangeSet):
            if not flush():
                break
            ok = run_change_set(item, parent, answers)
            if not ok and not continue_on_error:
                break
            continue
        request = sub_request(item, parent)
        try:
            op = write_op(request, {})
        except errors.ApiError as error:
            if not flush():
                break
            answers.append((request, api.error_response(error)))
            if not continue_on_error:
                break
            continue
        if op is not None:
            pending.append((request, op))
            continue
        if not flush():
            break
        response = api.handle(request)
        answers.append((request, response))
        if response.status >= 400 and not continue_on_error:
            break
    else:
        flush()
    return answers, continue_on_error


def run_change_set(change_set: ChangeSet, parent: api.ApiRequest, answers: list) -> bool:
    content_sets, pairs = {}, []
    for part in change_set.parts:
        request = sub_request(part, parent)
        try:
            op = write_op(request, content_sets)
            if op is None:
                raise errors.bad_request(
                    f"The {request.method} request to '{request.path}' is not allowed in a "
                    "change set: only creates, updates and deletes of records are.",
                    "0x80060888")
        except errors.ApiError as error:
            answers.append((request, api.error_response(error)))
            return False
        pairs.append((request, op))
    results = run_writes(pairs, parent.user_id, atomic=True, continue_on_error=False)
    failed = [(request, response) for request, response in results if response.status >= 400]
    if failed:
        answers.append(failed[0])
        return False
    answers.append(("changeset", results))
    return True


# --- the response ---
def http_part(request, response: api.ApiResponse) -> str:
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    content_id = getattr(request, "content_id", None)
    if content_id:
        lines.append(f"Content-ID: {content_id}")
    try:
        reason = HTTPStatus(response.status).phrase
    except ValueError:
        reason = ""
    lines += ["", f"HTTP/1.1 {response.status} {reason}", "OData-Version: 4.0"]
    content_type = response.content_type()
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    lines += [f"{name}: {value}" for name, value in response.headers.items()
              if name != "Content-Type"]
    lines.append("")
    lines.append(response.content().decode())
    return "\r\n".join(lines)


def render_response(answers: list) -> tuple[str, bytes]:
    boundary = f"batchresponse_{uuid.uuid4()}"
    chunks = []
    for request, response in answers:
        if request == "changeset":
            inner = f"changesetresponse_{uuid.uuid4()}"
            body = "".join(f"--{inner}\r\n{http_part(r, resp)}\r\n" for r, resp in response)
            chunks.append(f"--{boundary}\r\nContent-Type: multipart/mixed; boundary={inner}"
                          f"\r\n\r\n{body}--{inner}--\r\n")
        else:
            chunks.append(f"--{boundary}\r\n{http_part(request, response)}\r\n")
    chunks.append(f"--{boundary}--\r\n")
    return f"multipart/mixed; boundary={boundary}", "".join(chunks).encode()
