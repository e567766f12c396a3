"""Author pages (``/authors/<name>``) and category pages (``/categories/cs.LG``)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from paperfeed.errors import InputError
from paperfeed.explore.authors import MAX_PAPERS
from paperfeed.explore.categories import CATEGORY_NAMES, category_name
from paperfeed.explore.trends import Trend
from paperfeed.library import Library
from paperfeed.search.models import SearchFilters
from paperfeed.web.auth import Viewer, viewer
from paperfeed.web.charts import SIDE_HEIGHT, SIDE_WIDTH, Datum, bar_chart
from paperfeed.web.render import author_path, category_path, with_query
from paperfeed.web.views.common import (
    cards,
    library_of,
    page,
    pagination,
    parse_day,
    parse_flag,
    parse_page,
)
from paperfeed.web.views.trends import describe, trend_view

router = APIRouter(include_in_schema=False)

AUTHOR_PAGE_SIZE = 20
CATEGORY_PAGE_SIZE = 30


# -- authors -------------------------------------------------------------------------------


def follow_state(library: Library, current: Viewer, kind: str, value: str) -> dict[str, Any]:
    """The follow button's state (the follows feature: alerts and digest topics)."""
    found = None
    if current.user is not None:
        try:
            found = library.community.find_follow(current.user.id, kind, value)
        except InputError:  # nothing followable in the value (a name without letters)
            found = None
    return {"kind": kind, "value": value, "follow_id": found.id if found else None,
            "muted": found.muted if found else False}  # fmt: skip


def years_chart(name: str, per_year: list[tuple[int, int]]) -> dict[str, Any]:
    """Papers per year as bars (gap years shown as zero), caption and table."""
    if not per_year:
        return {"svg": None, "caption": "No dated papers.", "legend": [], "columns": [], "rows": []}
    counts = dict(per_year)
    years = list(range(per_year[0][0], per_year[-1][0] + 1))
    data = [
        Datum(
            str(year),
            counts.get(year, 0),
            f"{year}: {counts.get(year, 0)} paper{'s' if counts.get(year, 0) != 1 else ''}",
            with_query(
                "/search",
                {
                    "q": f'au:"{name}"',
                    "mode": "keyword",
                    "sort": "newest",
                    "from": f"{year}-01-01",
                    "to": f"{year}-12-31",
                },
            ),
        )
        for year in years
    ]
    busiest = max(per_year, key=lambda item: (item[1], item[0]))
    caption = (
        f"Papers per year by {name}, {years[0]} to {years[-1]}: {sum(counts.values())} in all,"
        f" most in {busiest[0]} ({busiest[1]})."
    )
    return {
        "svg": bar_chart(
            data, title=f"Papers per year by {name}", width=SIDE_WIDTH, height=SIDE_HEIGHT
        ),
        "caption": caption,
        "legend": [],
        "columns": ["Year", "Papers"],
        "rows": [[str(year), str(counts.get(year, 0))] for year in years],
    }


def author_data(request: Request, library: Library, current: Viewer, name: str) -> dict[str, Any]:
    params = request.query_params
    page_number = parse_page(params.get("page"))
    initials = bool(parse_flag(params.get("initials"), "initials"))
    profile = library.author(
        name, offset=(page_number - 1) * AUTHOR_PAGE_SIZE, limit=AUTHOR_PAGE_SIZE,
        initials=initials,
    )  # fmt: skip
    display = profile.display_name
    return {
        "author": {
            "name": profile.name,
            "display_name": display,
            "url": author_path(profile.name),
            "papers": profile.total,
            "first_day": profile.first_day,
            "last_day": profile.last_day,
            "forms": [f.as_dict() for f in profile.forms],
            "initials": [{**f.as_dict(), "url": author_path(f.name)} for f in profile.initials],
            "initials_merged": profile.initials_merged,
            "other_names": [
                {**f.as_dict(), "url": author_path(f.name)} for f in profile.other_names
            ],
            "truncated": profile.truncated,
            "read": MAX_PAPERS,
            "search_url": with_query("/search", {"q": f'au:"{profile.name}"', "sort": "newest"}),
            "trend_url": with_query("/trends", {"q": f'au:"{profile.name}"'}),
        },
        "papers": cards(library, current, profile.papers),
        "pagination": pagination(
            request, total=profile.total, page_number=page_number, page_size=AUTHOR_PAGE_SIZE
        ),
        "coauthors": [{**c.as_dict(), "url": author_path(c.name)} for c in profile.coauthors],
        "categories": [
            {"code": code, "name": category_name(code), "papers": n, "url": category_path(code)}
            for code, n in profile.categories
        ],
        "per_year": [{"year": year, "papers": n} for year, n in profile.per_year],
        "years_chart": years_chart(display, profile.per_year),
        "follow": follow_state(library, current, "author", profile.name),
    }


@router.get("/authors/{name:path}")
def author_page(request: Request, name: str) -> Response:
    data = author_data(request, library_of(request), viewer(request), name)
    return page(request, "author.html", data)


# -- categories ----------------------------------------------------------------------------


def volume_chart(library: Library, code: str) -> tuple[dict[str, Any], Trend]:
    trend = library.trend(["cat:" + code], filters=SearchFilters())
    form = {"share": False, "category": None, "has_code": None}
    view = trend_view(trend, form, title=f"Papers per {trend.granularity} in {code}")
    data = [
        Datum(p.label, n, f"{p.label}: {n:,} papers",
              with_query(category_path(code), {"period": "week", "date": p.start.isoformat()})
              if trend.granularity == "week" else
              with_query("/search", {"q": f"cat:{code}", "mode": "keyword", "sort": "newest",
                                     "from": p.start.isoformat(), "to": p.end.isoformat()}))
        for p, n in zip(trend.periods, trend.series[0].counts, strict=True)
    ]  # fmt: skip
    chart = view["chart"]
    chart["svg"] = bar_chart(
        data,
        title=f"Papers per {trend.granularity} in {code}",
        width=SIDE_WIDTH,
        height=SIDE_HEIGHT,
    )
    chart["caption"] = (
        describe(trend).replace(f"“cat:{code}”", code).replace("Matching papers", "Papers")
    )
    chart["legend"] = []
    chart["columns"] = [trend.granularity.capitalize(), "Papers"]
    chart["rows"] = [[row[0], row[1]] for row in chart["rows"]]
    return chart, trend


def category_data(request: Request, library: Library, current: Viewer, code: str) -> dict[str, Any]:
    params = request.query_params
    period = params.get("period") or "day"
    if period not in ("day", "week"):
        raise InputError(f"period must be day or week, not {period!r}")
    day = parse_day(params.get("date"), "date")
    page_number = parse_page(params.get("page"))
    overview = library.category(
        code, period=period, day=day,  # type: ignore[arg-type]
        limit=CATEGORY_PAGE_SIZE, offset=(page_number - 1) * CATEGORY_PAGE_SIZE,
    )  # fmt: skip
    code = overview.code
    base = category_path(code)

    def period_link(start: date | None) -> dict[str, Any] | None:
        if start is None:
            return None
        return {
            "date": start,
            "label": _period_label(start, overview.period),
            "url": with_query(base, {"period": period if period != "day" else None,
                                     "date": start.isoformat()}),
        }  # fmt: skip

    trending_cards = cards(library, current, [t.paper for t in overview.trending])
    for card, scored in zip(trending_cards, overview.trending, strict=True):
        card["why"] = scored.explanation()
    chart, trend = volume_chart(library, code)
    return {
        "category": {
            "code": code,
            "name": overview.name,
            "url": base,
            "papers": overview.total,
            "search_url": with_query("/search", {"q": f"cat:{code}", "sort": "newest"}),
            "trend_url": with_query("/trends", {"q": f"cat:{code}", "share": 1}),
            "feed_url": with_query("/feeds/search.atom", {"q": f"cat:{code}"}),
        },
        "period": overview.period,
        "start": overview.start,
        "end": overview.end,
        "label": _period_label(overview.start, overview.period) if overview.start else None,
        "papers": cards(library, current, overview.papers),
        "pagination": pagination(
            request,
            total=overview.papers_total,
            page_number=page_number,
            page_size=CATEGORY_PAGE_SIZE,
        ),
        "previous": period_link(overview.previous_start),
        "next": period_link(overview.next_start),
        "switch_url": with_query(
            base,
            {
                "period": "week" if overview.period == "day" else None,
                "date": overview.start.isoformat() if overview.start else None,
            },
        ),
        "trending": trending_cards,
        "volume": {
            "granularity": trend.granularity,
            "periods": [
                {"period": p.label, "start": p.start, "end": p.end, "papers": n}
                for p, n in zip(trend.periods, trend.series[0].counts, strict=True)
            ],
        },
        "volume_chart": chart,
        "neighbours": [
            {"code": c, "name": category_name(c), "papers": n, "url": category_path(c)}
            for c, n in overview.neighbours
        ],
        "neighbour_sample": overview.neighbour_sample,
        "follow": follow_state(library, current, "category", code),
    }


def _period_label(start: date | None, period: str) -> str:
    if start is None:
        return ""
    if period == "week":
        year, week, _ = start.isocalendar()
        end = start + timedelta(days=6)
        return f"Week {week}, {year} ({start:%-d %b} – {end:%-d %b})"
    return f"{start:%A %-d %B %Y}"


@router.get("/categories")
def categories_index(request: Request) -> Response:
    library = library_of(request)
    listed = []
    for code, name in CATEGORY_NAMES.items():
        count = library.categories.count(code)
        if count:
            listed.append({"code": code, "name": name, "papers": count, "url": category_path(code)})
    listed.sort(key=lambda item: (-item["papers"], item["code"]))
    return page(request, "categories.html", {"categories": listed})


@router.get("/categories/{code}")
def category_page(request: Request, code: str) -> Response:
    data = category_data(request, library_of(request), viewer(request), code)
    return page(request, "category.html", data)
