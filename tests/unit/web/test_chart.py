"""The insights chart's geometry: what the SVG draws for a series of per-post views."""

from __future__ import annotations

from services.web.routes.admin.chart import BAR_MAX, HEIGHT, MAX_BARS, WIDTH, bar_chart


def test_the_largest_value_fills_the_plot_and_others_scale_to_it() -> None:
    chart = bar_chart([("#1", 10), ("#2", 5), ("#3", 0)])
    tallest, half, empty = chart.bars
    assert chart.peak == 10
    assert tallest.y + tallest.height == chart.baseline
    assert half.height == tallest.height / 2
    assert empty.height == 0 and empty.y == chart.baseline
    assert [b.label for b in chart.bars] == ["#1", "#2", "#3"]


def test_bars_stay_inside_the_drawing_left_to_right_without_overlap() -> None:
    chart = bar_chart([(f"#{n}", n) for n in range(1, 40)])
    assert len(chart.bars) == MAX_BARS
    assert chart.bars[-1].label == "#39"  # the newest are kept
    for left, right in zip(chart.bars, chart.bars[1:], strict=False):
        assert left.x + left.width <= right.x
    assert chart.bars[0].x >= 0 and chart.bars[-1].x + chart.bars[-1].width <= WIDTH
    assert all(0 <= b.y <= HEIGHT for b in chart.bars)


def test_few_bars_are_not_walls_and_no_data_draws_nothing() -> None:
    assert all(b.width <= BAR_MAX for b in bar_chart([("#1", 3), ("#2", 4)]).bars)
    empty = bar_chart([])
    assert empty.bars == [] and empty.peak == 0
    flat = bar_chart([("#1", 0), ("#2", 0)])
    assert flat.peak == 0 and all(b.height == 0 for b in flat.bars)
