"""The map of the field (``/map``): pan, zoom, search highlighting, your papers on it.

``/map`` is the whole page; ``/map/view`` is the picture and its controls alone,
which ``static/map.js`` fetches while you drag or scroll. Both take the same
parameters: ``x``, ``y`` (the centre, map units), ``z`` (zoom, 1 = everything),
``q`` (highlight the keyword matches of a search), ``show`` (``upvotes`` or
``collections``, signed-in users) and ``focus`` (a paper id to centre and mark).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from paperfeed.errors import InputError
from paperfeed.explore.mapview import MAX_ZOOM, MapPoint, MapView
from paperfeed.library import MAP_SHOWS, Library
from paperfeed.web.auth import Viewer, viewer
from paperfeed.web.mapsvg import draw_map
from paperfeed.web.render import paper_path, wants_json, with_query
from paperfeed.web.views.common import library_of, page, renderer_of

router = APIRouter(include_in_schema=False)

MAX_QUERY_CHARS = 500
LISTED_HIGHLIGHTS = 10


def _number(value: str | None, name: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except ValueError:
        raise InputError(f"{name} must be a number, not {value!r}") from None
    if number != number or abs(number) == float("inf"):
        raise InputError(f"{name} must be a finite number")
    return number


def map_form(request: Request) -> dict[str, Any]:
    params = request.query_params
    query = (params.get("q") or "").strip()
    if len(query) > MAX_QUERY_CHARS:
        raise InputError(f"the query is longer than {MAX_QUERY_CHARS} characters")
    show = params.get("show") or None
    if show is not None and show not in MAP_SHOWS:
        raise InputError(f"show must be one of {', '.join(MAP_SHOWS)}, not {show!r}")
    given = _number(params.get("z"), "z")
    zoom = 1.0 if given is None else given
    if not 1.0 <= zoom <= MAX_ZOOM:
        raise InputError(f"z must be between 1 and {MAX_ZOOM:g}")
    return {
        "q": query,
        "show": show,
        "x": _number(params.get("x"), "x"),
        "y": _number(params.get("y"), "y"),
        "z": zoom,
        "focus": (params.get("focus") or "").strip() or None,
    }


def map_link(form: dict[str, Any], x: float | None, y: float | None, zoom: float) -> str:
    """``/map`` at another centre or zoom, keeping the highlighting."""
    return with_query(
        "/map",
        {"q": form.get("q"), "show": form.get("show"), "focus": form.get("focus"),
         "x": None if x is None else f"{x:.4f}", "y": None if y is None else f"{y:.4f}",
         "z": None if zoom == 1 else f"{zoom:g}"},
    )  # fmt: skip


def controls(form: dict[str, Any], view: MapView) -> dict[str, str | None]:
    """Links that pan and zoom without JavaScript."""
    cx, cy = view.centre
    step_x = (view.window.x1 - view.window.x0) / 3
    step_y = (view.window.y1 - view.window.y0) / 3
    zoom = view.zoom
    return {
        "zoom_in": map_link(form, cx, cy, min(zoom * 2, MAX_ZOOM)) if zoom < MAX_ZOOM else None,
        "zoom_out": map_link(form, cx, cy, max(zoom / 2, 1.0)) if zoom > 1 else None,
        "left": map_link(form, cx - step_x, cy, zoom),
        "right": map_link(form, cx + step_x, cy, zoom),
        "up": map_link(form, cx, cy + step_y, zoom),
        "down": map_link(form, cx, cy - step_y, zoom),
        "home": map_link({**form, "focus": None}, None, None, 1.0),
    }


def _describe(view: MapView, form: dict[str, Any]) -> str:
    biggest = sorted(view.neighbourhoods, key=lambda n: -n.papers)[:5]
    names = "; ".join(f"{n.name} ({n.papers:,})" for n in biggest)
    text = (
        f"Map of {view.papers:,} papers in {len(view.neighbourhoods)} neighbourhoods of"
        f" related work; papers close together are about similar things. Largest: {names}."
    )
    if view.zoom > 1:
        text += f" Zoomed in {view.zoom:g}×: {view.in_view:,} papers in view."
    if form.get("q"):
        text += (
            f" {view.highlight_total:,} papers match “{form['q']}”;"
            f" the best {len(view.highlights):,} are marked."
        )
    elif form.get("show"):
        text += f" {len(view.highlights):,} of your papers are marked."
    return text


def _words_query(words: list[str]) -> str:
    """A search for a neighbourhood's name words (any of them)."""
    return " OR ".join(f'"{w}"' if " " in w else w for w in words[:3])


def _point(point: MapPoint, titles: dict[str, str]) -> dict[str, Any]:
    return {
        **point.as_dict(),
        "title": titles.get(point.paper_id),
        "url": paper_path(point.paper_id),
    }


def map_data(request: Request, library: Library, current: Viewer) -> dict[str, Any]:
    form = map_form(request)
    as_json = wants_json(request)
    user_id = current.user.id if current.user is not None else None
    view = library.map_view(
        x=form["x"], y=form["y"], zoom=form["z"], query=form["q"] or None,
        user_id=user_id, show=form["show"], focus=form["focus"],
    )  # fmt: skip
    data: dict[str, Any] = {"form": form, "signed_in": user_id is not None, "map": None}
    if view is None:
        data["status"] = library.field_map.status()
        return data
    listed = [p.paper_id for p in view.highlights[:LISTED_HIGHLIGHTS]]
    focus_ids = [view.focus.paper_id] if view.focus else []
    titles = library.paper_titles([p.paper_id for p in view.highlights[:300]] + focus_ids)
    title = "Map of the field" + (f", marking “{form['q']}”" if form["q"] else "")
    cx, cy = view.centre
    data["map"] = {
        "papers": view.papers,
        "in_view": view.in_view,
        "drawn": len(view.ids),
        "zoom": view.zoom,
        "x": round(cx, 5),
        "y": round(cy, 5),
        "window": view.window.as_dict(),
        "caption": _describe(view, form),
        "svg": draw_map(
            view,
            title=title,
            titles=titles,
            zoom_link=lambda x, y, z: map_link(form, x, y, z),
        ),
        "controls": controls(form, view),
        "neighbourhoods": [
            {
                **n.as_dict(),
                "zoom_url": map_link(form, n.x, n.y, 3.0),
                "search_url": with_query("/search", {"q": _words_query(n.words)}),
            }
            for n in sorted(view.neighbourhoods, key=lambda n: -n.papers)
        ],
        "highlight": {
            "query": form["q"] or None,
            "show": form["show"],
            "matches": view.highlight_total,
            "on_map": len(view.highlights),
            "listed": [{"id": i, "title": titles.get(i, i), "url": paper_path(i)} for i in listed],
        },
        "focus": _point(view.focus, titles) if view.focus else None,
        # Every drawn paper's id and position: for the JSON twin (the page has them
        # in the SVG); 4,000 dicts cost more than drawing them.
        "points": [p.as_dict() for p in view.points()] if as_json else None,
        "highlights": [p.as_dict() for p in view.highlights],
    }
    return data


@router.get("/map")
def map_page(request: Request) -> Response:
    data = map_data(request, library_of(request), viewer(request))
    return page(request, "map.html", data)


@router.get("/map/view")
def map_canvas(request: Request) -> Response:
    """The picture and its controls alone (what map.js swaps in while you pan)."""
    data = map_data(request, library_of(request), viewer(request))
    return renderer_of(request).html_response(request, "_map_canvas.html", data)
