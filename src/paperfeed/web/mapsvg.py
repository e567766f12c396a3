"""The map of the field drawn as SVG on the server.

Dots are drawn as one ``<path>`` per neighbourhood (``M x y h0`` with round caps
is a dot): a few bytes per paper instead of a ``<circle>`` element each, so a
view of 4,000 papers is ~60 kB and renders in milliseconds. Each path carries its
papers' ids in ``data-ids`` (same order as its dots), which is how the small
``static/map.js`` finds the paper under the pointer; without JavaScript the
neighbourhood names and highlighted papers are links and the page has zoom and
pan links. Colours come from the stylesheet (classes ``c0``..``c11``), so dark
mode applies; nothing here is an inline style (the pages' CSP forbids them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
from markupsafe import escape

from paperfeed.explore.mapview import MapPoint, MapView, Window
from paperfeed.web.charts import Svg

WIDTH = 1000
HEIGHT = 625  # WIDTH / mapview.ASPECT
COLOURS = 12
#: Highlighted papers drawn as linked circles with their titles; the rest as dots.
LINKED_HIGHLIGHTS = 300


def _project(window: Window, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    px = (xs - window.x0) / (window.x1 - window.x0) * WIDTH
    py = (window.y1 - ys) / (window.y1 - window.y0) * HEIGHT
    return px, py


def _dots(px: np.ndarray, py: np.ndarray) -> str:
    return "".join(f"M{x:.1f} {y:.1f}h0" for x, y in zip(px.tolist(), py.tolist(), strict=True))


def draw_map(
    view: MapView,
    *,
    title: str,
    zoom_link: Callable[[float, float, float], str] | None,
    titles: Mapping[str, str] | None = None,
    compact: bool = False,
) -> Svg:
    """The view as SVG. ``zoom_link(x, y, zoom)`` makes neighbourhood names links
    that zoom there (None: plain text, e.g. the paper page's small map)."""
    window = view.window
    titles = titles or {}
    parts = [
        f'<svg class="map{" map-compact" if compact else ""}" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' role="img" aria-label="{escape(title)}"'
        f' data-window="{window.x0:.6f},{window.x1:.6f},{window.y0:.6f},{window.y1:.6f}"'
        f' data-zoom="{view.zoom:g}">',
        f"<title>{escape(title)}</title>",
        f'<rect class="map-bg" width="{WIDTH}" height="{HEIGHT}"/>',
        '<g class="layer">',
    ]
    if len(view.ids):
        px, py = _project(window, view.xy[:, 0], view.xy[:, 1])
        for cluster in np.unique(view.clusters).tolist():
            mask = view.clusters == cluster
            ids = " ".join(raw.decode("utf-8") for raw in view.ids[mask])
            parts.append(
                f'<path class="dots c{cluster % COLOURS}" d="{_dots(px[mask], py[mask])}"'
                f' data-ids="{escape(ids)}"/>'
            )
    if view.highlights:
        parts.append(_highlights(view, view.highlights, titles))
    if view.focus is not None:
        fx, fy = _project(window, np.array([view.focus.x]), np.array([view.focus.y]))
        parts.append(
            f'<circle class="focus-ring" cx="{fx[0]:.1f}" cy="{fy[0]:.1f}" r="{14 if compact else 11}"/>'
            f'<circle class="focus-dot" cx="{fx[0]:.1f}" cy="{fy[0]:.1f}" r="{6 if compact else 5}"/>'
        )
    parts.append("</g>")
    parts.append(_labels(view, zoom_link, compact))
    parts.append("</svg>")
    return Svg("".join(parts))


def _highlights(view: MapView, points: list[MapPoint], titles: Mapping[str, str]) -> str:
    xs = np.array([p.x for p in points])
    ys = np.array([p.y for p in points])
    px, py = _project(view.window, xs, ys)
    inside = (px >= -10) & (px <= WIDTH + 10) & (py >= -10) & (py <= HEIGHT + 10)
    linked: list[str] = []
    rest: list[int] = []
    for i in np.flatnonzero(inside).tolist():
        point = points[i]
        if len(linked) < LINKED_HIGHLIGHTS:
            label = escape(titles.get(point.paper_id, point.paper_id))
            linked.append(
                f'<a href="/papers/{escape(point.paper_id)}"><circle class="hl"'
                f' cx="{px[i]:.1f}" cy="{py[i]:.1f}" r="5"><title>{label}</title></circle></a>'
            )
        else:
            rest.append(i)
    extra = ""
    if rest:
        idx = np.array(rest)
        extra = f'<path class="hl-dots" d="{_dots(px[idx], py[idx])}"/>'
    return '<g class="highlights">' + extra + "".join(linked) + "</g>"


Box = tuple[float, float, float, float]


def _place(name: str, x: float, y: float, size: float, taken: list[Box]) -> bool:
    """Reserve the box of ``name`` at ``(x, y)`` unless it overlaps one in ``taken``."""
    half = len(name) * size * 0.3 + 4
    box = (x - half, x + half, y - size, y + size * 0.35)
    if any(box[0] < o[1] and o[0] < box[1] and box[2] < o[3] and o[2] < box[3] for o in taken):
        return False
    taken.append(box)
    return True


def _labels(
    view: MapView, zoom_link: Callable[[float, float, float], str] | None, compact: bool
) -> str:
    window = view.window
    parts = ['<g class="labels">']
    words = 2 if view.zoom < 2 or compact else 3
    # Font sizes in picture units: the stylesheet's for wide screens, and for
    # narrow ones (where the picture shrinks, so its type is set larger).
    sizes = (22, 30) if compact else (15, 30)
    taken: tuple[list[Box], list[Box]] = ([], [])
    for hood in sorted(view.labels_in_view, key=lambda n: -n.papers):
        px, py = _project(window, np.array([hood.x]), np.array([hood.y]))
        name = " · ".join(hood.words[:words]) or "miscellany"
        # Biggest neighbourhoods first; a name that would overlap one already
        # written waits for a closer zoom (the table below the map lists them all).
        fits = [_place(name, float(px[0]), float(py[0]), size, boxes)
                for size, boxes in zip(sizes, taken, strict=True)]  # fmt: skip
        if not fits[0]:
            continue
        minor = "" if fits[1] else " minor"  # hidden on narrow screens
        text = (
            f'<text class="label{minor}" x="{px[0]:.1f}" y="{py[0]:.1f}" text-anchor="middle">'
            f"{escape(name)}</text>"
        )
        if zoom_link is not None:
            href = zoom_link(hood.x, hood.y, min(view.zoom * 3, 256.0))
            parts.append(
                f'<a href="{escape(href)}" aria-label="{escape(hood.name)},'
                f' {hood.papers:,} papers: zoom in">{text}</a>'
            )
        else:
            parts.append(text)
    parts.append("</g>")
    return "".join(parts)
