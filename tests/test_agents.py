"""Agent runs from hand-built GenAI (new and old names) and OpenInference traces: runs, steps, failure modes."""
from __future__ import annotations

import json

import pytest

from interplay.agents import agent_load_by_backend, runs_touching
from interplay.api import Interplay
from interplay.model import InvalidInput, NotFound, TimeRange
from interplay.model_agents import AgentRun, BackendLoad, Cost, FailureMode, Tokens, ToolCall
from interplay.testing import TraceBuilder, traces_request

T0 = 1_767_225_600 * 10**9
SEC = 10**9

# The same ideas spelled by three conventions.
STYLES = {
    "new": {"op": "gen_ai.operation.name", "agent": "gen_ai.agent.name", "model": "gen_ai.request.model",
            "provider": "gen_ai.provider.name", "in": "gen_ai.usage.input_tokens",
            "out": "gen_ai.usage.output_tokens", "tool": "gen_ai.tool.name", "args": "gen_ai.tool.call.arguments",
            "finish": "gen_ai.response.finish_reasons"},
    "old": {"op": "gen_ai.operation.name", "agent": "gen_ai.agent.name", "model": "gen_ai.request.model",
            "provider": "gen_ai.system", "in": "gen_ai.usage.prompt_tokens",
            "out": "gen_ai.usage.completion_tokens", "tool": "gen_ai.tool.name",
            "args": "gen_ai.tool.call.arguments", "finish": "gen_ai.response.finish_reasons"},
    "oi": {"kind": "openinference.span.kind", "agent": "agent.name", "model": "llm.model_name",
           "provider": "llm.provider", "in": "llm.token_count.prompt", "out": "llm.token_count.completion",
           "tool": "tool.name", "args": "input.value", "finish": "llm.finish_reason"},
}


class Run:
    """One agent run in one trace, written in a given convention style."""

    def __init__(self, i: int, agent: str = "support", style: str = "new", error: str | None = None,
                 service: str = "agent-svc"):
        self.style, self.k, self.service = style, STYLES[style], service
        self.trace = TraceBuilder(start_ns=T0 + i * 10 * SEC, seed=1000 + i)
        attrs = {self.k["agent"]: agent}
        attrs.update(self._marker("invoke_agent", "AGENT"))
        self.root = self.trace.span(service, f"invoke_agent {agent}", kind="INTERNAL", duration_ms=5000,
                                    attributes=attrs, error=error is not None, message=error or "")
        self.at = 1.0

    def _marker(self, op: str, oi_kind: str) -> dict:
        return {self.k["kind"]: oi_kind} if self.style == "oi" else {self.k["op"]: op}

    def chat(self, tin=100, tout=20, finish="tool_calls", model="gpt-4o", error=None, extra=None, ms=10):
        attrs = {self.k["model"]: model, self.k["provider"]: "openai", self.k["in"]: tin, self.k["out"]: tout,
                 self.k["finish"]: finish if self.style == "oi" else [finish], **self._marker("chat", "LLM"),
                 **(extra or {})}
        if error:
            attrs.pop(self.k["in"]), attrs.pop(self.k["out"])
        span = self.root.child(self.service, f"chat {model}", kind="CLIENT", offset_ms=self.at, duration_ms=ms,
                               attributes=attrs, error=error is not None, message=error or "")
        self.at += ms + 1
        return span

    def tool(self, name="get_order", args='{"id": 42}', error=None, calls=(("orders", "GET /orders/{id}"),),
             ms=20, extra=None):
        attrs = {self.k["tool"]: name, self.k["args"]: args, **self._marker("execute_tool", "TOOL"),
                 **(extra or {})}
        span = self.root.child(self.service, f"execute_tool {name}", offset_ms=self.at, duration_ms=ms,
                               attributes=attrs, error=error is not None, message=error or "")
        parent = span
        for svc, op in calls:
            client = parent.child(parent.service, f"call {svc}", kind="CLIENT", offset_ms=1, duration_ms=ms - 4,
                                  attributes={"server.address": svc})
            parent = client.child(svc, op, kind="SERVER", offset_ms=1, duration_ms=ms - 6)
        self.at += ms + 1
        return span

    def healthy(self, tin=100):
        self.chat(tin=tin)
        self.tool()
        self.chat(tin=tin + 50, finish="stop")
        return self


def open_store(tmp_path, runs) -> Interplay:
    path = tmp_path / "agents.jsonl"
    path.write_text(json.dumps(traces_request([r.trace if isinstance(r, Run) else r for r in runs])) + "\n")
    ip = Interplay.open(":memory:")
    ip.ingest_file(path)
    return ip


def modes(run: AgentRun) -> dict[str, FailureMode]:
    return {m.mode: m for m in run.failure_modes}


def by_id(runs: list[AgentRun], trace) -> AgentRun:
    return next(r for r in runs if r.trace_id == trace.trace.trace_id)


# -- runs and steps ------------------------------------------------------------------------------
@pytest.mark.parametrize("style", ["new", "old", "oi"])
def test_healthy_runs_have_steps_tokens_and_no_failure_modes(tmp_path, style):
    built = [Run(i, style=style).healthy() for i in range(6)]
    ip = open_store(tmp_path, built)
    runs = ip.agent_runs()
    assert len(runs) == 6
    for r in runs:
        assert r.agent == "support" and r.status == "ok"
        assert (r.steps, r.model_calls, r.tool_calls) == (3, 2, 1)
        assert r.tools == ["get_order"]
        assert r.tokens == Tokens(250, 40, 290)
        assert r.path == ["chat:gpt-4o", "tool:get_order", "chat:gpt-4o"]
        assert r.failure_modes == [] and r.complete
    assert {r.run_id for r in runs} == {f"{b.trace.trace_id}:{b.root.span_id}" for b in built}
    started = [r.started_ns for r in runs]
    assert started == sorted(started, reverse=True)


def test_show_run_steps_in_order_with_models_tokens_args_and_downstream(tmp_path):
    run = Run(0)
    run.chat(tin=120, tout=30)
    run.tool("get_order", '{"id": 7}', calls=[("orders", "GET /orders/{id}"), ("orders-db", "SELECT orders")])
    run.chat(tin=200, tout=60, finish="stop", model="gpt-4o-mini")
    ip = open_store(tmp_path, [run])
    rid = ip.agent_runs()[0].run_id
    shown = ip.agent_run(rid)
    steps = shown.steps_detail
    assert [s.index for s in steps] == [0, 1, 2]
    assert [s.signature for s in steps] == ["chat:gpt-4o", "tool:get_order", "chat:gpt-4o-mini"]
    assert steps[0].call.model == "gpt-4o" and steps[0].call.tokens.input == 120
    assert steps[0].call.finish_reasons == ["tool_calls"] and steps[2].call.finish_reasons == ["stop"]
    assert steps[0].call.provider == "openai" and steps[1].call is None
    assert steps[1].tool_call == ToolCall("get_order", '{"id": 7}', None)
    assert steps[1].downstream == ["orders", "orders-db"]
    assert [s.start_ns for s in steps] == sorted(s.start_ns for s in steps)
    # a bare trace id finds the run too
    assert ip.agent_run(rid.split(":")[0]).run_id == rid


def test_openinference_run_reads_its_own_names(tmp_path):
    run = Run(0, style="oi", agent="researcher")
    run.chat(tin=300, tout=40)
    run.tool("web_search", '{"query": "otel"}')
    ip = open_store(tmp_path, [run])
    r = ip.agent_runs()[0]
    assert r.agent == "researcher" and r.tools == ["web_search"]
    assert r.tokens.input == 300 and r.tokens.output == 40
    step = ip.agent_run(r.run_id).steps_detail[1]
    assert step.kind == "tool" and step.tool_call.arguments == '{"query": "otel"}'


def test_openinference_decision_and_unknown_spans(tmp_path):
    """OpenInference 0.1.42's DECISION span (a decision model: its own model name and token counts) is a model
    call; an UNKNOWN span is no step, and what is below it still counts; llm.cost.* details are shown."""
    run = Run(0, style="oi", agent="router")
    run.root.child(run.service, "route", offset_ms=1, duration_ms=5, attributes={
        "openinference.span.kind": "DECISION", "decision.model_name": "jev-1", "decision.provider": "typesafe",
        "decision.token_count.input": 40, "decision.token_count.output": 2})
    wrapper = run.root.child(run.service, "helper", offset_ms=10, duration_ms=50,
                             attributes={"openinference.span.kind": "UNKNOWN"})
    wrapper.child(run.service, "ChatOpenAI", kind="CLIENT", offset_ms=1, duration_ms=10, attributes={
        "openinference.span.kind": "LLM", "llm.model_name": "gpt-4o", "llm.token_count.prompt": 100,
        "llm.token_count.completion": 10, "llm.cost.total": 0.002, "llm.cost.prompt_details.cache_read": 0.0001})
    wrapper.child(run.service, "get_order", offset_ms=20, duration_ms=10,
                  attributes={"openinference.span.kind": "TOOL", "tool.name": "get_order"})
    ip = open_store(tmp_path, [run])
    (r,) = ip.agent_runs()
    assert r.path == ["chat:jev-1", "chat:gpt-4o", "tool:get_order"]
    assert (r.steps, r.model_calls, r.tool_calls) == (3, 2, 1)
    assert r.tokens.input == 140 and r.tokens.output == 12
    chat = ip.agent_run(r.run_id).steps_detail[1]
    assert chat.call.cost == Cost(0.002, "instrumentation")
    assert chat.call.usage["llm.cost.prompt_details.cache_read"] == 0.0001


def test_unknown_usage_keys_and_operations_are_kept(tmp_path):
    run = Run(0)
    run.chat(extra={"gen_ai.usage.cache_write_input_tokens": 512, "gen_ai.usage.cache_read.input_tokens": 64,
                    "gen_ai.usage.quantum_tokens": 3, "vendor.new_thing": "x"})
    run.root.child(run.service, "plan next move", offset_ms=50, duration_ms=5,
                   attributes={"gen_ai.operation.name": "plan_reasoning"})
    ip = open_store(tmp_path, [run])
    shown = ip.agent_run(ip.agent_runs()[0].run_id)
    chat, plan = shown.steps_detail
    assert chat.call.usage["gen_ai.usage.cache_write_input_tokens"] == 512
    assert chat.call.usage["gen_ai.usage.quantum_tokens"] == 3
    assert chat.call.usage["gen_ai.usage.cache_read.input_tokens"] == 64
    assert plan.kind == "plan_reasoning" and plan.signature == "plan_reasoning:plan next move"


def test_old_spans_without_operation_name_are_still_model_and_tool_calls(tmp_path):
    t = TraceBuilder(start_ns=T0, seed=5)
    root = t.span("bot", "POST /ask", kind="SERVER", duration_ms=100)
    root.child("bot", "openai.chat", kind="CLIENT", offset_ms=1, duration_ms=10,
               attributes={"gen_ai.system": "openai", "gen_ai.request.model": "gpt-3.5-turbo",
                           "gen_ai.usage.prompt_tokens": 11, "gen_ai.usage.completion_tokens": 7})
    root.child("bot", "lookup", offset_ms=12, duration_ms=10, attributes={"gen_ai.tool.name": "lookup"})
    ip = open_store(tmp_path, [t])
    (r,) = ip.agent_runs()
    # no agent span: the trace is the run, rooted at its root span, named after its service
    assert r.run_id == f"{t.trace_id}:{root.span_id}"
    assert r.agent == "bot" and r.path == ["chat:gpt-3.5-turbo", "tool:lookup"]
    assert r.tokens == Tokens(11, 7, 18)


def add_sub_agent(run: Run) -> None:
    """A sub-agent `coder` invoked by the run's agent, with one model call of its own."""
    sub = run.root.child(run.service, "invoke_agent coder", offset_ms=20, duration_ms=100,
                         attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "coder"})
    sub.child(run.service, "chat gpt-4o", kind="CLIENT", offset_ms=1, duration_ms=10,
              attributes={"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                          "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 10})


def test_sub_agent_is_a_step_of_the_outer_run(tmp_path):
    run = Run(0, agent="planner")
    run.chat()
    add_sub_agent(run)
    ip = open_store(tmp_path, [run])
    (r,) = ip.agent_runs()
    # the hand-off is a step, and the sub-agent's own model call is one of the run's model calls
    assert r.agent == "planner" and r.path == ["chat:gpt-4o", "agent:coder", "chat:gpt-4o"]
    assert (r.steps, r.model_calls) == (3, 2)
    assert r.tokens.input == 1100


def test_orphan_spans_are_attached_by_time_and_the_run_marked_incomplete(tmp_path):
    run = Run(0)
    run.chat()
    orphan = TraceBuilder(start_ns=T0, seed=99, trace_id=run.trace.trace_id)
    orphan.span(run.service, "execute_tool get_order", kind="INTERNAL", offset_ms=30, duration_ms=5,
                parent="00000000deadbeef", attributes={"gen_ai.operation.name": "execute_tool",
                                                       "gen_ai.tool.name": "get_order"})
    ip = open_store(tmp_path, [run, orphan])
    (r,) = ip.agent_runs()
    assert r.path == ["chat:gpt-4o", "tool:get_order"] and r.complete is False


def test_listing_filters_agent_failed_window_and_limit(tmp_path):
    runs = [Run(i, agent="support").healthy() for i in range(3)]
    runs += [Run(10 + i, agent="billing").healthy() for i in range(2)]
    bad = Run(20, agent="billing", error="gave up")
    bad.chat(finish="stop")
    ip = open_store(tmp_path, runs + [bad])
    assert {r.agent for r in ip.agent_runs(agent="billing")} == {"billing"}
    assert len(ip.agent_runs(agent="billing")) == 3
    failed = ip.agent_runs(failed=True)
    assert [r.trace_id for r in failed] == [bad.trace.trace_id] and failed[0].error == "gave up"
    window = TimeRange(T0 + 5 * SEC, T0 + 95 * SEC)
    assert len(ip.agent_runs(window=window)) == 2  # runs 1 and 2 start at 10 s and 20 s
    assert len(ip.agent_runs(limit=2)) == 2
    with pytest.raises(InvalidInput):
        ip.agent_runs(limit=0)


def test_newest_runs_are_found_past_the_first_batch_of_traces(tmp_path):
    # 70 newer healthy runs push the two failed (and the billing) runs out of the first batch of traces.
    old = [Run(0, agent="billing", error="x"), Run(1, error="y")]
    for r in old:
        r.chat(finish="stop")
    newer = [Run(2 + i).healthy() for i in range(70)]
    plain = TraceBuilder(start_ns=T0 + 900 * SEC, seed=7)  # no agent span: rooted at its root span
    root = plain.span("bot", "POST /ask", kind="SERVER", duration_ms=100)
    root.child("bot", "openai.chat", kind="CLIENT", offset_ms=1, duration_ms=10,
               attributes={"gen_ai.request.model": "m", "gen_ai.usage.input_tokens": 5})
    root.child("bot", "lookup", offset_ms=12, duration_ms=10, attributes={"gen_ai.tool.name": "lookup"})
    ip = open_store(tmp_path, old + newer + [plain])
    every = ip.agent_runs(limit=1000)
    assert len(every) == 73 and every[0].run_id == f"{plain.trace_id}:{root.span_id}"
    assert [r.run_id for r in ip.agent_runs(limit=5)] == [r.run_id for r in every[:5]]
    assert [r.trace_id for r in ip.agent_runs(failed=True, limit=2)] == [o.trace.trace_id for o in old[::-1]]
    assert [r.agent for r in ip.agent_runs(agent="billing", limit=1)] == ["billing"]


def test_baselines_follow_newly_ingested_runs(tmp_path):
    bad = Run(10, error="refund failed")
    bad.tool("issue_refund")
    ip = open_store(tmp_path, [Run(i).healthy() for i in range(3)] + [bad])
    rid = f"{bad.trace.trace_id}:{bad.root.span_id}"
    assert modes(ip.agent_run(rid))["divergence"].evidence["compared_with"] == 3
    more = tmp_path / "more.jsonl"
    more.write_text(json.dumps(traces_request([Run(20 + i).healthy().trace for i in range(2)])) + "\n")
    ip.ingest_file(more)
    assert modes(ip.agent_run(rid))["divergence"].evidence["compared_with"] == 5


@pytest.mark.parametrize("name", ['o"brien', "42", "back\\slash"])
def test_agent_names_that_are_not_plain_text_still_get_baselines(tmp_path, name):
    bad = Run(10, agent=name, error="x")
    bad.tool("other")
    ip = open_store(tmp_path, [Run(i, agent=name).healthy() for i in range(5)] + [bad])
    listed = by_id(ip.agent_runs(), bad)
    assert listed.agent == name and "divergence" in modes(listed)
    assert ip.agent_run(listed.run_id).failure_modes == listed.failure_modes


def test_run_ids_are_validated_and_missing_runs_are_not_found(tmp_path):
    ip = open_store(tmp_path, [Run(0).healthy()])
    with pytest.raises(InvalidInput):
        ip.agent_run("nope")
    with pytest.raises(NotFound):
        ip.agent_run("0" * 32 + ":" + "1" * 16)


# -- failure modes -------------------------------------------------------------------------------
def test_tool_loop_old_names(tmp_path):
    good = [Run(i, style="old").healthy() for i in range(5)]
    loop = Run(9, style="old", error="max iterations reached")
    for _ in range(8):
        loop.chat()
        loop.tool("search_orders", '{"customer": "c-17",  "page": 1}')
    ip = open_store(tmp_path, good + [loop])
    runs = ip.agent_runs()
    m = modes(by_id(runs, loop))
    assert m["tool_loop"].evidence["tool"] == "search_orders"
    assert m["tool_loop"].evidence["identical_calls"] == 8
    assert m["tool_loop"].evidence["downstream"] == ["orders"]
    assert all("tool_loop" not in modes(by_id(runs, g)) for g in good)


def test_tool_loop_near_identical_arguments(tmp_path):
    loop = Run(0)
    for i in range(5):
        loop.chat()
        loop.tool("fetch_page", '{"url": "https://example.com/items?session=abc123", "attempt": ' + str(i) + '}')
    m = modes(open_store(tmp_path, [loop]).agent_runs()[0])
    assert m["tool_loop"].evidence["longest_streak"] == 5


def test_retry_storm_and_tool_error_openinference(tmp_path):
    run = Run(0, style="oi", error="tool kept failing")
    run.chat()
    for _ in range(4):
        run.tool("charge_card", '{"amount": 10}', error="502 Bad Gateway")
    m = modes(open_store(tmp_path, [run]).agent_runs()[0])
    assert m["retry_storm"].evidence["signature"] == "tool:charge_card"
    assert m["retry_storm"].evidence["failures"] == 4
    assert m["tool_error"].evidence["failed_calls"] == 4


def test_rate_limited_new_names_and_retry_storm_of_model_calls(tmp_path):
    run = Run(0, error="RateLimitError")
    for attempt in range(4):
        run.chat(error="Error code: 429 - Rate limit reached",
                 extra={"http.response.status_code": 429, "error.type": "429",
                        **({"http.request.resend_count": attempt} if attempt else {})})
    r = open_store(tmp_path, [run]).agent_runs()[0]
    m = modes(r)
    assert m["rate_limited"].evidence["responses"] == 4
    assert m["rate_limited"].evidence["sources"] == {"openai": 4}
    assert m["retry_storm"].evidence["signature"] == "chat:gpt-4o"
    assert r.status == "error"


def test_rate_limit_from_message_only(tmp_path):
    run = Run(0, style="oi")
    run.chat(error="openai.RateLimitError: Too Many Requests")
    run.chat(finish="stop")
    m = modes(open_store(tmp_path, [run]).agent_runs()[0])
    assert "rate_limited" in m and m["rate_limited"].evidence["run_recovered"] is True


def add_timed_out_tool(run: Run) -> None:
    """A tool call whose HTTP client gave up on a slow inventory service."""
    tool = run.tool("get_inventory", calls=[])
    client = tool.child(run.service, "GET /inventory", kind="CLIENT", offset_ms=1, duration_ms=15,
                        attributes={"server.address": "inventory", "error.type": "TimeoutError"},
                        error=True, message="read timed out after 10s")
    client.child("inventory", "GET /inventory", kind="SERVER", offset_ms=1, duration_ms=14)


def add_failing_backend_tool(run: Run) -> None:
    """A tool call failed by a database deadlock two services down."""
    tool = run.tool("reserve_stock", calls=[], error="HTTP 500")
    client = tool.child(run.service, "POST /reserve", kind="CLIENT", offset_ms=1, duration_ms=15,
                        attributes={"http.response.status_code": 500}, error=True)
    server = client.child("inventory", "POST /reserve", kind="SERVER", offset_ms=1, duration_ms=13, error=True,
                          attributes={"http.response.status_code": 500})
    server.child("inventory", "UPDATE stock", kind="CLIENT", offset_ms=1, duration_ms=10, error=True,
                 message="deadlock detected", attributes={"db.system": "postgresql"})


def test_timeout_beneath_a_tool(tmp_path):
    run = Run(0, error="tool timed out")
    run.chat()
    add_timed_out_tool(run)
    m = modes(open_store(tmp_path, [run]).agent_runs()[0])
    assert m["timeout"].step == 1
    assert m["timeout"].evidence["where"] == {"agent-svc": 1}
    assert m["timeout"].summary == "1 timeout at agent-svc"  # a sentence, not "1 timeouts"


def test_tool_error_names_the_deepest_failing_downstream_service(tmp_path):
    run = Run(0, error="tool failed")
    run.chat()
    add_failing_backend_tool(run)
    ip = open_store(tmp_path, [run])
    r = ip.agent_runs()[0]
    ev = modes(r)["tool_error"].evidence
    assert ev["caused_by"] == {"inventory": 1}
    assert modes(r)["tool_error"].summary == "1 tool call failed; deepest failure in inventory"
    assert ev["calls"][0]["caused_by"] == {"service": "inventory", "operation": "UPDATE stock",
                                           "message": "deadlock detected"}
    step = ip.agent_run(r.run_id).steps_detail[1]
    assert step.error.caused_by.service == "inventory" and step.downstream == ["inventory"]


def test_token_blowup_against_the_agents_normal_runs(tmp_path):
    normal = [Run(i).healthy(tin=900 + 20 * i) for i in range(8)]
    heavy = Run(20)
    heavy.chat(tin=30_000)
    heavy.tool()
    heavy.chat(tin=60_000, finish="stop")
    other_agent = [Run(30 + i, agent="tiny").healthy(tin=10) for i in range(3)]
    runs = open_store(tmp_path, normal + [heavy] + other_agent).agent_runs()
    m = modes(by_id(runs, heavy))
    assert m["token_blowup"].evidence["ratio"] > 10
    assert m["token_blowup"].evidence["runs_compared"] == 9
    assert not any("token_blowup" in modes(by_id(runs, n)) for n in normal + other_agent)


def test_divergence_names_the_step_where_a_failed_run_left_the_usual_path(tmp_path):
    good = [Run(i).healthy() for i in range(5)]
    bad = Run(10, error="refund failed")
    bad.chat()
    bad.tool("issue_refund", '{"order": 42}')
    bad.chat(finish="stop")
    runs = open_store(tmp_path, good + [bad]).agent_runs()
    d = modes(by_id(runs, bad))["divergence"]
    assert d.step == 1
    assert d.evidence["happened"] == "tool:issue_refund"
    assert d.evidence["expected"] == [{"signature": "tool:get_order", "share": 1.0}]
    assert d.evidence["compared_with"] == 5


def test_no_divergence_claim_without_enough_successful_runs(tmp_path):
    good = [Run(i).healthy() for i in range(2)]
    bad = Run(10, error="x")
    bad.tool("other")
    runs = open_store(tmp_path, good + [bad]).agent_runs()
    assert "divergence" not in modes(by_id(runs, bad))


# -- across the boundary -------------------------------------------------------------------------
def test_runs_touching_and_agent_load_by_backend(tmp_path):
    looping = Run(0, agent="looper")
    for _ in range(6):
        looping.tool("get_order")
    calm = Run(1, agent="calm").healthy()
    user = TraceBuilder(start_ns=T0 + 2 * SEC, seed=77)
    front = user.span("frontend", "GET /orders", duration_ms=30)
    front.child("orders", "GET /orders/{id}", kind="SERVER", offset_ms=1, duration_ms=20)
    llm_only = Run(2, agent="calm")
    llm_only.chat(extra={"server.address": "api.openai.com"})
    ip = open_store(tmp_path, [looping, calm, user, llm_only])
    touching = runs_touching(ip.store, "orders")
    assert touching == [f"{looping.trace.trace_id}:{looping.root.span_id}",
                        f"{calm.trace.trace_id}:{calm.root.span_id}"]
    assert runs_touching(ip.store, "orders", TimeRange(T0 + 15 * SEC, None)) == []
    load = {(r.agent, r.backend): r for r in agent_load_by_backend(ip.store)}
    assert load[("looper", "orders")] == BackendLoad("looper", "orders", True, calls=6, errors=0, runs=1,
                                                     backend_requests=8, share=0.75)
    assert load[("calm", "api.openai.com")].instrumented is False


# -- HTTP routes in-process ------------------------------------------------------------------------
def test_http_routes_in_process(tmp_path):
    from starlette.testclient import TestClient

    from interplay.server.app import ServerState, create_app
    good = [Run(i).healthy() for i in range(4)]
    bad = Run(9, error="boom")
    bad.chat()
    ip = open_store(tmp_path, good + [bad])
    client = TestClient(create_app(ServerState(ip, writer=None)), base_url="http://127.0.0.1")
    body = client.get("/api/agents/runs", params={"failed": "true"}).json()
    assert [r["trace_id"] for r in body["runs"]] == [bad.trace.trace_id]
    rid = body["runs"][0]["run_id"]
    assert client.get(f"/api/agents/runs/{rid}").json()["steps_detail"][0]["kind"] == "llm"
    assert client.get("/api/agents/runs/zzz").status_code == 400
    assert client.get("/api/agents/runs/" + "0" * 32).status_code == 404
    assert client.get("/api/agents/runs", params={"limit": "x"}).status_code == 400
    assert client.get("/api/agents/load").json()["load"][0]["backend"] == "orders"
    assert len(client.get("/api/agents/touching", params={"service": "orders"}).json()["runs"]) == 4


def test_a_run_stopped_at_its_turn_limit_is_a_tool_loop_even_with_few_distinct_calls(tmp_path):
    run = Run(0, error="Max turns exceeded: {'max_turns': 2}")
    run.chat()
    run.tool("get_order", '{"id": 1}')
    run.chat()
    run.tool("get_order", '{"id": 2}')
    ip = open_store(tmp_path, [run])
    (r,) = ip.agent_runs()
    loop = modes(r)["tool_loop"]
    assert loop.evidence["max_turns"] is True and loop.evidence["calls"] == 2
    assert loop.evidence["identical_calls"] == 1 and "turn limit" in loop.summary
