"""Feeds: daily (with previous/next day), weekly, monthly, trending, and the ranking page."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from paperfeed.errors import InputError, NotFoundError
from paperfeed.library import Feed, FeedPeriod, Library, period_bounds
from paperfeed.models import utc_now
from paperfeed.rank import trending as trending_formula
from paperfeed.web.auth import Viewer, viewer
from paperfeed.web.views.common import (
    PAGE_SIZE,
    cards,
    library_of,
    page,
    pagination,
    paper_card,
    parse_page,
    voted_ids,
)

router = APIRouter(include_in_schema=False)

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
TRENDING_LIMIT = 50
TRENDING_WINDOW_DAYS = 7


def period_path(period: FeedPeriod, start: date) -> str:
    if period == "day":
        return f"/papers/date/{start.isoformat()}"
    if period == "week":
        year, week, _ = start.isocalendar()
        return f"/papers/week/{year}-W{week:02d}"
    return f"/papers/month/{start:%Y-%m}"


def period_label(period: FeedPeriod, start: date, end: date) -> str:
    if period == "day":
        return f"{start:%A} {start.day} {start:%B %Y}"
    if period == "week":
        year, week, _ = start.isocalendar()
        return f"Week {week}, {year} ({start.day} {start:%b} – {end.day} {end:%b})"
    return f"{start:%B %Y}"


def parse_week(text: str) -> date:
    match = _WEEK.match(text)
    try:
        if match:
            return date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
    except ValueError:
        pass
    raise InputError(f"{text!r} is not an ISO week like 2024-W43")


def parse_month(text: str) -> date:
    match = _MONTH.match(text)
    try:
        if match:
            return date(int(match.group(1)), int(match.group(2)), 1)
    except ValueError:
        pass
    raise InputError(f"{text!r} is not a month like 2024-10")


def parse_feed_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{text!r} is not a date like 2024-10-25") from None


def feed_data(
    request: Request, library: Library, current: Viewer, period: FeedPeriod, day: date | None
) -> dict[str, Any]:
    """The view data of a day/week/month page (one query for the papers, one for votes)."""
    page_number = parse_page(request.query_params.get("page"))
    feed: Feed = library.feed(period, day, limit=PAGE_SIZE, offset=(page_number - 1) * PAGE_SIZE)
    if page_number > 1 and not feed.papers:
        raise NotFoundError(f"page {page_number} of this feed is empty")
    data: dict[str, Any] = {
        "period": period,
        "start": feed.start,
        "end": feed.end,
        "label": period_label(period, feed.start, feed.end) if feed.start and feed.end else "",
        "papers": cards(library, current, feed.papers),
        "previous": None,
        "next": None,
        "pagination": pagination(request, total=feed.total, page_number=page_number),
    }
    for key, start in (("previous", feed.previous_start), ("next", feed.next_start)):
        if start is not None:
            end = period_bounds(period, start)[1]
            data[key] = {
                "start": start,
                "url": period_path(period, start),
                "label": period_label(period, start, end),
            }
    return data


def _feed_page(request: Request, period: FeedPeriod, day: date | None) -> Response:
    data = feed_data(request, library_of(request), viewer(request), period, day)
    return page(request, "feed.html", data)


@router.get("/")
@router.get("/papers/date")
def daily_latest(request: Request) -> Response:
    return _feed_page(request, "day", None)


@router.get("/papers/date/{day}")
def daily(request: Request, day: str) -> Response:
    return _feed_page(request, "day", parse_feed_day(day))


@router.get("/papers/week/{week}")
def weekly(request: Request, week: str) -> Response:
    return _feed_page(request, "week", parse_week(week))


@router.get("/papers/week")
def weekly_latest(request: Request) -> Response:
    return _feed_page(request, "week", None)


@router.get("/papers/month/{month}")
def monthly(request: Request, month: str) -> Response:
    return _feed_page(request, "month", parse_month(month))


@router.get("/papers/month")
def monthly_latest(request: Request) -> Response:
    return _feed_page(request, "month", None)


def trending_data(library: Library, current: Viewer, now: datetime) -> dict[str, Any]:
    scores = library.trending(limit=TRENDING_LIMIT, window_days=TRENDING_WINDOW_DAYS, now=now)
    voted = voted_ids(library, current, (s.paper.id for s in scores))
    papers = []
    for rank, scored in enumerate(scores, start=1):
        card = paper_card(scored.paper, voted)
        card.update(
            rank=rank,
            score=round(scored.score, 6),
            age_hours=round(scored.age_hours, 1),
            why=scored.explanation(),
        )
        papers.append(card)
    return {
        "formula": trending_formula.FORMULA,
        "window_days": TRENDING_WINDOW_DAYS,
        "computed_at": now,
        "papers": papers,
    }


@router.get("/trending")
def trending(request: Request) -> Response:
    data = trending_data(library_of(request), viewer(request), utc_now())
    return page(request, "trending.html", data)


def ranking_data() -> dict[str, Any]:
    """The published formula, its constants and a few worked examples."""
    examples = []
    for upvotes, hours in ((0, 1), (10, 6), (10, 24), (50, 24), (50, 72), (200, 168)):
        score = trending_formula.trending_score(upvotes, hours)
        examples.append({"upvotes": upvotes, "age_hours": hours, "score": round(score, 4)})
    # The module docstring is the published explanation; drop its title line and the
    # formula (shown above it) and its reST quoting.
    doc = (trending_formula.__doc__ or "").strip()
    doc = doc.replace("``window_days``", str(TRENDING_WINDOW_DAYS)).replace("``", "")
    paragraphs = [" ".join(p.split()) for p in doc.split("\n\n") if p.strip()][1:]
    return {
        "formula": trending_formula.FORMULA,
        "constants": {
            "vote_prior": trending_formula.VOTE_PRIOR,
            "age_offset_hours": trending_formula.AGE_OFFSET_HOURS,
            "gravity": trending_formula.GRAVITY,
        },
        "window_days": TRENDING_WINDOW_DAYS,
        "explanation": [p for p in paragraphs if not p.startswith("score =")],
        "examples": examples,
        "feed_order": "Daily, weekly and monthly pages list the period's papers by upvotes"
        " (the sources' counts plus votes cast here), newest first on ties.",
    }


@router.get("/about/ranking")
def about_ranking(request: Request) -> Response:
    return page(request, "about_ranking.html", ranking_data())
