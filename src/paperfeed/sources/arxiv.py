"""arXiv sources: OAI-PMH bulk harvesting and the Atom query API.

* :class:`OAIHarvestSource` walks ``ListRecords`` pages by resumption token —
  the way to mirror a whole category or catch up on a date range.
* :class:`ArxivQuerySource` pages through the query API (``search_query`` or
  ``id_list``) by ``start`` offset — for small, targeted fetches.
* :func:`fetch_arxiv_ids` fetches specific papers (e.g. a user submitting an id).

arXiv asks clients to wait ~3 s between requests and answers overload with
``503 Retry-After``; :class:`PoliteClient` does both so no caller can forget.
Parsing lives in :mod:`paperfeed.sources.arxiv_parse` and is re-exported here.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, TypeVar

import httpx

from paperfeed.errors import InputError, SourceError
from paperfeed.models import PaperRecord, parse_arxiv_id
from paperfeed.sources.arxiv_parse import (
    ArxivAPIError,
    AtomPage,
    OAIError,
    OAIPage,
    parse_atom_feed,
    parse_oai_response,
    split_authors,
)
from paperfeed.sources.base import SourceBatch

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_OAI_URL",
    "ArxivAPIError",
    "ArxivQuerySource",
    "AtomPage",
    "OAIError",
    "OAIHarvestSource",
    "OAIPage",
    "PoliteClient",
    "fetch_arxiv_ids",
    "make_user_agent",
    "parse_atom_feed",
    "parse_oai_response",
    "parse_retry_after",
    "split_authors",
]

DEFAULT_OAI_URL = "https://oaipmh.arxiv.org/oai"
DEFAULT_API_URL = "https://export.arxiv.org/api/query"
DEFAULT_DELAY_SECONDS = 3.0
METADATA_PREFIXES = ("arXivRaw", "arXiv")
# The query API refuses more than 2000 results per call.
MAX_API_PAGE_SIZE = 2000

T = TypeVar("T")


def make_user_agent(mailto: str | None = None) -> str:
    """``paperfeed/0.1 (+mailto:...)``: arXiv asks bulk clients to say who to contact."""
    return f"paperfeed/0.1 (+mailto:{mailto})" if mailto else "paperfeed/0.1"


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class PoliteClient:
    """GET with a minimum gap between requests and bounded retries on 503/429.

    The gap is measured from the end of the previous response, so time the
    caller spends between requests (e.g. committing a batch) counts toward it.
    ``sleep`` and ``clock`` are injectable so tests run without waiting.
    """

    RETRY_STATUSES = frozenset({429, 503})

    def __init__(
        self,
        *,
        client: httpx.Client | None = None,
        delay_seconds: float = DEFAULT_DELAY_SECONDS,
        max_retries: int = 5,
        max_retry_wait: float = 600.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        user_agent: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        self._own_client = client is None
        self._client = client or httpx.Client(timeout=timeout, follow_redirects=True)
        self.delay_seconds = delay_seconds
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        self._sleep = sleep
        self._clock = clock
        self.user_agent = user_agent or make_user_agent()
        self._not_before: float | None = None

    def __enter__(self) -> PoliteClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._own_client:
            self._client.close()

    def _wait_turn(self) -> None:
        if self._not_before is None:
            return
        wait = self._not_before - self._clock()
        if wait > 0:
            self._sleep(wait)

    def get(self, url: str, params: Mapping[str, str | int]) -> httpx.Response:
        """GET ``url``; return the response (any status) or raise SourceError on transport errors.

        503/429 are retried after ``Retry-After`` (or exponential backoff) up to
        ``max_retries`` times; other statuses are returned for the caller to judge.
        """
        attempt = 0
        while True:
            self._wait_turn()
            try:
                response = self._client.get(
                    url, params=dict(params), headers={"User-Agent": self.user_agent}
                )
            except httpx.HTTPError as exc:
                shown = httpx.URL(url, params=dict(params))
                raise SourceError(
                    f"Request to {shown} failed: {type(exc).__name__}: {exc}"
                ) from exc
            finally:
                self._not_before = self._clock() + self.delay_seconds
            if response.status_code not in self.RETRY_STATUSES or attempt >= self.max_retries:
                return response
            attempt += 1
            wait = parse_retry_after(response.headers.get("Retry-After"))
            if wait is None:
                wait = max(self.delay_seconds, 1.0) * 2 ** (attempt - 1)
            if wait > self.max_retry_wait:
                raise SourceError(
                    f"HTTP {response.status_code} from {response.url}: server asks to retry in "
                    f"{wait:.0f} s (more than the {self.max_retry_wait:.0f} s we wait)"
                )
            self._not_before = max(self._not_before or 0.0, self._clock() + wait)


def _check_response(response: httpx.Response, parse: Callable[..., Any], retries: int) -> bytes:
    """Return the body of a 2xx response; otherwise raise the most informative error.

    Servers often explain a 4xx in a protocol body (an OAI-PMH ``<error>`` or
    an Atom error entry); when they do, that error wins over a bare status.
    """
    url = str(response.url)
    if response.is_success:
        return response.content
    if 400 <= response.status_code < 500 and response.content:
        try:
            parse(response.content, url=url)
        except (OAIError, ArxivAPIError):
            raise
        except SourceError:
            pass  # not a protocol body (an HTML error page, say): report the status
    suffix = (
        f" after {retries} retries" if response.status_code in PoliteClient.RETRY_STATUSES else ""
    )
    raise SourceError(f"HTTP {response.status_code} from {url}{suffix}")


def _page_iter(items: Iterable[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class OAIHarvestSource:
    """Harvest arXiv metadata over OAI-PMH ``ListRecords``, one batch per response page.

    Checkpoint after each batch: ``{"resumption_token": <next page's token>,
    "pages": n, "harvested": count}`` (plus ``"max_datestamp"``, the latest
    record datestamp seen, usable as the next incremental ``from_date``); the
    final one adds ``"done": True``. Resumption tokens expire on arXiv's side,
    so a checkpoint is for resuming a recent interrupted run, not a week later.
    """

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_OAI_URL,
        metadata_prefix: str = "arXivRaw",
        set_spec: str | None = "cs",
        from_date: date | None = None,
        until_date: date | None = None,
        client: httpx.Client | None = None,
        delay_seconds: float = DEFAULT_DELAY_SECONDS,
        max_retries: int = 5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        mailto: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        if metadata_prefix not in METADATA_PREFIXES:
            raise InputError(
                f"Unsupported OAI-PMH metadataPrefix {metadata_prefix!r}; "
                f"use one of {', '.join(METADATA_PREFIXES)}"
            )
        if from_date and until_date and from_date > until_date:
            raise InputError(f"Harvest from {from_date} is after until {until_date}")
        self.base_url = base_url
        self.metadata_prefix = metadata_prefix
        self.set_spec = set_spec or None
        self.from_date = from_date
        self.until_date = until_date
        self._client_args: dict[str, Any] = {
            "client": client,
            "delay_seconds": delay_seconds,
            "max_retries": max_retries,
            "sleep": sleep,
            "clock": clock,
            "user_agent": make_user_agent(mailto),
            "timeout": timeout,
        }
        parts = [
            metadata_prefix,
            self.set_spec or "*",
            from_date.isoformat() if from_date else "*",
            until_date.isoformat() if until_date else "*",
        ]
        self.checkpoint_key = "arxiv-oai:" + ":".join(parts)

    def initial_params(self) -> dict[str, str]:
        """Query parameters of the first ListRecords request."""
        params = {"verb": "ListRecords", "metadataPrefix": self.metadata_prefix}
        if self.set_spec:
            params["set"] = self.set_spec
        if self.from_date:
            params["from"] = self.from_date.isoformat()
        if self.until_date:
            params["until"] = self.until_date.isoformat()
        return params

    def _fetch(self, http: PoliteClient, params: Mapping[str, str]) -> OAIPage:
        response = http.get(self.base_url, params)
        body = _check_response(response, parse_oai_response, http.max_retries)
        return parse_oai_response(body, url=str(response.url))

    def batches(self, resume: dict[str, Any] | None = None) -> Iterator[SourceBatch]:
        resume = resume or {}
        if resume.get("done"):
            return
        token: str | None = resume.get("resumption_token") or None
        pages = int(resume.get("pages") or 0) if token else 0
        harvested = int(resume.get("harvested") or 0) if token else 0
        max_stamp: str | None = resume.get("max_datestamp") if token else None
        with PoliteClient(**self._client_args) as http:
            while True:
                # Per OAI-PMH, a resumptionToken request carries no other arguments.
                params = (
                    {"verb": "ListRecords", "resumptionToken": token}
                    if token
                    else self.initial_params()
                )
                page = self._fetch(http, params)
                pages += 1
                harvested += len(page.records)
                next_token = page.resumption_token
                if next_token is not None and next_token == token:
                    raise SourceError(
                        f"OAI-PMH server at {self.base_url} returned the same resumptionToken "
                        f"{token!r} again; stopping to avoid a loop"
                    )
                if page.max_datestamp and (
                    max_stamp is None or page.max_datestamp.isoformat() > max_stamp
                ):
                    max_stamp = page.max_datestamp.isoformat()
                checkpoint: dict[str, Any] = {
                    "resumption_token": next_token,
                    "pages": pages,
                    "harvested": harvested,
                }
                if max_stamp:
                    checkpoint["max_datestamp"] = max_stamp
                if next_token is None:
                    checkpoint["done"] = True
                notes = list(page.notes)
                if page.deleted_ids:
                    notes.append(f"skipped {len(page.deleted_ids)} deleted record(s)")
                yield SourceBatch(
                    records=page.records,
                    checkpoint=checkpoint,
                    total=page.complete_list_size,
                    notes=notes,
                )
                if next_token is None:
                    return
                token = next_token


def _api_params(
    search_query: str | None,
    id_list: list[str] | None,
    sort_by: str | None,
    sort_order: str | None,
) -> dict[str, str]:
    params: dict[str, str] = {}
    if search_query:
        params["search_query"] = search_query
    if id_list:
        params["id_list"] = ",".join(id_list)
    if sort_by:
        params["sortBy"] = sort_by
    if sort_order:
        params["sortOrder"] = sort_order
    return params


def _fetch_atom(http: PoliteClient, base_url: str, params: Mapping[str, str | int]) -> AtomPage:
    response = http.get(base_url, params)
    body = _check_response(response, parse_atom_feed, http.max_retries)
    return parse_atom_feed(body, url=str(response.url))


class ArxivQuerySource:
    """Page through the arXiv query API by ``start`` offset.

    Stops when ``total_results`` is reached, a page comes back empty, or
    ``max_results`` records were requested. Checkpoint: ``{"start": next_start}``
    (plus ``"done": True`` on the last batch).
    """

    def __init__(
        self,
        *,
        search_query: str | None = None,
        id_list: list[str] | None = None,
        base_url: str = DEFAULT_API_URL,
        start: int = 0,
        page_size: int = 100,
        max_results: int | None = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
        client: httpx.Client | None = None,
        delay_seconds: float = DEFAULT_DELAY_SECONDS,
        max_retries: int = 5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        mailto: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        if not search_query and not id_list:
            raise InputError("An arXiv query needs a search_query or an id_list")
        if not 1 <= page_size <= MAX_API_PAGE_SIZE:
            raise InputError(
                f"page_size must be between 1 and {MAX_API_PAGE_SIZE}, not {page_size}"
            )
        if start < 0 or (max_results is not None and max_results < 0):
            raise InputError("start and max_results must not be negative")
        self.base_url = base_url
        self.start = start
        self.page_size = page_size
        self.max_results = max_results
        self.params = _api_params(search_query, list(id_list or []), sort_by, sort_order)
        self._client_args: dict[str, Any] = {
            "client": client,
            "delay_seconds": delay_seconds,
            "max_retries": max_retries,
            "sleep": sleep,
            "clock": clock,
            "user_agent": make_user_agent(mailto),
            "timeout": timeout,
        }
        identity = json.dumps(
            {**self.params, "start": start, "max_results": max_results}, sort_keys=True
        )
        self.checkpoint_key = "arxiv-api:" + hashlib.sha1(identity.encode()).hexdigest()[:16]

    def batches(self, resume: dict[str, Any] | None = None) -> Iterator[SourceBatch]:
        resume = resume or {}
        if resume.get("done"):
            return
        start = int(resume.get("start", self.start))
        end = None if self.max_results is None else self.start + self.max_results
        with PoliteClient(**self._client_args) as http:
            while end is None or start < end:
                limit = self.page_size if end is None else min(self.page_size, end - start)
                page = _fetch_atom(
                    http, self.base_url, {**self.params, "start": start, "max_results": limit}
                )
                next_start = start + page.entry_count
                done = (
                    page.entry_count == 0
                    or (page.total_results is not None and next_start >= page.total_results)
                    or (end is not None and next_start >= end)
                )
                checkpoint: dict[str, Any] = {"start": next_start}
                if done:
                    checkpoint["done"] = True
                total = page.total_results
                if total is not None and end is not None:
                    total = min(total, end)
                yield SourceBatch(
                    records=page.records, checkpoint=checkpoint, total=total, notes=page.notes
                )
                if done:
                    return
                start = next_start


def fetch_arxiv_ids(
    ids: Iterable[str],
    *,
    base_url: str = DEFAULT_API_URL,
    client: httpx.Client | None = None,
    chunk_size: int = 100,
    delay_seconds: float = DEFAULT_DELAY_SECONDS,
    max_retries: int = 5,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    mailto: str | None = None,
    timeout: float = 60.0,
) -> list[PaperRecord]:
    """Fetch papers by arXiv id (bare, versioned, ``arXiv:`` or abs/pdf URL) via ``id_list``.

    Raises InputError naming every unrecognisable id before any request is made.
    Returns records in the order requested; ids arXiv does not know are simply
    absent, so callers compare ``record.arxiv_id`` against what they asked for.
    """
    wanted: list[str] = []
    order: dict[str, int] = {}  # unversioned id -> position requested
    bad: list[str] = []
    for raw in ids:
        parsed = parse_arxiv_id(raw)
        if parsed is None:
            bad.append(raw)
            continue
        ident = parsed[0] + (f"v{parsed[1]}" if parsed[1] else "")
        if ident not in wanted:
            wanted.append(ident)
            order.setdefault(parsed[0], len(order))
    if bad:
        raise InputError("Not arXiv ids: " + ", ".join(repr(b) for b in bad))
    records: list[PaperRecord] = []
    with PoliteClient(
        client=client,
        delay_seconds=delay_seconds,
        max_retries=max_retries,
        sleep=sleep,
        clock=clock,
        user_agent=make_user_agent(mailto),
        timeout=timeout,
    ) as http:
        for chunk in _page_iter(wanted, max(1, min(chunk_size, MAX_API_PAGE_SIZE))):
            params = {"id_list": ",".join(chunk), "start": 0, "max_results": len(chunk)}
            records.extend(_fetch_atom(http, base_url, params).records)
    records.sort(key=lambda r: order.get(r.arxiv_id or "", len(order)))
    return records
