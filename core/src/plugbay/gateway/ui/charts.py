"""Charts drawn on the server as SVG: nothing to load in the browser, nothing to build."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from plugbay.gateway.ui.html import e, money

__all__ = ["lines"]

COLOURS = ("#3b7ddd", "#d9534f", "#2a9d8f", "#e9a23b", "#7b5ea7", "#5b6474", "#c2185b",
           "#8bc34a", "#00838f")


def _label(ts: int, hourly: bool) -> str:
    when = dt.datetime.fromtimestamp(ts, dt.timezone.utc)
    return when.strftime("%m-%d %H:00" if hourly else "%Y-%m-%d")


def lines(buckets: Sequence[int], series: Mapping[str, Mapping[int, float]], *,
          hourly: bool, width: int = 1000, height: int = 300) -> str:
    """Cost per bucket, one line per series (their order is the legend's)."""
    if not buckets:
        return "<p class=muted>no calls in this range</p>"
    left, right, top, bottom = 70, 170, 12, 40
    w, h = width - left - right, height - top - bottom
    peak = max((v for s in series.values() for v in s.values()), default=0.0) or 1.0
    step = w / max(len(buckets) - 1, 1)

    def x(i: int) -> float:
        return left + i * step

    def y(v: float) -> float:
        return top + h - v / peak * h

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role=img aria-label="cost over time">',
           f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="#fff" '
           'stroke="#dde1e8"/>']
    for k in range(5):  # grid and cost labels
        v = peak * k / 4
        out.append(f'<line x1="{left}" x2="{left + w}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
                   'stroke="#eef0f4"/>')
        out.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">'
                   f"{money(v)}</text>")
    every = max(1, -(-len(buckets) // 7))  # at most 7 labels: they must not overlap
    for i, b in enumerate(buckets):
        if i % every == 0:
            out.append(f'<text x="{x(i):.1f}" y="{top + h + 16}" text-anchor="middle">'
                       f'{_label(b, hourly)}</text>')
    for n, (name, values) in enumerate(series.items()):
        colour = COLOURS[n % len(COLOURS)]
        points = " ".join(f"{x(i):.1f},{y(values.get(b, 0.0)):.1f}"
                          for i, b in enumerate(buckets))
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                   f'points="{points}"/>')
        if len(buckets) == 1:
            out.append(f'<circle cx="{x(0):.1f}" cy="{y(values.get(buckets[0], 0.0)):.1f}" '
                       f'r="4" fill="{colour}"/>')
        ly = top + 14 + n * 18
        out.append(f'<rect x="{left + w + 12}" y="{ly - 9}" width="10" height="10" '
                   f'fill="{colour}"/><text x="{left + w + 28}" y="{ly}">{e(name[:22])}'
                   "</text>")
    out.append("</svg>")
    return "".join(out)
