"""Small charts drawn on the server as inline SVG: no script, no library, readable without
colour (every bar has a title)."""

from __future__ import annotations

import math

from markupsafe import Markup, escape

from ironworks.model import TaskStatus

COLOURS = {
    TaskStatus.COMPLETE: "#2e7d32",
    TaskStatus.ERROR: "#c62828",
    TaskStatus.TIMEOUT: "#ef6c00",
    TaskStatus.KILLED: "#6a1b9a",
    TaskStatus.CANCELLED: "#757575",
}


def per_minute(buckets: list[dict[str, int]], width: int = 600, height: int = 120) -> Markup:
    """Stacked bars, one per minute (oldest left): tasks ended by status."""
    most = max([sum(b.values()) for b in buckets] + [1])
    step = width / max(len(buckets), 1)
    bars = []
    for i, bucket in enumerate(buckets):
        y: float = height
        for status, colour in COLOURS.items():
            count = bucket.get(status, 0)
            if not count:
                continue
            h = count / most * (height - 14)
            y -= h
            minutes_ago = len(buckets) - 1 - i
            bars.append(
                f'<rect x="{i * step:.1f}" y="{y:.1f}" width="{max(step - 1, 1):.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{count} {status}, '
                f"{minutes_ago} min ago</title></rect>"
            )
    label = f'<text x="0" y="11" font-size="12">max {most}/min</text>'
    return _svg(width, height, "Tasks ended per minute, last hour", [label, *bars])


def run_times(rows: list[tuple[str, float, float]], width: int = 600) -> Markup:
    """Per code: a bar to its p95 run time with a mark at its p50 (seconds)."""
    if not rows:
        return Markup("<p class=muted>No finished tasks yet.</p>")
    longest = max(p95 for _, _, p95 in rows) or 1.0
    left, row_h = 140, 22
    parts = []
    for i, (name, p50, p95) in enumerate(rows):
        y = i * row_h
        w95, w50 = p95 / longest * (width - left - 90), p50 / longest * (width - left - 90)
        parts.append(
            f'<text x="0" y="{y + 15}" font-size="12">{escape(name[:20])}</text>'
            f'<rect x="{left}" y="{y + 4}" width="{max(w95, 1):.1f}" height="14" fill="#90caf9">'
            f"<title>{escape(name)}: p95 {p95:.2f} s</title></rect>"
            f'<rect x="{left + w50:.1f}" y="{y + 2}" width="2" height="18" fill="#0d47a1">'
            f"<title>{escape(name)}: p50 {p50:.2f} s</title></rect>"
            f'<text x="{left + max(w95, 1) + 6:.1f}" y="{y + 15}" font-size="12">'
            f"{p50:.2f} / {p95:.2f} s</text>"
        )
    return _svg(width, len(rows) * row_h, "Run time p50 / p95 per code", parts)


def percentile(values: list[float], fraction: float) -> float:
    """Nearest rank: the smallest value with at least `fraction` of the values at or below."""
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)), 1) - 1]


def _svg(width: int, height: int, title: str, parts: list[str]) -> Markup:
    """Drawn at its own size, never scaled (scaled down on a phone its labels could not be
    read): a narrow screen scrolls it inside its box."""
    return Markup(
        f'<div class="chart-wrap"><svg class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>{''.join(parts)}</svg></div>"
    )
