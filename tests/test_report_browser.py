"""The shareable HTML incident report: one file, no network, the root cause visible in a real browser."""
from __future__ import annotations

import json
import re

import pytest

from conftest import assert_readable, launch_chromium, run_cli, sync_playwright
from interplay.api import Interplay
from interplay.testbed import simulate
from interplay.testing import TraceBuilder, traces_request

pytestmark = pytest.mark.integration


def test_html_report_is_self_contained_and_shows_the_root_cause(tmp_path):
    truth = simulate("shop", "errors", seed=2, out=tmp_path / "case.jsonl", duration_s=900, rate_per_s=3)
    hostile = TraceBuilder(1_767_225_600 * 10**9 + 10**9, seed=5)
    hostile.span("<img src=x onerror=alert(1)>", "<script>alert(2)</script>", duration_ms=3)
    (tmp_path / "hostile.jsonl").write_text(json.dumps(traces_request([hostile])) + "\n")
    db = tmp_path / "r.duckdb"
    ip = Interplay.open(db)
    for name in ("case.jsonl", "case.jsonl.changes.jsonl", "hostile.jsonl"):
        ip.ingest_file(tmp_path / name)
    ip.close()
    report = tmp_path / "incident.html"
    run_cli("investigate", "--db", str(db), "--format", "html", "--output", str(report))
    html = report.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "external reference in report"
    assert "<svg" in html  # the symptom charts are inline
    requests: list[str] = []
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(report.as_uri())
        text = page.inner_text("body")
        browser.close()
    assert f"Most likely root cause: {truth['service']}" in text
    assert_readable(text, "the HTML report")
    assert not dialogs
    assert all(url.startswith("file://") for url in requests), requests
