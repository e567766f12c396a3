"""The trending formula, published on the "about ranking" page.

    score = (upvotes + 1) / (age_hours + 2) ** 1.5

``upvotes`` counts every vote a paper has (the sources' counts plus votes cast
here); ``age_hours`` runs from the start (00:00 UTC) of the paper's feed day to
now. The ``+ 1`` lets a brand-new paper with no votes rank at all, the ``+ 2``
keeps the first hours from dividing by almost nothing, and the exponent 1.5
makes a day-old paper need about 5 times the votes of a 6-hour-old one to stay
level. Ties go to the newer paper, then the id (so the order is stable).

Only papers from the last ``window_days`` days take part; an installation whose
newest papers are older than that (an offline archive, the demo corpus) ranks
the window ending at its newest feed day instead, so the page is never empty.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from paperfeed.models import Paper

GRAVITY = 1.5
VOTE_PRIOR = 1
AGE_OFFSET_HOURS = 2.0
FORMULA = "score = (upvotes + 1) / (age_hours + 2) ^ 1.5"


@dataclass(slots=True, frozen=True)
class TrendingScore:
    paper: Paper
    score: float
    age_hours: float
    upvotes: int

    def explanation(self) -> str:
        """One sentence for the card's "why is this here?"."""
        age = (
            f"{self.age_hours:.0f} hours"
            if self.age_hours < 48
            else f"{self.age_hours / 24:.0f} days"
        )
        return (
            f"{self.upvotes} upvote{'s' if self.upvotes != 1 else ''}, on the feed {age} ago: "
            f"({self.upvotes} + 1) / ({self.age_hours:.0f} + 2)^1.5 = {self.score:.4f}"
        )


def age_hours(feed_day: date | None, now: datetime) -> float:
    if feed_day is None:
        return 24.0 * 365
    start = datetime.combine(feed_day, time(0, 0), tzinfo=UTC)
    return max(0.0, (now - start).total_seconds() / 3600)


def trending_score(upvotes: int, hours: float) -> float:
    return (max(upvotes, 0) + VOTE_PRIOR) / (hours + AGE_OFFSET_HOURS) ** GRAVITY


def rank_trending(
    papers: Sequence[Paper], now: datetime, *, votes: Mapping[str, int] | None = None
) -> list[TrendingScore]:
    """Score and sort ``papers`` (highest first). ``votes`` replaces each paper's
    upvotes with another count (a group's feed: its members' votes only)."""
    scored = []
    for paper in papers:
        hours = age_hours(paper.feed_date, now)
        upvotes = paper.upvotes if votes is None else votes.get(paper.id, 0)
        scored.append(TrendingScore(paper, trending_score(upvotes, hours), hours, upvotes))
    scored.sort(key=lambda s: (-s.score, -(s.paper.feed_date or date.min).toordinal(), s.paper.id))
    return scored


def trending_window(newest_day: date | None, now: datetime, window_days: int) -> tuple[date, date]:
    """The feed days that compete: the last ``window_days`` up to now, or up to the newest day."""
    end = now.date()
    if newest_day is not None and newest_day < end - timedelta(days=window_days):
        end = newest_day
    return end - timedelta(days=window_days - 1), end
