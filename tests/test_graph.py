"""The interaction graph: services, resources without spans, sync and async edges, impact."""
from __future__ import annotations

import json

import pytest

from interplay.api import Interplay
from interplay.graph import impact, interaction_graph
from interplay.model import TimeRange
from interplay.model_results import EdgeStats, Graph, NodeStats, Upstream, from_json, to_json
from interplay.testing import TraceBuilder, traces_request

T0 = 1_767_225_600 * 10**9


def _store(tmp_path, traces):
    ip = Interplay.open(":memory:")
    p = tmp_path / "g.jsonl"
    p.write_text(json.dumps(traces_request(traces)) + "\n")
    ip.ingest_file(p)
    return ip


def _traces():
    out = []
    for i in range(10):
        t = TraceBuilder(T0 + i * 10**9, seed=i)
        root = t.span("frontend", "GET /", duration_ms=50)
        c = root.child("frontend", "GET /products", kind="CLIENT", offset_ms=1, duration_ms=30, error=i < 2)
        s = c.child("catalog", "GET /products", kind="SERVER", offset_ms=1, duration_ms=28, error=i < 2)
        s.child("catalog", "SELECT products", kind="CLIENT", offset_ms=2, duration_ms=10,
                attributes={"db.system": "postgresql", "server.address": "postgres"})
        s.child("catalog", "GET", kind="CLIENT", offset_ms=15, duration_ms=1, attributes={"db.system": "redis"})
        root.child("frontend", "chat gpt-4o", kind="CLIENT", offset_ms=35, duration_ms=10,
                   attributes={"gen_ai.provider.name": "openai", "server.address": "api.openai.com"})
        p = root.child("frontend", "send orders", kind="PRODUCER", offset_ms=46, duration_ms=1,
                       attributes={"messaging.system": "kafka", "messaging.destination.name": "orders"})
        p.child("shipping", "process orders", kind="CONSUMER", offset_ms=5, duration_ms=20)
        # a span whose parent never arrived
        t.span("catalog", "GET /orphan", kind="SERVER", parent="00000000000000aa", duration_ms=2)
        out.append(t)
    return out


def test_nodes_and_edges(tmp_path):
    g = interaction_graph(_store(tmp_path, _traces()).store)
    nodes = {n.id: n.kind for n in g.nodes}
    assert nodes["frontend"] == "service" and nodes["catalog"] == "service" and nodes["shipping"] == "service"
    assert nodes["postgres"] == "database" and nodes["redis"] == "cache"
    assert nodes["api.openai.com"] == "llm"
    edges = {(e.caller, e.callee, e.mode): e for e in g.edges}
    fc = edges[("frontend", "catalog", "sync")].stats["window"]
    assert fc.calls == 10 and fc.errors == 2 and fc.error_rate == 0.2
    assert ("catalog", "postgres", "sync") in edges
    assert ("frontend", "shipping", "async") in edges
    assert ("frontend", "catalog", "async") not in edges


def test_services_count_requests_and_resources_calls(tmp_path):
    g = interaction_graph(_store(tmp_path, _traces()).store)
    nodes = {n.id: n for n in g.nodes}
    catalog, postgres = nodes["catalog"], nodes["postgres"]
    # a service: requests at its entry operations (the orphan is a root, so an entry too), its slowest p95
    seconds = g.windows["window"].seconds
    assert catalog.stats["window"] == NodeStats(requests=20, errors=2, rate=pytest.approx(20 / seconds, abs=1e-3),
                                                error_rate=0.1, p95_ms=28.0)
    assert {(o.operation, o.kind, o.entry) for o in catalog.operations} >= {
        ("GET /products", "SERVER", True), ("SELECT products", "CLIENT", False)}
    # a resource: the calls into it from every caller, no operations of its own
    assert postgres.stats["window"] == NodeStats(calls=10, errors=0, rate=round(10 / seconds, 4),
                                                 error_rate=0.0)
    assert postgres.operations == []
    data = to_json(g)
    shapes = {n["id"]: list(n["stats"]["window"]) for n in data["nodes"]}
    assert shapes["catalog"] == ["requests", "errors", "rate", "error_rate", "p95_ms"]
    assert shapes["postgres"] == ["calls", "errors", "rate", "error_rate"]
    back = from_json(Graph, json.loads(json.dumps(data)))
    assert back == g and type(back.nodes[0].operations[0].stats["window"]) is EdgeStats


def test_two_windows_and_empty(tmp_path):
    ip = _store(tmp_path, _traces())
    g = interaction_graph(ip.store, windows={"baseline": TimeRange(T0, T0 + 5 * 10**9),
                                             "incident": TimeRange(T0 + 5 * 10**9, T0 + 10**10)})
    e = next(e for e in g.edges if e.caller == "frontend" and e.callee == "catalog")
    assert e.stats["baseline"].errors == 2 and e.stats["incident"].errors == 0
    assert interaction_graph(ip.store, TimeRange(0, 1)).edges == []


@pytest.mark.parametrize("order", [("baseline", "incident"), ("incident", "baseline")])
def test_window_stats_follow_the_order_windows_were_given(tmp_path, order):
    """Every stats dict (edges, operations, services, resources) names its windows in the order they were
    given, whatever order SQL returned their rows in: given either way round, the JSON follows."""
    spans = _traces()
    t = TraceBuilder(T0 + 7 * 10**9, seed=50)  # postgres called by frontend only in the incident window
    t.span("frontend", "GET /report", duration_ms=5).child(
        "frontend", "SELECT report", kind="CLIENT", offset_ms=1, duration_ms=2,
        attributes={"db.system": "postgresql", "server.address": "postgres"})
    ip = _store(tmp_path, spans + [t])
    bounds = {"baseline": TimeRange(T0, T0 + 5 * 10**9), "incident": TimeRange(T0 + 5 * 10**9, T0 + 10**10)}
    g = interaction_graph(ip.store, windows={name: bounds[name] for name in order})
    seen = [list(e.stats) for e in g.edges] + [list(n.stats) for n in g.nodes] + [
        list(o.stats) for n in g.nodes for o in n.operations]
    assert seen == [[w for w in order if w in s] for s in seen]
    assert ["incident"] in seen  # frontend → postgres: no baseline calls, no baseline key
    assert list(to_json(g)["edges"][0]["stats"]) == list(order)


def test_impact(tmp_path):
    ip = _store(tmp_path, _traces())
    r = impact(ip.store, "postgres")
    assert r.direct_callers[0].service == "catalog"
    assert {u.service for u in r.upstream} == {"catalog", "frontend"}
    entry = r.entry_points[0]
    assert (entry.service, entry.share, entry.mode) == ("frontend", 1.0, "sync")
    r = impact(ip.store, "shipping")
    assert r.upstream == [Upstream("frontend", "async")]


def test_batch_consumer_links_on_both_backends(tmp_path):
    """A consumer span linked to several producers (a batch) makes one async edge per producer's
    service, on DuckDB and on ClickHouse alike: link trace and span ids are paired by position."""
    import chdb  # noqa: F401

    from interplay.store.open import open_store
    producers, traces = [], []
    for i in range(2):
        t = TraceBuilder(T0 + i * 10**9, seed=100 + i)
        root = t.span("orders", "POST /submit", duration_ms=5)
        producers.append(root.child("orders", "publish jobs", kind="PRODUCER", offset_ms=1, duration_ms=1,
                                    attributes={"messaging.system": "kafka",
                                                "messaging.destination.name": "jobs"}))
        if i == 0:  # a second producer in the same trace: two links share one trace id
            bill = root.child("billing", "POST /charge", kind="SERVER", offset_ms=2, duration_ms=2)
            producers.append(bill.child("billing", "publish jobs", kind="PRODUCER", offset_ms=1, duration_ms=1,
                                        attributes={"messaging.system": "kafka",
                                                    "messaging.destination.name": "jobs"}))
        traces.append(t)
    consumer = TraceBuilder(T0 + 5 * 10**9, seed=200)
    consumer.span("worker", "process jobs", kind="CONSUMER", duration_ms=7, links=producers, error=True)
    traces.append(consumer)
    path = tmp_path / "links.jsonl"
    path.write_text(json.dumps(traces_request(traces)) + "\n")
    found = {}
    for backend, url in (("duckdb", f"duckdb:{tmp_path / 'l.duckdb'}"), ("chdb", f"chdb:{tmp_path / 'l-ch'}")):
        ip = Interplay(open_store(url))
        try:
            ip.ingest_file(path)
            g = interaction_graph(ip.store)
            found[backend] = sorted((e.caller, e.callee, e.mode, e.stats["window"].calls,
                                     e.stats["window"].errors) for e in g.edges if e.callee == "worker")
        finally:
            ip.close()
    assert found["duckdb"] == [("billing", "worker", "async", 1, 1), ("orders", "worker", "async", 2, 2)]
    assert found["chdb"] == found["duckdb"]


def test_large_window_is_sampled_by_whole_traces(tmp_path, monkeypatch):
    """Above GRAPH_SPANS the graph reads a share of whole traces and scales counts back up."""
    import interplay.graph as graph_module
    traces = []
    for k in range(30):
        for t in _traces():
            t.trace_id = f"{k:02x}{t.trace_id[2:]}"  # 300 distinct traces
            traces.append(t)
    ip = _store(tmp_path, traces)
    whole = interaction_graph(ip.store)
    assert whole.sampled_share == 1.0
    monkeypatch.setattr(graph_module, "GRAPH_SPANS", 1000)
    g = interaction_graph(ip.store)
    assert 0.2 < g.sampled_share < 0.6
    calls = {(e.caller, e.callee): e.stats["window"].calls for e in g.edges}
    exact = {(e.caller, e.callee): e.stats["window"].calls for e in whole.edges}
    assert calls.keys() == exact.keys() and exact[("frontend", "catalog")] == 300
    for key, n in exact.items():
        assert abs(calls[key] - n) <= 0.5 * n, key


def test_calls_a_callee_never_answered_count_with_those_it_did(tmp_path):
    """frontend calls catalog; one call in four times out before catalog reports anything (a CLIENT
    span naming catalog by address, no SERVER span behind it). Both are frontend's calls to catalog:
    the edge counts all of them, in each window, instead of one kind standing in for the other."""
    traces = []
    for i in range(40):
        t = TraceBuilder(T0 + i * 10**9, seed=i)
        root = t.span("frontend", "GET /", duration_ms=600)
        lost = i % 4 == 3
        c = root.child("frontend", "GET /products", kind="CLIENT", offset_ms=1, duration_ms=500 if lost else 20,
                       error=lost, attributes={"server.address": "catalog", "http.request.method": "GET"})
        if not lost:
            c.child("catalog", "GET /products", kind="SERVER", offset_ms=1, duration_ms=18)
        traces.append(t)
    ip = _store(tmp_path, traces)
    windows = {"baseline": TimeRange(T0, T0 + 20 * 10**9), "incident": TimeRange(T0 + 20 * 10**9, T0 + 40 * 10**9)}
    g = interaction_graph(ip.store, windows=windows)
    [edge] = [e for e in g.edges if e.caller == "frontend" and e.callee == "catalog"]
    for w in ("baseline", "incident"):
        assert edge.stats[w].calls == 20 and edge.stats[w].errors == 5, edge.stats[w]
        assert edge.stats[w].p95_ms >= 490  # the calls that never came back are the tail
