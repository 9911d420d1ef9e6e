"""The travel holdout topology: its shape, every applicable fault on every candidate, and that the default
corpora stay shop and agentic only."""
from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from interplay.testbed import DEFAULT_TOPOLOGIES, FAULTS, TOPOLOGIES, simulate, simulate_corpus
from interplay.testbed.cli import simulate_cmd

ROOT = Path(__file__).resolve().parents[1]
TRAVEL = TOPOLOGIES["travel"]
SERVER, CLIENT, PRODUCER, CONSUMER = 2, 3, 4, 5
ERROR = 2


def _spans(path: Path) -> list[dict]:
    """Every span in an OTLP JSON lines file, with `svc` (service.name) and `attrs` flattened."""
    out = []
    with open(path) as f:
        for doc in map(json.loads, f):
            for rs in doc.get("resourceSpans", ()):
                svc = next(a["value"]["stringValue"] for a in rs["resource"]["attributes"]
                           if a["key"] == "service.name")
                for ss in rs["scopeSpans"]:
                    for span in ss["spans"]:
                        span["svc"] = svc
                        span["attrs"] = {a["key"]: next(iter(a["value"].values())) for a in span.get("attributes", ())}
                        out.append(span)
    return out


def _onset_ns(truth: dict) -> int:
    return int(datetime.fromisoformat(truth["injected_at"].replace("Z", "+00:00")).timestamp()) * 10**9


@pytest.fixture(scope="module")
def healthy(tmp_path_factory) -> list[dict]:
    out = tmp_path_factory.mktemp("travel") / "travel-none.jsonl"
    simulate("travel", None, 0, out, duration_s=300, rate_per_s=3)
    return _spans(out)


def test_travel_is_deep_wide_and_shared(healthy):
    by_id = {s["spanId"]: s for s in healthy}
    services = {s["svc"] for s in healthy}
    assert 12 <= len(TRAVEL.services) <= 15 and services == set(TRAVEL.services)
    assert {svc for svc, _, _ in TRAVEL.entries} == {"gateway"}

    def hops(span: dict) -> int:  # services on the path from the root to this span, counted once each
        path = []
        while span is not None:
            if not path or path[-1] != span["svc"]:
                path.append(span["svc"])
            span = by_id.get(span.get("parentSpanId", ""))
        return len(path)

    assert max(hops(s) for s in healthy) >= 5  # gateway -> booking -> travel-search -> seat -> order
    callers = defaultdict(set)
    for s in healthy:
        if s["kind"] == SERVER and s.get("parentSpanId") in by_id and by_id[s["parentSpanId"]]["svc"] != s["svc"]:
            callers[s["svc"]].add(by_id[s["parentSpanId"]]["svc"])
    assert len(callers["order"]) >= 5 and len(callers["seat"]) >= 2 and len(callers["station"]) >= 2, dict(callers)
    assert {s["attrs"].get("db.system") for s in healthy} >= {"mysql", "redis"}
    consumers = [s for s in healthy if s["kind"] == CONSUMER]
    assert {s["svc"] for s in consumers} == {"food", "notification"}
    assert {s["attrs"]["messaging.destination.name"] for s in consumers} == {"bookings"}
    assert all(s.get("links") for s in consumers if s["svc"] == "notification")
    assert any(s["name"] == TRAVEL.batch[1] for s in healthy)


def test_travel_targets_fit_the_topology():
    assert set(TRAVEL.targets) == set(FAULTS) - {"agent_tool_loop", "llm_rate_limit", "llm_slow"}
    for fault, candidates in TRAVEL.targets.items():
        assert set(candidates) <= set(TRAVEL.services) | set(TRAVEL.resources), fault
    for target in TRAVEL.targets["pool_cascade"]:
        victim = TRAVEL.services[TRAVEL.pool_victims[target]]
        assert any(c.target == target for ep in victim.endpoints for c in ep.calls), target
    for target in TRAVEL.targets["pool_exhaustion"]:
        svc = TRAVEL.services[target]
        assert svc.pool_size and any(c.kind == "db" for ep in svc.endpoints for c in ep.calls), target
    for fault in ("queue_lag", "consumer_lag"):
        assert all(TRAVEL.services[t].consumes for t in TRAVEL.targets[fault]), fault


@pytest.mark.parametrize("fault", list(TRAVEL.targets))
def test_every_travel_fault_hits_every_candidate_in_the_spans(tmp_path, fault):
    """Seeds 0..n-1 reach all n candidates; each case's root cause answers requests after the onset."""
    hit = set()
    for seed in range(len(TRAVEL.targets[fault])):
        out = tmp_path / f"travel-{fault}-{seed}.jsonl"
        truth = simulate("travel", fault, seed, out, duration_s=150, rate_per_s=2, fault_at_s=60)
        target, onset = truth["service"], _onset_ns(truth)
        late = [s for s in _spans(out) if int(s["startTimeUnixNano"]) >= onset]
        if target in TRAVEL.resources:
            assert any(s["attrs"].get("server.address") == target and s["kind"] == CLIENT for s in late), truth
        else:
            assert any(s["svc"] == target for s in late), truth
        assert truth["topology"] == "travel" and truth["symptom"] in (target, "gateway")
        hit.add(target)
    assert hit == set(TRAVEL.targets[fault])


def test_travel_in_every_export_mode(tmp_path):
    codes = tmp_path / "codes.jsonl"
    truth = simulate("travel", "errors", 2, codes, duration_s=150, rate_per_s=2, fault_at_s=60, export="codes")
    text = codes.read_text()
    assert truth["grpc_services"] == [] and '"code":2' not in text and "http.response.status_code" in text
    bare = tmp_path / "bare.jsonl"
    truth = simulate("travel", "latency", 0, bare, duration_s=150, rate_per_s=2, bare=True)
    assert truth["service"] != "mysql" and not any("db.system" in s["attrs"] for s in _spans(bare))
    late = tmp_path / "late.jsonl"
    truth = simulate("travel", "consumer_lag", 1, late, duration_s=200, rate_per_s=2, late=True)
    first = min(int(s["startTimeUnixNano"]) for s in _spans(late))
    assert truth["scenario"] == "travel-consumer_lag-late-s1" and 0 <= _onset_ns(truth) - first <= 11 * 10**9


def test_default_corpus_topologies_are_unchanged(tmp_path):
    assert DEFAULT_TOPOLOGIES == ("shop", "agentic") and "travel" in TOPOLOGIES
    default = simulate_corpus(tmp_path / "d", seeds=(0,), faults=("cpu",), duration_s=1, workers=1)
    assert [t["topology"] for t in default] == ["shop", "agentic"]
    travel = simulate_corpus(tmp_path / "t", seeds=(0,), topologies=("travel",), faults=FAULTS, duration_s=1,
                             workers=1)
    assert {t["topology"] for t in travel} == {"travel"} and len(travel) == len(TRAVEL.targets)


def test_corpus_script_rejects_unknown_topologies(tmp_path):
    for names in ("travel,nope", ""):
        res = subprocess.run([sys.executable, str(ROOT / "bench" / "corpus.py"), "--topologies", names,
                              "--out", str(tmp_path / "c")], capture_output=True, text=True, timeout=120)
        assert res.returncode == 2 and "unknown topology" in res.stderr and "shop, agentic, travel" in res.stderr
        assert not (tmp_path / "c").exists()


def test_simulate_command_takes_travel(tmp_path):
    out = tmp_path / "t.jsonl"
    res = CliRunner().invoke(simulate_cmd, ["--topology", "travel", "--fault", "pool_cascade", "--out", str(out),
                                            "--duration", "120", "--rate", "1"])
    assert res.exit_code == 0, res.output
    assert json.loads(Path(str(out) + ".truth.json").read_text())["victim"] in TRAVEL.services
