"""A small bar chart of per-post counts as server-rendered SVG (no script, no library).

`bar_chart` is pure: it takes labelled values and returns the figures a template draws,
so the page stays within the strict CSP (no inline script or style; colours come from
CSS classes) and the geometry is unit-tested without a browser.
"""

from __future__ import annotations

from dataclasses import dataclass

# Drawing units of the viewBox; the SVG scales to its container's width.
WIDTH = 320
HEIGHT = 120
# Room under the bars for the labels and above them for the tallest value.
LABEL_BAND = 16
TOP_BAND = 12
GAP = 4
# A bar no wider than this: two posts should not look like two walls.
BAR_MAX = 36
# More bars than this would be too thin to read at 360 px; the newest are kept.
MAX_BARS = 12


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    baseline: float
    bars: list[Bar]
    peak: int


def bar_chart(points: list[tuple[str, int]]) -> Chart:
    """Bars for `points` (label, value ≥ 0) left to right, scaled so the largest value
    fills the plot height; an all-zero series draws flat bars. Keeps the last `MAX_BARS`."""
    kept = points[-MAX_BARS:]
    baseline = float(HEIGHT - LABEL_BAND)
    plot = baseline - TOP_BAND
    peak = max((max(value, 0) for _, value in kept), default=0)
    bars: list[Bar] = []
    if kept:
        slot = WIDTH / len(kept)
        width = min(max(slot - GAP, 1.0), BAR_MAX)
        for index, (label, value) in enumerate(kept):
            value = max(value, 0)
            height = plot * value / peak if peak else 0.0
            bars.append(
                Bar(
                    label=label,
                    value=value,
                    x=round(index * slot + (slot - width) / 2, 2),
                    y=round(baseline - height, 2),
                    width=round(width, 2),
                    height=round(height, 2),
                )
            )
    return Chart(width=WIDTH, height=HEIGHT, baseline=baseline, bars=bars, peak=peak)
