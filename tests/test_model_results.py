"""Result records (model_results.py): JSON and back without loss, the keys the API has always emitted,
and a real `interplay serve` answering with the same investigation as the file it holds."""
from __future__ import annotations

import json
import shutil
from dataclasses import fields, is_dataclass

import pytest

from conftest import start_server
from interplay.api import Interplay
from interplay.client import RemoteInterplay
from interplay.graph import interaction_graph
from interplay.model import TimeRange
from interplay.model_results import (
    GRAPH_RECORDS,
    RECORDS,
    DataCompleteness,
    Edge,
    EdgeStats,
    EntryPoint,
    Evidence,
    EvidenceStrength,
    Exemplars,
    Explains,
    Graph,
    GraphWindow,
    Hop,
    Investigation,
    LoadMove,
    NodeStats,
    Operation,
    OtherSymptom,
    RootCause,
    Signals,
    Symptom,
    Window,
    Windows,
    from_json,
    to_json,
)
from interplay.testing import TraceBuilder, traces_request

T0 = 1_767_225_600 * 10**9
SEC = 10**9


def full_investigation() -> Investigation:
    """Every record, every optional field set (and the extra fields of an evidence type)."""
    window = Window("2026-01-01T00:00:00.000Z", "2026-01-01T00:10:00.000Z", T0, T0 + 600 * SEC)
    cause = RootCause(
        rank=1, service="db", operation="SELECT", kind="database", score=0.81, summary="db SELECT: slower",
        explains=Explains(0.1, 0.7, 0.0, 0.0, 0.0, 0.01, 0.0),
        chain=[Hop("db", None, "db SELECT: slower", traces=40), Hop("web", "GET /", "errors 0% → 9%")],
        evidence=[Evidence("db", "SELECT", "self_time", "p90 4 ms → 90 ms", 4.0, 90.0, 0.7, unit="ms"),
                  Evidence("web", None, "network_gap", "web → db: gap", 1.0, 9.5, 0.0,
                           details={"peer": True, "caller": "web", "callee": "db", "placed": 0.5})],
        exemplar_trace="ab" * 16, agent_runs=["t1:s1"])
    return Investigation(
        symptom=Symptom("web", 2.5, True, [EntryPoint("web", "GET /", {"p90_ms": 10.0}, {"p90_ms": 99.0})]),
        onset="2026-01-01T00:10:00.000Z", onset_source="detected", windows=Windows(window, window),
        method="traces", root_causes=[cause], load_moves=[LoadMove("web", "cron", 0.2, "waiting")],
        data_completeness=DataCompleteness(10, 40, 9, True, 0.9, 1, 2, 3, Signals(True, True, True, True)),
        evidence_strength=EvidenceStrength(600.0, 2.5, [OtherSymptom("path", "db", 1.2)], True, None),
        exemplars=Exemplars("ab" * 16, None), seconds=0.25, note="a note", id="0123456789abcdef")


def records_in(obj, seen: set[type]) -> set[type]:
    if is_dataclass(obj):
        seen.add(type(obj))
        for f in fields(obj):
            records_in(getattr(obj, f.name), seen)
    elif isinstance(obj, list):
        for v in obj:
            records_in(v, seen)
    return seen


def test_every_record_round_trips_through_json():
    inv = full_investigation()
    assert records_in(inv, set()) == set(RECORDS)  # the sample holds every record type
    data = json.loads(json.dumps(to_json(inv)))
    assert from_json(Investigation, data) == inv
    for record in records_in(inv, set()):
        for obj in [o for o in _all(inv) if type(o) is record]:
            assert from_json(record, json.loads(json.dumps(to_json(obj)))) == obj


def _all(obj):
    if is_dataclass(obj):
        yield obj
        for f in fields(obj):
            yield from _all(getattr(obj, f.name))
    elif isinstance(obj, list):
        for v in obj:
            yield from _all(v)


def test_json_keys_are_the_apis():
    data = to_json(full_investigation())
    assert list(data) == ["id", "symptom", "onset", "onset_source", "windows", "method", "root_causes",
                          "load_moves", "data_completeness", "evidence_strength", "exemplars", "seconds", "note"]
    assert list(data["root_causes"][0]["evidence"][1]) == ["service", "operation", "type", "summary", "before",
                                                           "after", "weight", "peer", "caller", "callee", "placed"]
    assert data["load_moves"] == [{"from": "web", "to": "cron", "share": 0.2, "why": "waiting"}]
    # optional fields left unset are left out, not written as null
    bare = to_json(Investigation(Symptom(None), "t", "given", full_investigation().windows, "metrics", [], [],
                                 DataCompleteness(0, 0, 0)))
    assert "evidence_strength" not in bare and "estimated" not in bare["data_completeness"]
    assert bare["symptom"] == {"given": None, "entry_points": []}


def two_window_graph(tmp_path) -> Graph:
    ip = Interplay.open(tmp_path / "g.duckdb")
    ip.ingest_file(slow_catalog(tmp_path))
    try:
        return interaction_graph(ip.store, windows={"baseline": TimeRange(T0, T0 + 80 * SEC),
                                                    "incident": TimeRange(T0 + 80 * SEC, T0 + 120 * SEC)})
    finally:
        ip.close()


def test_a_graph_round_trips_through_json(tmp_path):
    g = two_window_graph(tmp_path)
    edge, node = g.edges[0], g.nodes[0]
    assert {type(g), type(edge), type(edge.stats["incident"]), type(g.windows["incident"]), type(node),
            type(node.operations[0]), type(node.stats["incident"])} == set(GRAPH_RECORDS)
    back = from_json(Graph, json.loads(json.dumps(to_json(g))))
    assert back == g
    # a window's stats come back as records, not as the dicts they were written as
    assert all(type(s) is EdgeStats for e in back.edges for s in e.stats.values())
    assert all(type(s) is NodeStats for n in back.nodes for s in n.stats.values())
    assert all(type(o) is Operation for n in back.nodes for o in n.operations)
    assert type(back.windows["incident"]) is GraphWindow


def test_graph_json_keys_are_the_apis(tmp_path):
    data = to_json(two_window_graph(tmp_path))
    assert list(data) == ["windows", "sampled_share", "nodes", "edges"]
    assert data["windows"]["incident"] == {"since_ns": T0 + 80 * SEC, "until_ns": T0 + 120 * SEC, "seconds": 40.0}
    edge = next(e for e in data["edges"] if e["caller"] == "frontend")
    assert list(edge) == ["caller", "callee", "callee_kind", "mode", "stats"]
    assert edge["stats"]["incident"] == {"calls": 40, "errors": 40, "rate": 1.0, "error_rate": 1.0,
                                         "p50_ms": 280.0, "p95_ms": 280.0, "retries": 0}
    node = next(n for n in data["nodes"] if n["id"] == "frontend")
    assert list(node) == ["id", "kind", "operations", "stats"]
    assert list(node["operations"][0]) == ["service", "operation", "kind", "entry", "stats"]
    assert node["stats"]["incident"] == {"requests": 40, "errors": 40, "rate": 1.0, "error_rate": 1.0,
                                         "p95_ms": 300.0}
    # an operation's stats have no retries: left out, not written as null
    [op] = [o for n in data["nodes"] for o in n["operations"] if o["operation"] == "SELECT"]
    assert "retries" not in op["stats"]["incident"] and op["stats"]["incident"]["calls"] == 40
    assert to_json(Edge("a", "b", "service", "sync", {"w": EdgeStats(1, 0, 0.5, 0.0, 1.0, 2.0)}))["stats"]["w"] == {
        "calls": 1, "errors": 0, "rate": 0.5, "error_rate": 0.0, "p50_ms": 1.0, "p95_ms": 2.0}


def slow_catalog(tmp_path) -> str:
    traces = []
    for i in range(120):
        t = TraceBuilder(start_ns=T0 + i * SEC, seed=i)
        late = i >= 80
        root = t.span("frontend", "GET /", kind="SERVER", duration_ms=300 if late else 20, error=late)
        root.child("catalog", "SELECT", kind="CLIENT", offset_ms=2, duration_ms=280 if late else 10, error=late)
        traces.append(t)
    path = tmp_path / "t.json"
    path.write_text(json.dumps(traces_request(traces)))
    return str(path)


@pytest.mark.integration
def test_a_servers_investigation_is_the_local_one(tmp_path):
    ip = Interplay.open(tmp_path / "local.duckdb")
    ip.ingest_file(slow_catalog(tmp_path))
    ip.close()
    shutil.copy(tmp_path / "local.duckdb", tmp_path / "served.duckdb")  # one writer per DuckDB file
    server = start_server(tmp_path / "served.duckdb")
    try:
        local = Interplay.open(tmp_path / "local.duckdb", read_only=True)
        remote = RemoteInterplay(server.url)
        for kw in ({}, {"symptom": "frontend", "at_ns": T0 + 80 * SEC}):
            want = local.investigate(**kw)
            got = remote.investigate(**kw)
            assert got.id and want.root_causes and got.root_causes[0].service == want.root_causes[0].service
            # the same record, but for where it was kept and how long it took
            timing = {"seconds": None, "id": None}
            assert to_json(got) | timing == to_json(want) | timing
            raw = server.post("/api/investigations", json={"symptom": kw.get("symptom"), "at": kw.get("at_ns")})
            assert raw.status_code == 201 and list(raw.json())[0] == "id"
            assert raw.json() | timing == json.loads(json.dumps(to_json(want))) | timing
        # the graph too: the same records from a server, and the JSON it sends is the local graph's
        assert remote.graph() == local.graph() and local.graph().edges
        assert server.get("/api/graph").json() == json.loads(json.dumps(to_json(local.graph())))
        remote.close()
        local.close()
    finally:
        server.stop()
