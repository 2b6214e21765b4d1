"""Server-rendered SVG charts: a line chart of several series, a grouped bar chart, a horizontal bar chart.

Pages carry no chart library and reach no CDN, so charts are drawn here as
inline SVG that the page embeds as it is.  Every text is escaped; sizes are in
SVG user units and the stylesheet scales the drawing to its card.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

PALETTE = ("#1f5eff", "#13804a", "#c3262f", "#8a4fd1", "#b86e00", "#0b8c9c")
INK = "#5f6b7a"
GRID = "#e6eaf0"


@dataclass(frozen=True)
class Series:
    """One named line or bar colour; ``values`` has one entry per x label (None: no data there)."""

    name: str
    values: Sequence[float | None]
    color: str | None = None
    dashed: bool = False


class ChartError(ValueError):
    """A chart was asked for with data that cannot be drawn; the message names the argument."""


def _fmt_number(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value / 1000:.1f}k".replace(".0k", "k")
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.2g}" if abs(value) < 1 else f"{value:.1f}"


def nice_ceiling(value: float) -> float:
    """The round number (1, 2, 2.5, 5 times a power of ten) at or above ``value``: the top of the y axis."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value * (1 - 1e-9):
            return float(step * power)
    return float(10 * power)  # pragma: no cover - the loop always returns


def _check(labels: Sequence[str], series: Sequence[Series]) -> None:
    if not series:
        raise ChartError("series: at least one series is needed")
    for one in series:
        if len(one.values) != len(labels):
            raise ChartError(f"series {one.name!r}: has {len(one.values)} values for {len(labels)} x labels")


def _label_every(count: int, room: float, width_per_label: float = 42.0) -> int:
    """Show every n-th x label so labels never overlap."""
    if count <= 1:
        return 1
    return max(1, math.ceil(count * width_per_label / max(room, 1.0)))


def _svg(width: int, height: int, title: str, body: list[str]) -> Markup:
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{escape(title)}" font-family="system-ui, sans-serif" font-size="11">'
            f"<title>{escape(title)}</title>")
    return Markup(head + "".join(body) + "</svg>")


def _legend(series: Sequence[Series], x: float, y: float) -> list[str]:
    out = []
    for i, one in enumerate(series):
        color = one.color or PALETTE[i % len(PALETTE)]
        dash = ' stroke-dasharray="4 3"' if one.dashed else ""
        out.append(f'<line x1="{x:.1f}" y1="{y - 4:.1f}" x2="{x + 16:.1f}" y2="{y - 4:.1f}" stroke="{color}" '
                   f'stroke-width="3"{dash}/>')
        out.append(f'<text x="{x + 20:.1f}" y="{y:.1f}" fill="{INK}">{escape(one.name)}</text>')
        x += 28 + 6.5 * len(one.name)
    return out


def _y_axis(top: float, plot: tuple[float, float, float, float], fmt: Callable[[float], str],
            y_label: str) -> list[str]:
    left, upper, right, lower = plot
    out = []
    for i in range(5):
        value = top * i / 4
        y = lower - (lower - upper) * i / 4
        out.append(f'<line x1="{left:.1f}" y1="{y:.1f}" x2="{right:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        out.append(f'<text x="{left - 6:.1f}" y="{y + 4:.1f}" text-anchor="end" fill="{INK}">'
                   f"{escape(fmt(value))}</text>")
    if y_label:
        mid = (upper + lower) / 2
        out.append(f'<text transform="translate(12 {mid:.1f}) rotate(-90)" text-anchor="middle" '
                   f'fill="{INK}">{escape(y_label)}</text>')
    return out


def line_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    y_label: str = "",
    y_format: Callable[[float], str] = _fmt_number,
    y_max: float | None = None,
    width: int = 640,
    height: int = 240,
) -> Markup:
    """Lines over shared x labels, with a y axis from 0 to a round top and a legend."""
    _check(labels, series)
    if not labels:
        return _empty(title, width, height)
    values = [v for one in series for v in one.values if v is not None]
    top = y_max if y_max is not None else nice_ceiling(max(values, default=0.0))
    left, upper, right, lower = 52.0, 28.0, width - 14.0, height - 30.0
    body = _y_axis(top, (left, upper, right, lower), y_format, y_label)
    step = (right - left) / max(len(labels) - 1, 1)
    every = _label_every(len(labels), right - left)
    for i, label in enumerate(labels):
        if i % every == 0:
            x = left + i * step
            body.append(f'<text x="{x:.1f}" y="{lower + 16:.1f}" text-anchor="middle" fill="{INK}">'
                        f"{escape(label)}</text>")
    for n, one in enumerate(series):
        color = one.color or PALETTE[n % len(PALETTE)]
        dash = ' stroke-dasharray="5 4"' if one.dashed else ""
        runs: list[list[tuple[float, float]]] = [[]]
        for i, value in enumerate(one.values):
            if value is None:
                runs.append([])
                continue
            y = lower - (lower - upper) * min(value, top) / top
            runs[-1].append((left + i * step, y))
        for run in runs:
            if len(run) >= 2:
                points = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
                body.append(f'<polyline fill="none" stroke="{color}" stroke-width="2.2"{dash} '
                            f'stroke-linejoin="round" points="{points}"><title>{escape(one.name)}</title></polyline>')
            elif len(run) == 1:
                x, y = run[0]
                body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.6" fill="{color}"/>')
    body += _legend(series, left, 16.0)
    return _svg(width, height, title, body)


def bar_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    y_label: str = "",
    y_format: Callable[[float], str] = _fmt_number,
    width: int = 640,
    height: int = 240,
) -> Markup:
    """Vertical bars, the series side by side in each x slot (e.g. calls and connects per hour)."""
    _check(labels, series)
    if not labels:
        return _empty(title, width, height)
    values = [v for one in series for v in one.values if v is not None]
    top = nice_ceiling(max(values, default=0.0))
    left, upper, right, lower = 52.0, 28.0, width - 14.0, height - 30.0
    body = _y_axis(top, (left, upper, right, lower), y_format, y_label)
    slot = (right - left) / len(labels)
    bar = max(1.0, slot * 0.8 / len(series))
    every = _label_every(len(labels), right - left)
    for i, label in enumerate(labels):
        x0 = left + i * slot + slot * 0.1
        for n, one in enumerate(series):
            value = one.values[i]
            if value is None or value <= 0:
                continue
            color = one.color or PALETTE[n % len(PALETTE)]
            h = (lower - upper) * min(value, top) / top
            body.append(f'<rect x="{x0 + n * bar:.1f}" y="{lower - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                        f'fill="{color}" rx="1.5"><title>{escape(label)} · {escape(one.name)}: '
                        f"{escape(y_format(value))}</title></rect>")
        if i % every == 0:
            body.append(f'<text x="{left + (i + 0.5) * slot:.1f}" y="{lower + 16:.1f}" text-anchor="middle" '
                        f'fill="{INK}">{escape(label)}</text>')
    body += _legend(series, left, 16.0)
    return _svg(width, height, title, body)


def hbar_chart(
    items: Sequence[tuple[str, float]],
    *,
    title: str,
    value_format: Callable[[float], str] = _fmt_number,
    max_value: float | None = None,
    color: str = PALETTE[0],
    width: int = 640,
    row_height: int = 24,
) -> Markup:
    """One horizontal bar per item (e.g. occupancy per agent), labelled at its left and valued at its end."""
    if not items:
        return _empty(title, width, 80)
    for label, value in items:
        if not math.isfinite(value) or value < 0:
            raise ChartError(f"items: the value of {label!r} must be a number >= 0, not {value!r}")
    top = max_value if max_value is not None else nice_ceiling(max(v for _, v in items))
    label_w = min(220.0, 14.0 + 7.0 * max(len(label) for label, _ in items))
    left, right = label_w, width - 60.0
    height = 12 + row_height * len(items)
    body = []
    for i, (label, value) in enumerate(items):
        y = 6 + i * row_height
        w = (right - left) * min(value, top) / top if top > 0 else 0.0
        body.append(f'<text x="{left - 8:.1f}" y="{y + row_height * 0.62:.1f}" text-anchor="end" fill="{INK}">'
                    f"{escape(label)}</text>")
        body.append(f'<rect x="{left:.1f}" y="{y + 3:.1f}" width="{right - left:.1f}" height="{row_height - 8}" '
                    f'fill="{GRID}" rx="3"/>')
        body.append(f'<rect x="{left:.1f}" y="{y + 3:.1f}" width="{w:.1f}" height="{row_height - 8}" '
                    f'fill="{color}" rx="3"><title>{escape(label)}: {escape(value_format(value))}</title></rect>')
        body.append(f'<text x="{right + 6:.1f}" y="{y + row_height * 0.62:.1f}" fill="{INK}">'
                    f"{escape(value_format(value))}</text>")
    return _svg(width, height, title, body)


def percent(value: float) -> str:
    """A fraction as a percentage for axis labels: 0.025 -> '2.5%'."""
    text = f"{value * 100:.1f}".rstrip("0").rstrip(".")
    return f"{text}%"


def _empty(title: str, width: int, height: int) -> Markup:
    return _svg(width, height, title, [
        f'<text x="{width / 2:.1f}" y="{height / 2:.1f}" text-anchor="middle" fill="{INK}">No data yet</text>'
    ])
