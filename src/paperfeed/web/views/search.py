"""The search page: modes, filters, sorts, pagination; results update as you type (htmx)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from paperfeed.errors import InputError
from paperfeed.library import Library
from paperfeed.search.models import SEARCH_MODES, SEARCH_SORTS, SearchFilters
from paperfeed.web.auth import Viewer, viewer
from paperfeed.web.render import is_fragment_request, with_query
from paperfeed.web.views.common import (
    library_of,
    page,
    pagination,
    paper_card,
    parse_day,
    parse_flag,
    parse_page,
    renderer_of,
    voted_ids,
)
from paperfeed.web.views.follows import search_follow_state

router = APIRouter(include_in_schema=False)

SEARCH_PAGE_SIZE = 20
MAX_QUERY_CHARS = 500
#: The element the search form swaps as you type.
RESULTS_TARGET = "results"


def search_form(request: Request) -> dict[str, Any]:
    """The query and filters as typed, validated (bad values: InputError, 400)."""
    params = request.query_params
    query = (params.get("q") or "").strip()
    if len(query) > MAX_QUERY_CHARS:
        raise InputError(f"the query is longer than {MAX_QUERY_CHARS} characters")
    mode = params.get("mode") or "hybrid"
    if mode not in SEARCH_MODES:
        raise InputError(f"mode must be one of {', '.join(SEARCH_MODES)}, not {mode!r}")
    sort = params.get("sort") or "relevance"
    if sort not in SEARCH_SORTS:
        raise InputError(f"sort must be one of {', '.join(SEARCH_SORTS)}, not {sort!r}")
    date_from = parse_day(params.get("from"), "from")
    date_to = parse_day(params.get("to"), "to")
    if date_from and date_to and date_from > date_to:
        raise InputError(f"from {date_from} is after to {date_to}")
    category = (params.get("category") or "").strip() or None
    return {
        "q": query,
        "mode": mode,
        "sort": sort,
        "category": category,
        "from": date_from,
        "to": date_to,
        "has_code": parse_flag(params.get("has_code"), "has_code"),
        "page": parse_page(params.get("page")),
    }


def search_data(request: Request, library: Library, current: Viewer) -> dict[str, Any]:
    form = search_form(request)
    data: dict[str, Any] = {
        "form": form,
        "modes": list(SEARCH_MODES),
        "sorts": list(SEARCH_SORTS),
        "results": None,
        "pagination": None,
        "trend": None,
        "error": None,
        "follow_search": None,
    }
    if not form["q"]:
        return data
    filters = SearchFilters(
        date_from=form["from"], date_to=form["to"],
        category=form["category"], has_code=form["has_code"],
    )  # fmt: skip
    results = library.search(
        form["q"], mode=form["mode"], filters=filters, sort=form["sort"],
        limit=SEARCH_PAGE_SIZE, offset=(form["page"] - 1) * SEARCH_PAGE_SIZE,
    )  # fmt: skip
    voted = voted_ids(library, current, (hit.paper.id for hit in results.hits))
    hits = []
    for position, hit in enumerate(results.hits, start=results.offset + 1):
        card = paper_card(hit.paper, voted)
        card.update(rank=position, score=round(hit.score, 6), ranks=dict(hit.ranks))
        hits.append(card)
    data["results"] = {
        "query": results.query,
        "mode_requested": results.mode_requested,
        "mode_used": results.mode_used,
        "sort": results.sort,
        "total": results.total,
        "notice": results.notice,
        "took_ms": round(results.took_ms, 1),
        "hits": hits,
    }
    data["pagination"] = pagination(
        request, total=results.total, page_number=form["page"], page_size=SEARCH_PAGE_SIZE
    )
    data["trend"] = search_trend(library, form, filters) if form["page"] == 1 else None
    data["follow_search"] = search_follow_state(library, current, form["q"])
    return data


def search_trend(library: Library, form: dict[str, Any], filters: SearchFilters) -> dict[str, Any]:
    """The query's matches over time (keyword counts, one index aggregation) and the
    link to compare it with others on the trends page."""
    from paperfeed.web.views.trends import trend_view

    trend = library.trend([form["q"]], filters=filters)
    trend_form = {"share": False, "category": form["category"], "has_code": form["has_code"]}
    view = trend_view(trend, trend_form, title=f"Papers matching “{form['q']}” over time")
    view["url"] = with_query(
        "/trends",
        {"q": form["q"], "category": form["category"], "from": form["from"], "to": form["to"],
         "has_code": 1 if form["has_code"] else None},
    )  # fmt: skip
    return view


@router.get("/search")
def search_page(request: Request) -> Response:
    fragment = is_fragment_request(request, RESULTS_TARGET)
    status = 200
    try:
        data = search_data(request, library_of(request), viewer(request))
    except InputError as exc:
        # Keep the form as typed, with the message where the results would be.
        params = request.query_params
        form = {
            key: params.get(key) or "" for key in ("q", "mode", "sort", "category", "from", "to")
        }
        form["has_code"] = bool(params.get("has_code"))
        data = {"form": form, "modes": list(SEARCH_MODES), "sorts": list(SEARCH_SORTS),
                "results": None, "pagination": None, "trend": None, "error": str(exc),
                "follow_search": None}  # fmt: skip
        status = 400
    if fragment:
        return renderer_of(request).html_response(
            request, "_search_results.html", data, status=status
        )
    return page(request, "search.html", data, status=status)
