"""What search returns: shared by the search service and its callers (web, CLI, digests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from paperfeed.models import Paper

SearchMode = Literal["keyword", "semantic", "hybrid"]
SearchSort = Literal["relevance", "newest", "upvotes"]
SEARCH_MODES: tuple[SearchMode, ...] = ("hybrid", "keyword", "semantic")
SEARCH_SORTS: tuple[SearchSort, ...] = ("relevance", "newest", "upvotes")


@dataclass(slots=True, frozen=True)
class SearchFilters:
    """Restrictions applied in every mode (on the feed day and the stored metadata)."""

    date_from: date | None = None
    date_to: date | None = None
    category: str | None = None
    has_code: bool | None = None

    def is_empty(self) -> bool:
        return self == SearchFilters()


@dataclass(slots=True)
class SearchHit:
    paper: Paper
    score: float
    # 1-based rank of the paper in each branch that found it, e.g. {"keyword": 3, "semantic": 1}:
    # lets a page say why a result is there.
    ranks: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class SearchResults:
    query: str
    mode_requested: SearchMode
    mode_used: SearchMode
    sort: SearchSort
    hits: list[SearchHit]
    # Number of matches when known (keyword); for semantic/hybrid, the size of the
    # fused candidate list.
    total: int
    offset: int = 0
    limit: int = 20
    # Set when the search fell back or changed something the user asked for,
    # e.g. "semantic search is unavailable (no embedding model); showing keyword results".
    notice: str | None = None
    took_ms: float = 0.0
