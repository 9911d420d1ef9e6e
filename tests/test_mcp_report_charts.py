"""Inline SVG charts for the HTML incident report (report_charts.py)."""
from __future__ import annotations

import re

from interplay.api import Interplay
from interplay.model_telemetry import ChangeMark, SymptomBucket
from interplay.report_charts import charts_html, render_svg, symptom_series
from test_mcp import case_db  # noqa: F401  (fixture)


def test_charts_of_an_investigation_are_self_contained(case_db):  # noqa: F811
    ip = Interplay.open(case_db, read_only=True)
    result = ip.investigate()
    series = symptom_series(ip, result)
    assert len(series["buckets"]) >= 50
    before = [b for b in series["buckets"] if b.t_ns < series["onset_ns"]]
    after = [b for b in series["buckets"] if b.t_ns >= series["onset_ns"]]
    rate = lambda bs: sum(b.errors for b in bs) / sum(b.requests for b in bs)  # noqa: E731
    assert rate(after) > 5 * rate(before)
    html = charts_html(ip, result)
    assert html.count("<svg") == 2 and "onset" in html
    assert not re.search(r"https?:|<script|href=|src=", html)


def test_change_markers_and_escaping():
    series = {"buckets": [SymptomBucket(0, 4, 0, 3.0), SymptomBucket(60 * 10**9, 4, 2, 30.0)],
              "onset_ns": 50 * 10**9, "label": "<b>x</b>",
              "changes": [ChangeMark(40 * 10**9, "pay<ment>", "deploy", "rollout & more", "2")]}
    svg = render_svg(series)
    assert "<title>deploy pay&lt;ment&gt; 2: rollout &amp; more</title>" in svg
    assert "<b>" not in svg and "&lt;b&gt;x" in svg
