"""Hugging Face Daily Papers: the ``/api/daily_papers`` JSON API and saved page text.

The API lists the papers featured on one day. Each entry wraps the paper
(arXiv id, authors, abstract, upvotes) with facts about its featuring (who
submitted it, when, how many comments)::

    [{"paper": {"id": "2410.17243", "authors": [{"name": ...}], "publishedAt": ...,
                "title": ..., "summary": ..., "upvotes": 64, "githubRepo"?: ...},
      "publishedAt": "2024-10-25T00:57:09.392Z", "numComments": 3,
      "submittedBy": {"name": "ClownRat", ...}, ...}]

Page text (copied from the web pages) is parsed in :mod:`paperfeed.sources.hf_pages`
and re-exported here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from paperfeed.errors import InputError, SourceError
from paperfeed.models import (
    PaperRecord,
    SourceFacts,
    normalize_abstract,
    normalize_space,
    parse_arxiv_id,
)
from paperfeed.sources.base import SourceBatch
from paperfeed.sources.hf_pages import (
    LAYOUT_ABSTRACTS,
    LAYOUT_BLOCKS,
    LAYOUT_EMPTY,
    LAYOUT_PAIRS,
    PageParse,
    PageTextSource,
    parse_page_text,
)
from paperfeed.sources.links import find_code_url, find_project_url

__all__ = [
    "LAYOUT_ABSTRACTS",
    "LAYOUT_BLOCKS",
    "LAYOUT_EMPTY",
    "LAYOUT_PAIRS",
    "HFDailySource",
    "PageParse",
    "PageTextSource",
    "parse_daily_papers",
    "parse_page_text",
]

SOURCE = "huggingface"
USER_AGENT = "paperfeed/0.1 (self-hosted daily papers)"


def _int(value: Any) -> int | None:
    # JSON booleans are ints in Python; a count is never a boolean.
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None


def _instant(value: Any) -> datetime | None:
    """An API timestamp ("2024-10-22T17:59:30.000Z") as aware UTC, or None if absent/odd."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_daily_papers(
    data: list[Any] | bytes | str, *, featured_on: date | None = None
) -> list[PaperRecord]:
    """Records from a ``/api/daily_papers`` response (decoded list, or raw JSON bytes/text).

    ``featured_on`` is the day that was requested (the API's ``date=``); when it is
    not known, each entry's own featuring time (the outer ``publishedAt``, UTC) gives
    the day. Raises :class:`InputError` for malformed JSON or an unexpected shape;
    callers fetching over HTTP re-raise it as :class:`SourceError`.
    """
    if isinstance(data, bytes | str):
        try:
            data = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(f"daily papers: malformed JSON: {exc}") from None
    if not isinstance(data, list):
        raise InputError(f"daily papers: expected a JSON list, got {type(data).__name__}")
    return [_entry_record(index, entry, featured_on) for index, entry in enumerate(data)]


def _entry_record(index: int, entry: Any, featured_on: date | None) -> PaperRecord:
    if not isinstance(entry, dict):
        raise InputError(f"daily papers: entry {index} is {type(entry).__name__}, not an object")
    paper = entry.get("paper")
    if not isinstance(paper, dict):
        raise InputError(f"daily papers: entry {index} has no 'paper' object")
    paper_id = _str(paper.get("id"))
    if paper_id is None:
        raise InputError(f"daily papers: entry {index} has no paper id")

    parsed_id = parse_arxiv_id(paper_id)
    abstract = normalize_abstract(_str(paper.get("summary")))
    # The API's title keeps arXiv's hard wrap ("Scaling for\n  Contrastive Loss").
    title = normalize_space(_str(paper.get("title")) or _str(entry.get("title")))
    authors = [
        normalize_space(author["name"])
        for author in paper.get("authors") or []
        if isinstance(author, dict) and _str(author.get("name"))
    ]
    if featured_on is None:
        featured_at = _instant(entry.get("publishedAt"))
        featured_on = featured_at.date() if featured_at else None
    submitter = entry.get("submittedBy")
    repo = _str(paper.get("githubRepo"))
    project = _str(paper.get("projectPage"))
    return PaperRecord(
        source=SOURCE,
        title=title,
        abstract=abstract,
        arxiv_id=parsed_id[0] if parsed_id else None,
        version=parsed_id[1] if parsed_id else None,
        authors=authors,
        published_at=_instant(paper.get("publishedAt")),
        # find_code_url normalises a githubRepo value the same way as links in
        # prose, so the same repository compares equal whichever source saw it.
        code_url=(find_code_url(repo) or repo) if repo else find_code_url(abstract),
        project_url=project or find_project_url(abstract),
        facts=SourceFacts(
            source=SOURCE,
            external_id=paper_id,
            upvotes=_int(paper.get("upvotes")),
            submitter=_str(submitter.get("name")) if isinstance(submitter, dict) else None,
            num_comments=_int(entry.get("numComments")),
            github_stars=_int(paper.get("githubStars")),
            featured_on=featured_on,
        ),
    )


class HFDailySource:
    """The papers featured on one day, fetched from ``{base_url}/api/daily_papers``.

    Pages through the list with ``p`` (0-based) and ``limit`` until a short page,
    one batch per page. The checkpoint is the next page to fetch: after a full
    page the one after it, after the short last page that same page, because
    papers featured later in the day land there; a later run for the same day
    re-reads it and picks them up.
    """

    MAX_PAGES = 50  # a day has tens of papers; this only stops a runaway pager
    MAX_RETRY_WAIT = 120.0  # seconds; a longer Retry-After fails the run instead of stalling it

    def __init__(
        self,
        date: date,
        base_url: str = "https://huggingface.co",
        client: httpx.Client | None = None,
        delay_seconds: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        *,
        page_size: int = 100,
        max_retries: int = 3,
    ) -> None:
        if page_size < 1 or max_retries < 0:
            raise ValueError("page_size must be >= 1 and max_retries >= 0")
        self.date = date
        self.page_size = page_size
        self.max_retries = max_retries
        self.base_url = base_url.rstrip("/")
        self.client = client
        self.delay_seconds = delay_seconds
        self.sleep = sleep
        self.checkpoint_key = f"hf-daily:{date.isoformat()}"

    @property
    def url(self) -> str:
        return f"{self.base_url}/api/daily_papers"

    def batches(self, resume: dict[str, Any] | None = None) -> Iterator[SourceBatch]:
        page = (resume or {}).get("page", 0)
        if not isinstance(page, int) or isinstance(page, bool) or page < 0:
            raise InputError(f"{self.checkpoint_key}: bad checkpoint {resume!r}")
        own_client = self.client is None
        client = self.client or httpx.Client(
            timeout=30.0, follow_redirects=True, headers={"User-Agent": USER_AGENT}
        )
        try:
            yield from self._pages(client, page)
        finally:
            if own_client:
                client.close()

    def _pages(self, client: httpx.Client, page: int) -> Iterator[SourceBatch]:
        first = page
        previous_ids: list[str | None] | None = None
        while page - first < self.MAX_PAGES:
            if page > first:
                self.sleep(self.delay_seconds)
            params = {"date": self.date.isoformat(), "p": page, "limit": self.page_size}
            response = self._get(client, params)
            try:
                records = parse_daily_papers(response.content, featured_on=self.date)
            except InputError as exc:
                raise SourceError(f"{response.url}: {exc}") from None
            ids = [record.facts.external_id if record.facts else None for record in records]
            if ids and ids == previous_ids:
                # A server that ignores ``p`` returns page 0 forever.
                return
            previous_ids = ids
            if len(records) < self.page_size:
                yield SourceBatch(records=records, checkpoint={"page": page})
                return
            yield SourceBatch(records=records, checkpoint={"page": page + 1})
            page += 1
        raise SourceError(f"{self.url}: more than {self.MAX_PAGES} pages for {self.date}")

    def _get(self, client: httpx.Client, params: dict[str, Any]) -> httpx.Response:
        """GET with bounded retries on 429/503 (honouring Retry-After) and network errors."""
        for attempt in range(self.max_retries + 1):
            last_try = attempt == self.max_retries
            try:
                response = client.get(self.url, params=params)
            except httpx.HTTPError as exc:
                if last_try:
                    raise SourceError(f"{self.url}: {type(exc).__name__}: {exc}") from None
                self.sleep(self._backoff(attempt))
                continue
            if response.status_code in (429, 503) and not last_try:
                wait = _retry_after(response.headers.get("Retry-After"))
                if wait is None:
                    wait = self._backoff(attempt)
                if wait > self.MAX_RETRY_WAIT:
                    raise SourceError(
                        f"{response.url}: HTTP {response.status_code}, "
                        f"server asks to retry after {wait:.0f} s"
                    )
                self.sleep(wait)
                continue
            if response.status_code != 200:
                tries = f" after {attempt + 1} attempts" if attempt else ""
                raise SourceError(f"{response.url}: HTTP {response.status_code}{tries}")
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int) -> float:
        return max(self.delay_seconds, 1.0) * 2**attempt


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
