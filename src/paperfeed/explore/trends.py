"""Trends: how many papers match a search, per week or month, over the stored period.

Counting happens inside the keyword index (a histogram aggregation over its
``day`` fast field, :meth:`KeywordIndex.day_counts`), so a query matching half a
million papers costs milliseconds and no paper is read from the database. The
query language and filters are those of search (``docs/search.md``); a trend
counts keyword matches, because "how many papers are about X" needs a yes/no
answer per paper that nearest-neighbour search cannot give.

Shares divide each period's matches by all papers of that period (under the same
filters), so the growth of arXiv itself does not read as growth of a topic. The
all-papers counts are cached per index state: the index changes only when a sync
commits.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

from paperfeed.errors import InputError
from paperfeed.search.keyword import DayCounts, KeywordIndex, day_from_number
from paperfeed.search.models import SearchFilters
from paperfeed.search.query import parse_query

Granularity = Literal["week", "month"]
GRANULARITIES: tuple[Granularity, ...] = ("week", "month")
#: Queries one chart compares at most (more lines stop being readable).
MAX_QUERIES = 4
#: With granularity "auto", spans longer than this are shown per month.
AUTO_WEEKS_UP_TO_DAYS = 2 * 366
_TOTALS_CACHE = 32


@dataclass(slots=True, frozen=True)
class Period:
    """One week (Monday to Sunday) or calendar month."""

    start: date
    end: date
    label: str

    def as_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "label": self.label}


@dataclass(slots=True)
class TrendSeries:
    query: str
    counts: list[int]
    #: counts[i] / all papers of period i (0.0 where the period has none).
    shares: list[float]
    total: int
    #: True when no paper had every word and papers with any of them were counted.
    relaxed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "total": self.total,
            "relaxed": self.relaxed,
            "counts": self.counts,
            "shares": [round(share, 6) for share in self.shares],
        }


@dataclass(slots=True)
class Trend:
    granularity: Granularity
    periods: list[Period]
    #: All papers of each period (under the filters): the denominators of the shares.
    totals: list[int]
    series: list[TrendSeries] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "granularity": self.granularity,
            "periods": [p.as_dict() for p in self.periods],
            "totals": self.totals,
            "series": [s.as_dict() for s in self.series],
        }


def period_of(day: date, granularity: Granularity) -> Period:
    if granularity == "week":
        start = day - timedelta(days=day.weekday())
        year, week, _ = start.isocalendar()
        return Period(start, start + timedelta(days=6), f"{year}-W{week:02d}")
    start = day.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return Period(start, end, f"{start.year}-{start.month:02d}")


def periods_between(first: date, last: date, granularity: Granularity) -> list[Period]:
    """Every period from the one holding ``first`` to the one holding ``last``."""
    periods: list[Period] = []
    current = period_of(first, granularity)
    while current.start <= last:
        periods.append(current)
        current = period_of(current.end + timedelta(days=1), granularity)
    return periods


def bucket(counts: DayCounts, periods: Sequence[Period], granularity: Granularity) -> list[int]:
    """Per-day counts summed into ``periods`` (days outside them are dropped)."""
    index = {period.start: position for position, period in enumerate(periods)}
    out = [0] * len(periods)
    for number, count in counts.by_day.items():
        position = index.get(period_of(day_from_number(number), granularity).start)
        if position is not None:
            out[position] += count
    return out


def clean_queries(queries: Sequence[str]) -> list[str]:
    """Non-empty queries, duplicates dropped, at most :data:`MAX_QUERIES`."""
    kept: list[str] = []
    for query in queries:
        text = " ".join(query.split())
        if text and text not in kept:
            kept.append(text)
    if len(kept) > MAX_QUERIES:
        raise InputError(f"a trend compares at most {MAX_QUERIES} queries, not {len(kept)}")
    return kept


class Trends:
    """Trend charts over one keyword index. ``ensure_index`` builds the index when
    it is missing (the search service's job), so a first trend works on a new install."""

    def __init__(self, keyword: KeywordIndex, ensure_index: Callable[[], None]) -> None:
        self.keyword = keyword
        self.ensure_index = ensure_index
        self._totals: dict[tuple[Any, ...], DayCounts] = {}
        self._lock = threading.Lock()

    def all_papers(self, filters: SearchFilters) -> DayCounts:
        """Papers per day under ``filters`` (the shares' denominators), cached per
        index state: one stat of the state file decides whether it is still valid."""
        key = (self.keyword.version(), filters)
        with self._lock:
            found = self._totals.get(key)
        if found is None:
            found = self.keyword.day_counts(None, filters=filters)
            with self._lock:
                if len(self._totals) >= _TOTALS_CACHE:
                    self._totals.clear()
                self._totals[key] = found
        return found

    def trend(
        self,
        queries: Sequence[str],
        *,
        granularity: Granularity | Literal["auto"] = "auto",
        filters: SearchFilters | None = None,
    ) -> Trend:
        """Matches of each query per period, from the first to the last period holding
        any paper (within the filters' dates). Bad query syntax raises InputError."""
        if granularity not in (*GRANULARITIES, "auto"):
            raise InputError(f"granularity must be week, month or auto, not {granularity!r}")
        filters = filters or SearchFilters()
        if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
            raise InputError(f"from {filters.date_from} is after to {filters.date_to}")
        texts = clean_queries(queries)
        parsed = [parse_query(text) for text in texts]  # every query checked before counting
        self.ensure_index()
        totals = self.all_papers(filters)
        if not totals.by_day:
            return Trend("month" if granularity == "auto" else granularity, [], [])
        first = day_from_number(min(totals.by_day))
        last = day_from_number(max(totals.by_day))
        if granularity == "auto":
            granularity = "week" if (last - first).days <= AUTO_WEEKS_UP_TO_DAYS else "month"
        periods = periods_between(first, last, granularity)
        trend = Trend(granularity, periods, bucket(totals, periods, granularity))
        for text, query in zip(texts, parsed, strict=True):
            counted = self.keyword.day_counts(query, filters=filters)
            counts = bucket(counted, periods, granularity)
            shares = [c / t if t else 0.0 for c, t in zip(counts, trend.totals, strict=True)]
            trend.series.append(
                TrendSeries(text, counts, shares, sum(counts), relaxed=counted.relaxed)
            )
        return trend
