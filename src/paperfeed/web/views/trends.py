"""Trends of searches (``/trends?q=diffusion&q=flow+matching``) and the chart pieces
other pages reuse (the search page's trend, a saved search's trend)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from paperfeed.errors import InputError
from paperfeed.explore.trends import GRANULARITIES, MAX_QUERIES, Trend
from paperfeed.library import Library
from paperfeed.search.models import SearchFilters
from paperfeed.web.charts import Datum, Series, line_chart
from paperfeed.web.render import with_query
from paperfeed.web.views.common import library_of, page, parse_day, parse_flag

router = APIRouter(include_in_schema=False)

MAX_QUERY_CHARS = 500


def trend_form(request: Request) -> dict[str, Any]:
    params = request.query_params
    queries = [q.strip() for q in params.getlist("q")]
    if any(len(q) > MAX_QUERY_CHARS for q in queries):
        raise InputError(f"a query is longer than {MAX_QUERY_CHARS} characters")
    granularity = params.get("granularity") or "auto"
    if granularity not in (*GRANULARITIES, "auto"):
        raise InputError(f"granularity must be week, month or auto, not {granularity!r}")
    date_from = parse_day(params.get("from"), "from")
    date_to = parse_day(params.get("to"), "to")
    if date_from and date_to and date_from > date_to:
        raise InputError(f"from {date_from} is after to {date_to}")
    return {
        "queries": [q for q in queries if q],
        "granularity": granularity,
        "share": bool(parse_flag(params.get("share"), "share")),
        "category": (params.get("category") or "").strip() or None,
        "from": date_from,
        "to": date_to,
        "has_code": parse_flag(params.get("has_code"), "has_code"),
    }


def filters_of(form: dict[str, Any]) -> SearchFilters:
    return SearchFilters(
        date_from=form["from"], date_to=form["to"],
        category=form["category"], has_code=form["has_code"],
    )  # fmt: skip


def period_search_url(query: str, start: Any, end: Any, form: dict[str, Any]) -> str:
    """The search listing one period's matches, newest first (what a click opens)."""
    return with_query(
        "/search",
        {"q": query, "mode": "keyword", "sort": "newest", "from": start.isoformat(),
         "to": end.isoformat(), "category": form.get("category"),
         "has_code": 1 if form.get("has_code") else None},
    )  # fmt: skip


def trend_view(trend: Trend, form: dict[str, Any], *, title: str) -> dict[str, Any]:
    """The chart (SVG), its caption and the numbers, from one computed trend."""
    share = bool(form.get("share"))
    labels = [p.label for p in trend.periods]
    unit = trend.granularity
    series = []
    for line in trend.series:
        data = []
        for i, period in enumerate(trend.periods):
            count_, part = line.counts[i], line.shares[i]
            words = f"{line.query}, {period.label}: {count_:,} paper{'s' if count_ != 1 else ''}"
            if share:
                words += f" ({part * 100:.2f}% of {trend.totals[i]:,})"
            data.append(
                Datum(
                    period.label,
                    part if share else count_,
                    words,
                    period_search_url(line.query, period.start, period.end, form),
                )
            )
        series.append(Series(line.query, data))
    caption = describe(trend, share=share)
    svg = (
        line_chart(labels, series, title=title, percent=share)
        if trend.periods and trend.series
        else None
    )
    columns = [unit.capitalize(), *(f"“{line.query}”" for line in trend.series), "All papers"]
    table = [
        [
            period.label,
            *(
                f"{line.counts[i]:,}" + (f" ({line.shares[i] * 100:.2f}%)" if share else "")
                for line in trend.series
            ),
            f"{trend.totals[i]:,}",
        ]
        for i, period in enumerate(trend.periods)
    ]
    return {
        "granularity": unit,
        "share": share,
        "series": [
            {"query": s.query, "total": s.total, "relaxed": s.relaxed} for s in trend.series
        ],
        "numbers": trend.as_dict(),
        "chart": {
            "svg": svg,
            "caption": caption,
            "legend": [{"name": s.query, "css": f"s{i % 4}"} for i, s in enumerate(trend.series)],
            "columns": columns,
            "rows": table,
        },
    }


def describe(trend: Trend, *, share: bool = False) -> str:
    """The chart in words (its text alternative)."""
    if not trend.periods:
        return "No papers are stored yet, so there is nothing to count."
    span = f"{trend.periods[0].label} to {trend.periods[-1].label}"
    if not trend.series:
        return f"All papers per {trend.granularity}, {span}: {sum(trend.totals):,} in all."
    parts = []
    for line in trend.series:
        values = line.shares if share else line.counts
        peak = max(range(len(values)), key=lambda i: (values[i], i))
        name = line.query if line.query.startswith('"') else f"“{line.query}”"
        if line.total == 0:
            parts.append(f"{name}: no matching papers")
            continue
        peak_text = f"{values[peak] * 100:.2f}% of papers" if share else f"{values[peak]:,} papers"
        recent = values[-3:]
        earlier = values[-6:-3]
        direction = ""
        if len(values) >= 6 and sum(earlier):
            change = (sum(recent) - sum(earlier)) / sum(earlier)
            if change > 0.15:
                direction = ", rising lately"
            elif change < -0.15:
                direction = ", falling lately"
        parts.append(
            f"{name}: {line.total:,} papers, most in {trend.periods[peak].label}"
            f" ({peak_text}){direction}"
        )
    what = "Share of all papers" if share else "Matching papers"
    return f"{what} per {trend.granularity}, {span}. " + "; ".join(parts) + "."


def trends_data(request: Request, library: Library) -> dict[str, Any]:
    form = trend_form(request)
    data: dict[str, Any] = {"form": form, "max_queries": MAX_QUERIES, "trend": None}
    if not form["queries"]:
        return data
    trend = library.trend(
        form["queries"], granularity=form["granularity"], filters=filters_of(form)
    )
    title = " vs ".join(f"“{q}”" for q in form["queries"])
    data["trend"] = trend_view(trend, form, title=f"Trend of {title}")
    return data


@router.get("/trends")
def trends_page(request: Request) -> Response:
    try:
        data = trends_data(request, library_of(request))
    except InputError as exc:
        params = request.query_params
        form = {
            "queries": params.getlist("q"), "granularity": params.get("granularity") or "auto",
            "share": bool(params.get("share")), "category": params.get("category") or "",
            "from": params.get("from") or "", "to": params.get("to") or "",
            "has_code": bool(params.get("has_code")),
        }  # fmt: skip
        return page(
            request, "trends.html",
            {"form": form, "max_queries": MAX_QUERIES, "trend": None, "error": str(exc)},
            status=400,
        )  # fmt: skip
    data["error"] = None
    return page(request, "trends.html", data)
