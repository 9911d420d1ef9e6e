"""The web UI in a real browser (Playwright driving Debian's Chromium) against `interplay serve`.

A simulated incident (catalog slows down) is loaded; the tests open the map, run an investigation,
check the root cause and its highlighted chain, open the exemplar trace; then the hostile-span case,
the token prompt, the empty state and API errors.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import httpx
import pytest

from conftest import ROOT, assert_readable, launch_chromium, start_server, sync_playwright

XSS = "<img src=x onerror=alert(1)>"
EVIL_SERVICE = "<script>alert(2)</script>"
SCREENSHOT = ROOT / "docs" / "screenshot-investigation.png"

pytestmark = pytest.mark.integration


# -- data and servers ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    """Databases built once: the shop incident (+ a hostile trace), agent runs, and nothing."""
    from interplay.api import Interplay
    from interplay.testbed import simulate
    from interplay.testing import TraceBuilder, traces_request
    tmp = tmp_path_factory.mktemp("ui")
    truth = simulate("shop", "latency", seed=1, out=tmp / "case.jsonl", duration_s=480, rate_per_s=2)
    hostile = TraceBuilder(_ns(truth["start"]) + 5 * 10**9, seed=7)
    root = hostile.span(EVIL_SERVICE, XSS, duration_ms=40, error=True, message=XSS,
                        attributes={"note": "<b>bold?</b>"})
    call = root.child("frontend", "GET /", kind="CLIENT", offset_ms=5, duration_ms=20,
                      exception="TimeoutError", message="upstream timed out")
    call.events.append({"timeUnixNano": str(call.start_ns + 10**6), "name": "cache.miss",
                        "attributes": [{"key": "key", "value": {"stringValue": "<i>k</i>"}}]})
    (tmp / "hostile.json").write_text(json.dumps(traces_request([hostile])))
    shop = Interplay.open(tmp / "shop.duckdb")
    for name in ("case.jsonl", "case.jsonl.changes.jsonl", "hostile.json"):
        shop.ingest_file(tmp / name)
    shop.close()
    simulate("agentic", "agent_tool_loop", seed=1, out=tmp / "agents.jsonl", duration_s=480, rate_per_s=0.5)
    agents = Interplay.open(tmp / "agents.duckdb")
    agents.ingest_file(tmp / "agents.jsonl")
    agents.close()
    return {"shop": tmp / "shop.duckdb", "agents": tmp / "agents.duckdb", "dir": tmp,
            "hostile_trace": hostile.trace_id}


def _ns(rfc3339: str) -> int:
    from interplay.timeutil import parse_time_ns
    return parse_time_ns(rfc3339)


@pytest.fixture(scope="module")
def shop(data):
    srv = start_server(data["shop"], grpc=False)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    pg = context.new_page()
    pg.dialogs = []
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    # console errors count too (a failed fetch, a CSP refusal), except the 4xx a test asks for on purpose
    pg.on("console", lambda m: m.type == "error" and not getattr(pg, "expect_http_errors", False)
          and pg.errors.append(f"console: {m.text}"))
    pg.set_default_timeout(15000)
    yield pg
    context.close()


def _section(text: str, title: str) -> list[str]:
    """The lines under a heading (h3 headings read upper-case) up to the next heading."""
    lines = text.splitlines()
    heads = [i for i, line in enumerate(lines) if line.strip().isupper() and len(line.strip()) > 2]
    start = next((i for i in heads if lines[i].strip().lower() == title), None)
    if start is None:
        return []
    end = next((i for i in heads if i > start), len(lines))
    return lines[start + 1:end]


def _copy(db: Path, tmp_path: Path) -> Path:
    target = tmp_path / db.name
    shutil.copy(db, target)
    return target


# -- tests ---------------------------------------------------------------------------------------
def test_map_investigation_chain_and_exemplar_trace(shop, page, tmp_path):
    page.goto(shop.url + "/#/map")
    page.wait_for_selector("svg.graph .node[data-node='catalog']")
    assert page.locator("svg.graph .node[data-node='postgres'].kind-database").count() == 1
    assert page.locator("svg.graph .node.anomalous[data-node='catalog']").count() == 1
    assert page.locator("svg.graph path.edge").count() >= 10
    assert_readable(page.inner_text("#view"), "the map")
    graph = shop.get("/api/graph").json()
    for node in ("catalog", "frontend", "postgres"):
        page.locator(f"svg.graph .node[data-node='{node}']").click()
        page.wait_for_selector(f".side h2:has-text('{node}')")
        side = page.inner_text(".side")
        assert_readable(side, f"the map's panel for {node}")
        callers = {e["caller"] for e in graph["edges"] if e["callee"] == node}
        callees = {e["callee"] for e in graph["edges"] if e["caller"] == node}
        assert callers or callees
        called_by, calls = _section(side, "called by"), _section(side, "calls")
        assert {line.split()[0] for line in called_by if line.split()} >= callers, (node, side)
        assert {line.split()[0] for line in calls if line.split()} >= callees, (node, side)

    page.click("#nav a[data-view='investigate']")
    page.wait_for_selector("#investigate-form")
    page.wait_for_timeout(300)
    assert_readable(page.inner_text("#view"), "the Investigate page")
    page.click("#run-investigation")
    page.wait_for_selector("#causes li.selected", timeout=30000)
    assert page.inner_text("#causes li.selected .cause-name") == "catalog"
    assert page.locator("#inv-map .node.root-cause[data-node='catalog']").count() == 1
    chain = page.locator("ol.chain li .hop-name").all_inner_texts()
    assert chain[0].startswith("catalog") and chain[-1].startswith("frontend")
    assert page.locator("#inv-map path.edge.hot").count() >= len(chain) - 1
    for hop in chain:
        assert page.locator(f"#inv-map .node.on-path[data-node='{hop.split()[0]}']").count() == 1
    # each hop of the chain is a real caller→callee edge of the map
    services = [hop.split()[0] for hop in chain]
    edges = {(e["caller"], e["callee"]) for e in graph["edges"]}
    for callee, caller in zip(services, services[1:]):
        assert (caller, callee) in edges or callee == caller, (caller, callee)
    page.wait_for_selector("#timeline svg.chart .onset", state="attached")
    # the symptom's series and the top cause's
    page.wait_for_selector("#timeline h3.cause-series")
    assert "catalog" in page.inner_text("#timeline h3.cause-series").lower()
    assert page.locator("#timeline svg.chart").count() == 4
    assert page.locator("#evidence a.trace-link").count() >= 1
    page.wait_for_timeout(300)
    assert_readable(page.inner_text("#view"), "the investigation")
    # INTERPLAY_UPDATE_SCREENSHOT=1 refreshes the docs image; otherwise a test run leaves the tree clean
    shot = SCREENSHOT if os.environ.get("INTERPLAY_UPDATE_SCREENSHOT") else tmp_path / SCREENSHOT.name
    shot.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 50_000

    # another candidate selected: its chain shows, the ROOT CAUSE flag stays on #1
    page.locator("#causes li").nth(1).click()
    page.wait_for_selector("#causes li.selected[data-rank='2']")
    assert page.locator("#inv-map .node.root-cause[data-node='catalog']").count() == 1
    assert_readable(page.inner_text("#view"), "the investigation, second cause")
    page.locator("#causes li").first.click()
    page.wait_for_selector("#exemplar-failing")

    failing = page.get_attribute("#exemplar-failing", "href").rsplit("/", 1)[-1]
    # the chain is a path the failing requests really took: caller → callee spans in the exemplar trace
    assert _is_path_of(services[::-1], shop.get(f"/api/traces/{failing}").json()), (services, failing)
    # evidence reads in units: self time as durations
    assert any("ms →" in t for t in page.locator("#evidence td.n").all_inner_texts())

    page.click("#exemplar-failing")
    page.wait_for_selector(".waterfall .span-row")
    assert "/#/trace/" in page.url
    services = page.locator(".span-row .svc").all_inner_texts()
    assert "catalog" in services and "frontend" in services
    assert page.locator(".span-row .self-num").count() == page.locator(".span-row").count()
    assert_readable(page.inner_text("#view"), "the exemplar trace")
    # click the spans that carry events: each shows its own events by name
    tree = shop.get(f"/api/traces/{failing}").json()
    with_events = [n for n in _nodes(tree) if json.loads(n["events"] or "[]")]
    assert with_events
    for node in with_events[:3]:
        page.locator(f".span-row[data-span='{node['span_id']}']").click()
        page.wait_for_selector(f"#span-detail code:has-text('{node['span_id']}')")
        names = page.locator("#span-events .event-name").all_inner_texts()
        assert names == [e["name"] for e in json.loads(node["events"])], (node["operation"], names)
        exc = next((e for e in json.loads(node["events"]) if e["name"] == "exception"), None)
        if exc:
            assert exc["attributes"]["exception.type"] in page.inner_text("#span-events")
        assert_readable(page.inner_text("#span-detail"), "a span with events")
    assert not page.errors


def _nodes(trace: dict) -> list[dict]:
    out, stack = [], list(trace["roots"])
    while stack:
        node = stack.pop()
        out.append(node)
        stack += node["children"]
    return out


def _is_path_of(services: list[str], trace: dict) -> bool:
    """Whether some root-to-leaf path of the trace passes these services in this order, one calling the next
    (a service's own client and server spans in between count as one step)."""
    def paths(node, prefix):
        here = prefix if prefix and prefix[-1] == node["service"] else prefix + [node["service"]]
        if not node["children"]:
            yield here
        for child in node["children"]:
            yield from paths(child, here)
    want = len(services)
    return any(p[i:i + want] == services for root in trace["roots"] for p in paths(root, [])
               for i in range(len(p) - want + 1))


def test_spans_show_their_own_events(shop, page, data):
    page.goto(shop.url + f"/#/trace/{data['hostile_trace']}")
    page.wait_for_selector(".span-row")
    page.locator(".span-row", has_text="GET /").first.click()
    page.wait_for_selector("#span-detail h2:has-text('GET /')")
    detail = page.inner_text("#span-detail")
    assert_readable(detail, "the span detail")
    assert "exception" in detail and "cache.miss" in detail and "TimeoutError" in detail
    assert "<i>k</i>" in detail
    page.locator(".span-row.error").first.click()
    page.wait_for_selector(f"#span-detail h2:has-text('{EVIL_SERVICE}')")
    other = page.inner_text("#span-detail")
    assert "cache.miss" not in other and "TimeoutError" not in other
    assert_readable(other, "the span detail")
    assert page.locator("#span-detail i").count() == 0 and not page.errors


def test_every_page_reads_right(shop, data, page, tmp_path):
    """Each page's visible text, as a person reads it: no [object …], null, undefined or NaN.

    INTERPLAY_UPDATE_SCREENSHOT=1 also refreshes docs/screenshots/ (one image per page).
    """
    inv = shop.post("/api/investigations", json={}).json()
    failing, healthy = inv["exemplars"]["failing"], inv["exemplars"]["healthy"]
    pages = [("map", "#/map", "svg.graph .node"), ("investigate", "#/investigate", "#investigate-form"),
             ("investigation", f"#/investigation/{inv['id']}", "#timeline h3.cause-series"),
             ("services", "#/services", "#services-table"),
             ("service", "#/service/catalog", "#service-charts svg.chart"),
             ("traces", "#/traces?limit=200", "#trace-scatter .dot"),
             ("trace", f"#/trace/{failing}", ".span-row"),
             ("compare", f"#/compare/{failing}/{healthy}", "#compare-table tr.most"),
             ("logs", "#/logs?severity=ERROR", "#logs-table tbody tr"),
             ("changes", "#/changes", "#change-timeline svg"),
             ("hostile-trace", f"#/trace/{data['hostile_trace']}", ".span-row")]
    for name, hash_, ready in pages:
        page.goto(f"{shop.url}/{hash_}")
        page.wait_for_selector(ready, state="attached")
        page.wait_for_timeout(300)
        assert_readable(page.inner_text("body"), hash_)
        _screenshot(page, name, tmp_path)
    srv = start_server(_copy(data["agents"], tmp_path), grpc=False)
    try:
        page.goto(srv.url + "/#/agents")
        page.wait_for_selector("#runs-table tbody tr")
        assert_readable(page.inner_text("body"), "#/agents")
        _screenshot(page, "agents", tmp_path)
        runs = srv.get("/api/agents/runs", params={"failed": "true", "limit": 200}).json()["runs"]
        page.goto(f"{srv.url}/#/agents/{max(runs, key=lambda r: r['steps'])['run_id']}")
        page.wait_for_selector("#steps-table tbody tr")
        page.wait_for_timeout(200)
        assert_readable(page.inner_text("body"), "an agent run")
        _screenshot(page, "agent-run", tmp_path)
        page.goto(srv.url + "/#/map")
        page.wait_for_selector("svg.graph .node")
        _screenshot(page, "agents-map", tmp_path)
        for node in page.locator("svg.graph .node").all()[:3]:
            node.click()
            page.wait_for_timeout(100)
            assert_readable(page.inner_text(".side"), "the agents map's panel")
    finally:
        srv.stop()
    assert not page.errors


def _screenshot(page, name: str, tmp_path: Path) -> None:
    """docs/screenshots/NAME.png when INTERPLAY_UPDATE_SCREENSHOT is set, else a scratch file."""
    folder = SCREENSHOT.parent / "screenshots" if os.environ.get("INTERPLAY_UPDATE_SCREENSHOT") else tmp_path
    folder.mkdir(exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=name not in ("traces", "logs"))


def test_token_prompt_then_data(data, page, tmp_path):
    srv = start_server(_copy(data["agents"], tmp_path), grpc=False, token="s3cret-token")
    try:
        assert httpx.get(srv.url + "/api/services").status_code == 401
        page.expect_http_errors = True  # the 401s before the token is given
        page.goto(srv.url + "/#/agents")
        # the page and its scripts load without the token (a skip here would hide a 401 on /)
        assert "missing or wrong bearer token" not in page.content()
        page.wait_for_selector("#token-prompt")
        page.fill("#token-input", "wrong")
        page.press("#token-input", "Enter")
        page.wait_for_selector("#token-prompt .bad")
        page.fill("#token-input", "s3cret-token")
        page.press("#token-input", "Enter")
        page.wait_for_selector("#runs-table tbody tr")
        assert page.evaluate("sessionStorage.getItem('interplay.token')") == "s3cret-token"
        failed = page.locator("#runs-table tbody tr.error a").first
        failed.click()
        page.wait_for_selector("#steps-table tbody tr")
        assert "tool loop" in page.inner_text(".modes")
        page.click("#run-trace")
        page.wait_for_selector(".waterfall .span-row")
        assert page.locator("#token-prompt").count() == 0
        assert not page.errors
    finally:
        srv.stop()


def test_empty_store_says_where_to_send_telemetry(page, tmp_path):
    srv = start_server(tmp_path / "empty.duckdb", grpc=False)
    try:
        page.goto(srv.url + "/")
        page.wait_for_selector(".notice.empty")
        assert f"no telemetry yet: point OTLP at {srv.url}" in page.inner_text(".notice.empty")
        page.goto(srv.url + "/#/agents")
        page.wait_for_selector(".notice.empty")
        assert "No agent runs yet" in page.inner_text(".notice.empty")
    finally:
        srv.stop()


def test_api_errors_are_shown(shop, page):
    page.expect_http_errors = True  # the 400s and 404s asked for below log "Failed to load resource"
    page.goto(shop.url + "/#/trace/not-a-trace-id")
    page.wait_for_selector(".notice.error")
    assert "expected 32 hex characters" in page.inner_text(".notice.error")
    page.goto(shop.url + "/#/trace/" + "0" * 31 + "1")
    page.wait_for_selector(".notice.error")
    assert "not found" in page.inner_text(".notice.error")
    page.goto(shop.url + "/#/nowhere")
    page.wait_for_selector(".notice.error")
    assert not page.errors


def test_a_missing_browser_fails_the_run(monkeypatch):
    import conftest
    monkeypatch.setattr(conftest, "CHROMIUM", "/nonexistent/chromium")
    with pytest.raises(pytest.fail.Exception, match="missing"):
        conftest.launch_chromium(None)


# -- big traces, long runs, logs -------------------------------------------------------------------
@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A 1,101-span trace (100 varied work items of 10 queries each, one failing) and a 10,001-span one."""
    from interplay.api import Interplay
    from interplay.testing import TraceBuilder, traces_request
    tmp = tmp_path_factory.mktemp("big")
    varied = TraceBuilder(1_767_225_600 * 10**9, seed=21)
    root = varied.span("frontend", "POST /batch", duration_ms=5000)
    for i in range(100):
        item = root.child("worker", f"{('validate', 'enrich', 'store')[i % 3]} item", offset_ms=i * 40, duration_ms=38)
        for j in range(10):
            item.child("postgres", f"SELECT {j % 2}", kind="CLIENT", offset_ms=1 + j * 3, duration_ms=3,
                       error=(i == 57 and j == 2), message="deadlock detected")
    huge = TraceBuilder(1_767_225_700 * 10**9, seed=22)
    root = huge.span("frontend", "POST /import", duration_ms=9000)
    for i in range(1000):
        item = root.child("worker", f"{('parse', 'check')[i % 2]} row", offset_ms=i * 8, duration_ms=7)
        for j in range(9):
            item.child("postgres", "INSERT rows" if j % 3 else "SELECT row", kind="CLIENT", offset_ms=j * 0.7,
                       duration_ms=0.5)
    (tmp / "big.json").write_text(json.dumps(traces_request([varied, huge])))
    ip = Interplay.open(tmp / "big.duckdb")
    ip.ingest_file(tmp / "big.json")
    ip.close()
    srv = start_server(tmp / "big.duckdb", grpc=False)
    yield srv, varied.trace_id, huge.trace_id
    srv.stop()


def test_a_big_trace_starts_folded_and_unfolds(big, page, tmp_path):
    srv, varied, huge = big
    page.goto(f"{srv.url}/#/trace/{varied}")
    page.wait_for_selector(".span-row")
    assert page.evaluate("document.documentElement.scrollHeight") < 6000
    assert page.locator(".span-row .fold[aria-expanded='false']").count() >= 50
    # the failing span is in sight and selected
    assert "deadlock detected" in page.inner_text(".span-row.error.selected")
    assert_readable(page.inner_text("#view"), "a big trace")
    _screenshot(page, "big-trace", tmp_path)
    shown = page.locator(".span-row").count()
    page.locator(".span-row .fold[aria-expanded='false']").first.click()
    assert page.locator(".span-row").count() == shown + 10
    page.click("#expand-all")
    assert page.locator(".span-row").count() == 1101
    page.click("#collapse-all")
    assert page.locator(".span-row").count() == 101
    page.fill("#trace-search", "deadlock")
    page.wait_for_selector("#wf-status:has-text('1 matching span')")
    assert page.locator(".span-row.match").count() == 1 and page.locator(".span-row").count() == 3
    page.fill("#trace-search", "")
    page.check("#critical-only")
    critical = page.locator(".span-row").all_inner_texts()
    assert len(critical) == 3 and "validate item" in critical[1]  # item 99 finished last
    assert not page.errors

    started = time.monotonic()
    page.goto(f"{srv.url}/#/trace/{huge}")
    page.wait_for_selector(".span-row")
    first = time.monotonic() - started
    assert first < 8, f"the 10,001-span trace took {first:.1f} s to show its first rows"
    assert page.evaluate("document.documentElement.scrollHeight") < 6000
    # the root's 1,000 calls: the first 100 shown, the rest in folded pages of 100
    assert page.locator(".span-row").count() == 101
    pages = page.locator(".group-row", has_text="calls 101–200")
    assert pages.count() == 1 and "×100" in pages.inner_text()
    pages.click()
    assert page.locator(".span-row").count() == 201
    took = page.evaluate("""() => { const t = performance.now(); document.getElementById('expand-all').click();
                                    return performance.now() - t; }""")
    assert page.locator(".span-row").count() == 10001
    assert took < 5000, f"expanding 10,001 spans took {took:.0f} ms"
    assert not page.errors


def test_a_looping_agent_run_folds_its_loop(data, page, tmp_path):
    srv = start_server(_copy(data["agents"], tmp_path), grpc=False)
    try:
        runs = srv.get("/api/agents/runs", params={"failed": "true", "limit": 200}).json()["runs"]
        longest = max(runs, key=lambda r: r["steps"])
        assert longest["steps"] > 100
        page.goto(f"{srv.url}/#/agents/{longest['run_id']}")
        page.wait_for_selector("#steps-table tr.step-group")
        head = page.inner_text("#steps-table tr.step-group")
        assert "search_products" in head and "×" in head
        assert page.evaluate("document.documentElement.scrollHeight") < 2500
        visible = page.locator("#steps-table tbody tr:visible").count()
        page.locator("#steps-table tr.step-group").first.click()
        assert page.locator("#steps-table tbody tr:visible").count() > visible + 100
        assert_readable(page.inner_text("#view"), "the agent run")
        assert not page.errors
    finally:
        srv.stop()


def test_logs_page_filters_and_leads_to_traces(shop, page):
    page.goto(shop.url + "/#/logs")
    page.wait_for_selector("#logs-table tbody tr")
    assert_readable(page.inner_text("#view"), "the logs page")
    page.select_option("#log-severity", "ERROR")
    page.click("#logs-form button[type=submit]")
    page.wait_for_url("**/#/logs?severity=ERROR")
    # the filtered rows replace the first page's once they arrive: wait for those, not the old ones
    page.wait_for_function("""() => {
        const cells = [...document.querySelectorAll('#logs-table tbody td:nth-child(3)')];
        return cells.length > 0 && cells.every(c => c.innerText.trim() === 'ERROR'); }""")
    severities = {t.strip() for t in page.locator("#logs-table tbody td:nth-child(3)").all_inner_texts()}
    assert severities == {"ERROR"}
    page.locator("#logs-table a.trace-link").first.click()
    page.wait_for_selector(".span-row")
    assert "log record" in page.inner_text("#trace-logs-link")
    page.click("#trace-logs-link")
    page.wait_for_selector("#logs-table tbody tr")
    assert "trace " in page.inner_text(".page-head")
    assert not page.errors


def test_service_page_charts_and_change_timeline(shop, page):
    page.goto(shop.url + "/#/services")
    page.wait_for_selector("#services-table")
    page.locator("#services-table a", has_text="catalog").first.click()
    page.wait_for_selector("#service-charts svg.chart")
    assert "/#/service/catalog" in page.url
    assert page.locator("#service-charts svg.chart").count() == 3
    latency = page.locator("#service-charts svg.chart").nth(2).text_content()
    assert "p50" in latency and "p95" in latency and "p99" in latency
    assert page.locator("#service-charts svg.chart .marker").count() >= 1  # the change events
    assert_readable(page.inner_text("#view"), "the service page")
    page.locator("#operations-table a", has_text="GET /products").first.click()
    page.wait_for_selector("h1:has-text('GET /products')")
    assert page.locator("#service-charts svg.chart").count() == 3
    assert_readable(page.inner_text("#view"), "an operation's page")

    changes = shop.get("/api/changes").json()
    page.goto(shop.url + "/#/changes")
    page.wait_for_selector("#change-timeline svg.timeline")
    assert page.locator("#change-timeline .change").count() == len(changes) >= 2
    lanes = page.locator("#change-timeline .lane-name").evaluate_all("els => els.map((e) => e.textContent)")
    assert sorted(lanes) == sorted({c["service"] for c in changes})
    assert page.locator("#changes-table tbody tr").count() == len(changes)
    # behind each lane, that service's traffic: request rate shaded, error rate as a line, peaks on hover
    # each lane's traffic loads on its own after the page shows: wait for every lane, not the first
    page.wait_for_function("n => document.querySelectorAll('#change-timeline .lane-traffic path.rate').length >= n",
                           arg=len(lanes))
    assert page.locator("#change-timeline .lane-traffic path.rate").count() == len(lanes)
    assert page.locator("#change-timeline .lane-traffic path.errors").count() == len(lanes)
    hover = page.locator("#change-timeline .lane-traffic > title").first.text_content()
    assert "requests/s" in hover and "error rate up to" in hover and "p95 up to" in hover
    assert_readable(page.inner_text("#view"), "the changes page")
    assert not page.errors


def test_traces_scatter_attribute_search_and_side_by_side(shop, page):
    page.goto(shop.url + "/#/traces?limit=200")
    page.wait_for_selector("#trace-scatter .dot")
    assert page.locator("#trace-scatter .dot").count() == page.locator("#traces-table tbody tr").count() == 200
    assert page.locator("#trace-scatter .dot.err").count() >= 1
    dot = page.locator("#trace-scatter .dot.err").first
    trace_id = dot.get_attribute("data-trace")
    dot.click()
    page.wait_for_url(f"**/#/trace/{trace_id}")
    page.wait_for_selector(".span-row.error")

    page.goto(shop.url + "/#/traces")
    page.wait_for_selector("#traces-form")
    page.fill("#trace-attr", "http.response.status_code=500")
    page.click("#traces-form button[type=submit]")
    page.wait_for_url("**/#/traces?attr=*")
    page.wait_for_selector("#traces-table tbody tr")
    expected = shop.get("/api/traces", params={"attr": "http.response.status_code=500", "limit": 50}).json()
    assert len(expected) >= 1
    assert page.locator("#traces-table tbody tr").count() == len(expected)
    assert_readable(page.inner_text("#view"), "the traces page")

    inv = shop.post("/api/investigations", json={}).json()
    failing, healthy = inv["exemplars"]["failing"], inv["exemplars"]["healthy"]
    page.goto(f"{shop.url}/#/investigation/{inv['id']}")
    page.click("#compare-exemplars")
    page.wait_for_selector("#compare-table tr.most")
    assert page.url.endswith(f"/#/compare/{failing}/{healthy}")
    assert "catalog" in page.inner_text("#differs-most")
    assert "catalog" in page.inner_text("#compare-table tr.most")
    assert_readable(page.inner_text("#view"), "the comparison")
    assert not page.errors


_CROSSINGS = """() => {
  const boxes = [...document.querySelectorAll('svg.graph .node')].map((g) => {
    const m = g.transform.baseVal.consolidate().matrix, r = g.querySelector('.box').getBBox();
    return {id: g.dataset.node, x: m.e + r.x, y: m.f + r.y, w: r.width, h: r.height};
  });
  const out = [];
  for (const path of document.querySelectorAll('svg.graph path.edge')) {
    const ends = [path.dataset.caller, path.dataset.callee];
    const len = path.getTotalLength();
    for (let d = 0; d <= len; d += 4) {
      const p = path.getPointAtLength(d);
      const hit = boxes.find((b) => !ends.includes(b.id) && p.x > b.x + 2 && p.x < b.x + b.w - 2 && p.y > b.y + 2 && p.y < b.y + b.h - 2);
      if (hit) { out.push(`${ends.join('→')} crosses ${hit.id}`); break; }
    }
  }
  return out;
}"""


_LABEL_CLASHES = """() => {
  const box = (el) => { const r = el.getBoundingClientRect(); return {x: r.left, y: r.top, w: r.width, h: r.height, t: el.textContent}; };
  const hit = (a, b) => a.x < b.x + b.w - 1 && b.x < a.x + a.w - 1 && a.y < b.y + b.h - 1 && b.y < a.y + a.h - 1;
  const labels = [...document.querySelectorAll('svg.graph .edge-label')].map(box);
  const nodes = [...document.querySelectorAll('svg.graph .node .box')].map(box);
  const out = [];
  labels.forEach((a, i) => labels.slice(i + 1).forEach((b) => hit(a, b) && out.push(`${a.t} | ${b.t}`)));
  labels.forEach((a) => nodes.forEach((n) => hit(a, n) && out.push(`${a.t} over a node`)));
  return out;
}"""


def test_map_edges_avoid_nodes_resources_by_kind_and_explained_anomalies(shop, data, page, tmp_path):
    page.goto(shop.url + "/#/map")
    page.wait_for_selector("svg.graph .node[data-node='catalog']")
    assert page.evaluate(_CROSSINGS) == []
    # labels never cover each other or a node; the whole map is in view (no sideways scrolling)
    assert page.locator("svg.graph .edge-label").count() >= 3
    assert page.evaluate(_LABEL_CLASHES) == []
    assert page.evaluate("() => { const c = document.querySelector('.map-canvas'); return c.scrollWidth <= c.clientWidth + 1; }")
    flagged = page.locator("svg.graph .node.anomalous")
    assert 1 <= flagged.count() <= 5, "only services that shifted significantly are flagged"
    title = page.locator("svg.graph .node.anomalous[data-node='catalog'] > title").text_content()
    assert "anomalous: p95" in title and "robust z" in title
    font = page.evaluate("""() => { const t = document.querySelector('svg.graph .edge-label');
        return t.getBoundingClientRect().height; }""")
    assert font >= 9, f"edge labels render {font:.1f} px tall"
    srv = start_server(_copy(data["agents"], tmp_path), grpc=False)
    try:
        page.goto(srv.url + "/#/map")
        page.wait_for_selector("svg.graph .node")
        assert page.locator("svg.graph .node.kind-llm[data-node='llm-provider']").count() == 1
        assert page.locator("svg.graph .node.kind-database").count() >= 1
        assert page.locator("svg.graph .node.kind-cache").count() >= 1
        assert page.evaluate(_CROSSINGS) == [] and page.evaluate(_LABEL_CLASHES) == []
        assert not page.errors
    finally:
        srv.stop()


def test_thin_evidence_is_said_on_the_investigation(shop, data, page):
    from interplay.timeutil import format_time
    start = _ns(json.loads((data["dir"] / "case.jsonl.truth.json").read_text())["start"])
    inv = shop.post("/api/investigations", json={"at": format_time(start + 40 * 10**9)}).json()
    assert inv["evidence_strength"]["note"]
    page.goto(f"{shop.url}/#/investigation/{inv['id']}")
    page.wait_for_selector("#thin-evidence")
    text = page.inner_text("#thin-evidence")
    assert "baseline before the onset is only" in text and "few requests" in text
    assert "s)" in page.inner_text(".inv-head .sub")  # the baseline's length beside its times
    assert_readable(page.inner_text("#view"), "a thin investigation")
    assert not page.errors


def test_a_linked_trace_opens_from_the_span_that_links_it(shop, page):
    rows = shop.get("/api/traces", params={"service": "email", "limit": 20}).json()
    tree = next(t for t in (shop.get(f"/api/traces/{r['trace_id']}").json() for r in rows)
                if any(json.loads(n["links"] or "[]") for n in _nodes(t)))
    node = next(n for n in _nodes(tree) if json.loads(n["links"] or "[]"))
    linked = json.loads(node["links"])[0]["trace_id"]
    page.goto(f"{shop.url}/#/trace/{tree['trace_id']}")
    page.wait_for_selector(".span-row")
    page.locator(f".span-row[data-span='{node['span_id']}']").click()
    page.wait_for_selector("#span-detail a.trace-link")  # clickable: the linked trace is stored
    detail = page.inner_text("#span-detail")
    assert "\nscope\n" in detail and "resource" in detail.lower() and "service.name" in detail
    page.click("#span-detail a.trace-link")
    page.wait_for_url(f"**/#/trace/{linked}")
    page.wait_for_selector(".span-row")
    assert_readable(page.inner_text("#view"), "a linked trace")
    assert not page.errors


def test_log_template_evidence_opens_its_records(shop, page):
    inv = shop.post("/api/investigations", json={}).json()
    cause = next(c for c in inv["root_causes"] if any(e["type"] == "log_template" for e in c["evidence"]))
    item = next(e for e in cause["evidence"] if e["type"] == "log_template")
    page.goto(f"{shop.url}/#/investigation/{inv['id']}")
    page.wait_for_selector("#causes li")
    page.locator(f"#causes li[data-rank='{cause['rank']}']").click()
    page.wait_for_selector(f"#causes li.selected[data-rank='{cause['rank']}']")
    page.locator("#evidence a.logs-link").first.click()
    page.wait_for_selector("#logs-table tbody tr")
    services = {t.strip() for t in page.locator("#logs-table tbody td:nth-child(2)").all_inner_texts()}
    bodies = page.locator("#logs-table tbody td.log-body").all_inner_texts()
    assert services == {item["service"]}
    # the records share the template: the example's words, its numbers and ids free to differ
    stem = item["example"].split(" after ")[0] if " after " in item["example"] else item["example"][:20]
    assert bodies and all(stem in b for b in bodies), (stem, bodies[:3])
    assert_readable(page.inner_text("#view"), "a log template's records")
    assert not page.errors


def test_an_investigations_agent_runs_are_listed_and_open(data, page, tmp_path):
    srv = start_server(_copy(data["agents"], tmp_path), grpc=False)
    try:
        inv = srv.post("/api/investigations", json={}).json()
        cause = next(c for c in inv["root_causes"] if c.get("agent_runs"))
        page.goto(f"{srv.url}/#/investigation/{inv['id']}")
        page.wait_for_selector("#causes li")
        page.locator(f"#causes li[data-rank='{cause['rank']}']").click()
        page.wait_for_selector("#cause-agent-runs a")
        listed = page.locator("#cause-agent-runs a").all_inner_texts()
        assert listed == cause["agent_runs"][:20]
        page.locator("#cause-agent-runs a").first.click()
        page.wait_for_selector("#steps-table tbody tr")
        assert cause["agent_runs"][0].replace(":", "%3A") in page.url
        assert_readable(page.inner_text("#view"), "an agent run from an investigation")
        assert not page.errors
    finally:
        srv.stop()


def test_an_agent_session_its_runs_in_order_their_content_and_cost(page, tmp_path):
    """A real app (openai-v2 + util-genai against the stub model) asks a long question, then has a tool
    fail, in one conversation: the sessions page lists it with its cost, the session its runs in order
    and where the failed one left the good one; a run's steps show what was said, cut, and all of it on request.
    A LangGraph run labelled through OpenInference shows its user, tags and metadata."""
    import subprocess
    import sys

    from stub_llm import USAGE_IN, USAGE_OUT, StubModel
    apps = Path(__file__).with_name("agent_apps.py")
    question = "healthy " + "please tell me where it is " * 100 + "END-OF-QUESTION"
    srv = start_server(tmp_path / "session.duckdb", grpc=False)
    try:
        with StubModel() as stub:
            for app in (["langgraph", srv.url, stub.url, "healthy"],  # labelled: user, tags, metadata
                        ["openai-v2-agent", srv.url, stub.url, question, "toolfail"]):
                done = subprocess.run([sys.executable, str(apps), *app], capture_output=True, text=True, timeout=120)
                assert done.returncode == 0, done.stderr[-2000:]
        deadline = time.monotonic() + 20
        while len(runs := srv.get("/api/agents/runs").json()["runs"]) < 3 and time.monotonic() < deadline:
            time.sleep(0.3)
        labelled, healthy, toolfail = sorted(runs, key=lambda r: r["started_ns"])

        page.goto(f"{srv.url}/#/agents/{labelled['run_id']}")
        page.wait_for_selector("#run-labels")
        assert page.inner_text("#run-user") == "user-7"
        labels = page.inner_text("#run-labels")
        assert "orders" in labels and "healthy" in labels and '"tenant":"acme"' in labels
        usd = 3 * (USAGE_IN * 0.15 + USAGE_OUT * 0.60) / 1e6  # 2 model calls in the first run, 1 in the second

        page.goto(f"{srv.url}/#/agents/sessions")
        page.wait_for_selector("#sessions-table tbody tr")
        row = page.inner_text("#sessions-table tbody tr")  # the most recently active session first
        assert "session-openai-v2-agent" in row and f"${usd:.6f}".rstrip("0") in row and "tool error" in row
        page.click("#sessions-table tbody tr:first-child a")
        page.wait_for_selector("#session-runs tbody tr")
        links = page.locator("#session-runs tbody a")
        assert [links.nth(i).get_attribute("href") for i in range(links.count())] == \
            [f"#/agents/{r['run_id'].replace(':', '%3A')}" for r in (healthy, toolfail)]
        assert "at step 2" in page.inner_text("#session-divergence")
        assert_readable(page.inner_text("#view"), "an agent session")

        links.first.click()
        page.wait_for_selector("#steps-table tbody tr")
        assert page.inner_text("#run-session") == "session-openai-v2-agent"
        first = page.locator("#steps-table details.content").first
        first.locator("summary").click()
        shown = first.inner_text()
        assert "please tell me where it is" in shown and "END-OF-QUESTION" not in shown  # cut at 2000 characters
        assert "get_order" in shown  # what the model answered: the tool call
        page.click("#show-all")
        page.wait_for_url("**?full=true")
        page.wait_for_selector("#steps-table details.content")
        first = page.locator("#steps-table details.content").first
        first.locator("summary").click()
        assert "END-OF-QUESTION" in first.inner_text()
        assert page.locator("#show-all").count() == 0
        tool = page.locator("#steps-table details.content").nth(1)
        tool.locator("summary").click()
        assert "order A1: shipped" in tool.inner_text()
        assert not page.errors
    finally:
        srv.stop()
