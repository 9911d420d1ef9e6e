"""Investigations hold when the data is messy: a stray span hours away, a window reaching past the data."""
from __future__ import annotations

import json

import pytest

from interplay.api import Interplay
from interplay.model import TimeRange
from interplay.model_results import to_json
from interplay.testbed import simulate
from interplay.testing import TraceBuilder, traces_request
from interplay.timeutil import parse_time_ns

HOUR = 3600 * 10**9


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("robust")
    truth = simulate("shop", "errors", seed=2, out=tmp / "case.jsonl", duration_s=900, rate_per_s=3)
    start = parse_time_ns(truth["start"])
    stray = TraceBuilder(start - 2 * HOUR, seed=5)  # a span from a host with a badly skewed clock
    stray.span("frontend", "POST /checkout", duration_ms=3)
    (tmp / "stray.jsonl").write_text(json.dumps(traces_request([stray])) + "\n")
    ip = Interplay.open(":memory:")
    for name in ("case.jsonl", "case.jsonl.changes.jsonl", "stray.jsonl"):
        ip.ingest_file(tmp / name)
    yield ip, truth, start
    ip.close()


def test_stray_span_hours_early_does_not_dilute_the_baseline(case):
    ip, truth, start = case
    r = to_json(ip.investigate())
    assert r["root_causes"][0]["service"] == truth["service"]
    assert r["windows"]["baseline"]["since_ns"] >= start


def test_window_reaching_far_before_the_data(case):
    ip, truth, start = case
    r = to_json(ip.investigate(window=TimeRange(start - 6 * HOUR, None)))
    assert r["root_causes"][0]["service"] == truth["service"]
