"""Small server-side SVG plots for the pages: waterfall (best change per subject) and spider (per-lesion change).

Plain SVG strings with escaped text, so pages need no plotting library in the browser.
"""

from __future__ import annotations

from html import escape

__all__ = ["CATEGORY_COLOURS", "spider_svg", "waterfall_svg"]

CATEGORY_COLOURS = {"CR": "#1a9850", "PR": "#91cf60", "SD": "#fee08b", "PD": "#d73027", "NE": "#999999"}
_W, _H, _PAD = 640, 260, 40


def _y(value: float, low: float, high: float) -> float:
    return _PAD + (high - value) / (high - low) * (_H - 2 * _PAD)


def waterfall_svg(bars: list[tuple[str, float, str | None]]) -> str:
    """Waterfall plot: ``(label, best % change, category)`` per subject, largest increase first."""
    if not bars:
        return '<svg class="plot" width="640" height="60" role="img"><text x="10" y="30">no follow-up yet</text></svg>'
    bars = sorted(bars, key=lambda b: -b[1])
    high = max(30.0, max(b[1] for b in bars) * 1.1)
    low = min(-100.0, min(b[1] for b in bars) * 1.1)
    width = (_W - 2 * _PAD) / len(bars)
    parts = [(f'<svg class="plot waterfall" viewBox="0 0 {_W} {_H}" width="{_W}" height="{_H}" role="img" '
              'aria-label="waterfall plot of best percent change">')]
    for ref in (20.0, -30.0):
        if low < ref < high:
            parts.append(f'<line x1="{_PAD}" x2="{_W - _PAD}" y1="{_y(ref, low, high):.1f}" y2="{_y(ref, low, high):.1f}" '
                         f'stroke="#888" stroke-dasharray="4 3"/>')
    zero = _y(0.0, low, high)
    for i, (label, change, category) in enumerate(bars):
        top, bottom = sorted((zero, _y(change, low, high)))
        colour = CATEGORY_COLOURS.get(category or "", "#4575b4")
        parts.append(f'<rect x="{_PAD + i * width + 2:.1f}" y="{top:.1f}" width="{max(width - 4, 1):.1f}" '
                     f'height="{max(bottom - top, 2):.1f}" fill="{colour}"><title>{escape(label)}: {change:+.1f} % '
                     f'({escape(category or "")})</title></rect>')
    parts.append(f'<line x1="{_PAD}" x2="{_W - _PAD}" y1="{zero:.1f}" y2="{zero:.1f}" stroke="#000"/>')
    parts.append(f'<text x="4" y="{_PAD - 8}" font-size="11">best change of target sum (%)</text>')
    for value in (high, 0.0, low):
        parts.append(f'<text x="2" y="{_y(value, low, high) + 4:.1f}" font-size="10">{value:+.0f}</text>')
    parts.append("</svg>")
    return "".join(parts)


def spider_svg(series: dict[str, list[tuple[float, float]]]) -> str:
    """Spider plot: per lesion, ``(days since baseline, % change from baseline)`` points joined by lines."""
    points = [p for pts in series.values() for p in pts]
    if not points:
        return '<svg class="plot" width="640" height="60" role="img"><text x="10" y="30">no lesion values</text></svg>'
    max_day = max(1.0, max(p[0] for p in points))
    high = max(30.0, max(p[1] for p in points) * 1.1)
    low = min(-100.0, min(p[1] for p in points) * 1.1)

    def x(day: float) -> float:
        return _PAD + day / max_day * (_W - 2 * _PAD)

    parts = [(f'<svg class="plot spider" viewBox="0 0 {_W} {_H}" width="{_W}" height="{_H}" role="img" '
              'aria-label="spider plot of lesion change">')]
    zero = _y(0.0, low, high)
    parts.append(f'<line x1="{_PAD}" x2="{_W - _PAD}" y1="{zero:.1f}" y2="{zero:.1f}" stroke="#000"/>')
    palette = ["#d73027", "#4575b4", "#fdae61", "#1a9850", "#762a83", "#e08214"]
    for i, (name, pts) in enumerate(sorted(series.items())):
        colour = palette[i % len(palette)]
        coords = " ".join(f"{x(d):.1f},{_y(c, low, high):.1f}" for d, c in sorted(pts))
        parts.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for d, c in pts:
            parts.append(f'<circle cx="{x(d):.1f}" cy="{_y(c, low, high):.1f}" r="3" fill="{colour}">'
                         f'<title>{escape(name)}: day {d:.0f}, {c:+.1f} %</title></circle>')
        last = max(pts)
        parts.append(f'<text x="{x(last[0]) + 5:.1f}" y="{_y(last[1], low, high):.1f}" font-size="10" '
                     f'fill="{colour}">{escape(name)}</text>')
    parts.append(f'<text x="4" y="{_PAD - 8}" font-size="11">volume change from baseline (%) vs days</text>')
    for value in (high, 0.0, low):
        parts.append(f'<text x="2" y="{_y(value, low, high) + 4:.1f}" font-size="10">{value:+.0f}</text>')
    parts.append("</svg>")
    return "".join(parts)
