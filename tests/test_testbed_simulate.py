"""Simulated testbed output: valid OTLP JSON, cross-service parents, visible faults, determinism."""

from __future__ import annotations

import base64
import gzip
import json
import statistics
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest
from google.protobuf.json_format import ParseDict
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from interplay.testbed import FAULTS, TOPOLOGIES, simulate, simulate_corpus

SERVER, CLIENT, PRODUCER, CONSUMER = 2, 3, 4, 5
ERROR = 2


def _lines(path: Path):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        for line in f:
            yield json.loads(line)


def _b64(hex_id: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_id)).decode()


def _to_proto(doc: dict):
    """Parse one line with the SDK's own protobuf classes (ids converted from hex to base64)."""
    doc = json.loads(json.dumps(doc))
    if "resourceSpans" in doc:
        for rs in doc["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                for span in ss["spans"]:
                    for key in ("traceId", "spanId", "parentSpanId"):
                        if span.get(key):
                            span[key] = _b64(span[key])
                    for link in span.get("links", ()):
                        link["traceId"], link["spanId"] = _b64(link["traceId"]), _b64(link["spanId"])
        return ParseDict(doc, ExportTraceServiceRequest())
    if "resourceLogs" in doc:
        for rl in doc["resourceLogs"]:
            for sl in rl["scopeLogs"]:
                for rec in sl["logRecords"]:
                    for key in ("traceId", "spanId"):
                        if rec.get(key):
                            rec[key] = _b64(rec[key])
        return ParseDict(doc, ExportLogsServiceRequest())
    return ParseDict(doc, ExportMetricsServiceRequest())


def _spans(path: Path):
    """(service, version, span dict with attrs) for every span in the file."""
    for doc in _lines(path):
        for rs in doc.get("resourceSpans", ()):
            res = {a["key"]: next(iter(a["value"].values())) for a in rs["resource"]["attributes"]}
            for ss in rs["scopeSpans"]:
                for span in ss["spans"]:
                    span["attrs"] = {a["key"]: next(iter(a["value"].values())) for a in span.get("attributes", ())}
                    yield res["service.name"], res["service.version"], span


def _ns(rfc3339: str) -> int:
    return int(datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp() * 1e9)


@pytest.fixture(scope="module")
def shop_case(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("sim") / "shop.jsonl"
    truth = simulate("shop", "errors", 3, out, duration_s=600, rate_per_s=4)
    return out, truth


def test_output_is_valid_otlp_json(shop_case):
    out, truth = shop_case
    kinds = defaultdict(int)
    for doc in _lines(out):
        msg = _to_proto(doc)
        kinds[type(msg).__name__] += 1
    assert set(kinds) == {"ExportTraceServiceRequest", "ExportLogsServiceRequest", "ExportMetricsServiceRequest"}
    first = next(_lines(out))["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert len(first["traceId"]) == 32 and len(first["spanId"]) == 16
    int(first["traceId"], 16)
    assert isinstance(first["startTimeUnixNano"], str) and isinstance(first["kind"], int)
    assert truth["spans"] > 5000
    for change in map(json.loads, Path(str(out) + ".changes.jsonl").read_text().splitlines()):
        assert change["kind"] in {"deploy", "config", "flag", "infra", "commit"} and change["service"]
        _ns(change["time"])
    assert json.loads(Path(str(out) + ".truth.json").read_text()) == truth


def test_cross_service_parents_and_resources(shop_case):
    out, _ = shop_case
    by_id, pairs, attrs_seen = {}, set(), set()
    spans = list(_spans(out))
    for svc, _, span in spans:
        by_id[span["spanId"]] = (svc, span)
    for svc, _, span in spans:
        parent = by_id.get(span.get("parentSpanId", ""))
        if parent and span["kind"] == SERVER and parent[1]["kind"] == CLIENT and parent[0] != svc:
            pairs.add((parent[0], svc))
        if span["kind"] == CLIENT and span["attrs"].get("db.system") == "postgresql":
            assert span["attrs"]["server.address"] == "postgres" and span["attrs"]["db.statement"]
            attrs_seen.add("postgres")
        if span["kind"] == CLIENT and span["attrs"].get("db.system") == "redis":
            attrs_seen.add("redis")
        if span["kind"] == CONSUMER:
            if parent:
                assert parent[1]["kind"] == PRODUCER and parent[1]["attrs"]["messaging.destination.name"] == "orders"
                attrs_seen.add("consumer-child")
            else:
                assert span["links"][0]["spanId"] in by_id
                attrs_seen.add("consumer-link")
        if span["kind"] == SERVER:
            assert {"http.request.method", "http.route", "http.response.status_code"} <= set(span["attrs"])
    assert {("frontend", "catalog"), ("checkout", "payment"), ("recommendation", "catalog")} <= pairs
    assert attrs_seen == {"postgres", "redis", "consumer-child", "consumer-link"}


def test_fault_is_visible_in_root_cause(shop_case):
    out, truth = shop_case
    onset = _ns(truth["injected_at"])
    counts = defaultdict(lambda: [0, 0, 0, 0])  # errors before, n before, errors after, n after
    for svc, _, span in _spans(out):
        if span["kind"] == SERVER:
            after = int(span["startTimeUnixNano"]) >= onset
            c = counts[svc]
            c[2 * after] += span.get("status", {}).get("code") == ERROR
            c[2 * after + 1] += 1
    e = counts[truth["service"]]
    assert e[0] / e[1] < 0.05 < 0.2 < e[2] / e[3]
    front = counts["frontend"]
    assert front[2] / front[3] > 2 * front[0] / front[1]


def test_deterministic_for_a_seed(tmp_path):
    a = simulate("agentic", "bad_deploy", 5, tmp_path / "a.jsonl", duration_s=120, rate_per_s=3, fault_at_s=60)
    b = simulate("agentic", "bad_deploy", 5, tmp_path / "b.jsonl", duration_s=120, rate_per_s=3, fault_at_s=60)
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert (tmp_path / "a.jsonl.changes.jsonl").read_bytes() == (tmp_path / "b.jsonl.changes.jsonl").read_bytes()
    assert {k: v for k, v in a.items() if k not in ("seconds", "files")} == \
        {k: v for k, v in b.items() if k not in ("seconds", "files")}
    c = simulate("agentic", "bad_deploy", 6, tmp_path / "c.jsonl", duration_s=120, rate_per_s=3, fault_at_s=60)
    assert (tmp_path / "c.jsonl").read_bytes() != (tmp_path / "a.jsonl").read_bytes()
    assert c["injected_at"] != a["injected_at"]


def test_bad_deploy_switches_version_and_posts_change(tmp_path):
    out = tmp_path / "d.jsonl.gz"
    truth = simulate("shop", "bad_deploy", 1, out, duration_s=300, rate_per_s=3, fault_at_s=150)
    onset = _ns(truth["injected_at"])
    versions = defaultdict(set)
    for svc, version, span in _spans(out):
        if svc == truth["service"]:
            versions[int(span["startTimeUnixNano"]) >= onset].add(version)
    assert len(versions[True] - versions[False]) == 1
    changes = [json.loads(x) for x in Path(str(out) + ".changes.jsonl").read_text().splitlines()]
    true = [c for c in changes if c["service"] == truth["service"]]
    assert len(true) == 1 and true[0]["kind"] == "deploy" and true[0]["time"] == truth["injected_at"]
    decoys = [c for c in changes if c["service"] != truth["service"]]
    assert decoys and any(abs(_ns(c["time"]) - onset - (-20 * 60e9)) < 3 * 60e9 for c in decoys)


def test_agentic_genai_spans_and_tool_loop(tmp_path):
    out = tmp_path / "a.jsonl"
    truth = simulate("agentic", "agent_tool_loop", 0, out, duration_s=400, rate_per_s=3, fault_at_s=200)
    onset = _ns(truth["injected_at"])
    calls = defaultdict(lambda: [0, 0])
    ops, services = set(), set()
    for svc, _, span in _spans(out):
        services.add(svc)
        op = span["attrs"].get("gen_ai.operation.name")
        if op:
            ops.add(op)
        if op == "execute_tool":
            assert span["attrs"]["gen_ai.tool.name"] and span["attrs"]["gen_ai.tool.call.id"]
            calls[int(span["startTimeUnixNano"]) >= onset][0] += 1
        if op == "chat":
            assert span["kind"] == CLIENT and span["attrs"]["gen_ai.request.model"]
            assert "gen_ai.provider.name" in span["attrs"]
    assert ops == {"invoke_agent", "chat", "execute_tool"}
    assert len(services) >= 8 and truth["service"] == "agent"
    assert calls[True][0] > 3 * calls[False][0]


def test_root_cause_varies_by_seed():
    from interplay.testbed._faults import choose_target

    for topo in TOPOLOGIES.values():
        for fault, candidates in topo.targets.items():
            roots = {choose_target(topo, fault, seed) for seed in range(3)}
            assert len(roots) == min(3, len(candidates))
    assert set(FAULTS) == set(TOPOLOGIES["shop"].faults) | set(TOPOLOGIES["agentic"].faults)


def test_max_spans_and_unknown_names(tmp_path):
    truth = simulate("shop", None, 0, tmp_path / "n.jsonl", duration_s=3600, max_spans=3000)
    assert 3000 <= truth["spans"] < 3300 and truth["service"] is None
    with pytest.raises(ValueError, match="valid: shop, agentic"):
        simulate("nope", None, 0, tmp_path / "x.jsonl")
    with pytest.raises(ValueError, match="agent_tool_loop"):
        simulate("agentic", "queue_lag", 0, tmp_path / "x.jsonl")


def test_small_corpus(tmp_path):
    truths = simulate_corpus(tmp_path, seeds=(0,), topologies=("shop",), faults=("latency", "cpu"),
                             duration_s=120, rate_per_s=2, workers=1)
    assert [t["fault"] for t in truths] == ["latency", "cpu"]
    index = json.loads((tmp_path / "index.json").read_text())
    assert len(index["cases"]) == 2
    for t in truths:
        assert (tmp_path / t["files"]["otlp"]).exists() and (tmp_path / t["files"]["truth"]).exists()
    assert statistics.mean(t["spans"] for t in truths) > 1000
