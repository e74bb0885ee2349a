"""Change tracking, as Dataverse's Web API does it (`Prefer: odata.track-changes`).

A collection GET with that preference returns every row of the table, page by page, and the last
page carries an `@odata.deltaLink`: the same query with a `$deltatoken` of Dataverse's shape,
`<row version>!<MM/dd/yyyy HH:mm:ss UTC>`. Following it returns what changed since that version:
rows created or updated (their current state, once each, with the `$select` of the first
request), in version order, then rows deleted, as `$deletedEntity` entries. Pages of changes are
linked with `@odata.nextLink` as any collection's; the last one has the next delta link.

What Dataverse refuses, the embedded CRM refuses the same way: `$filter`, `$orderby`, `$expand`
and `$top` with change tracking; a table whose `ChangeTrackingEnabled` is false
(ChangeTrackingNotEnabledForEntity, 0x80072491); a token older than the organization's
`ExpireChangeTrackingInDays` (ExpiredVersionStamp, 0x80044352). That number of days (7, as
Dataverse documents today) is a knob, so tests can shorten it; deletions older than it are
forgotten.

The version watermark is fixed by the first page: a row written while a client pages through is
not half-reported, it comes with the next delta link.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db.models import Exists, OuterRef
from django.utils import timezone

from crm_emulator import errors, knobs
from crm_emulator.models import Counter, Row, Tombstone
from crm_emulator.odata.query import decode_token, parse_query, read_rows
from crm_emulator.schema import BY_NAME, Entity

PREFERENCE = "odata.track-changes"
REFUSED_OPTIONS = ("$filter", "$orderby", "$expand", "$top")
KNOB = "change_tracking"
DEFAULT_EXPIRE_DAYS = 7  # Organization.ExpireChangeTrackingInDays, as documented today
TOKEN_TIME = "%m/%d/%Y %H:%M:%S"
TOKEN_RE = re.compile(r"^(\d+)!(\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2})$")


def expire_days() -> int:
    return int((knobs.get(KNOB) or {}).get("expire_days", DEFAULT_EXPIRE_DAYS))


def set_expire_days(days: int | None) -> None:
    """Sets ExpireChangeTrackingInDays for every process serving the CRM (None: the default)."""
    knobs.put(KNOB, None if days is None else {"expire_days": int(days)})


def prune(now: datetime) -> None:
    """Forgets deletions older than the expiry: no token that could ask for them is valid."""
    Tombstone.objects.filter(deletedon__lt=now - timedelta(days=expire_days())).delete()


def tombstones_for(deleted: list[Row], versions: int, now: datetime) -> list[Tombstone]:
    """The tombstones of rows just deleted, numbered from `versions` in the order given."""
    return [Tombstone(entity=row.entity, rowid=row.rowid, versionnumber=versions + i,
                      deletedon=now) for i, row in enumerate(deleted)]


def tracked(entity_name: str) -> bool:
    entity = BY_NAME.get(entity_name)
    return entity is not None and entity.change_tracking


def asked(prefer: dict, params: dict) -> bool:
    """Is this collection request a change-tracking one (first request, delta link, or one of
    their next pages, which carry the state in their $skiptoken)?"""
    if PREFERENCE in prefer or "$deltatoken" in params:
        return True
    token = params.get("$skiptoken")
    return bool(token) and "ct" in decode_token(token)


@dataclass
class ChangePage:
    rows: list = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)  # ids of deleted rows
    is_delta: bool = False  # answering a delta link (not the first full read)
    next_state: dict | None = None  # for the $skiptoken of the next page
    delta_token: str | None = None  # on the last page


def check_request(entity: Entity, params: dict) -> None:
    if not entity.change_tracking:
        raise errors.ApiError(400, "0x80072491",
                              f"Entity {entity.logical_name} isn't enabled for change tracking.")
    for option in REFUSED_OPTIONS:
        if option in params:
            raise errors.bad_query(
                f'The "{option}" query parameter isn\'t supported when Change Tracking is '
                "enabled.")
    parse_query(entity, {k: v for k, v in params.items() if k not in ("$skiptoken", "$deltatoken")})


def current_version() -> int:
    value = Counter.objects.filter(name="rowversion").values_list("value", flat=True).first()
    return value or 0


def parse_token(text: str) -> tuple[int, datetime]:
    match = TOKEN_RE.match(text or "")
    try:
        moment = datetime.strptime(match.group(2), TOKEN_TIME).replace(tzinfo=UTC)
    except (AttributeError, ValueError):
        raise errors.bad_query(f"The $deltatoken '{text}' is not valid.") from None
    if timezone.now() - moment > timedelta(days=expire_days()):
        raise errors.ApiError(400, "0x80044352", (
            "Version stamp associated with the client has expired. Please perform a full sync."))
    return int(match.group(1)), moment


def start_state(params: dict) -> dict:
    """The first page's state: changes after `f` up to the watermark `w`, taken at time `t`."""
    token = params.get("$skiptoken")
    if token:
        state = decode_token(token).get("ct")
        try:
            return {**state, **{k: int(state[k]) for k in ("f", "w", "a")},
                    "t": str(state["t"]), "d": bool(state["d"]), "p": str(state["p"])}
        except (KeyError, TypeError, ValueError):
            raise errors.bad_query("The $skiptoken is not valid.") from None
    now = timezone.now().astimezone(UTC).strftime(TOKEN_TIME)
    if "$deltatoken" in params:
        since, _ = parse_token(params["$deltatoken"])
        return {"f": since, "w": current_version(), "t": now, "d": True, "p": "r", "a": since}
    return {"f": 0, "w": current_version(), "t": now, "d": False, "p": "r", "a": 0}


def deleted_since(entity: Entity, after: int, watermark: int):
    """Tombstones after `after`, except ids that exist again (created anew since)."""
    alive = Row.objects.filter(entity=entity.logical_name, rowid=OuterRef("rowid"))
    return (Tombstone.objects.filter(entity=entity.logical_name, versionnumber__gt=after,
                                     versionnumber__lte=watermark)
            .exclude(Exists(alive)).order_by("versionnumber"))


def fetch(entity: Entity, params: dict, page_size: int) -> ChangePage:
    """One page of a change-tracking read: rows (phase "r"), then deletions (phase "d")."""
    check_request(entity, params)
    state = start_state(params)
    watermark, page = state["w"], ChangePage(is_delta=state["d"])
    if state["p"] == "r":
        qs = (Row.objects.filter(entity=entity.logical_name, versionnumber__gt=state["a"],
                                 versionnumber__lte=watermark).order_by("versionnumber"))
        rows = read_rows(qs[:page_size + 1])
        page.rows = rows[:page_size]
        if len(rows) > page_size:
            page.next_state = {**state, "a": page.rows[-1].versionnumber}
            return page
        state = {**state, "p": "d", "a": state["f"]}
    room = page_size - len(page.rows)
    if state["d"]:
        tombs = list(deleted_since(entity, state["a"], watermark)
                     .values_list("rowid", "versionnumber")[:room + 1])
        page.deleted = [str(rowid) for rowid, _ in tombs[:room]]
        if len(tombs) > room:
            last = tombs[room - 1][1] if room else state["a"]
            page.next_state = {**state, "a": last}
            return page
    page.delta_token = f"{watermark}!{state['t']}"
    return page


def count(entity: Entity, params: dict) -> int:
    """`<set>/$count?$deltatoken=...`: how many changes the delta link would return."""
    check_request(entity, params)
    since, _ = parse_token(params["$deltatoken"])
    watermark = current_version()
    rows = Row.objects.filter(entity=entity.logical_name, versionnumber__gt=since,
                              versionnumber__lte=watermark).count()
    return rows + deleted_since(entity, since, watermark).count()
