"""Charts as server-side SVG: bar charts (papers per year, a category's volume) and
line charts (trends of up to four searches).

Why our own ~200 lines and not a charting library: the pages send a Content
Security Policy without inline styles or scripts, so the SVG must carry no
``style`` attributes or ``<style>`` elements (pygal and matplotlib emit both),
its colours must come from the site's stylesheet to follow dark mode, and every
bar or point must be a real link (click opens that period's papers) with its
count shown on hover *and* keyboard focus, which CSS alone does here. The charts
need no JavaScript and load nothing. Every chart sits in a ``<figure>`` whose
caption is its text alternative; the page puts the numbers in a table beside it.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 900
HEIGHT = 280
#: A chart for a narrow column (the side of author and category pages).
SIDE_WIDTH, SIDE_HEIGHT = 400, 220
#: Room for axis labels: left, right, top, bottom.
MARGIN = (60, 16, 24, 34)
SERIES_CLASSES = 4  # CSS classes s0..s3 colour the series


class Svg(Markup):
    """A rendered picture. Pages show it; JSON twins leave it out (they carry the
    numbers it was drawn from instead)."""


@dataclass(slots=True)
class Datum:
    """One bar or point: its value, the words a screen reader and tooltip say, and
    where a click goes."""

    label: str
    value: float
    text: str
    href: str | None = None


@dataclass(slots=True)
class Series:
    name: str
    data: list[Datum]


def nice_ticks(top: float, wanted: int = 4) -> list[float]:
    """0 and round steps up to at least ``top`` (1, 2, 2.5 or 5 times a power of ten)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / wanted
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    steps = math.ceil(top / step - 1e-9)
    return [round(i * step, 10) for i in range(steps + 1)]


def _format_tick(value: float, percent: bool) -> str:
    if percent:
        digits = 0 if value * 100 >= 10 or value == 0 else (1 if value * 100 >= 1 else 2)
        return f"{value * 100:.{digits}f}%"
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    return f"{value:g}"


def _label_positions(n: int, room: int) -> list[int]:
    """Indexes of the x labels shown: about ``room`` of them, evenly spaced, last included."""
    if n <= room:
        return list(range(n))
    step = math.ceil(n / room)
    shown = list(range(0, n, step))
    if shown[-1] != n - 1:
        # The last period is the one people look for: show it, in place of its
        # neighbour if they would overlap.
        if n - 1 - shown[-1] < step * 0.8:
            shown.pop()
        shown.append(n - 1)
    return shown


class _Frame:
    """Plot area geometry and the shared axes."""

    def __init__(self, n: int, top: float, percent: bool, width: int, height: int) -> None:
        self.n = max(n, 1)
        self.width, self.height = width, height
        left, right, up, down = MARGIN
        self.x0, self.x1 = left, width - right
        self.y0, self.y1 = height - down, up
        self.ticks = nice_ticks(top)
        self.top = self.ticks[-1] or 1.0
        self.percent = percent

    def y(self, value: float) -> float:
        return self.y0 - (self.y0 - self.y1) * (value / self.top)

    def slot(self, i: int) -> tuple[float, float]:
        """Left edge and width of the i-th of n equal slots."""
        width = (self.x1 - self.x0) / self.n
        return self.x0 + i * width, width

    def axes(self, labels: Sequence[str]) -> list[str]:
        parts = ['<g class="axis" aria-hidden="true">']
        for tick in self.ticks:
            y = self.y(tick)
            parts.append(
                f'<line class="grid" x1="{self.x0}" x2="{self.x1}" y1="{y:.1f}" y2="{y:.1f}"/>'
                f'<text x="{self.x0 - 6}" y="{y + 4:.1f}" text-anchor="end">'
                f"{_format_tick(tick, self.percent)}</text>"
            )
        # About one label per 180 units: room for "2025-W12" even at the larger
        # type narrow screens get (the stylesheet scales text up there).
        for i in _label_positions(len(labels), max(3, self.width // 180)):
            left, width = self.slot(i)
            parts.append(
                f'<text x="{left + width / 2:.1f}" y="{self.height - 8}" text-anchor="middle">'
                f"{escape(labels[i])}</text>"
            )
        parts.append("</g>")
        return parts


def _open(kind: str, title: str, width: int, height: int) -> tuple[str, str]:
    # Deterministic (same data, same markup): the title names what is drawn.
    chart_id = "chart-" + hashlib.sha1(f"{kind}|{title}".encode()).hexdigest()[:10]
    wide = " chart-wide" if width > SIDE_WIDTH else ""
    head = (
        f'<svg class="chart chart-{kind}{wide}" viewBox="0 0 {width} {height}"'
        f' aria-labelledby="{chart_id}" focusable="false">'
        f'<title id="{chart_id}">{escape(title)}</title>'
    )
    return chart_id, head


def _tip(x: float, y: float, text: str, width: int) -> str:
    anchor = "middle"
    if x < 40:
        anchor = "start"
    elif x > width - 40:
        anchor = "end"
    return (
        f'<text class="tip" x="{x:.1f}" y="{max(y - 8, 12):.1f}" text-anchor="{anchor}">'
        f"{escape(text)}</text>"
    )


def _link(datum: Datum, body: str) -> str:
    label = escape(datum.text)
    if datum.href:
        return (
            f'<a href="{escape(datum.href)}" aria-label="{label}"><title>{label}</title>{body}</a>'
        )
    return f'<g tabindex="0" aria-label="{label}"><title>{label}</title>{body}</g>'


def bar_chart(
    data: Sequence[Datum],
    *,
    title: str,
    width: int = WIDTH,
    height: int = HEIGHT,
    percent: bool = False,
) -> Svg:
    """Vertical bars, one per datum; a bar is a link when its datum has an href."""
    frame = _Frame(len(data), max((d.value for d in data), default=0), percent, width, height)
    _, head = _open("bars", title, width, height)
    parts = [head, *frame.axes([d.label for d in data])]
    for i, datum in enumerate(data):
        left, slot = frame.slot(i)
        gap = min(slot * 0.2, 6)
        top = frame.y(datum.value)
        bar = (
            f'<rect class="hit" x="{left:.1f}" y="{frame.y1}" width="{slot:.1f}"'
            f' height="{frame.y0 - frame.y1}"/>'
            f'<rect class="bar s0" x="{left + gap / 2:.1f}" y="{top:.1f}"'
            f' width="{max(slot - gap, 1):.1f}" height="{frame.y0 - top:.1f}"/>'
        )
        short = _format_tick(datum.value, percent) if percent else f"{datum.value:g}"
        parts.append(_link(datum, bar + _tip(left + slot / 2, top, short, width)))
    parts.append("</svg>")
    return Svg("".join(parts))


def line_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    width: int = WIDTH,
    height: int = HEIGHT,
    percent: bool = False,
) -> Svg:
    """One line per series over shared x labels; each point is a link with its count."""
    top = max((d.value for s in series for d in s.data), default=0)
    frame = _Frame(len(labels), top, percent, width, height)
    _, head = _open("lines", title, width, height)
    parts = [head, *frame.axes(labels)]
    for number, line in enumerate(series):
        css = f"s{number % SERIES_CLASSES}"
        points = []
        for i, datum in enumerate(line.data):
            left, slot = frame.slot(i)
            points.append((left + slot / 2, frame.y(datum.value)))
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<polyline class="line {css}" points="{path}"/>')
        parts.append(f'<g class="points {css}">')
        for (x, y), datum in zip(points, line.data, strict=True):
            short = _format_tick(datum.value, percent) if percent else f"{datum.value:g}"
            dot = (
                f'<circle class="hit" cx="{x:.1f}" cy="{y:.1f}" r="9"/>'
                f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="2.5"/>'
            )
            parts.append(_link(datum, dot + _tip(x, y, short, width)))
        parts.append("</g>")
    parts.append("</svg>")
    return Svg("".join(parts))
