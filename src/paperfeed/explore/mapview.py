"""What one view of the map shows: the window, a sample of the papers in it, the
highlighted papers and the neighbourhood names in view. Pure data: the web layer
draws it (``web/mapsvg.py``) and the JSON twin lists it.

At a million papers a view never draws more than :data:`MAX_POINTS` dots: the
lowest-ranked papers in the window (a fixed random rank, see
:func:`paperfeed.explore.fieldmap.priority`), so zooming in reveals more papers
and the same papers stand for a region every time. Finding them is one
vectorised pass over the positions (a few milliseconds at a million).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from paperfeed.errors import InputError

from .fieldmap import MapSnapshot, Neighbourhood

MAX_POINTS = 4000
MAX_HIGHLIGHTS = 1000
MAX_ZOOM = 256.0
#: Width / height of every view (the picture's aspect ratio).
ASPECT = 1.6
_MARGIN = 0.04


@dataclass(slots=True, frozen=True)
class Window:
    x0: float
    x1: float
    y0: float
    y1: float

    @property
    def centre(self) -> tuple[float, float]:
        return (self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2

    def as_dict(self) -> dict[str, float]:
        return {k: round(getattr(self, k), 5) for k in ("x0", "x1", "y0", "y1")}


@dataclass(slots=True)
class MapPoint:
    paper_id: str
    x: float
    y: float
    neighbourhood: int

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.paper_id, "x": round(self.x, 5), "y": round(self.y, 5),
                "neighbourhood": self.neighbourhood}  # fmt: skip


@dataclass(slots=True)
class MapView:
    papers: int
    window: Window
    home: Window
    zoom: float
    centre: tuple[float, float]
    #: Sampled papers in the window: positions (rank order) into the snapshot.
    xy: np.ndarray
    ids: np.ndarray
    clusters: np.ndarray
    in_view: int
    neighbourhoods: list[Neighbourhood]
    labels_in_view: list[Neighbourhood]
    highlights: list[MapPoint] = field(default_factory=list)
    highlight_total: int = 0
    focus: MapPoint | None = None

    def points(self) -> list[MapPoint]:
        return [
            MapPoint(raw.decode("utf-8"), float(x), float(y), int(c))
            for raw, (x, y), c in zip(self.ids, self.xy, self.clusters, strict=True)
        ]


def home_window(snapshot: MapSnapshot) -> Window:
    """The whole map with a margin, widened to the picture's aspect ratio (computed
    once per published map: percentiles of a million positions take ~100 ms)."""
    found = snapshot.cache.get("home")
    if found is None:
        found = snapshot.cache["home"] = _home_window(snapshot)
    return found


def _home_window(snapshot: MapSnapshot) -> Window:
    if snapshot.papers == 0:
        return Window(-1.0, 1.0, -1.0 / ASPECT, 1.0 / ASPECT)
    low = np.percentile(snapshot.xy, 0.5, axis=0)
    high = np.percentile(snapshot.xy, 99.5, axis=0)
    cx, cy = (float(v) for v in (low + high) / 2)
    w, h = (float(v) for v in (high - low) * (1 + 2 * _MARGIN))
    w, h = max(w, h * ASPECT, 1e-6), max(h, w / ASPECT, 1e-6)
    return Window(cx - w / 2, cx + w / 2, cy - h / 2, cy + h / 2)


def view(
    snapshot: MapSnapshot,
    *,
    x: float | None = None,
    y: float | None = None,
    zoom: float = 1.0,
    highlight_ids: Sequence[str] = (),
    highlight_total: int | None = None,
    focus_id: str | None = None,
    max_points: int = MAX_POINTS,
) -> MapView:
    """The view centred on ``(x, y)`` (map units; default the middle) at ``zoom``
    (1 = the whole map); ``focus_id`` centres on a paper when no centre is given."""
    if not 1.0 <= zoom <= MAX_ZOOM or zoom != zoom:
        raise InputError(f"zoom must be between 1 and {MAX_ZOOM:g}")
    home = home_window(snapshot)
    focus = None
    if focus_id:
        found = snapshot.locate([focus_id])
        if focus_id in found:
            focus = _point(snapshot, found[focus_id])
            if x is None and y is None:
                x, y = focus.x, focus.y
    hx, hy = home.centre
    cx = hx if x is None else float(x)
    cy = hy if y is None else float(y)
    for value in (cx, cy):
        if value != value or abs(value) > 100:
            raise InputError("x and y must be map coordinates (numbers near -1 to 1)")
    half_w = (home.x1 - home.x0) / 2 / zoom
    half_h = (home.y1 - home.y0) / 2 / zoom
    window = Window(cx - half_w, cx + half_w, cy - half_h, cy + half_h)
    chosen = snapshot.in_window(window.x0, window.x1, window.y0, window.y1, max_points)
    in_view = len(chosen)
    if in_view == max_points:  # only then count the rest (one more pass)
        xs, ys = snapshot.xy[:, 0], snapshot.xy[:, 1]
        in_view = int(
            np.count_nonzero(
                (xs >= window.x0) & (xs <= window.x1) & (ys >= window.y0) & (ys <= window.y1)
            )
        )
    labels = [
        n for n in snapshot.neighbourhoods
        if n.papers and window.x0 <= n.x <= window.x1 and window.y0 <= n.y <= window.y1
    ]  # fmt: skip
    located = snapshot.locate(list(highlight_ids)[:MAX_HIGHLIGHTS])
    highlights = [_point(snapshot, located[i]) for i in highlight_ids if i in located]
    return MapView(
        papers=snapshot.papers,
        window=window,
        home=home,
        zoom=zoom,
        centre=(cx, cy),
        xy=snapshot.xy[chosen],
        ids=snapshot.ids[chosen],
        clusters=snapshot.cluster[chosen],
        in_view=in_view,
        neighbourhoods=snapshot.neighbourhoods,
        labels_in_view=labels,
        highlights=highlights,
        highlight_total=len(highlights) if highlight_total is None else highlight_total,
        focus=focus,
    )


def _point(snapshot: MapSnapshot, position: int) -> MapPoint:
    x, y = snapshot.xy[position]
    return MapPoint(
        snapshot.ids[position].decode("utf-8"), float(x), float(y),
        int(snapshot.cluster[position]),
    )  # fmt: skip


def where(snapshot: MapSnapshot, paper_id: str) -> MapPoint | None:
    """A paper's place on the map (None when it is not on it: no vector yet)."""
    found = snapshot.locate([paper_id])
    return _point(snapshot, found[paper_id]) if paper_id in found else None
