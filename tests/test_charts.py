"""Server-rendered SVG charts: what the floor and reports embed instead of a chart library."""

from __future__ import annotations

import re

import pytest

from web.charts import ChartError, Series, bar_chart, hbar_chart, line_chart, nice_ceiling, percent


def test_a_line_chart_draws_one_line_per_series_with_its_name_in_the_legend() -> None:
    svg = str(line_chart(["08:00", "09:00", "10:00"], [Series("Calls", [1, 5, 3]), Series("Connects", [0, 2, 1])],
                         title="Per hour", y_label="calls"))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<polyline") == 2
    assert ">Calls</text>" in svg and ">Connects</text>" in svg
    assert ">09:00</text>" in svg and ">calls</text>" in svg


def test_a_line_chart_puts_the_highest_value_at_the_top_of_a_round_axis() -> None:
    svg = str(line_chart(["a", "b"], [Series("x", [0, 8])], title="t", height=240))
    points = re.search(r'points="([^"]+)"', svg).group(1).split()  # type: ignore[union-attr]
    y_zero, y_eight = (float(p.split(",")[1]) for p in points)
    assert y_zero == pytest.approx(240 - 30)  # the bottom of the plot
    assert y_eight == pytest.approx(28 + (240 - 30 - 28) * (1 - 8 / 10))  # the axis tops out at 10
    assert ">10</text>" in svg


def test_a_gap_in_a_series_breaks_its_line_instead_of_drawing_zero() -> None:
    svg = str(line_chart(["a", "b", "c", "d", "e"], [Series("rate", [0.01, 0.02, None, 0.01, 0.03])], title="t"))
    assert svg.count("<polyline") == 2


def test_labels_and_names_are_escaped_so_a_campaign_name_cannot_inject_markup() -> None:
    svg = str(bar_chart(["<b>"], [Series("<script>x</script>", [3])], title="a & b"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "&lt;b&gt;" in svg and "a &amp; b" in svg


def test_a_series_with_the_wrong_number_of_values_is_refused_naming_it() -> None:
    with pytest.raises(ChartError, match="series 'Calls'"):
        line_chart(["a", "b"], [Series("Calls", [1])], title="t")
    with pytest.raises(ChartError, match="series"):
        bar_chart(["a"], [], title="t")


def test_bars_are_as_tall_as_their_share_of_the_axis() -> None:
    svg = str(bar_chart(["h1", "h2"], [Series("Calls", [10, 5])], title="t", height=240))
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', svg)]
    assert len(heights) == 2
    assert heights[0] == pytest.approx(2 * heights[1])


def test_a_horizontal_bar_chart_shows_each_agent_with_their_value() -> None:
    svg = str(hbar_chart([("Alice", 0.8), ("Bob", 0.25)], title="Occupancy", value_format=lambda v: f"{v:.0%}",
                         max_value=1.0))
    assert ">Alice</text>" in svg and ">80%</text>" in svg and ">25%</text>" in svg
    with pytest.raises(ChartError, match="Bob"):
        hbar_chart([("Bob", -1.0)], title="t")


def test_a_chart_without_data_says_so() -> None:
    assert "No data yet" in str(line_chart([], [Series("x", [])], title="t"))
    assert "No data yet" in str(hbar_chart([], title="t"))


def test_axis_tops_and_percent_labels_are_round() -> None:
    assert [nice_ceiling(v) for v in (0, 0.7, 3, 7, 11, 240)] == [1.0, 1.0, 5.0, 10.0, 20.0, 250.0]
    assert percent(0.025) == "2.5%" and percent(0.03) == "3%"
