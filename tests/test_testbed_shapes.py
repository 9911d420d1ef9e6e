"""Export shapes of real telemetry: no trace baseline (late start) and status codes without span status."""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from interplay.testbed import TOPOLOGIES, simulate, simulate_corpus
from interplay.testbed._codes import GRPC_SERVICES
from interplay.testbed.cli import simulate_cmd

SERVER, CLIENT = 2, 3
ERROR = 2
NS = 10**9


def _docs(path: Path):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        for line in f:
            yield json.loads(line)


def _value(v: dict):
    return next(iter(v.values())) if v else None


def _spans(path: Path) -> dict[str, dict]:
    """spanId -> span dict, with `service`, `attrs` and `start` added."""
    out = {}
    for doc in _docs(path):
        for rs in doc.get("resourceSpans", ()):
            svc = next(_value(a["value"]) for a in rs["resource"]["attributes"] if a["key"] == "service.name")
            for ss in rs["scopeSpans"]:
                for span in ss["spans"]:
                    span["service"], span["start"] = svc, int(span["startTimeUnixNano"])
                    span["attrs"] = {a["key"]: _value(a["value"]) for a in span.get("attributes", ())}
                    out[span["spanId"]] = span
    return out


def _log_times(path: Path) -> list[int]:
    return [int(rec["timeUnixNano"]) for doc in _docs(path) for rl in doc.get("resourceLogs", ())
            for sl in rl["scopeLogs"] for rec in sl["logRecords"]]


def _metric_starts(path: Path) -> list[int]:
    return [int(p.get("startTimeUnixNano", p["timeUnixNano"])) for doc in _docs(path) for rm in doc.get("resourceMetrics", ())
            for sm in rm["scopeMetrics"] for m in sm["metrics"]
            for kind in ("histogram", "gauge", "sum") if kind in m for p in m[kind]["dataPoints"]]


def _ns(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * NS)


def _roots(spans: dict[str, dict]) -> dict[str, int]:
    """traceId -> start of its root span (the span without a parent)."""
    return {s["traceId"]: s["start"] for s in spans.values() if not s.get("parentSpanId")}


# -- late start --------------------------------------------------------------------------------------

@pytest.mark.parametrize("export", ["normal", "bare"])
def test_late_traces_begin_seconds_before_onset_and_metrics_long_before(tmp_path, export):
    full = simulate("shop", "errors", 2, tmp_path / "full.jsonl", duration_s=300, rate_per_s=2, export=export,
                    fault_at_s=200)
    truth = simulate("shop", "errors", 2, tmp_path / "late.jsonl", duration_s=300, rate_per_s=2, export=export,
                     fault_at_s=200, late=True)
    assert truth["late"] is True and truth["export"] == export
    assert truth["scenario"] == f"shop-errors{'-bare' if export == 'bare' else ''}-late-s2"
    onset, cut = _ns(truth["injected_at"]), _ns(truth["traces_start"])
    assert 0 <= truth["trace_lead_s"] <= 10 and onset - cut == pytest.approx(truth["trace_lead_s"] * NS, abs=1e6)
    spans = _spans(tmp_path / "late.jsonl")
    first = min(s["start"] for s in spans.values())
    assert cut <= first < cut + 3 * NS and first <= onset + 3 * NS
    assert min(_log_times(tmp_path / "late.jsonl")) >= cut
    # metrics cover the whole simulated duration, bare included (a bare case without late has none)
    metrics = _metric_starts(tmp_path / "late.jsonl")
    assert metrics and min(metrics) == _ns(truth["metrics_start"]) == _ns(full["start"]) <= cut - 120 * NS
    assert bool(_metric_starts(tmp_path / "full.jsonl")) == (export == "normal")
    # the same simulation, its traces rooted before the cut left out whole
    whole = _spans(tmp_path / "full.jsonl")
    roots = _roots(whole)
    expected = {sid for sid, s in whole.items() if roots.get(s["traceId"], 0) >= cut}
    assert set(spans) == expected and truth["spans"] == len(spans) < full["spans"] / 2
    assert all(not s.get("status") for s in spans.values()) == (export == "bare")


def test_late_lead_can_be_given_and_defaults_by_seed(tmp_path):
    given = simulate("agentic", "latency", 1, tmp_path / "g.jsonl", duration_s=240, rate_per_s=2, trace_lead_s=4)
    assert given["late"] is True and given["trace_lead_s"] == 4.0
    first = min(s["start"] for s in _spans(tmp_path / "g.jsonl").values())
    assert _ns(given["injected_at"]) - 4 * NS <= first < _ns(given["injected_at"])
    leads = {simulate("shop", "cpu", seed, tmp_path / f"s{seed}.jsonl", duration_s=120, rate_per_s=1,
                      late=True)["trace_lead_s"] for seed in range(4)}
    assert len(leads) > 1 and all(0 <= x <= 10 for x in leads)


def test_late_bare_onset_leaves_a_metrics_baseline(tmp_path):
    truth = simulate("shop", "cpu", 0, tmp_path / "b.jsonl", duration_s=480, rate_per_s=0.7, bare=True, late=True)
    assert 240 <= truth["fault_at_s"] <= 336  # 50-70% in, not bare's usual 60-120 s


# -- status codes only -------------------------------------------------------------------------------

@pytest.mark.parametrize("topology,fault", [("shop", "errors"), ("agentic", "errors"),
                                            ("shop", "timeout_amplification"), ("agentic", "llm_rate_limit")])
def test_codes_drop_status_and_keep_codes_on_every_error_response(tmp_path, topology, fault):
    kw = dict(duration_s=240, rate_per_s=3, fault_at_s=120)
    simulate(topology, fault, 4, tmp_path / "n.jsonl", **kw)
    normal = _spans(tmp_path / "n.jsonl")
    truth = simulate(topology, fault, 4, tmp_path / "c.jsonl", export="codes", **kw)
    codes = _spans(tmp_path / "c.jsonl")
    assert truth["scenario"] == f"{topology}-{fault}-codes-s4" and truth["export"] == "codes"
    assert set(codes) == set(normal)  # the same simulation: only the export differs
    grpc = set(GRPC_SERVICES[topology])
    seen = defaultdict(int)
    for sid, was in normal.items():
        span = codes[sid]
        assert not span.get("status") and "error.type" not in span["attrs"] and span["kind"] == was["kind"]
        if "http.request.method" not in was["attrs"] or was["kind"] not in (SERVER, CLIENT):
            continue
        callee = was["service"] if was["kind"] == SERVER else was["attrs"]["server.address"]
        failed = was.get("status", {}).get("code") == ERROR
        if callee in grpc:
            code = int(span["attrs"]["rpc.grpc.status_code"])
            assert span["attrs"]["rpc.system"] == "grpc" and "http.response.status_code" not in span["attrs"]
            assert span["name"] == f"{span['attrs']['rpc.service']}/{span['attrs']['rpc.method']}"
            assert (code != 0) == failed
            seen["grpc error" if code else "grpc ok"] += 1
        elif "http.response.status_code" in span["attrs"]:
            status = int(span["attrs"]["http.response.status_code"])
            assert (status >= 500 or was["kind"] == CLIENT and status == 429) == failed or status == 422
            seen["http error" if status >= 429 else "http ok"] += 1
        else:  # no answer: the HTTP client gave up waiting
            assert was["kind"] == CLIENT and failed and any(
                a["value"]["stringValue"] == "TimeoutError" for e in span["events"] for a in e["attributes"]
                if a["key"] == "exception.type")
            seen["http timeout"] += 1
    assert seen["grpc error"] and seen["grpc ok"] and seen["http ok"], seen
    assert seen["http error"] or seen["http timeout"], seen


def test_normal_export_sets_codes_on_error_responses_in_every_topology(tmp_path):
    """The simulator itself: every failing HTTP exchange carries its status code, unless the client timed out."""
    for name in TOPOLOGIES:
        for fault in ("errors", "timeout_amplification", "retry_storm"):
            simulate(name, fault, 0, tmp_path / f"{name}-{fault}.jsonl", duration_s=180, rate_per_s=3, fault_at_s=60)
            failed = [s for s in _spans(tmp_path / f"{name}-{fault}.jsonl").values()
                      if s.get("status", {}).get("code") == ERROR and "http.request.method" in s["attrs"]]
            assert len(failed) > 5
            for s in failed:
                code = s["attrs"].get("http.response.status_code")
                assert int(code or 0) >= 500 or s["kind"] == CLIENT and (code == "429" or "timeout" in s["attrs"].get(
                    "error.type", "")), (name, fault, s["name"], s["attrs"])


def test_codes_and_late_are_deterministic_and_distinct(tmp_path):
    cases = {}
    for tag, kw in {"a": {"export": "codes", "late": True}, "b": {"export": "codes", "late": True},
                    "c": {"export": "codes"}, "d": {"bare": True, "late": True}, "e": {"bare": True, "late": True}}.items():
        cases[tag] = simulate("agentic", "pool_cascade", 3, tmp_path / f"{tag}.jsonl.gz", duration_s=200,
                              rate_per_s=2, **kw)
    data = {tag: (tmp_path / f"{tag}.jsonl.gz").read_bytes() for tag in cases}
    assert data["a"] == data["b"] and data["d"] == data["e"]
    assert len({data["a"], data["c"], data["d"]}) == 3
    assert cases["a"]["scenario"] == "agentic-pool_cascade-codes-late-s3"
    with pytest.raises(ValueError, match="contradicts"):
        simulate("shop", "cpu", 0, tmp_path / "x.jsonl", bare=True, export="codes")
    with pytest.raises(ValueError, match="valid: normal, bare, codes"):
        simulate("shop", "cpu", 0, tmp_path / "x.jsonl", export="thin")


def test_corpus_names_modes_and_cli(tmp_path):
    truths = simulate_corpus(tmp_path / "corpus", seeds=(0,), topologies=("shop",), faults=("cpu",),
                             duration_s=120, rate_per_s=1, bare_duration_s=120, workers=1, compress=False,
                             exports=("normal", "bare", "codes"), late=(False, True))
    assert sorted(t["scenario"] for t in truths) == sorted(
        f"shop-cpu{m}{late}-s0" for m in ("", "-bare", "-codes") for late in ("", "-late"))
    out = tmp_path / "cli.jsonl"
    res = CliRunner().invoke(simulate_cmd, ["--topology", "shop", "--fault", "errors", "--out", str(out),
                                            "--duration", "150", "--rate", "1", "--export", "codes", "--late"])
    assert res.exit_code == 0, res.output
    truth = json.loads(Path(str(out) + ".truth.json").read_text())
    assert truth["export"] == "codes" and truth["late"] and "traces start" in res.output
    assert '"code":2' not in out.read_text() and "rpc.grpc.status_code" in out.read_text()
    for args, message in ((["--bare", "--export", "codes"], "contradicts"), (["--trace-lead", "3"], "needs --late")):
        res = CliRunner().invoke(simulate_cmd, ["--topology", "shop", "--out", str(out), *args])
        assert res.exit_code != 0 and message in res.output
