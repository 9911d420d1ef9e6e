"""End to end: the real OpenTelemetry SDK exports GenAI agent spans to a real `interplay serve`;
runs come back from GET /api/agents/runs and from `interplay agents` (through the server, then the file)."""
from __future__ import annotations

import time

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from conftest import cli_json, run_cli, start_server

pytestmark = pytest.mark.integration


def _export_runs(url: str) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "agent-runtime"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{url}/v1/traces")))
    tracer = provider.get_tracer("e2e")
    for _ in range(4):
        _run(tracer, loops=1, fail=False)
    _run(tracer, loops=6, fail=True)
    provider.shutdown()


def _run(tracer, loops: int, fail: bool) -> None:
    with tracer.start_as_current_span("invoke_agent triage", kind=SpanKind.INTERNAL, attributes={
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "triage",
            "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini"}) as root:
        for _ in range(loops):
            with tracer.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes={
                    "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.usage.input_tokens": 400, "gen_ai.usage.output_tokens": 30,
                    "gen_ai.usage.cache_write.input_tokens": 128,
                    "gen_ai.response.finish_reasons": ["tool_calls"]}):
                pass
            with tracer.start_as_current_span("execute_tool lookup_ticket", attributes={
                    "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup_ticket",
                    "gen_ai.tool.call.arguments": '{"ticket": "T-1"}'}):
                with tracer.start_as_current_span("GET /tickets/T-1", kind=SpanKind.CLIENT,
                                                  attributes={"server.address": "tickets"}):
                    pass
        if fail:
            root.set_status(Status(StatusCode.ERROR, "max iterations"))
        else:
            with tracer.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes={
                    "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.usage.input_tokens": 500, "gen_ai.usage.output_tokens": 80,
                    "gen_ai.response.finish_reasons": ["stop"]}):
                pass


def _wait_for_runs(server, n: int) -> list[dict]:
    deadline = time.monotonic() + 30
    while True:
        runs = server.get("/api/agents/runs").json()["runs"]
        if len(runs) >= n or time.monotonic() > deadline:
            return runs
        time.sleep(0.2)


def test_sdk_export_then_http_api_and_cli(tmp_path):
    db = tmp_path / "e2e.duckdb"
    server = start_server(db, grpc=False)
    try:
        _export_runs(server.url)
        runs = _wait_for_runs(server, 5)
        assert len(runs) == 5 and {r["agent"] for r in runs} == {"triage"}
        failed = server.get("/api/agents/runs", params={"failed": "true"}).json()["runs"]
        assert len(failed) == 1
        found = {m["mode"] for m in failed[0]["failure_modes"]}
        assert {"tool_loop", "divergence"} <= found
        shown = server.get(f"/api/agents/runs/{failed[0]['run_id']}").json()
        steps = shown["steps_detail"]
        assert [s["signature"] for s in steps[:2]] == ["chat:gpt-4o-mini", "tool:lookup_ticket"]
        assert steps[0]["usage"]["gen_ai.usage.cache_write.input_tokens"] == 128
        assert steps[1]["peers"] == ["tickets"]
        # The CLI finds the running server beside the file and asks it over HTTP.
        listed = cli_json("agents", "--db", str(db), "--failed")
        assert [r["run_id"] for r in listed["runs"]] == [failed[0]["run_id"]]
        text = run_cli("agents", "show", failed[0]["run_id"], "--db", str(db)).stdout
        assert "tool_loop" in text and "lookup_ticket" in text
    finally:
        server.stop()
    # With the server gone, the CLI reads the file itself.
    listed = cli_json("agents", "--db", str(db), "--agent", "triage")
    assert len(listed["runs"]) == 5
    assert sum(1 for r in listed["runs"] if r["status"] == "error") == 1
    table = run_cli("agents", "--db", str(db), "--agent", "triage").stdout
    assert "started (UTC)" in table and all(r["run_id"] in table for r in listed["runs"])  # ids unbroken
    assert "tool_loop" in table and max(len(line) for line in table.splitlines()) <= 160
    shown = cli_json("agents", "show", listed["runs"][0]["run_id"], "--db", str(db))
    assert shown["run_id"] == listed["runs"][0]["run_id"]
    assert run_cli("agents", "show", "not-a-run", "--db", str(db), check=False).returncode == 1
