"""Plain data classes shared by every layer (the bottom one: imports nothing of ours
but :mod:`paperfeed.errors`).

This module holds the papers; :mod:`paperfeed.models.community` and
:mod:`paperfeed.models.digest` hold the other records the storage layer stores and
returns, so that storage never imports a service package.

Sources yield :class:`PaperRecord` objects (one normalized record per paper
occurrence); the ingest pipeline merges them into stored :class:`Paper` rows.
Dates are ``datetime.date``; instants are timezone-aware UTC ``datetime``.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

# New-style (2007+) and old-style (hep-th/9901001) arXiv identifiers, optional version.
ARXIV_ID_RE = re.compile(
    r"(?P<id>(?:\d{4}\.\d{4,5})|(?:[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7}))(?:v(?P<version>\d+))?",
    re.IGNORECASE,
)
_ARXIV_FULL_RE = re.compile(r"^" + ARXIV_ID_RE.pattern + r"$", re.IGNORECASE)

# How much a source's metadata is trusted when two sources disagree on a field
# of the same paper version: arXiv itself is authoritative, scraped page text least.
SOURCE_RANK: dict[str, int] = {
    "arxiv": 30,
    "file": 20,
    "huggingface": 20,
    "submission": 15,
    "hf-page": 10,
}


def parse_arxiv_id(text: str) -> tuple[str, int | None] | None:
    """Return ``(id_without_version, version)`` for an arXiv id, abs/pdf URL or ``arXiv:`` ref."""
    cleaned = text.strip()
    cleaned = re.sub(r"^(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/", "", cleaned)
    cleaned = re.sub(r"^arxiv:", "", cleaned, flags=re.IGNORECASE)
    cleaned = re.sub(r"\.pdf$", "", cleaned).rstrip("/")
    match = _ARXIV_FULL_RE.match(cleaned)
    if not match:
        return None
    version = match.group("version")
    return match.group("id"), int(version) if version else None


def normalize_space(text: str | None) -> str:
    """Collapse all runs of whitespace to single spaces (titles, names)."""
    return " ".join((text or "").split())


def normalize_abstract(text: str | None) -> str:
    """Join hard-wrapped lines but keep paragraph breaks.

    arXiv wraps abstracts at ~80 columns and marks paragraphs with a blank line
    or an indented line; Hugging Face pages put an abstract on one line.
    """
    if not text:
        return ""
    text = text.replace("\r\n", "\n").strip()
    paragraphs = re.split(r"\n\s*\n|\n(?=[ \t]{2,}\S)", text)
    return "\n\n".join(normalize_space(p) for p in paragraphs if p.strip())


_NOT_ALNUM = re.compile(r"[\W_]+")
# Every ASCII byte that is not a lower-case letter or digit, for bytes.translate(delete=...):
# the same filter as _NOT_ALNUM, many times faster, for the (usual) ASCII text.
_ASCII_NOT_ALNUM = bytes(b for b in range(128) if not chr(b).isalnum() or chr(b).isupper())


@lru_cache(maxsize=16384)  # the pipeline asks for the same keys several times per record
def match_key(text: str) -> str:
    """Key for recognising the same title/abstract across sources (case, accents, punctuation).

    Keeps only letters and digits of the case-folded text, accents removed (NFKD
    splits them off as combining marks, which are not alphanumeric).
    """
    folded = text.casefold()
    if folded.isascii():
        letters = folded.encode().translate(None, _ASCII_NOT_ALNUM)
    else:
        letters = _NOT_ALNUM.sub("", unicodedata.normalize("NFKD", folded)).encode()
    return hashlib.sha1(letters).hexdigest()[:20] if letters else ""


def content_id(title: str, abstract: str) -> str:
    """Stable id for a paper that has no arXiv id: derived from its abstract, else its title."""
    basis = match_key(abstract) or match_key(title)
    return "pf-" + basis[:16]


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(slots=True)
class SourceFacts:
    """What one source says about a paper beyond its bibliographic metadata."""

    source: str
    external_id: str | None = None
    upvotes: int | None = None
    submitter: str | None = None
    num_comments: int | None = None
    github_stars: int | None = None
    featured_on: date | None = None


@dataclass(slots=True)
class PaperRecord:
    """One normalized occurrence of a paper, as a source yields it."""

    source: str
    title: str = ""
    abstract: str = ""
    arxiv_id: str | None = None
    version: int | None = None
    authors: list[str] = field(default_factory=list)
    author_count: int | None = None  # when a source gives only a count
    categories: list[str] = field(default_factory=list)
    published_at: datetime | None = None
    updated_at: datetime | None = None
    listed_on: date | None = None
    comments: str | None = None
    journal_ref: str | None = None
    doi: str | None = None
    abs_url: str | None = None
    pdf_url: str | None = None
    code_url: str | None = None
    project_url: str | None = None
    facts: SourceFacts | None = None


@dataclass(slots=True)
class Paper:
    """A stored paper: the merged view over every record seen for it."""

    id: str
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    arxiv_id: str | None = None
    version: int | None = None
    author_count: int = 0
    published_at: datetime | None = None
    updated_at: datetime | None = None
    first_listed_on: date | None = None
    feed_date: date | None = None
    comments: str | None = None
    journal_ref: str | None = None
    doi: str | None = None
    abs_url: str | None = None
    pdf_url: str | None = None
    code_url: str | None = None
    project_url: str | None = None
    upvotes: int = 0
    metadata_source: str = ""
    created_at: datetime | None = None
    modified_at: datetime | None = None
    sources: list[SourceFacts] = field(default_factory=list)

    @property
    def primary_category(self) -> str | None:
        return self.categories[0] if self.categories else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict (dates as ISO text) for the CLI and exports."""
        data = asdict(self)
        data["primary_category"] = self.primary_category
        return _iso_dates(data)

    @property
    def display_title(self) -> str:
        """Title, or the abstract's first sentence for pages that list bare abstracts."""
        if self.title:
            return self.title
        first = re.split(r"(?<=[.!?])\s", self.abstract, maxsplit=1)[0]
        return first if len(first) <= 160 else first[:157].rstrip() + "..."


def _iso_dates(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _iso_dates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_iso_dates(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


@dataclass(slots=True)
class IngestReport:
    """Counts from one import or harvest run."""

    seen: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0

    def add(self, other: IngestReport) -> None:
        self.seen += other.seen
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.skipped += other.skipped
