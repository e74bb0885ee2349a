"""Reading: pages of records (following next links), one record, records by id, change tracking.

`Reading` is a part of DataverseClient (it needs the client's `transport`, `page_size`,
`dataverse_features`, `use_in_function`, `ids_per_request`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from .answers import collection_rows, json_of, next_link, required_attributes
from .errors import MalformedResponse, NotSupported, ValidationError, request_label, shorten
from .query import build_query, in_filter, or_filter, with_query
from .values import key_segment, normalize_id

MAX_PAGE_SIZE = 5000  # Dataverse ignores a larger odata.maxpagesize


class Reading:
    """The reading half of DataverseClient."""

    def iter_pages(
        self,
        entity_set: str,
        select: Sequence[str] | str | None = None,
        filter: str | None = None,
        orderby: Sequence[str] | str | None = None,
        top: int | None = None,
        page_size: int | None = None,
        *,
        expand: str | None = None,
        params: dict[str, Any] | None = None,
        key: str | None = None,
    ) -> Iterator[list[dict]]:
        """Pages of records, following `@odata.nextLink` to the end (one page in memory).

        The service may send pages smaller than asked; `top` caps the rows over all pages.
        Dataverse does not page a query with `$top` (no next link; at most 5,000 rows), so
        with `top` the whole answer is asked for at once and handed out in pages of `page_size`.
        With `key` (the primary key attribute) every row must hold its id and every attribute
        of `select`, else MalformedResponse: a caller must not take a missing value for an
        empty one. A page that is not an OData collection, and a next link that repeats or
        leads to another host, are MalformedResponse too.
        """
        size = page_size or self.page_size
        query = build_query(
            select=select, filter=filter, orderby=orderby, top=top, expand=expand, extra=params
        )
        url: str | None = with_query(entity_set, query)
        asked = size if top is None else max(size, min(top, MAX_PAGE_SIZE))
        headers = {"Prefer": f"odata.maxpagesize={asked}"}
        remaining = top
        seen: set[str] = set()
        required = required_attributes(select, key)
        while url:
            seen.add(url)
            payload = self._get_json(url, headers)
            label = request_label("GET", self.transport.url(url))
            rows = collection_rows(payload, label, key, required, self.dataverse_features)
            if remaining is not None:
                rows = rows[:remaining]
                remaining -= len(rows)
            for start in range(0, len(rows), size):
                yield rows[start:start + size]
            if remaining == 0:
                return
            url = next_link(payload, label)
            if url and url in seen:  # a service repeating a link would otherwise loop forever
                raise MalformedResponse(
                    f"{label} was answered with a next link already followed "
                    f"({shorten(url, 300)}): the paging would never end",
                    url=self.transport.url(url),
                    method="GET",
                )

    def iter_rows(self, entity_set: str, *args: Any, **kwargs: Any) -> Iterator[dict]:
        """The records of `iter_pages`, one by one."""
        for page in self.iter_pages(entity_set, *args, **kwargs):
            yield from page

    def get(
        self,
        entity_set: str,
        id: Any,
        select: Sequence[str] | str | None = None,
        *,
        expand: str | None = None,
    ) -> dict:
        """One record; NotFound if it does not exist."""
        path = with_query(key_segment(entity_set, id), build_query(select=select, expand=expand))
        payload = self._get_json(path)
        if not isinstance(payload, dict) or not payload:
            raise MalformedResponse(
                f"{request_label('GET', self.transport.url(path))} was answered with "
                f"{shorten(repr(payload), 100)}, not a record",
                method="GET",
                url=self.transport.url(path),
            )
        return payload

    def get_path(
        self, path: str, select: Sequence[str] | str | None = None, expand: str | None = None
    ) -> dict:
        payload = self._get_json(with_query(path, build_query(select=select, expand=expand)))
        return payload if isinstance(payload, dict) else {"value": payload}

    def get_many(
        self,
        entity_set: str,
        key: str,
        ids: Iterable[Any],
        select: Sequence[str] | str | None = None,
        filter: str | None = None,
    ) -> dict[str, dict]:
        """Records by id in a few requests: {id as given: record}; absent ids are left out, and
        so are those `filter` (an OData clause, and-ed to the ids') does not keep."""
        wanted: dict[str, str] = {}
        for i in ids:
            if i is not None:
                wanted.setdefault(normalize_id(i), str(i))
        if not wanted:
            return {}
        if select is not None:
            select = [select] if isinstance(select, str) else list(select)
            if key not in select:
                select.append(key)
        found: dict[str, dict] = {}
        pending = list(wanted.values())
        while pending:
            use_in = self.use_in_function
            size = self.ids_per_request or (200 if use_in else 100)
            batch, rest = pending[:size], pending[size:]
            clause = in_filter(key, batch) if use_in else or_filter(key, batch)
            if filter:
                clause = f"({clause}) and ({filter})"
            try:
                for row in self.iter_rows(entity_set, select=select, filter=clause, key=key):
                    value = row.get(key)
                    if value is not None:
                        found[wanted.get(normalize_id(value), str(value))] = row
            except (ValidationError, NotSupported):
                if not use_in or self._features_given:
                    raise
                self.use_in_function = False  # not Dataverse after all: plain `or` from now on
                continue
            pending = rest
        return found

    def iter_changes(
        self,
        entity_set: str,
        select: Sequence[str] | str | None = None,
        delta_link: str | None = None,
        page_size: int | None = None,
    ) -> ChangePages:
        """Change tracking (Dataverse, for tables with it enabled): pages of changed rows.

        The first call (no `delta_link`) returns every row; iterate to the end, then keep
        `pages.delta_link` for the next call, which returns only what changed since. Deleted
        rows come as `{"@odata.context": "...$deletedEntity", "id": ..., "reason": "deleted"}`.
        Without Dataverse features: NotSupported (filter on the modified-on attribute instead).
        `delta_link` still None after the last page: the service does not track this table.
        """
        if not self.dataverse_features:
            raise NotSupported("change tracking is a Dataverse feature")
        url = delta_link or with_query(entity_set, build_query(select=select))
        size = page_size or self.page_size
        headers = {"Prefer": f"odata.track-changes,odata.maxpagesize={size}"}
        return ChangePages(self, url, headers)

    def _get_json(self, path: str, headers: dict[str, str] | None = None) -> Any:
        resp = self.transport.request("GET", path, headers=headers)
        if not resp.content:
            return {}
        return json_of(resp, "GET")


class ChangePages:
    """Iterator of change-tracking pages; `delta_link` is set once the last page was read."""

    def __init__(self, client: Reading, url: str, headers: dict[str, str]):
        self._client = client
        self._url: str | None = url
        self._headers = headers
        self.delta_link: str | None = None

    def __iter__(self) -> Iterator[list[dict]]:
        seen: set[str] = set()
        while self._url:
            seen.add(self._url)
            payload = self._client._get_json(self._url, self._headers)
            label = request_label("GET", self._client.transport.url(self._url))
            rows = collection_rows(payload, label, None, (), False)
            self._url = next_link(payload, label)
            if self._url in seen:
                raise MalformedResponse(
                    f"{label} was answered with a next link already followed: the paging "
                    "would never end",
                    method="GET",
                    url=self._client.transport.url(self._url),
                )
            if not self._url:
                link = payload.get("@odata.deltaLink")
                self.delta_link = str(link) if isinstance(link, str) else None
            if rows:
                yield rows
