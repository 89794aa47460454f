"""The server-side SVG chart: well-formed, accessible, escaped, and free of inline styles."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest

from labelhouse.web.charts import Bar, axis_scale, bar_chart, daily_bars

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))  # raises if the markup is not well-formed XML


@pytest.mark.parametrize(
    ("highest", "top", "step"),
    [(0, 1, 1), (1, 1, 1), (3, 3, 1), (9, 10, 2), (10, 10, 2), (57, 60, 20), (1234, 1500, 500)],
)
def test_axis_uses_round_whole_steps(highest, top, step):
    assert axis_scale(highest) == (top, step)


def test_axis_for_fractions():
    top, step = axis_scale(0.5, integer=False)
    assert top == pytest.approx(0.5) and step == pytest.approx(0.1)


def test_bars_titles_and_labels():
    bars = [Bar("a", 3, "A: 3"), Bar("b", 0, "B: 0"), Bar("c", 9, "C: 9")]
    root = parse(bar_chart(bars, label="Per day", label_every=2))
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img" and root.get("aria-label") == "Per day"
    groups = root.findall(f"{SVG}g")
    assert [g.find(f"{SVG}title").text for g in groups] == ["A: 3", "B: 0", "C: 9"]
    heights = [float(g.findall(f"{SVG}rect")[1].get("height")) for g in groups]
    assert heights[1] == 0 and 0 < heights[0] < heights[2]
    # the tallest bar (9 of an axis up to 10) is 90% of the plot height
    plot = float(groups[0].findall(f"{SVG}rect")[0].get("height"))
    assert heights[2] == pytest.approx(0.9 * plot, abs=0.1)
    x_labels = [t.text for t in root.findall(f"{SVG}text") if "x" in t.get("class").split()]
    assert x_labels == ["a", "c"]  # every second bar labelled
    y_labels = [t.text for t in root.findall(f"{SVG}text") if "y" in t.get("class").split()]
    assert y_labels == ["0", "2", "4", "6", "8", "10"]


def test_text_is_escaped():
    evil = '<script>alert(1)</script>"&'
    markup = str(bar_chart([Bar(evil, 1, evil)], label=evil))
    assert "<script>" not in markup
    root = parse(markup)  # still well-formed
    assert root.get("aria-label") == evil
    assert root.find(f"{SVG}g/{SVG}title").text == evil


def test_no_inline_styles_or_scripts():
    markup = str(bar_chart([Bar(str(i), i, f"{i}") for i in range(30)], label="x"))
    assert "style" not in markup and "script" not in markup.lower()
    assert not re.search(r"\son\w+=", markup)


def test_empty_chart_is_valid():
    root = parse(bar_chart([], label="Nothing"))
    assert root.findall(f"{SVG}g") == []


def test_daily_bars():
    start = date(2026, 11, 1)
    bars = daily_bars([(start, 1), (start + timedelta(days=1), 0), (start + timedelta(days=2), 5)])
    assert [b.label for b in bars] == ["11-01", "11-02", "11-03"]
    assert [b.title for b in bars] == [
        "2026-11-01: 1 annotation",
        "2026-11-02: 0 annotations",
        "2026-11-03: 5 annotations",
    ]
    assert [b.value for b in bars] == [1, 0, 5]


def test_reliability_chart_places_bins_and_escapes_text():
    from labelhouse.quality.calibration import ReliabilityBin
    from labelhouse.web.reliability_chart import reliability_chart

    before = [ReliabilityBin(0.9, 1.0, 30, 0.99, 0.7)]
    after = [ReliabilityBin(0.6, 0.7, 20, 0.68, 0.65), ReliabilityBin(0.7, 0.8, 10, 0.72, 0.8)]
    svg = str(reliability_chart(before, after, label="<b>label</b>: reliability"))
    assert "&lt;b&gt;label&lt;/b&gt;: reliability" in svg and "<b>" not in svg
    assert svg.count('<g class="point flagged">') == 1 and svg.count('<g class="point">') == 2
    assert "raw: 30 gold tasks at confidence 0.9–1.0 (mean 0.990), accuracy 0.700" in svg
    assert 'class="baseline diagonal"' in svg
