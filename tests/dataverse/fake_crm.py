"""A Dataverse stand-in for the parallel-write tests, given to the client as its `session`: it
answers `$batch` (continue-on-error, one part per operation), CreateMultiple and UpdateMultiple
(all or nothing, as on a standard table), EntityDefinitions, plain GETs and the token request,
and counts what it is sent: requests in flight at once, throttled requests, and requests sent
while a Retry-After the client had already heard of was running.

Time is virtual and per thread (`VirtualTime`): a thread's clock moves only by its own sleeps,
as if requests took no time. A request "arrives" at its thread's time.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass, field

import requests
from requests.structures import CaseInsensitiveDict

ROOT = "https://org.crm.dynamics.com/api/data/v9.2/"
TOKEN_URL = "https://login.example.com/tenant/oauth2/v2.0/token"
BAD = "BAD"  # a record whose name is this is refused (a validation error)
_PART_REQUEST = re.compile(r"^(GET|POST|PATCH|DELETE) (\S+) HTTP/1\.1\r?$", re.M)


class VirtualTime:
    """Per-thread clocks that move only by sleeping."""

    def __init__(self):
        self._local = threading.local()

    def clock(self) -> float:
        return getattr(self._local, "now", 0.0)

    def sleep(self, seconds: float) -> None:
        self._local.now = self.clock() + seconds


def response(status: int, body=None, headers=None, url: str = ROOT) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp.url = url
    resp.headers = CaseInsensitiveDict(headers or {})
    if isinstance(body, dict | list):
        body = json.dumps(body)
        resp.headers.setdefault("Content-Type", "application/json; odata.metadata=minimal")
    resp._content = (body or "").encode("utf-8")
    return resp


def error(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


@dataclass
class Sent:
    method: str
    path: str
    body: str
    time: float


@dataclass
class FakeCrm:
    dop_hint: int | None = None
    unsupported: set = field(default_factory=set)  # messages no table here supports
    hold: int = 0  # hold each write until this many are in flight (then a little longer)
    throttle_every: int = 0  # after this many writes, the next is 429 ...
    retry_after: float = 10.0  # ... with this Retry-After, and so is all until it ends
    time: VirtualTime | None = None
    refuse_token: str | None = None  # answer 401 to requests carrying this token
    tokens: list = field(default_factory=lambda: ["token-1"])
    describe: bool = True  # False: EntityDefinitions cannot be asked for a table

    def __post_init__(self):
        self.cond = threading.Condition()
        self.records: dict[str, dict] = {}
        self.versions: dict[str, int] = {}
        self.sent: list[Sent] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.since_block = 0
        self.throttled = 0
        self.blocked_until = float("-inf")
        self.unheard = 0  # 429s answered that the client has not yet closed its gate for
        self.sent_while_blocked = 0  # requests sent during a Retry-After the client knew of
        self.closings = 0  # the client's gate closed so often
        self._passed = threading.local()  # per thread: the closings heard of at its last pass
        self.token_requests = 0

    def watch(self, client) -> None:
        """Learn when the client has heard of a 429 (its transport closed its gate), and which
        closings each thread had heard of when it last passed the gate: a request that passed
        the gate before another thread closed it was already on its way (not a violation)."""
        gate = client.transport.gate
        close_for, wait = gate.close_for, gate.wait

        def closed(seconds):
            close_for(seconds)
            with self.cond:
                self.unheard -= 1
                self.closings += 1

        def waited(sleep):
            wait(sleep)
            with self.cond:
                self._passed.heard = self.closings

        gate.close_for, gate.wait = closed, waited

    # --- the session's one method -------------------------------------------------------------

    def request(self, method, url, data=None, headers=None, timeout=None):
        headers = headers or {}
        if url == TOKEN_URL:
            with self.cond:
                self.token_requests += 1
                token = self.tokens[min(self.token_requests, len(self.tokens)) - 1]
            return response(200, {"access_token": token, "expires_in": 3600})
        body = data.decode("utf-8") if isinstance(data, bytes) else (data or "")
        path = url.removeprefix(ROOT)
        now = self.time.clock() if self.time else 0.0
        with self.cond:
            self.sent.append(Sent(method, path, body, now))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.cond.notify_all()
        try:
            if self.refuse_token and headers.get("Authorization") == f"Bearer {self.refuse_token}":
                self._hold()
                return response(401, error("0x80072560", "The user is not authenticated."))
            if method == "POST":
                self._hold()
                throttled = self._throttle(now)
                if throttled is not None:
                    return throttled
            resp = self._answer(method, path, body)
        finally:
            with self.cond:
                self.in_flight -= 1
        if self.dop_hint:
            resp.headers["x-ms-dop-hint"] = str(self.dop_hint)
        return resp

    def _hold(self) -> None:
        if not self.hold:
            return
        with self.cond:
            if self.cond.wait_for(lambda: self.in_flight >= self.hold, timeout=2):
                self.cond.wait(0.05)  # room for one more to arrive, if the client sends it

    def _throttle(self, now: float):
        """While blocked, every write is 429 with the rest of the wait; after `throttle_every`
        writes let through, the next starts a block of `retry_after`."""
        with self.cond:
            if now < self.blocked_until:
                if self.unheard == 0 and getattr(self._passed, "heard", -1) == self.closings:
                    self.sent_while_blocked += 1  # it passed the gate after it was closed
                wait = self.blocked_until - now
            elif self.throttle_every and self.since_block >= self.throttle_every:
                self.blocked_until = now + self.retry_after
                self.since_block = 0
                wait = self.retry_after
            else:
                self.since_block += 1
                return None
            self.throttled += 1
            self.unheard += 1
        return response(429, error("0x80072322", "Number of requests exceeded the limit of "
                                   "6000 over time window of 300 seconds."),
                        {"Retry-After": repr(float(wait))})

    # --- answers ------------------------------------------------------------------------------

    def _answer(self, method: str, path: str, body: str) -> requests.Response:
        if path.startswith("EntityDefinitions"):
            if not self.describe:
                return response(400, error("0x80060888", "The metadata $filter is not "
                                           "supported."))
            return response(200, {"value": [{"LogicalName": "account", "EntitySetName": "accounts",
                                             "PrimaryIdAttribute": "accountid"}]})
        if method == "GET":
            return response(200, {"value": []})
        if path == "$batch":
            return self._batch(body)
        action = path.split("/Microsoft.Dynamics.CRM.")
        if len(action) == 2:
            return self._bulk(action[1], json.loads(body)["Targets"])
        return response(404, error("0x8006088a", f"Resource not found for the segment '{path}'."))

    def _batch(self, body: str) -> requests.Response:
        boundary = "batchresponse_" + uuid.uuid4().hex
        out = []
        for part in re.split(r"(?:^|\r\n)--batch_", body)[1:]:
            match = _PART_REQUEST.search(part)
            if not match:
                continue
            head, _, payload = part[match.end():].partition("\r\n\r\n")
            inner = dict(line.split(": ", 1) for line in head.strip().splitlines() if ": " in line)
            with self.cond:
                status, answer = self._one(match.group(1), match.group(2).removeprefix(ROOT),
                                           inner, payload.strip())
            lines = [f"--{boundary}", "Content-Type: application/http",
                     "Content-Transfer-Encoding: binary", "", f"HTTP/1.1 {status} X"]
            if answer:
                lines += ["Content-Type: application/json", "", json.dumps(answer)]
            else:
                lines += [""]
            out.append("\r\n".join(lines))
        text = "\r\n".join(out) + f"\r\n--{boundary}--\r\n"
        return response(200, text, {"Content-Type": f"multipart/mixed; boundary={boundary}"})

    def _one(self, method: str, path: str, headers: dict, payload: str):
        match = re.match(r"accounts\(([0-9a-f-]+)\)$", path)
        data = json.loads(payload) if payload else {}
        if method == "POST":
            rid = data.get("accountid")
            if data.get("name") == BAD:
                return 400, error("0x80044331", "A validation error occurred: the name is BAD.")
            if rid in self.records:
                return 412, error("0x80040237", "A record with matching key values already "
                                  "exists.")
            self._store(rid, data)
            return 204, None
        rid = match.group(1)
        if rid not in self.records:
            return 404, error("0x80040217", f"account With Id = {rid} Does Not Exist")
        if method == "DELETE":
            del self.records[rid]
            return 204, None
        if_match = headers.get("If-Match", "*")
        if if_match != "*" and if_match != f'W/"{self.versions[rid]}"':
            return 412, error("0x80060882", "The version of the existing record doesn't match "
                              "the RowVersion property provided.")
        if data.get("name") == BAD:
            return 400, error("0x80044331", "A validation error occurred: the name is BAD.")
        self._store(rid, {**self.records[rid], **data})
        return 204, None

    def _store(self, rid: str, data: dict) -> None:
        self.records[rid] = data
        self.versions[rid] = self.versions.get(rid, 0) + 1

    def _bulk(self, message: str, targets: list[dict]) -> requests.Response:
        if message in self.unsupported:
            return response(400, error("0x80040800", f"The '{message}' method does not support "
                                       "entities of type 'account'. MessageProcessorCache "
                                       "returned MessageProcessor.Empty."))
        with self.cond:
            for target in targets:
                assert target["@odata.type"] == "Microsoft.Dynamics.CRM.account"
                rid = target["accountid"]
                if target.get("name") == BAD:
                    return response(400, error("0x80044331", "A validation error occurred: the "
                                               "name is BAD."))
                exists = rid in self.records
                if message == "CreateMultiple" and exists:
                    return response(400, error("0x80040237", "Cannot insert duplicate key."))
                if message == "UpdateMultiple" and not exists:
                    return response(404, error("0x80040217",
                                               f"account With Ids = {rid} Do Not Exist"))
            for target in targets:
                data = {k: v for k, v in target.items() if not k.startswith("@")}
                self._store(data["accountid"], {**self.records.get(data["accountid"], {}),
                                                **data})
        if message == "CreateMultiple":
            return response(200, {"Ids": [t["accountid"] for t in targets]})
        return response(204)
