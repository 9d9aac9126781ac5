"""Server-side SVG charts: well-formed, scaled to the data, and carrying the figures as text."""

from __future__ import annotations

from datetime import date, timedelta
from xml.etree import ElementTree as ET

from containerguard.server.webui.charts import TrendPoint, severity_bars, trend_lines

NS = "{http://www.w3.org/2000/svg}"


def test_bars_scale_to_the_largest_count_and_say_the_figures():
    svg = ET.fromstring(severity_bars({"critical": 5, "high": 10, "low": 0}))
    rects = {r.get("class"): float(r.get("width")) for r in svg.iter(f"{NS}rect")}
    assert rects["sev-high"] > rects["sev-critical"] > 0
    assert abs(rects["sev-high"] - 2 * rects["sev-critical"]) < 0.2
    assert rects["sev-low"] == 0
    assert "critical: 5" in svg.find(f"{NS}desc").text and "high: 10" in svg.find(f"{NS}desc").text
    texts = [t.text for t in svg.iter(f"{NS}text")]
    assert "10" in texts and "5" in texts


def test_bars_with_no_data_are_still_valid():
    svg = ET.fromstring(severity_bars({}))
    assert all(float(r.get("width")) == 0 for r in svg.iter(f"{NS}rect"))


def test_trend_has_one_line_per_severity_and_rises_with_the_data():
    start = date(2026, 11, 1)
    points = [TrendPoint(start + timedelta(days=i), {"critical": i, "high": 30 - i}) for i in range(30)]
    svg = ET.fromstring(trend_lines(points))
    lines = {p.get("class"): p.get("points").split() for p in svg.iter(f"{NS}polyline")}
    assert set(lines) == {"line-critical", "line-high", "line-medium"}
    crit_y = [float(xy.split(",")[1]) for xy in lines["line-critical"]]
    assert crit_y[0] > crit_y[-1]  # SVG y grows downwards: a rising count goes up
    assert len(crit_y) == 30
    assert "2026-11-30" in svg.find(f"{NS}desc").text


def test_trend_edge_cases():
    assert ET.fromstring(trend_lines([])).find(f"{NS}desc").text == "no data yet"
    one = ET.fromstring(trend_lines([TrendPoint(date(2026, 1, 1), {"critical": 3})]))
    assert len(list(one.iter(f"{NS}circle"))) == 3


def test_titles_are_escaped():
    svg = severity_bars({}, title='<script>alert(1)</script>"')
    assert "<script>" not in svg
    ET.fromstring(svg)
