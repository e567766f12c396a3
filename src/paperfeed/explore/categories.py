"""Category pages: a category's daily or weekly feed, its trending papers, its volume
over time and the categories its papers are most often cross-listed with.

Counts come from the keyword index (the ``categories`` field, one term per
category, matched case-insensitively), feeds and trending from the database, so
a category page costs a few index lookups and one page of papers.
"""

from __future__ import annotations

import bisect
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from paperfeed.errors import InputError, NotFoundError
from paperfeed.models import Paper, utc_now
from paperfeed.rank.trending import TrendingScore, rank_trending, trending_window
from paperfeed.search.keyword import KeywordIndex, day_from_number, day_number
from paperfeed.search.query import parse_query
from paperfeed.storage import Storage
from paperfeed.storage.values import parse_json

CategoryPeriod = Literal["day", "week"]
#: Recent papers whose cross-listings decide the neighbouring categories.
NEIGHBOUR_SAMPLE = 2000
NEIGHBOURS_SHOWN = 8
TRENDING_SHOWN = 10
_CATEGORY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_")

#: arXiv's names for the categories a CS-focused installation meets most (the
#: taxonomy at arxiv.org/category_taxonomy); other codes are shown as they are.
CATEGORY_NAMES: dict[str, str] = {
    "cs.AI": "Artificial Intelligence", "cs.AR": "Hardware Architecture",
    "cs.CC": "Computational Complexity",
    "cs.CE": "Computational Engineering, Finance, and Science",
    "cs.CG": "Computational Geometry", "cs.CL": "Computation and Language",
    "cs.CR": "Cryptography and Security", "cs.CV": "Computer Vision and Pattern Recognition",
    "cs.CY": "Computers and Society", "cs.DB": "Databases",
    "cs.DC": "Distributed, Parallel, and Cluster Computing", "cs.DL": "Digital Libraries",
    "cs.DM": "Discrete Mathematics", "cs.DS": "Data Structures and Algorithms",
    "cs.ET": "Emerging Technologies", "cs.FL": "Formal Languages and Automata Theory",
    "cs.GL": "General Literature", "cs.GR": "Graphics",
    "cs.GT": "Computer Science and Game Theory", "cs.HC": "Human-Computer Interaction",
    "cs.IR": "Information Retrieval", "cs.IT": "Information Theory",
    "cs.LG": "Machine Learning", "cs.LO": "Logic in Computer Science",
    "cs.MA": "Multiagent Systems", "cs.MM": "Multimedia", "cs.MS": "Mathematical Software",
    "cs.NA": "Numerical Analysis", "cs.NE": "Neural and Evolutionary Computing",
    "cs.NI": "Networking and Internet Architecture", "cs.OH": "Other Computer Science",
    "cs.OS": "Operating Systems", "cs.PF": "Performance", "cs.PL": "Programming Languages",
    "cs.RO": "Robotics", "cs.SC": "Symbolic Computation", "cs.SD": "Sound",
    "cs.SE": "Software Engineering", "cs.SI": "Social and Information Networks",
    "cs.SY": "Systems and Control",
    "stat.ML": "Machine Learning (Statistics)", "stat.ME": "Methodology",
    "stat.TH": "Statistics Theory", "stat.AP": "Applications", "stat.CO": "Computation",
    "eess.AS": "Audio and Speech Processing", "eess.IV": "Image and Video Processing",
    "eess.SP": "Signal Processing", "eess.SY": "Systems and Control",
    "math.OC": "Optimization and Control", "math.NA": "Numerical Analysis",
    "math.ST": "Statistics Theory", "math.PR": "Probability", "math.IT": "Information Theory",
    "math.CO": "Combinatorics", "q-bio.NC": "Neurons and Cognition",
    "q-bio.QM": "Quantitative Methods", "quant-ph": "Quantum Physics",
    "physics.comp-ph": "Computational Physics", "physics.soc-ph": "Physics and Society",
    "cond-mat.dis-nn": "Disordered Systems and Neural Networks",
    "econ.EM": "Econometrics", "econ.GN": "General Economics",
    "q-fin.CP": "Computational Finance", "q-fin.ST": "Statistical Finance",
}  # fmt: skip


def category_name(code: str) -> str | None:
    return CATEGORY_NAMES.get(code)


@dataclass(slots=True)
class CategoryOverview:
    code: str
    name: str | None
    total: int
    period: CategoryPeriod
    start: date | None
    end: date | None
    #: The period's papers, most upvoted first (one page).
    papers: list[Paper]
    papers_total: int
    previous_start: date | None
    next_start: date | None
    trending: list[TrendingScore]
    neighbours: list[tuple[str, int]] = field(default_factory=list)
    neighbour_sample: int = 0


@dataclass(slots=True)
class _DayIndex:
    version: Any
    days: list[int]  # sorted day numbers that have papers in the category


class Categories:
    def __init__(
        self, storage: Storage, keyword: KeywordIndex, ensure_index: Callable[[], None]
    ) -> None:
        self.storage = storage
        self.keyword = keyword
        self.ensure_index = ensure_index
        self._days: dict[str, _DayIndex] = {}
        self._neighbours: dict[tuple[str, Any], list[tuple[str, int]]] = {}
        self._lock = threading.Lock()

    def canonical(self, code: str) -> str:
        """The category as papers spell it (``cs.lg`` -> ``cs.LG``); InputError for
        malformed codes, NotFoundError when no stored paper is listed in it."""
        code = code.strip()
        if not code or len(code) > 40 or not set(code) <= _CATEGORY_CHARS:
            raise InputError(f"{code!r} is not a category code (e.g. cs.LG)")
        self.ensure_index()
        ids, _, _ = self.keyword.newest_ids(parse_query(f"cat:{code}"), 1)
        if not ids:
            raise NotFoundError(f"no paper is listed in {code}")
        paper = self.storage.papers.get(ids[0])
        for listed in paper.categories if paper else []:
            if listed.lower() == code.lower():
                return listed
        return code

    def days_with_papers(self, code: str) -> list[int]:
        """Sorted day numbers with papers in ``code``, cached per index state."""
        version = self.keyword.version()
        with self._lock:
            found = self._days.get(code)
        if found is None or found.version != version:
            counts = self.keyword.day_counts(parse_query(f"cat:{code}"))
            found = _DayIndex(version, sorted(counts.by_day))
            with self._lock:
                if len(self._days) > 500:
                    self._days.clear()
                self._days[code] = found
        return found.days

    def overview(
        self,
        code: str,
        *,
        period: CategoryPeriod = "day",
        day: date | None = None,
        limit: int = 30,
        offset: int = 0,
        now: datetime | None = None,
    ) -> CategoryOverview:
        if period not in ("day", "week"):
            raise InputError(f"period must be day or week, not {period!r}")
        code = self.canonical(code)
        days = self.days_with_papers(code)
        newest = day_from_number(days[-1]) if days else None
        target = day or newest
        start = end = None
        papers: list[Paper] = []
        papers_total = 0
        previous_start = next_start = None
        if target is not None:
            start = target - timedelta(days=target.weekday()) if period == "week" else target
            end = start + timedelta(days=6) if period == "week" else start
            papers = self.storage.papers.list(
                day_from=start, day_to=end, category=code, sort="upvotes",
                limit=limit, offset=offset,
            )  # fmt: skip
            papers_total = self.storage.papers.count(day_from=start, day_to=end, category=code)
            before = bisect.bisect_left(days, day_number(start))
            after = bisect.bisect_right(days, day_number(end))
            if before > 0:
                previous_start = _period_start(day_from_number(days[before - 1]), period)
            if after < len(days):
                next_start = _period_start(day_from_number(days[after]), period)
        total = self.count(code)
        return CategoryOverview(
            code=code,
            name=category_name(code),
            total=total,
            period=period,
            start=start,
            end=end,
            papers=papers,
            papers_total=papers_total,
            previous_start=previous_start,
            next_start=next_start,
            trending=self.trending(code, newest, now=now),
            neighbours=self.neighbours(code),
            neighbour_sample=min(total, NEIGHBOUR_SAMPLE),
        )

    def count(self, code: str) -> int:
        _, _, total = self.keyword.newest_ids(parse_query(f"cat:{code}"), 0)
        return total

    def trending(
        self, code: str, newest: date | None, *, now: datetime | None = None
    ) -> list[TrendingScore]:
        """The category's papers ranked by the published trending formula."""
        now = now or utc_now()
        day_from, day_to = trending_window(newest, now, 7)
        candidates = self.storage.papers.list(
            day_from=day_from, day_to=day_to, category=code, sort="upvotes", limit=500
        )
        return rank_trending(candidates, now)[:TRENDING_SHOWN]

    def neighbours(self, code: str) -> list[tuple[str, int]]:
        """Categories most often cross-listed with ``code`` among its newest papers
        (cached per index state, like the day list)."""
        key = (code, self.keyword.version())
        with self._lock:
            found = self._neighbours.get(key)
        if found is None:
            found = self._count_neighbours(code)
            with self._lock:
                if len(self._neighbours) > 500:
                    self._neighbours.clear()
                self._neighbours[key] = found
        return found

    def _count_neighbours(self, code: str) -> list[tuple[str, int]]:
        ids, _, _ = self.keyword.newest_ids(parse_query(f"cat:{code}"), NEIGHBOUR_SAMPLE)
        counts: Counter[str] = Counter()
        with self.storage.db.transaction(readonly=True) as tx:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                for row in tx.query(
                    f"SELECT categories FROM papers WHERE id IN ({', '.join('?' * len(chunk))})",
                    chunk,
                ):
                    counts.update(
                        c for c in parse_json(row["categories"], []) if c.lower() != code.lower()
                    )
        return counts.most_common(NEIGHBOURS_SHOWN)


def _period_start(day: date, period: CategoryPeriod) -> date:
    return day - timedelta(days=day.weekday()) if period == "week" else day
