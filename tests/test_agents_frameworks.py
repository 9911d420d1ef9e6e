"""Agent runs from the frameworks people use, with their real instrumentation from PyPI.

Each framework's app (tests/agent_apps.py, one process each, as a user would run it) drives the
scripted model server (tests/stub_llm.py) through four runs: healthy, a tool loop until the
framework's turn limit, a 429 mid-run, and a tool whose backend fails. The OpenTelemetry SDK exports
them over OTLP/HTTP to a real `interplay serve`; these tests read back what the API, the CLI and
the sessions view say about every run.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import cli_json, run_cli, start_server
from stub_llm import USAGE_IN, USAGE_OUT, StubModel

pytestmark = pytest.mark.integration

APPS = Path(__file__).with_name("agent_apps.py")
FRAMEWORKS = ("openai-agents", "langgraph", "openai-v2-agent", "openai-v2-loop", "langgraph+openai-v2", "llama-index")
SCENARIOS = ("healthy", "loop", "ratelimit", "toolfail")
MAX_TURNS = 10

# What each framework's runs must look like: agent name, and per scenario
# (status, model calls, tool calls, failure modes that must be there).
AGENT = {"openai-agents": "order-agent", "langgraph": "order-graph", "openai-v2-agent": "order-agent",
         "openai-v2-loop": "openai-v2-loop-app", "langgraph+openai-v2": "order-graph",
         # OpenInference's LlamaIndex spans carry no agent name (the root is the CHAIN `FunctionAgent.run`)
         "llama-index": "llama-index-app"}
OPENINFERENCE = ("openai-agents", "langgraph", "langgraph+openai-v2", "llama-index")
MODEL = {"llama-index": "llama3.1:8b"}  # a local Ollama model: not in the price table, so no cost
LOOP_STOPS = {  # how each stops a loop: openai-agents and our own loops raise at 10 turns,
    # LangGraph's react agent answers "need more steps" once its recursion limit (20) is near
    "openai-agents": ("error", 10, 10), "openai-v2-agent": ("error", 10, 10), "openai-v2-loop": ("error", 10, 10),
    "langgraph": ("ok", 10, 9), "langgraph+openai-v2": ("ok", 10, 9),
    # LlamaIndex counts an iteration per model answer and raises at the 10th, before running its tools
    "llama-index": ("error", 10, 9)}
# openai-agents and LlamaIndex hand a failed tool's error back to the model, which answers: the run succeeds.
TOOLFAIL = {"openai-agents": ("ok", 2, 1), "llama-index": ("ok", 2, 1)}


def expected(framework: str, scenario: str) -> tuple[str, int, int, set[str]]:
    if scenario == "healthy":
        return "ok", 2, 1, set()
    if scenario == "loop":
        return (*LOOP_STOPS[framework], {"tool_loop"})
    if scenario == "ratelimit":
        return "error", 2, 1, {"rate_limited"}
    return (*TOOLFAIL.get(framework, ("error", 1, 1)), {"tool_error"})


def _run_app(app: str, url: str, model_url: str, *scenario: str, timeout: int = 120) -> str:
    """Run one real app (tests/agent_apps.py) against the stub model, exporting to `url`; its stdout."""
    done = subprocess.run([sys.executable, str(APPS), app, url, model_url, *scenario],
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One server holding the runs of every framework; {framework: {scenario: run}} read from its API."""
    tmp = tmp_path_factory.mktemp("frameworks")
    server = start_server(tmp / "frameworks.duckdb", grpc=False)
    outputs = {}
    try:
        with StubModel() as stub:
            for framework in FRAMEWORKS:
                outputs[framework] = _run_app(framework, server.url, stub.url, timeout=240)
            assert not stub.errors
        runs = _wait_for_runs(server, len(FRAMEWORKS) * len(SCENARIOS))
        by = {}
        for framework in FRAMEWORKS:
            mine = sorted((r for r in runs if r["service"] == f"{framework}-app"), key=lambda r: r["started_ns"])
            assert len(mine) == len(SCENARIOS), (framework, outputs[framework], [r["path"] for r in mine])
            by[framework] = dict(zip(SCENARIOS, mine))
        yield server, by, outputs
    finally:
        server.stop()


@pytest.fixture(scope="module")
def stored(served):
    """The served database, once the server is stopped (last tests only: they end the server)."""
    server = served[0]
    server.stop()
    return server.db


def _wait_for_runs(server, n: int) -> list[dict]:
    deadline = time.monotonic() + 30
    while True:
        runs = server.get("/api/agents/runs", params={"limit": 200}).json()["runs"]
        if len(runs) >= n or time.monotonic() > deadline:
            return runs
        time.sleep(0.3)


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_run_is_right(served, framework, scenario):
    _, by, outputs = served
    run = by[framework][scenario]
    status, model_calls, tool_calls, modes = expected(framework, scenario)
    found = {m["mode"] for m in run["failure_modes"]}
    assert run["agent"] == AGENT[framework]
    assert (run["status"], run["model_calls"], run["tool_calls"]) == (status, model_calls, tool_calls), \
        (run["path"], outputs[framework])
    assert run["tools"] == ["get_order"]
    assert run["steps"] == model_calls + tool_calls
    assert modes <= found, found
    assert run["conversation_id"] == f"session-{framework}"
    if scenario == "healthy":
        assert found == set()
        model = MODEL.get(framework, "gpt-4o-mini")
        assert run["path"] == [f"chat:{model}", "tool:get_order", f"chat:{model}"]
        assert run["tokens"] == {"input": 2 * USAGE_IN, "output": 2 * USAGE_OUT, "total": 2 * (USAGE_IN + USAGE_OUT)}
        if framework in MODEL:
            assert run["cost"] is None
        else:  # gpt-4o-mini at the built-in $0.15 / $0.60 per million tokens
            assert run["cost"]["usd"] == pytest.approx(2 * (USAGE_IN * 0.15 + USAGE_OUT * 0.60) / 1e6)
            assert run["cost"]["source"] == "price_table"
    if scenario == "ratelimit":
        # one 429, however many spans (agent, chain, LLM, client) repeat it
        assert run["signals"]["rate_limited"] == 1
        m = next(m for m in run["failure_modes"] if m["mode"] == "rate_limited")
        assert m["evidence"]["responses"] == 1 and m["step"] == 2
        assert "429" in run["error"] and "Traceback" not in run["error"]
    if scenario == "loop":
        m = next(m for m in run["failure_modes"] if m["mode"] == "tool_loop")
        assert m["evidence"]["tool"] == "get_order" and m["evidence"]["identical_calls"] == tool_calls
        if status == "error":  # "Max turns (10) exceeded", LlamaIndex's "Max iterations of 10 reached!"
            assert re.search(r"max (turns|iterations)", run["error"], re.I) and m["evidence"]["max_turns"] is True
    if scenario == "toolfail" and status == "error":
        assert run["error"] == "ValueError: order service returned 500 for BAD"
    if scenario != "ratelimit":
        assert run["signals"]["rate_limited"] == 0


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_steps_show_content_errors_and_the_failing_backend(served, framework):
    server, by, _ = served
    shown = server.get(f"/api/agents/runs/{by[framework]['healthy']['run_id']}").json()
    if framework in OPENINFERENCE:  # labelled with using_attributes: on every span of the run
        assert (shown["user_id"], shown["tags"]) == ("user-7", ["orders", "healthy"])
        assert shown["metadata"] == {"scenario": "healthy", "tenant": "acme"}
    else:
        assert (shown["user_id"], shown["tags"], shown["metadata"]) == (None, [], None)
    chat, tool, answer = shown["steps_detail"]
    assert chat["kind"] == "llm" and chat["model"] == MODEL.get(framework, "gpt-4o-mini")
    assert any(m.get("content") == "healthy: where is my order?" for m in chat["input"])
    assert chat["output"][-1]["tool_calls"][0]["name"] == "get_order"
    assert "A1" in json.dumps(tool["input"]) and "order A1: shipped" in json.dumps(tool["output"])
    assert "order A1: shipped" in json.dumps(answer["output"])
    if framework not in MODEL:
        assert chat["cost"] == {"usd": pytest.approx((USAGE_IN * 0.15 + USAGE_OUT * 0.60) / 1e6), "source": "price_table"}

    run_id = by[framework]["toolfail"]["run_id"]
    failed = server.get(f"/api/agents/runs/{run_id}").json()
    tool = next(s for s in failed["steps_detail"] if s["kind"] == "tool")
    assert tool["status"] == "error" and "Traceback" not in tool["error"]["message"]
    tool_error = next(m for m in failed["failure_modes"] if m["mode"] == "tool_error")
    if framework.startswith("langgraph"):
        # OpenInference's LangChain tracer does not make the tool span current while the tool runs:
        # the backend's span starts a trace of its own, and the tool itself is the deepest failure
        assert tool["error"]["caused_by"]["operation"] == "get_order"
    else:
        assert tool["error"]["caused_by"]["service"] == "orders"
        assert tool_error["evidence"]["caused_by"] == {"orders": 1}
    if failed["status"] == "error" and framework != "openai-v2-agent":  # util-genai records no exception event
        full = server.get(f"/api/agents/runs/{run_id}", params={"full": "true"}).json()
        tracebacks = [full.get("traceback")] + [(s.get("error") or {}).get("traceback") for s in full["steps_detail"]]
        assert any(t and t.startswith("Traceback (most recent call last)") for t in tracebacks)


def test_sessions_hold_each_framework_s_runs_in_order(served):
    server, by, _ = served
    sessions = {s["session_id"]: s for s in server.get("/api/agents/sessions").json()["sessions"]}
    assert set(sessions) == {f"session-{f}" for f in FRAMEWORKS}
    one = server.get("/api/agents/sessions/session-openai-v2-agent").json()
    assert [r["run_id"] for r in one["runs"]] == [by["openai-v2-agent"][s]["run_id"] for s in SCENARIOS]
    assert one["runs_count"] == 4 and one["failed_runs"] == 3 and one["agents"] == ["order-agent"]
    assert one["cost_usd"] == pytest.approx(sum(r["cost"]["usd"] for r in one["runs"] if r["cost"]))
    # the failed tool run stopped after its tool where this session's healthy run asked the model again
    diverged = {r["run_id"]: r["session_divergence"] for r in one["runs"] if r.get("session_divergence")}
    toolfail = diverged[by["openai-v2-agent"]["toolfail"]["run_id"]]
    assert toolfail["step"] == 2 and toolfail["expected"][0]["signature"] == "chat:gpt-4o-mini"


def test_spend_per_agent_and_model(served):
    server, _, _ = served
    spend = server.get("/api/agents/spend").json()["spend"]
    row = next(r for r in spend if r["agent"] == "order-graph" and r["model"] == "gpt-4o-mini")
    # langgraph and langgraph+openai-v2: 2 + 10 + 2 + 1 model calls each, the stacked client spans not again
    assert row["calls"] == 30 and row["runs"] == 8
    assert row["input_tokens"] == 30 * USAGE_IN - 2 * USAGE_IN  # the two 429s reported no usage
    assert row["usd"] == pytest.approx((row["input_tokens"] * 0.15 + row["output_tokens"] * 0.60) / 1e6)


def test_cli_lists_shows_and_groups_runs(served):
    server, by, _ = served
    listed = cli_json("agents", "--url", server.url, "--failed", "--agent", "order-agent")["runs"]
    assert {r["run_id"] for r in listed} == {by[f][s]["run_id"] for f in ("openai-agents", "openai-v2-agent")
                                            for s in SCENARIOS if by[f][s]["status"] == "error"}
    text = run_cli("agents", "show", by["langgraph"]["toolfail"]["run_id"], "--url", server.url).stdout
    assert "ValueError: order service returned 500 for BAD" in text and "Traceback" not in text
    assert 'session session-langgraph  user user-7  tags orders, toolfail  metadata {"scenario": "toolfail", ' \
           '"tenant": "acme"}' in text
    assert "in  user: toolfail: where is my order?" in text
    full = run_cli("agents", "show", by["langgraph"]["toolfail"]["run_id"], "--url", server.url, "--full").stdout
    assert "Traceback (most recent call last)" in full
    sessions = run_cli("agents", "sessions", "--url", server.url).stdout
    assert "session-langgraph" in sessions
    shown = cli_json("agents", "session", "session-langgraph", "--url", server.url)
    assert shown["runs_count"] == 4


def test_no_content_server_keeps_runs_but_not_what_was_said(tmp_path):
    server = start_server(tmp_path / "private.duckdb", "--no-content", grpc=False)
    try:
        with StubModel() as stub:
            _run_app("openai-v2-agent", server.url, stub.url, "healthy")
        (run,) = _wait_for_runs(server, 1)
        assert (run["model_calls"], run["tool_calls"], run["tokens"]["total"]) == (2, 1, 2 * (USAGE_IN + USAGE_OUT))
        steps = server.get(f"/api/agents/runs/{run['run_id']}").json()["steps_detail"]
        assert [(s["input"], s["output"]) for s in steps] == [(None, None)] * 3
        stored = server.get(f"/api/traces/{run['trace_id']}").json()
        assert "where is my order" not in json.dumps(stored) and "shipped" not in json.dumps(stored)
    finally:
        server.stop()


def test_a_hand_off_is_a_sub_agent_step_of_the_run(tmp_path):
    """openai-agents: triage-agent hands the question to order-agent. One run, the triage agent's; the agent
    handed to is a sub-agent step, and its model and tool calls are the run's."""
    server = start_server(tmp_path / "handoff.duckdb", grpc=False)
    try:
        with StubModel() as stub:
            _run_app("openai-agents", server.url, stub.url, "handoff")
        (run,) = _wait_for_runs(server, 1)
        assert run["agent"] == "triage-agent" and run["status"] == "ok" and run["failure_modes"] == []
        # the hand-off is the model's call of transfer_to_order_agent: OpenInference records it as a TOOL span
        assert run["path"] == ["chat:gpt-4o-mini", "tool:handoff to order-agent", "agent:order-agent",
                               "chat:gpt-4o-mini", "tool:get_order", "chat:gpt-4o-mini"]
        assert (run["model_calls"], run["tool_calls"]) == (3, 2)
        steps = server.get(f"/api/agents/runs/{run['run_id']}").json()["steps_detail"]
        assert [s["kind"] for s in steps] == ["llm", "tool", "agent", "llm", "tool", "llm"]
    finally:
        server.stop()


def test_a_price_file_and_ingest_without_content(tmp_path):
    """`serve --prices FILE` and $INTERPLAY_PRICES lay the user's prices over the built-in table; a file of the
    app's own OTLP exports ingested with `ingest --no-content` keeps the run and drops what was said."""
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"gpt-4o-mini": {"input": 1.0, "output": 2.0}}))
    usd = 2 * (USAGE_IN * 1.0 + USAGE_OUT * 2.0) / 1e6  # the healthy run's two model calls at the file's prices
    server = start_server(tmp_path / "priced.duckdb", "--prices", str(prices), grpc=False)
    try:
        with StubModel() as stub, Capture() as capture:
            for url in (server.url, capture.url):  # the same app run, to the server and into files
                _run_app("openai-v2-agent", url, stub.url, "healthy")
        (run,) = _wait_for_runs(server, 1)
        assert (run["cost"]["usd"], run["cost"]["source"]) == (pytest.approx(usd), "price_table")
        assert server.get("/api/agents/spend").json()["spend"][0]["usd"] == pytest.approx(usd)
    finally:
        server.stop()
    env = {**os.environ, "INTERPLAY_PRICES": str(prices)}
    (listed,) = json.loads(run_cli("agents", "--db", str(server.db), "--format", "json", env=env).stdout)["runs"]
    assert listed["cost"]["usd"] == pytest.approx(usd)
    (default,) = cli_json("agents", "--db", str(server.db))["runs"]
    assert default["cost"]["usd"] == pytest.approx(2 * (USAGE_IN * 0.15 + USAGE_OUT * 0.60) / 1e6)

    files = sorted(str(p) for p in capture.save(tmp_path / "exports"))
    assert files
    private = tmp_path / "private.duckdb"
    run_cli("ingest", "--db", str(private), "--no-content", *files)
    (run,) = cli_json("agents", "--db", str(private))["runs"]
    assert (run["model_calls"], run["tool_calls"], run["tokens"]["total"]) == (2, 1, 2 * (USAGE_IN + USAGE_OUT))
    shown = cli_json("agents", "show", run["run_id"], "--db", str(private))
    assert [(s["input"], s["output"]) for s in shown["steps_detail"]] == [(None, None)] * 3
    kept = run_cli("trace", run["trace_id"], "--db", str(private), "--format", "json").stdout
    assert "get_order" in kept and "where is my order" not in kept and "shipped" not in kept
    # the same files without the flag keep it: what was dropped was there
    run_cli("ingest", "--db", str(tmp_path / "open.duckdb"), *files)
    (run,) = cli_json("agents", "--db", str(tmp_path / "open.duckdb"))["runs"]
    assert "where is my order" in json.dumps(cli_json("agents", "show", run["run_id"], "--db",
                                                      str(tmp_path / "open.duckdb")))


class Capture:
    """An OTLP/HTTP endpoint on 127.0.0.1 that keeps each export's protobuf body, to be saved as files."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        bodies = self.bodies = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                bodies.append(self.rfile.read(int(self.headers.get("content-length") or 0)))
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Capture:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def save(self, folder: Path) -> list[Path]:
        folder.mkdir()
        paths = [folder / f"export-{i}.pb" for i in range(len(self.bodies))]
        for path, body in zip(paths, self.bodies):
            path.write_bytes(body)
        return paths


def test_the_same_answers_on_chdb(stored, tmp_path):
    """Last: stops the module's server. Every run, session and spend row the same on the ClickHouse engine."""
    import chdb  # noqa: F401

    from interplay.api import Interplay
    from interplay.migrate import migrate
    from interplay.model_results import to_json
    duck = Interplay.open(stored, read_only=True)
    ch = Interplay.open(f"chdb:{tmp_path / 'ch'}")
    try:
        migrate(duck.store, ch.store)
        same = lambda a, b: json.dumps(to_json(a), sort_keys=True) == json.dumps(to_json(b), sort_keys=True)  # noqa: E731
        runs = duck.agent_runs(limit=100)
        assert len(runs) == len(FRAMEWORKS) * len(SCENARIOS) and same(runs, ch.agent_runs(limit=100))
        assert same(duck.agent_sessions(), ch.agent_sessions())
        assert same(duck.agent_session("session-langgraph"), ch.agent_session("session-langgraph"))
        assert same(duck.agent_spend(), ch.agent_spend())
        loop = next(r for r in runs if r.service == "langgraph-app" and r.tool_calls == 9)
        assert same(duck.agent_run(loop.run_id, full=True), ch.agent_run(loop.run_id, full=True))
    finally:
        duck.close()
        ch.close()
