"""MCP tools: bounded answers over a testbed case, through the official SDK client (stdio and HTTP)."""
from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from pathlib import Path

import anyio
import httpx
import pytest
import uvicorn

from conftest import INTERPLAY, free_port, start_server
from interplay.api import Interplay
from interplay.mcp_tools import LIMIT, TOOL_NAMES, Tools, fit, summarize_trace
from interplay.model import NotFound
from interplay.model_telemetry import Trace, TraceSpan
from interplay.server.app import ServerState, create_app
from interplay.server.writer import Writer
from interplay.testbed import simulate

TOKEN = "s3cret-token"


# -- fixtures ----------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def case_db(tmp_path_factory) -> Path:
    """shop / errors in currency, 20 minutes, with its change events."""
    d = tmp_path_factory.mktemp("mcp-case")
    simulate("shop", "errors", seed=1, out=d / "c.jsonl", duration_s=1200, rate_per_s=3)
    ip = Interplay.open(d / "c.duckdb")
    ip.ingest_file(d / "c.jsonl")
    ip.ingest_file(d / "c.jsonl.changes.jsonl")
    ip.close()
    return d / "c.duckdb"


@pytest.fixture(scope="session")
def agent_db(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("mcp-agents")
    simulate("agentic", "agent_tool_loop", seed=0, out=d / "a.jsonl", duration_s=300, rate_per_s=3, fault_at_s=150)
    ip = Interplay.open(d / "a.duckdb")
    ip.ingest_file(d / "a.jsonl")
    ip.close()
    return d / "a.duckdb"


def copy_db(src: Path, dst_dir: Path) -> Path:
    dst = dst_dir / src.name
    dst.write_bytes(src.read_bytes())
    return dst


@contextlib.contextmanager
def running_app(db: Path, token: str | None = None, notify_url: str | None = None):
    """The API app (with /mcp and the alert routes) in-process under uvicorn on a free port.

    Mounts /mcp and routes_alerts itself when create_app does not yet (see the issue note).
    """
    from interplay.server import routes_alerts
    from interplay.server.mcp import mcp_endpoint
    ip = Interplay.open(db)
    writer = Writer(ip)
    state = ServerState(ip, writer, token)
    state.notify_url = notify_url
    app = create_app(state)
    paths = {getattr(r, "path", None) for r in app.router.routes}
    if "/mcp" not in paths:
        endpoint = mcp_endpoint(state)
        app.router.routes.extend(endpoint.routes)
        app.router.lifespan_context = endpoint.lifespan
    if "/api/alerts" not in paths:
        app.router.routes.extend(routes_alerts.ROUTES)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "in-process server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        writer.close()
        ip.close()


async def _session_calls(client, calls):
    out = []
    for name, args in calls:
        result = await client.call_tool(name, args)
        out.append((result.is_error, result.content[0].text if result.content else ""))
    return out


def call_all(target, calls, headers=None):
    """Open an SDK client on target (stdio params or URL), list tools, make the calls."""
    from mcp import Client

    async def main():
        if isinstance(target, str):
            import httpx2
            from mcp.client.streamable_http import streamable_http_client
            http = httpx2.AsyncClient(headers=headers or {}, timeout=httpx2.Timeout(120))
            async with http:
                async with Client(streamable_http_client(target, http_client=http)) as client:
                    names = [t.name for t in (await client.list_tools()).tools]
                    return names, await _session_calls(client, calls)
        async with Client(target) as client:
            names = [t.name for t in (await client.list_tools()).tools]
            return names, await _session_calls(client, calls)
    return anyio.run(main)


def _mcp_command() -> list[str]:
    """`interplay mcp`, or the same command through Python until cli/__init__.py registers it."""
    from interplay.cli import main
    if "mcp" in main.commands:
        return [INTERPLAY, "mcp"]
    return [sys.executable, "-c", "import interplay.cli.mcp; from interplay.cli import main; main()", "mcp"]


MCP_COMMAND = _mcp_command()


def stdio(db: Path, *extra: str):
    from mcp.client.stdio import StdioServerParameters
    env = {"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else None  # the SDK passes few
    return StdioServerParameters(command=MCP_COMMAND[0], args=[*MCP_COMMAND[1:], "--db", str(db), *extra], env=env)


def small(text: str, limit: int = LIMIT) -> dict:
    assert len(text.encode()) <= limit, f"answer of {len(text.encode())} bytes over {limit}"
    return json.loads(text)


# -- the tools as plain functions -----------------------------------------------------------------------
def test_tools_answer_small_and_lead_to_the_root_cause(case_db):
    tools = Tools(Interplay.open(case_db, read_only=True))
    services = small(tools.list_services())
    assert {s["service"] for s in services["services"]} >= {"frontend", "checkout", "currency"}
    assert services["services"][0]["error_rate"] >= services["services"][-1]["error_rate"]

    inv = small(tools.investigate())
    assert inv["root_causes"][0]["service"] == "currency"
    assert inv["root_causes"][0]["chain"][0].startswith("currency")
    ev = small(tools.cause_evidence(inv["investigation_id"], 1))
    assert ev["service"] == "currency" and ev["evidence"]
    assert any(e["type"] == "error_origin" for e in ev["evidence"])

    graph = small(tools.service_graph("checkout"))
    assert {e["to"] for e in graph["edges"] if e["from"] == "checkout"} >= {"currency", "payment"}
    assert len(small(tools.service_graph("checkout", depth=2))["nodes"]) >= len(graph["nodes"])

    impact = small(tools.impact("currency"))
    assert {c["service"] for c in impact["direct_callers"]} >= {"checkout"}
    changes = small(tools.recent_changes())
    assert changes["changes"] and changes["changes"][0]["kind"] in ("deploy", "config", "flag", "infra", "commit")

    logs = small(tools.search_logs(severity="ERROR", limit=200))
    assert logs["records"] and {r["severity"] for r in logs["records"]} <= {"ERROR", "FATAL"}
    # the templates summarise every record matched, also those cut from the answer
    assert sum(t["records"] for t in logs["templates"]) <= logs["matched"] <= 200
    assert logs["templates"][0]["records"] >= 2 and len(logs["records"]) <= logs["matched"]
    one = logs["records"][0]
    same = small(tools.search_logs(like=one["body"], service=one["service"]))
    assert same["records"] and all(r["service"] == one["service"] for r in same["records"])
    by_trace = small(tools.search_logs(trace_id=one["trace_id"]))
    assert by_trace["records"] and all(r["trace_id"] == one["trace_id"] for r in by_trace["records"])
    assert "trace_summary" in by_trace["next"]


def test_read_only_store_keeps_investigations_in_memory(case_db):
    ip = Interplay.open(case_db, read_only=True)
    tools = Tools(ip)
    inv = json.loads(tools.investigate(symptom="frontend"))
    assert json.loads(tools.cause_evidence(inv["investigation_id"], 1))["rank"] == 1
    with pytest.raises(NotFound):
        tools.cause_evidence(inv["investigation_id"], 99)
    with pytest.raises(NotFound):
        tools.cause_evidence("0" * 16, 1)


def test_every_answer_is_cut_to_the_limit_with_a_way_to_more(case_db, agent_db):
    tools = Tools(Interplay.open(case_db, read_only=True), limit=700)
    for text in (tools.list_services(), tools.service_graph("checkout", depth=2), tools.investigate(),
                 tools.search_logs(limit=100)):
        doc = small(text, 700)
        assert "truncated" in doc and doc["truncated"]["more"]
        assert doc["truncated"]["shown"] < doc["truncated"]["of"]
    page = json.loads(tools.list_services())
    rest = json.loads(tools.list_services(offset=page["truncated"]["shown"]))
    names = [s["service"] for s in page["services"] + rest["services"]]
    assert len(names) == len(set(names))

    agents = Tools(Interplay.open(agent_db, read_only=True), limit=1500)
    runs = small(agents.agent_runs(limit=50), 1500)
    assert runs["truncated"]["more"]
    run = small(agents.agent_run(runs["runs"][0]["run_id"]), 1500)
    assert run["steps"] and run["total_steps"] >= len(run["steps"])


def test_fit_keeps_valid_json_when_nothing_fits():
    doc = {"items": [{"x": "y" * 50}] * 10, "big": "z" * 500}
    out = fit(doc, "items", lambda n: f"more(offset={n})", limit=300)
    assert len(out.encode()) <= 300
    assert json.loads(out)["truncated"]["shown"] == 0


def test_trace_summary_critical_path_skips_concurrent_siblings():
    def span(sid, parent, svc, start, end, children=(), status="UNSET"):
        return TraceSpan(sid, parent, svc, "op", "SERVER", start, end, end - start, status,
                         "boom" if status == "ERROR" else "", None, None, None, None, "{}", "{}", None, None,
                         children=list(children))
    fast = span("b", "a", "fast", 10, 20)
    slow = span("c", "a", "slow", 10, 80, status="ERROR")
    tail = span("d", "a", "tail", 85, 95)
    root = span("a", None, "front", 0, 100, [fast, slow, tail], status="ERROR")
    summary = summarize_trace(Trace("t", 4, [root]))
    assert [s["service"] for s in summary["critical_path"]] == ["front", "slow", "tail"]
    assert summary["error_origins"] == [{"service": "slow", "operation": "op", "message": "boom"}]
    assert summary["errors"] == 2


def test_agent_tools(agent_db):
    tools = Tools(Interplay.open(agent_db, read_only=True))
    runs = small(tools.agent_runs(failed=True))
    assert runs["runs"]
    run = small(tools.agent_run(runs["runs"][0]["run_id"]))
    assert run["steps"] and all("kind" in s for s in run["steps"])


# -- over MCP -----------------------------------------------------------------------------------------
@pytest.mark.integration
def test_stdio_server_from_the_database_file(case_db):
    calls = [("list_services", {}), ("service_graph", {"service": "currency", "depth": 2}),
             ("investigate", {}), ("recent_changes", {"limit": 5}), ("impact", {"target": "currency"}),
             ("agent_runs", {}), ("service_graph", {"service": "nope"})]
    names, answers = call_all(stdio(case_db), calls)
    assert set(names) == set(TOOL_NAMES)
    for (name, _), (is_error, text) in zip(calls[:-1], answers[:-1]):
        assert not is_error, f"{name}: {text}"
        small(text)
    assert answers[-1][0] and "nope" in answers[-1][1]
    inv = json.loads(answers[2][1])
    assert inv["root_causes"][0]["service"] == "currency"


@pytest.mark.integration
def test_stdio_detail_calls_follow_an_investigation(case_db):
    from mcp import Client

    async def main():
        async with Client(stdio(case_db)) as client:
            inv = json.loads((await client.call_tool("investigate", {"symptom": "frontend"})).content[0].text)
            ev = await client.call_tool("cause_evidence", {"investigation_id": inv["investigation_id"], "rank": 1})
            ev = small(ev.content[0].text)
            trace = await client.call_tool("trace_summary", {"trace_id": ev["exemplar_trace"]})
            return inv, ev, small(trace.content[0].text)
    inv, ev, trace = anyio.run(main)
    assert ev["service"] == inv["root_causes"][0]["service"] == "currency"
    assert trace["spans"] > 1 and trace["critical_path"]


@pytest.mark.integration
def test_stdio_through_the_server_that_holds_the_file(case_db, tmp_path):
    db = copy_db(case_db, tmp_path)
    server = start_server(db, grpc=False)
    try:
        calls = [("list_services", {}), ("investigate", {"symptom": "frontend"}), ("service_graph", {"service": "checkout"})]
        _, answers = call_all(stdio(db), calls)  # finds the server beside the file
        assert not any(err for err, _ in answers), answers
        inv = small(answers[1][1])
        assert inv["root_causes"][0]["service"] == "currency"
        _, (evidence,) = call_all(stdio(db), [("cause_evidence", {"investigation_id": inv["investigation_id"]})])
        assert not evidence[0], evidence[1]
        assert small(evidence[1])["service"] == "currency"
    finally:
        server.stop()


@pytest.mark.integration
def test_streamable_http_on_the_api_with_its_token(case_db, tmp_path):
    db = copy_db(case_db, tmp_path)
    with running_app(db, token=TOKEN) as url:
        assert httpx.post(url + "/mcp", json={}).status_code == 401
        calls = [("list_services", {}), ("investigate", {}), ("service_graph", {"service": "currency"})]
        names, answers = call_all(url + "/mcp", calls, headers={"Authorization": f"Bearer {TOKEN}"})
        assert set(names) == set(TOOL_NAMES)
        assert not any(err for err, _ in answers), answers
        inv = small(answers[1][1])
        assert inv["root_causes"][0]["service"] == "currency"
        _, (ev,) = call_all(url + "/mcp", [("cause_evidence", {"investigation_id": inv["investigation_id"]})],
                            headers={"Authorization": f"Bearer {TOKEN}"})
        assert small(ev[1])["service"] == "currency"
        kept = httpx.get(url + "/api/investigations", headers={"Authorization": f"Bearer {TOKEN}"}).json()
        assert inv["investigation_id"] in [r["id"] for r in kept["investigations"]]


@pytest.mark.integration
def test_streamable_http_on_interplay_serve(case_db, tmp_path):
    db = copy_db(case_db, tmp_path)
    server = start_server(db, grpc=False, token=TOKEN)
    try:
        probe = httpx.post(server.url + "/mcp", json={}, headers=server.headers())
        assert probe.status_code != 404, "interplay serve mounts /mcp"
        _, answers = call_all(server.url + "/mcp", [("list_services", {}), ("investigate", {})],
                              headers=server.headers())
        assert not any(err for err, _ in answers), answers
        assert small(answers[1][1])["root_causes"][0]["service"] == "currency"
    finally:
        server.stop()
