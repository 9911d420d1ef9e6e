"""Agent result records (model_agents.py): a run with its steps to JSON and back without loss, the keys the
API has always emitted (parts a step lacks are absent, not null), and a server answering with the same
records as the file it holds (in process and a real `interplay serve`)."""
from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from conftest import start_server
from interplay.api import Interplay
from interplay.client import RemoteInterplay
from interplay.model_agents import (
    AGENT_RECORDS,
    AgentRun,
    AgentSpend,
    BackendLoad,
    Cost,
    Culprit,
    Divergence,
    Expected,
    FailureMode,
    Labels,
    ModelCall,
    RunCost,
    RunFailure,
    RunSignals,
    Session,
    Step,
    StepContent,
    StepError,
    Tokens,
    ToolCall,
)
from interplay.model_results import from_json, to_json
from interplay.server.app import ServerState, create_app
from interplay.testing import traces_request
from test_agents import Run, add_failing_backend_tool
from test_model_results import _all, records_in

T0 = 1_767_225_600 * 10**9


def _step(index: int, kind: str, **parts) -> Step:
    return Step(index, f"{index:016x}", kind, "name", f"{kind}:name", "agent", "op", "2026-01-01T00:00:00.000Z",
                T0 + index, 1.5, "ok", **parts)


def full_run() -> AgentRun:
    """Every record, every optional field set (and parts whose own fields are null)."""
    chat = _step(0, "llm", call=ModelCall("gpt-4o", None, "openai", Tokens(100, 20, None),
                                          {"gen_ai.usage.cache_read.input_tokens": 64}, ["tool_calls"],
                                          Cost(0.0005, "price_table")),
                 content=StepContent([{"role": "user", "content": "hi"}], None, True), peers=["api.openai.com"],
                 rate_limited=1, retries=2)
    tool = _step(1, "tool", tool_call=ToolCall("get_order", '{"id": 7}', "call_1"),
                 content=StepContent({"id": 7}, "ok", False), downstream=["orders"],
                 error=StepError("ValueError", "ValueError: no", 500, [500],
                                 Culprit("orders", "SELECT", "deadlock"), traceback="Traceback ..."))
    sub = _step(2, "agent", agent="coder", timeouts=1,
                error=StepError(None, None, None, [], None))
    divergence = Divergence(1, "tool:get_order", [Expected("chat:gpt-4o", 1.0)], ["chat:gpt-4o"], 3, 3,
                            compared_with_session_runs=2)
    return AgentRun(
        run_id=f"{'ab' * 16}:{'cd' * 8}", trace_id="ab" * 16, agent="support", status="error",
        started="2026-01-01T00:00:00.000Z", started_ns=T0, duration_ms=12.5, steps=3, model_calls=1, tool_calls=1,
        tools=["get_order"], tokens=Tokens(100, 20, 120), errors=1, conversation_id="c-1", user_id="u-1",
        service="agent", root_operation="invoke_agent support", error="RuntimeError: gave up", complete=False,
        signals=RunSignals(1, 1), path=["chat:gpt-4o", "tool:get_order", "agent:coder"],
        cost=RunCost(0.0005, "price_table", 1, 0),
        failure_modes=[FailureMode("tool_error", "1 tool call failed", 1, {"caused_by": {"orders": 1}})],
        labels=Labels(["a"], None), steps_detail=[chat, tool, sub], failure=RunFailure(None),
        session_divergence=divergence)


def test_a_run_with_its_steps_round_trips_through_json():
    run = full_run()
    session = Session("c-1", 1, 1, ["support"], ["u-1"], run.started, run.started, 120, 0.0005, ["tool_error"],
                      [run.run_id], runs=[run])
    spend = AgentSpend("support", "gpt-4o", 1, 1, 100, 20, 0, 0.0005, "price_table")
    load = BackendLoad("support", "orders", True, 6, 1, 2, 8, 0.75)
    samples = [session, spend, load]
    assert records_in(samples, set()) == set(AGENT_RECORDS)  # the samples hold every record type
    assert from_json(Session, json.loads(json.dumps(to_json(session)))) == session
    for obj in _all(samples):
        assert from_json(type(obj), json.loads(json.dumps(to_json(obj)))) == obj


def test_json_keys_are_the_apis():
    data = to_json(full_run())
    assert list(data)[-8:] == ["path", "cost", "failure_modes", "tags", "metadata", "steps_detail", "traceback",
                               "session_divergence"]
    assert data["metadata"] is None and data["traceback"] is None  # asked for, and none: null, not absent
    chat, tool, sub = data["steps_detail"]
    assert list(chat) == ["index", "span_id", "kind", "name", "signature", "service", "operation", "start",
                          "start_ns", "duration_ms", "status", "model", "response_model", "provider", "tokens",
                          "usage", "finish_reasons", "cost", "input", "output", "truncated", "downstream", "peers",
                          "rate_limited", "timeouts", "retries"]
    assert list(tool)[11:14] == ["tool", "arguments", "call_id"] and "model" not in tool and "peers" not in tool
    assert tool["error"]["caused_by"] == {"service": "orders", "operation": "SELECT", "message": "deadlock"}
    assert sub["agent"] == "coder" and "input" not in sub and "traceback" not in sub["error"]
    # a listed run has no steps, labels or traceback: the keys are absent
    listed = to_json(replace(full_run(), labels=None, steps_detail=None, failure=None, session_divergence=None))
    assert list(listed)[-3:] == ["path", "cost", "failure_modes"]
    assert to_json(RunCost(0.01, "instrumentation", None)) == {"usd": 0.01, "source": "instrumentation",
                                                              "priced_calls": None}


def agent_telemetry(tmp_path) -> Path:
    """Healthy runs in one session, a failed one (a backend failing beneath a tool) in it too."""
    runs = [Run(i).healthy() for i in range(4)]
    bad = Run(9, error="ValueError('no such order')Traceback (most recent call last):\n  File x\n")
    bad.chat()
    add_failing_backend_tool(bad)
    for r in runs + [bad]:
        r.root.attributes["gen_ai.conversation.id"] = "conv-1"
    path = tmp_path / "agents.jsonl"
    path.write_text(json.dumps(traces_request([r.trace for r in runs + [bad]])) + "\n")
    return path


def same_answers(local, remote) -> None:
    runs = local.agent_runs()
    assert remote.agent_runs() == runs and all(type(r) is AgentRun for r in remote.agent_runs())
    failed = next(r for r in runs if r.status == "error")
    for full in (False, True):
        got = remote.agent_run(failed.run_id, full=full)
        assert got == local.agent_run(failed.run_id, full=full) and got.steps_detail
    assert remote.agent_run(failed.run_id, full=True).failure.traceback.startswith("Traceback")
    assert remote.agent_sessions() == local.agent_sessions()
    session = remote.agent_session("conv-1")
    assert session == local.agent_session("conv-1") and type(session.runs[0]) is AgentRun
    assert any(r.session_divergence for r in session.runs)
    assert remote.agent_spend() == local.agent_spend() and type(remote.agent_spend()[0]) is AgentSpend
    assert remote.agent_load() == local.agent_load() and type(remote.agent_load()[0]) is BackendLoad


def test_a_server_in_process_answers_with_the_local_records(tmp_path):
    ip = Interplay.open(":memory:")
    ip.ingest_file(agent_telemetry(tmp_path))
    remote = RemoteInterplay("http://127.0.0.1")
    with TestClient(create_app(ServerState(ip, writer=None)), base_url="http://127.0.0.1",
                    headers={"X-Interplay-Client": "cli"}) as http:
        remote._http = http
        same_answers(ip, remote)
    ip.close()


@pytest.mark.integration
def test_a_real_server_answers_with_the_local_records(tmp_path):
    path = tmp_path / "local.duckdb"
    local = Interplay.open(path)
    local.ingest_file(agent_telemetry(tmp_path))
    local.close()
    shutil.copy(path, tmp_path / "served.duckdb")  # one writer per DuckDB file
    server = start_server(tmp_path / "served.duckdb")
    try:
        local = Interplay.open(path, read_only=True)
        remote = RemoteInterplay(server.url)
        same_answers(local, remote)
        run_id = local.agent_runs()[0].run_id
        raw = server.get(f"/api/agents/runs/{run_id}", params={"full": "true"})
        assert raw.json() == json.loads(json.dumps(to_json(local.agent_run(run_id, full=True))))
        remote.close()
        local.close()
    finally:
        server.stop()
