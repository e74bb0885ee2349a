"""The Web API's resources, independent of Django's request objects so `$batch` can call them too.

`handle(ApiRequest) -> ApiResponse` routes one request below the service root: the service
document, `$metadata`, `WhoAmI`, `EntityDefinitions...`, and every entity set
(`accounts`, `accounts(<id>)`, `accounts/$count`) with GET / POST / PATCH / DELETE.
Writes go through store.UnitOfWork; queries through odata.query, change-tracking reads
(`Prefer: odata.track-changes`, `$deltatoken`) through changes.py.
"""

from __future__ import annotations

import fnmatch
import json
import re
import uuid
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

from crm_emulator import budget, bulk, changes, errors, metadata
from crm_emulator.models import Row
from crm_emulator.odata.query import (
    COUNT_LIMIT,
    MAX_PAGE_SIZE,
    encode_token,
    fetch_page,
    parse_query,
    parse_select,
)
from crm_emulator.schema import BY_NAME, BY_SET, ENTITIES, Entity
from crm_emulator.store import WriteOp, etag_matches, write_one
from crm_emulator.values import FORMATTED, TYPES_KEY, parse_guid, render

JSON_TYPE = "application/json; odata.metadata=minimal"
BUSINESS_UNIT_ID = uuid.UUID("3b1c2f6a-1d1e-4f0e-9a55-0c0ffee0b001")
ORGANIZATION_ID = uuid.UUID("3b1c2f6a-1d1e-4f0e-9a55-0c0ffee0a001")
MULTIPLE_ACTIONS = tuple(f"Microsoft.Dynamics.CRM.{action}" for action in bulk.ACTIONS)
PATH_RE = re.compile(r"^(?P<set>[A-Za-z_]\w*)(?:\((?P<key>[^)]*)\))?(?:/(?P<sub>[$\w.]+))?$")


@dataclass
class ApiRequest:
    method: str
    path: str  # below the service root, without query string, e.g. "accounts(<id>)"
    params: dict  # query options, e.g. {"$select": "name"}
    headers: dict  # lower-case names
    body: bytes
    user_id: uuid.UUID | None
    root: str  # absolute service root, ending with "/"
    content_id: str | None = None

    @property
    def prefer(self) -> dict:
        return parse_prefer(self.headers.get("prefer", ""))

    def json(self):
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            raise errors.bad_request("The request body is not valid JSON.", "0x80048d19") from None


@dataclass
class ApiResponse:
    status: int
    body: dict | str | None = None
    headers: dict = field(default_factory=dict)

    def content(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()

    def content_type(self) -> str | None:
        if self.body is None:
            return None
        return self.headers.get("Content-Type") or JSON_TYPE


def parse_prefer(header: str) -> dict:
    prefs = {}
    for part in re.split(r",(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", header):
        name, _, value = part.strip().partition("=")
        if name:
            prefs[name.strip().lower()] = value.strip().strip('"')
    return prefs


def annotation_predicate(prefer: dict):
    wanted = prefer.get("odata.include-annotations")
    if not wanted:
        return None
    patterns = [p.strip() for p in wanted.split(",") if p.strip()]
    return lambda name: any(fnmatch.fnmatchcase(name.lstrip("@"), p) for p in patterns)


def error_response(error: errors.ApiError) -> ApiResponse:
    return ApiResponse(error.status, error.as_json(), dict(error.headers))


def handle(request: ApiRequest) -> ApiResponse:
    try:
        return route(request)
    except errors.ApiError as error:
        return error_response(error)


def route(request: ApiRequest) -> ApiResponse:
    path, method = request.path.strip("/"), request.method
    if path == "":
        require(method, "GET", path)
        return ApiResponse(200, {"@odata.context": f"{request.root}$metadata", "value": [
            {"name": e.set_name, "kind": "EntitySet", "url": e.set_name} for e in ENTITIES]})
    if path == "$metadata":
        require(method, "GET", path)
        annotated = request.params.get("annotations") == "true"
        return ApiResponse(200, metadata.csdl(annotated), {"Content-Type": "application/xml"})
    if path in ("WhoAmI", "WhoAmI()"):
        require(method, "GET", path)
        return ApiResponse(200, {
            "@odata.context": f"{request.root}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
            "BusinessUnitId": str(BUSINESS_UNIT_ID), "UserId": str(request.user_id),
            "OrganizationId": str(ORGANIZATION_ID)})
    if path.startswith("EntityDefinitions"):
        require(method, "GET", path)
        return ApiResponse(200, metadata.handle(
            path.removeprefix("EntityDefinitions"), request.params, request.root))
    match = PATH_RE.match(path)
    entity = match and BY_SET.get(match.group("set"))
    if entity is None:
        raise errors.no_segment(match.group("set") if match else path.split("/")[0])
    key, sub = match.group("key"), match.group("sub")
    if key is None:
        if sub == "$count":
            require(method, "GET", path)
            return count(request, entity)
        if sub in MULTIPLE_ACTIONS:
            require(method, "POST", path)
            return multiple(request, entity, sub.rsplit(".", 1)[1])
        if sub is not None:
            raise errors.no_segment(sub)
        if method == "GET":
            return query(request, entity)
        require(method, "POST", path)
        return write(request, WriteOp("POST", entity, body=request.json()))
    rowid = parse_key(entity, key)
    if sub is not None:
        require(method, "GET", path)
        return property_value(request, entity, rowid, sub)
    if method == "GET":
        return retrieve(request, entity, rowid)
    if method in ("PATCH", "DELETE"):
        op = WriteOp(method, entity, rowid, body=request.json() if method == "PATCH" else None,
                     if_match=request.headers.get("if-match"),
                     if_none_match=request.headers.get("if-none-match"))
        return write(request, op)
    raise errors.method_not_allowed(request.root + path)


def require(method: str, allowed: str, path: str):
    if method != allowed:
        raise errors.method_not_allowed(path)


def parse_key(entity: Entity, key: str):
    if re.fullmatch(r"\$\d+", key):
        return key
    text = key.split("=", 1)[1] if key.startswith(entity.primary_id + "=") else key
    rowid = parse_guid(text.strip("'"))
    if rowid is None:
        raise errors.bad_request(
            f"The key '{key}' is not a valid key of {entity.set_name}. The embedded CRM supports "
            "the primary key only.", "0x80060888")
    return rowid


def entity_url(request: ApiRequest, entity: Entity, rowid) -> str:
    return f"{request.root}{entity.set_name}({rowid})"


def lookup_names(rows: list[Row], entity: Entity) -> dict:
    """{(logical name, id): primary name} of every lookup target on these rows."""
    wanted: dict[str, set] = {}
    for row in rows:
        for attribute in entity.attributes:
            value = row.data.get(attribute.name) if attribute.is_lookup else None
            if value:
                target = row.data.get(TYPES_KEY, {}).get(attribute.name, attribute.targets[0])
                wanted.setdefault(target, set()).add(value)
            elif attribute.name in ("createdby", "modifiedby") and getattr(row, attribute.name):
                wanted.setdefault("systemuser", set()).add(str(getattr(row, attribute.name)))
    names = {}
    for target, ids in wanted.items():
        primary = BY_NAME[target].primary_name
        if primary:
            for row in Row.objects.filter(entity=target, rowid__in=list(ids)):
                names[(target, str(row.rowid))] = row.data.get(primary)
    return names


def render_rows(request: ApiRequest, entity: Entity, rows: list[Row], select) -> list[dict]:
    annotations = annotation_predicate(request.prefer)
    names = lookup_names(rows, entity) if annotations and annotations(FORMATTED) else None
    return [render(entity, row, select, annotations, names) for row in rows]


def context_url(request: ApiRequest, entity: Entity, select, single=False) -> str:
    selection = f"({','.join(select)})" if select else ""
    return f"{request.root}$metadata#{entity.set_name}{selection}" + ("/$entity" if single else "")


def query(request: ApiRequest, entity: Entity) -> ApiResponse:
    prefer = request.prefer
    if changes.asked(prefer, request.params):
        return tracked_query(request, entity)
    spec = parse_query(entity, request.params)
    headers = {}
    size = page_size_of(prefer)
    page_size = size or MAX_PAGE_SIZE
    if size:
        headers["Preference-Applied"] = f"odata.maxpagesize={page_size}"
    if annotation_predicate(prefer):
        applied = f'odata.include-annotations="{prefer["odata.include-annotations"]}"'
        headers["Preference-Applied"] = ", ".join(
            p for p in (headers.get("Preference-Applied"), applied) if p)
    rows, next_token, total = fetch_page(spec, page_size)
    budget.record("read", len(rows))
    body = {"@odata.context": context_url(request, entity, spec.select)}
    if total is not None:
        body["@odata.count"] = min(total, COUNT_LIMIT)
        if total > COUNT_LIMIT:
            body["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] = True
    body["value"] = render_rows(request, entity, rows, spec.select)
    if next_token is not None:
        params = {k: v for k, v in request.params.items() if k != "$skiptoken"}
        params["$skiptoken"] = encode_token(next_token)
        body["@odata.nextLink"] = link(request, entity, params)
    return ApiResponse(200, body, headers)


def page_size_of(prefer: dict) -> int | None:
    if "odata.maxpagesize" not in prefer:
        return None
    try:
        return max(1, min(int(prefer["odata.maxpagesize"]), MAX_PAGE_SIZE))
    except ValueError:
        raise errors.bad_request("The odata.maxpagesize preference is not a number.") from None


def link(request: ApiRequest, entity: Entity, params: dict) -> str:
    query_string = urlencode(params, quote_via=quote, safe="$,'()/:")
    return f"{request.root}{entity.set_name}?{query_string}"


def tracked_query(request: ApiRequest, entity: Entity) -> ApiResponse:
    """A change-tracking read (changes.py): rows, `$deletedEntity` entries, next or delta link."""
    select = parse_select(entity, request.params.get("$select"))
    size = page_size_of(request.prefer)
    page = changes.fetch(entity, request.params, size or MAX_PAGE_SIZE)
    budget.record("read", len(page.rows))
    applied = [changes.PREFERENCE] + ([f"odata.maxpagesize={size}"] if size else [])
    context = context_url(request, entity, select) + ("/$delta" if page.is_delta else "")
    deleted_context = f"{request.root}$metadata#{entity.set_name}/$deletedEntity"
    body = {"@odata.context": context,
            "value": render_rows(request, entity, page.rows, select) + [
                {"@odata.context": deleted_context, "id": rowid, "reason": "deleted"}
                for rowid in page.deleted]}
    kept = {k: v for k, v in request.params.items() if k == "$select"}
    if page.next_state is not None:
        params = {k: v for k, v in request.params.items() if k != "$skiptoken"}
        params["$skiptoken"] = encode_token({"ct": page.next_state})
        body["@odata.nextLink"] = link(request, entity, params)
    else:
        token = quote(page.delta_token, safe="")
        body["@odata.deltaLink"] = link(request, entity, kept) + (
            "&" if kept else "") + f"$deltatoken={token}"
    return ApiResponse(200, body, {"Preference-Applied": ",".join(applied)})


def count(request: ApiRequest, entity: Entity) -> ApiResponse:
    if "$deltatoken" in request.params:
        total = changes.count(entity, request.params)
        return ApiResponse(200, str(total), {"Content-Type": "text/plain"})
    spec = parse_query(entity, {k: v for k, v in request.params.items() if k == "$filter"})
    rows = Row.objects.filter(entity=entity.logical_name)
    if spec.filter is not None:
        rows = rows.filter(spec.filter)
    total = min(rows.count(), COUNT_LIMIT)
    return ApiResponse(200, str(total), {"Content-Type": "text/plain"})


def get_row(entity: Entity, rowid) -> Row:
    row = Row.objects.filter(entity=entity.logical_name, rowid=rowid).first()
    if row is None:
        raise errors.not_found(entity, rowid)
    return row


def retrieve(request: ApiRequest, entity: Entity, rowid) -> ApiResponse:
    select = parse_select(entity, request.params.get("$select"))
    row = get_row(entity, rowid)
    budget.record("read")
    if_none_match = request.headers.get("if-none-match")
    if if_none_match and if_none_match.strip() != "*" and etag_matches(if_none_match, row):
        return ApiResponse(304, None, {"ETag": row.etag})
    body = {"@odata.context": context_url(request, entity, select, single=True),
            **render_rows(request, entity, [row], select)[0]}
    return ApiResponse(200, body, {"ETag": row.etag})


def property_value(request: ApiRequest, entity: Entity, rowid, name: str) -> ApiResponse:
    attribute = entity.web_attrs.get(name)
    if attribute is None:
        raise errors.no_segment(name)
    row = get_row(entity, rowid)
    value = render(entity, row, [name])[name]
    if value is None:
        return ApiResponse(204)
    return ApiResponse(200, {
        "@odata.context": f"{request.root}$metadata#{entity.set_name}({rowid})/{name}",
        "value": value})


def write(request: ApiRequest, op: WriteOp) -> ApiResponse:
    op.content_id = request.content_id
    select = parse_select(op.entity, request.params.get("$select"))
    write_one(op, request.user_id)
    return write_response(request, op, select)


def multiple(request: ApiRequest, entity: Entity, action: str) -> ApiResponse:
    """CreateMultiple / UpdateMultiple / UpsertMultiple (bulk.py): one table's records in one
    all-or-nothing operation."""
    ops = bulk.run(request.json(), entity, action, request.user_id,
                   annotation_predicate(request.prefer))
    if action != "CreateMultiple":
        return ApiResponse(204)
    return ApiResponse(200, {
        "@odata.context": f"{request.root}$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse",
        "Ids": [str(op.row.rowid) for op in ops]})


def write_response(request: ApiRequest, op: WriteOp, select=None) -> ApiResponse:
    """The answer to a write that succeeded (also used by $batch)."""
    budget.record("delete" if op.method == "DELETE" else "create" if op.created else "update")
    url = entity_url(request, op.entity, op.row.rowid)
    if op.method == "DELETE":
        return ApiResponse(204)
    headers = {"OData-EntityId": url}
    if request.prefer.get("return") == "representation":
        headers["Preference-Applied"] = "return=representation"
        headers["ETag"] = op.row.etag
        if op.created:
            headers["Location"] = url
        body = {"@odata.context": context_url(request, op.entity, select, single=True),
                **render_rows(request, op.entity, [op.row], select)[0]}
        return ApiResponse(201 if op.created else 200, body, headers)
    return ApiResponse(204, None, headers)
