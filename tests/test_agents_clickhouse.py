"""Agent runs on a ClickHouse store (chDB, in process) answer as on DuckDB: runs, steps, failure modes,
baselines, the boundary queries and the CLI; and the engine vocabulary their SQL needs.

chDB serves one database path per process, so every ClickHouse store here is closed before another
(or the CLI, in its own process) opens one.
"""
from __future__ import annotations

import json
from pathlib import Path

import chdb  # noqa: F401  (not installed: these tests fail, never skip)
import pytest

from conftest import cli_json
from interplay.agents import agent_load_by_backend, divergence, runs_touching
from interplay.agents.divergence import _compute
from interplay.api import Interplay
from interplay.model import TimeRange
from interplay.model_results import to_json
from interplay.store.open import open_store
from interplay.testing import TraceBuilder, traces_request
from test_agents import SEC, T0, Run, add_failing_backend_tool, add_sub_agent, add_timed_out_tool

MODES = {"tool_loop", "retry_storm", "rate_limited", "timeout", "tool_error", "token_blowup", "divergence"}
SHOWN: set[str] = set()  # trace ids of the runs shown step by step (each show is a few seconds on chDB)


def _runs() -> list:
    """Runs that between them show every failure mode, sub-agents, orphans and runs without an agent span."""
    built: list = [Run(i).healthy(tin=900 + 20 * i) for i in range(8)]
    heavy = Run(10)
    heavy.chat(tin=30_000)
    heavy.tool()
    heavy.chat(tin=60_000, finish="stop")
    diverged = Run(11, error="refund failed")
    diverged.chat()
    diverged.tool("issue_refund", '{"order": 42}')
    diverged.chat(finish="stop")
    loop = Run(12, style="old", error="max iterations reached")
    for _ in range(6):
        loop.chat()
        loop.tool("search_orders", '{"customer": "c-17",  "page": 1}')
    storm = Run(13, style="oi", agent="researcher", error="tool kept failing")
    storm.chat()
    for _ in range(4):
        storm.tool("charge_card", '{"amount": 10}', error="502 Bad Gateway")
    limited = Run(14, agent="researcher", error="RateLimitError")
    for attempt in range(4):
        limited.chat(error="Error code: 429 - Rate limit reached",
                     extra={"http.response.status_code": 429, "error.type": "429",
                            **({"http.request.resend_count": attempt} if attempt else {})})
    slow = Run(15, error="tool timed out")
    slow.chat(extra={"gen_ai.conversation.id": "conv-9"})
    add_timed_out_tool(slow)
    deep = Run(16, error="tool failed")
    deep.chat()
    add_failing_backend_tool(deep)
    planner = Run(17, agent="planner")
    planner.chat()
    add_sub_agent(planner)
    orphaned = Run(18)
    orphaned.chat()
    orphan = TraceBuilder(start_ns=T0 + 18 * 10 * SEC, seed=99, trace_id=orphaned.trace.trace_id)
    orphan.span(orphaned.service, "execute_tool get_order", kind="INTERNAL", offset_ms=30, duration_ms=5,
                parent="00000000deadbeef", attributes={"gen_ai.operation.name": "execute_tool",
                                                       "gen_ai.tool.name": "get_order"})
    plain = TraceBuilder(start_ns=T0 + 19 * 10 * SEC, seed=5)  # no agent span: rooted at its root span
    root = plain.span("bot", "POST /ask", kind="SERVER", duration_ms=100)
    root.child("bot", "openai.chat", kind="CLIENT", offset_ms=1, duration_ms=10,
               attributes={"gen_ai.system": "openai", "gen_ai.request.model": "gpt-3.5-turbo",
                           "gen_ai.usage.prompt_tokens": 11, "gen_ai.usage.completion_tokens": 7,
                           "server.address": "api.openai.com"})
    root.child("bot", "lookup", offset_ms=12, duration_ms=10, attributes={"gen_ai.tool.name": "lookup"})
    looper = Run(20, agent="looper")
    for _ in range(6):
        looper.tool("get_order")
    user = TraceBuilder(start_ns=T0 + 21 * 10 * SEC, seed=77)
    user.span("frontend", "GET /orders", duration_ms=30).child("orders", "GET /orders/{id}", kind="SERVER",
                                                               offset_ms=1, duration_ms=20)
    quoted = [Run(30 + i, agent='o"brien').healthy() for i in range(3)]
    built += [heavy, diverged, loop, storm, limited, slow, deep, planner, orphaned, orphan, plain, looper, user,
              *quoted]
    SHOWN.update(r.trace.trace_id for r in (diverged, deep, planner))
    SHOWN.add(plain.trace_id)
    return [b.trace if isinstance(b, Run) else b for b in built]


@pytest.fixture(scope="module")
def telemetry(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("agents") / "agents.jsonl"
    path.write_text(json.dumps(traces_request(_runs())) + "\n")
    return path


def _answers(url: str, path: Path) -> dict:
    """Everything the agents package answers about the telemetry in `path`, read from a store at `url`."""
    ip = Interplay(open_store(url))
    # keep baselines for the whole fixture: each is computed once per store, not again whenever 30 s passed
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(divergence, "CACHE_SECONDS", 3600.0)
        return _ask(ip, path)


def _ask(ip: Interplay, path: Path) -> dict:
    try:
        ip.ingest_file(path)
        runs = ip.agent_runs(limit=1000)
        window = TimeRange(T0 + 25 * SEC, T0 + 165 * SEC)
        return {  # as the API writes them (the engines are compared on what users see)
            "runs": to_json(runs),
            "shown": {r.run_id: to_json(ip.agent_run(r.run_id)) for r in runs if r.trace_id in SHOWN},
            "by_trace": to_json(ip.agent_run(runs[0].trace_id)),
            "support": to_json(ip.agent_runs(agent="support", limit=1000)),
            "failed": to_json(ip.agent_runs(failed=True, limit=3)),
            "window": to_json(ip.agent_runs(window=window)),
            "baselines": {a: vars(b) for a, b in _compute(ip.store, ["support", "researcher", 'o"brien'],
                                                          None).items()},
            "touching": runs_touching(ip.store, "orders"),
            "touching_window": runs_touching(ip.store, "inventory", window),
            "load": to_json(agent_load_by_backend(ip.store)),
        }
    finally:
        ip.close()


@pytest.fixture(scope="module")
def answers(tmp_path_factory, telemetry) -> dict[str, dict]:
    tmp = tmp_path_factory.mktemp("stores")
    return {"duckdb": _answers(f"duckdb:{tmp / 'a.duckdb'}", telemetry),
            "chdb": _answers(f"chdb:{tmp / 'ch'}", telemetry)}


def test_agent_runs_are_the_same_on_both_backends(answers):
    duck, ch = answers["duckdb"], answers["chdb"]
    assert len(duck["runs"]) == 22  # the user trace is no run; the orphan joins its run
    assert {m["mode"] for r in duck["runs"] for m in r["failure_modes"]} == MODES
    assert any(not r["complete"] for r in duck["runs"]) and any(r["conversation_id"] for r in duck["runs"])
    assert ch["runs"] == duck["runs"]
    for key in ("support", "failed", "window"):
        assert ch[key] == duck[key] and duck[key], key
    assert len(duck["failed"]) == 3 and 0 < len(duck["window"]) < len(duck["runs"])


def test_steps_of_every_run_are_the_same_on_both_backends(answers):
    duck, ch = answers["duckdb"], answers["chdb"]
    steps = [s for run in duck["shown"].values() for s in run["steps_detail"]]
    assert any(s.get("error", {}).get("caused_by") for s in steps) and any(s["downstream"] for s in steps)
    assert any(s.get("peers") for s in steps) and any(s.get("error", {}).get("http_errors") for s in steps)
    for run_id, run in duck["shown"].items():
        assert ch["shown"][run_id] == run, run_id
    assert ch["by_trace"] == duck["by_trace"]


def test_baselines_are_the_same_on_both_backends(answers):
    duck, ch = answers["duckdb"]["baselines"], answers["chdb"]["baselines"]
    assert duck["support"]["good_runs"] == 10 and duck["support"]["token_median"] > 0
    assert set(duck) == {"support", "researcher", 'o"brien'}  # 'o"brien' is found without the text shortcut
    assert ch == duck


def test_boundary_queries_are_the_same_on_both_backends(answers):
    duck, ch = answers["duckdb"], answers["chdb"]
    assert len(duck["touching"]) == 16 and len(duck["touching_window"]) == 2
    assert ch["touching"] == duck["touching"] and ch["touching_window"] == duck["touching_window"]
    load = {(r["agent"], r["backend"]): r for r in duck["load"]}
    assert load[("looper", "orders")]["calls"] == 6 and load[("bot", "api.openai.com")]["instrumented"] is False
    assert ch["load"] == duck["load"]


def test_cli_lists_and_shows_runs_of_a_chdb_store(tmp_path, telemetry, answers):
    ip = Interplay(open_store(f"chdb:{tmp_path / 'ch'}"))
    ip.ingest_file(telemetry)
    ip.close()
    listed = cli_json("agents", "--store", f"chdb:{tmp_path / 'ch'}", "--failed", "--limit", "3")
    assert listed["runs"] == json.loads(json.dumps(answers["duckdb"]["failed"]))
    run_id = listed["runs"][0]["run_id"]
    shown = cli_json("agents", "show", run_id, "--store", f"chdb:{tmp_path / 'ch'}")
    assert shown == json.loads(json.dumps(answers["duckdb"]["shown"][run_id]))


# -- the engine vocabulary the agents SQL needs ----------------------------------------------------
@pytest.mark.parametrize("backend", ["duckdb", "chdb"])
def test_engine_vocabulary_answers_alike(tmp_path, backend):
    """Each word of store.sql (duckdb_sql, clickhouse_sql) gives the same answer on its engine."""
    url = f"duckdb:{tmp_path / 'a.duckdb'}" if backend == "duckdb" else f"chdb:{tmp_path / 'ch'}"
    store = open_store(url)
    sql = store.sql
    kx, ab = sql.attrs_of("""'{"k.x": "v", "other": 1}'"""), sql.attrs_of("""'{"a.b": "v"}'""")
    try:
        rows = store.query(f"""
            SELECT {sql.struct_attr('a', 'k.x')} AS x, {sql.struct_attr('a', 'gone')} AS gone, n,
                   (SELECT count(*) FROM (SELECT unnest({sql.TEXT_LIST_PARAM}) AS v)) AS listed
            FROM (SELECT {sql.star_except('j')}, {sql.attr_struct('j', ['k.x', 'gone'])} AS a
                  FROM (SELECT {kx} AS j, 7 AS n))""", [["c", "b", "a"]])
        rows += store.query(f"""
            SELECT {sql.ordered_join('s', "'|'", ['k1', 'k2'], 'k1 > 0')} AS joined,
                   {sql.ordered_list('s', ['k2', 'k1'])} AS listed,
                   {sql.quantile('k2', 0.5)} AS med, {sql.arg_min('s', 'k2')} AS first, {sql.arg_max('s', 'k2')} AS last,
                   {sql.bool_or('k1 > 1')} AS some, {sql.any_value('3')} AS three, {sql.chr(124)} AS bar
            FROM (SELECT 'c' AS s, 2 AS k1, 0 AS k2 UNION ALL SELECT 'b', 1, 5 UNION ALL SELECT 'a', 1, 3
                  UNION ALL SELECT 'z', 0, 9)""")
        rows += store.query(f"""
            SELECT {sql.idiv('(j - 1)', '2')} AS d, {sql.try_bigint(sql.try_double("'4.0'"))} AS i,
                   {sql.try_double("'x'")} AS nan, {sql.json_text('l', '$[0].span_id')} AS first_span,
                   {sql.json_list_texts('l', 'span_id')} AS spans, {sql.attr('m', 'a.b')} AS ab,
                   {sql.attr('m', 'none')} AS none, {sql.isfinite('1.0 / 0')} AS fin
            FROM (SELECT 8 AS j, '[{{"span_id": "s1"}}, {{"span_id": "s2"}}]' AS l,
                         {ab} AS m)""")
    finally:
        store.close()
    assert rows == [{"x": "v", "gone": None, "n": 7, "listed": 3},
                    {"joined": "a|b|c", "listed": ["c", "a", "b", "z"], "med": 4.0, "first": "c", "last": "z",
                     "some": True, "three": 3, "bar": "|"},
                    {"d": 3, "i": 4, "nan": None, "first_span": "s1", "spans": ["s1", "s2"], "ab": "v",
                     "none": None, "fin": False}]
