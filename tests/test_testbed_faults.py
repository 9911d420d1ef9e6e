"""The testbed's interaction faults and bare export have the shape they claim, in the generated data.

Each test reads the OTLP JSON a simulation wrote, as any consumer would, and checks the fault from
the outside: where time moved (between spans, in a queue, in a pool), what erred and what did not.
"""
from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

import pytest

from interplay.testbed import CLASSIC_FAULTS, FAULTS, NEW_FAULTS, TOPOLOGIES, simulate, simulate_corpus
from interplay.testbed._bare import STRIPPED

INTERNAL, SERVER, CLIENT, PRODUCER, CONSUMER = 1, 2, 3, 4, 5
ERROR = 2
MS = 1e6


class Case:
    """Spans and logs of one simulated case, with its truth."""

    def __init__(self, out: Path, truth: dict):
        self.truth = truth
        self.onset = int(datetime.fromisoformat(truth["injected_at"].replace("Z", "+00:00")).timestamp() * 1e9)
        self.spans: dict[str, dict] = {}
        self.logs: list[dict] = []
        self.metric_lines = 0
        with open(out) as f:
            for doc in map(json.loads, f):
                self._read(doc)
        self.children = defaultdict(list)
        for span in self.spans.values():
            self.children[span.get("parentSpanId", "")].append(span)

    def _read(self, doc: dict) -> None:
        self.metric_lines += "resourceMetrics" in doc
        for rs in doc.get("resourceSpans", ()):
            svc = _service(rs)
            for ss in rs["scopeSpans"]:
                for span in ss["spans"]:
                    span["svc"] = svc
                    span["start"], span["end"] = int(span["startTimeUnixNano"]), int(span["endTimeUnixNano"])
                    span["attrs"] = {a["key"]: next(iter(a["value"].values())) for a in span.get("attributes", ())}
                    self.spans[span["spanId"]] = span
        for rl in doc.get("resourceLogs", ()):
            svc = _service(rl)
            for sl in rl["scopeLogs"]:
                for rec in sl["logRecords"]:
                    rec["svc"], rec["t"] = svc, int(rec["timeUnixNano"])
                    self.logs.append(rec)

    def after(self, span: dict) -> bool:
        return span["start"] >= self.onset

    def parent(self, span: dict) -> dict | None:
        return self.spans.get(span.get("parentSpanId", ""))

    def servers(self, svc: str) -> list[dict]:
        return [s for s in self.spans.values() if s["svc"] == svc and s["kind"] == SERVER]

    def calls_to(self, svc: str) -> list[tuple[dict, dict | None]]:
        """(client span, server span or None) for every call into `svc` from another service."""
        out = []
        for span in self.spans.values():
            if span["kind"] == CLIENT and span["attrs"].get("server.address") == svc:
                kids = [k for k in self.children[span["spanId"]] if k["svc"] == svc]
                out.append((span, kids[0] if kids else None))
        return out


def _service(resource_entry: dict) -> str:
    return next(a["value"]["stringValue"] for a in resource_entry["resource"]["attributes"]
                if a["key"] == "service.name")


def _ms(span: dict) -> float:
    return (span["end"] - span["start"]) / MS


def _median(values) -> float:
    values = list(values)
    assert values, "no values to compare"
    return statistics.median(values)


def _split(case: Case, spans, value):
    before = [value(s) for s in spans if not case.after(s)]
    after = [value(s) for s in spans if case.after(s)]
    return _median(before), _median(after)


def _error_share(case: Case, spans, after: bool) -> float:
    chosen = [s for s in spans if case.after(s) == after]
    return sum(s.get("status", {}).get("code") == ERROR for s in chosen) / max(len(chosen), 1)


def _case(tmp_path_factory, topology: str, fault: str, seed: int, bare: bool = False, **kw) -> Case:
    out = tmp_path_factory.mktemp(fault) / f"{topology}-{fault}.jsonl"
    kw = {"duration_s": 600, "rate_per_s": 2.0, "fault_at_s": 300, **kw}
    if bare:
        kw.pop("fault_at_s")
    return Case(out, simulate(topology, fault, seed, out, bare=bare, **kw))


@pytest.fixture(scope="module")
def network_delay(tmp_path_factory) -> Case:
    return _case(tmp_path_factory, "shop", "network_delay", 0)


@pytest.fixture(scope="module")
def bare_case(tmp_path_factory) -> Case:
    return _case(tmp_path_factory, "shop", "network_delay", 0, bare=True, duration_s=420, rate_per_s=0.8)


def test_new_kinds_are_registered_and_described():
    from interplay.testbed._faults import DESCRIPTIONS

    assert set(FAULTS) == set(CLASSIC_FAULTS) | set(NEW_FAULTS) and set(FAULTS) <= set(DESCRIPTIONS)
    for fault in NEW_FAULTS:
        assert any(fault in topo.targets for topo in TOPOLOGIES.values())
    for topo in TOPOLOGIES.values():
        for target in topo.targets.get("pool_cascade", ()):
            victim = topo.pool_victims[target]
            assert any(c.target == target for ep in topo.services[victim].endpoints for c in ep.calls)


def test_network_delay_lives_between_client_and_server(network_delay):
    case = network_delay
    target = case.truth["service"]
    gaps = defaultdict(list)  # caller -> [(after, gap ms)]
    for client, server in case.calls_to(target):
        if server is not None:
            gaps[client["svc"]].append((case.after(client), _ms(client) - _ms(server)))
    assert len(gaps) >= 2, "the target needs at least two callers"
    for caller, pairs in gaps.items():
        before = _median(g for a, g in pairs if not a)
        after = _median(g for a, g in pairs if a)
        assert before < 5 and after > before + 100, (caller, before, after)
    # The faulty service's own server spans are not slower where it calls no other service.
    leaf = [s for s in case.servers(target)
            if not any(k["kind"] == CLIENT and "url.full" in k["attrs"] for k in case.children[s["spanId"]])]
    before, after = _split(case, leaf, _ms)
    assert after < 1.3 * before + 1, (before, after)
    # Edges that do not touch the target keep their gap.
    for other in ("catalog", "currency", "payment"):
        if other != target:
            pairs = [(c, s) for c, s in case.calls_to(other) if s is not None and c["svc"] != target]
            before, after = _split(case, [c for c, _ in pairs], lambda c, other=other: _ms(c) - _ms(
                next(k for k in case.children[c["spanId"]] if k["svc"] == other)))
            assert after < before + 5, (other, before, after)


def test_network_loss_makes_a_few_exchanges_wait_for_a_retransmit(tmp_path_factory):
    case = _case(tmp_path_factory, "shop", "network_loss", 0)
    target = case.truth["service"]
    gaps = defaultdict(list)  # after the onset or not -> gap ms of calls answered by the target
    for client, server in case.calls_to(target):
        if server is not None:
            gaps[case.after(client)].append(_ms(client) - _ms(server))
    before, after = gaps[False], gaps[True]
    # the bulk of the exchanges is untouched: the median gap stays where it was ...
    assert _median(after) < _median(before) + 2, (_median(before), _median(after))
    # ... while a share of them waits at least one retransmission timeout (200 ms), none before
    slow = [g for g in after if g >= 200]
    assert 0.04 <= len(slow) / len(after) <= 0.5 and not [g for g in before if g >= 200], len(slow) / len(after)
    # the target's own server spans are not slower where it calls no other service
    leaf = [s for s in case.servers(target)
            if not any(k["kind"] == CLIENT and "url.full" in k["attrs"] for k in case.children[s["spanId"]])]
    b, a = _split(case, leaf, _ms)
    assert a < 1.3 * b + 1, (b, a)


def test_consumer_lag_grows_only_the_queue_wait(tmp_path_factory):
    seen = set()
    for seed in (0, 1):  # one consumer is a child of the producer, the other only linked to it
        case = _case(tmp_path_factory, "shop", "consumer_lag", seed)
        target = case.truth["service"]
        waits, durations = [], []
        for span in case.spans.values():
            if span["svc"] == target and span["kind"] == CONSUMER:
                producer = case.parent(span) or case.spans[span["links"][0]["spanId"]]
                waits.append((case.after(producer), (span["start"] - producer["end"]) / 1e9))
                durations.append(span)
                seen.add("child" if case.parent(span) else "link")
        before = _median(w for a, w in waits if not a)
        after = _median(w for a, w in waits if a)
        assert before < 0.1 and after > 5, (target, before, after)
        d_before, d_after = _split(case, durations, _ms)
        assert d_after < 1.6 * d_before, (d_before, d_after)
        entry = case.servers("frontend")
        e_before, e_after = _split(case, entry, _ms)
        assert e_after < 1.25 * e_before
        assert _error_share(case, entry, True) < _error_share(case, entry, False) + 0.03
    assert seen == {"child", "link"}


def test_timeout_amplification_errs_only_the_caller(tmp_path_factory):
    case = _case(tmp_path_factory, "agentic", "timeout_amplification", 0)
    target = case.truth["service"]
    calls = [(c, s) for c, s in case.calls_to(target) if case.after(c)]
    timed_out = [c for c, _ in calls if c.get("status", {}).get("code") == ERROR
                 and any(e["attributes"][0]["value"]["stringValue"] == "TimeoutError" for e in c.get("events", ()))]
    assert len(timed_out) > 0.7 * len(calls) > 10
    servers = [s for s in case.servers(target) if case.after(s)]
    assert _error_share(case, servers, True) < 0.05
    assert _median(_ms(s) for s in servers) > min(_ms(c) for c in timed_out)
    never_reported = sum(s is None for _, s in calls)
    assert 0.1 * len(calls) < never_reported < 0.5 * len(calls)
    # The client gives up and retries once: two calls per caller request.
    per_parent = Counter(c["parentSpanId"] for c, _ in calls)
    assert statistics.mean(per_parent.values()) > 1.6


@pytest.mark.parametrize("topology,seed", [("shop", 0), ("agentic", 1)])
def test_pool_cascade_makes_every_path_of_the_caller_wait(tmp_path_factory, topology, seed):
    case = _case(tmp_path_factory, topology, "pool_cascade", seed)
    target, victim = case.truth["service"], case.truth["victim"]

    def touches_target(span) -> bool:
        stack = [span]
        while stack:
            s = stack.pop()
            if s["svc"] == target:
                return True
            stack.extend(case.children[s["spanId"]])
        return False

    s_before, s_after = _split(case, case.servers(target), _ms)
    assert s_after > 5 * s_before + 200, (s_before, s_after)
    untouched = [s for s in case.servers(victim) if not touches_target(s)]
    before, after = _split(case, untouched, _ms)
    assert after > before + 100, (victim, before, after)
    waits = [k for s in case.servers(victim) for k in case.children[s["spanId"]] if k["name"] == "wait for worker"]
    if case.truth["variant"] == "span":
        w_before, w_after = _split(case, waits, _ms)
        assert w_before < 5 and w_after > 100
    else:
        assert not waits
    assert _error_share(case, case.servers(target), True) < 0.05


def test_code_exception_has_no_span_status_in_the_faulty_service(tmp_path_factory):
    case = _case(tmp_path_factory, "agentic", "code_exception", 0)
    target = case.truth["service"]
    spans = [s for s in case.spans.values() if s["svc"] == target]
    assert spans and all(not s.get("status") for s in spans)
    exception = case.truth["exception"]
    new = Counter()
    for s in spans:
        for e in s.get("events", ()):
            if e["attributes"][0]["value"]["stringValue"] == exception:
                new[case.after(s)] += 1
    for rec in case.logs:
        if rec["svc"] == target and rec["severityText"] == "ERROR" and exception in rec["body"]["stringValue"]:
            new[rec["t"] >= case.onset] += 1
    assert new[False] == 0 and new[True] > 10
    before, after = _split(case, case.servers(target), _ms)
    assert after < 1.3 * before + 1
    callers = {c["svc"] for c, _ in case.calls_to(target)}
    assert any(_error_share(case, case.servers(c), True) > _error_share(case, case.servers(c), False) + 0.05
               for c in callers)


@pytest.mark.parametrize("topology,seed", [("shop", 0), ("agentic", 0)])
def test_code_return_changes_the_call_path_without_errors_or_latency(tmp_path_factory, topology, seed):
    case = _case(tmp_path_factory, topology, "code_return", seed)
    requests, calls = defaultdict(Counter), defaultdict(Counter)  # per caller; per (caller, callee)
    for span in case.spans.values():
        if span["kind"] == SERVER:
            requests[span["svc"]][case.after(span)] += 1
        elif span["kind"] in (CLIENT, PRODUCER) and span.get("parentSpanId"):
            calls[(span["svc"], span["attrs"].get("server.address", "?"))][case.after(span)] += 1
    drops = [(n[True] / max(requests[caller][True], 1)) / (n[False] / requests[caller][False])
             for (caller, _), n in calls.items() if n[False] >= 20 and requests[caller][False]]
    assert min(drops) < 0.75, drops
    entry = case.servers(TOPOLOGIES[topology].entries[0][0])
    before, after = _split(case, entry, _ms)
    assert after < 1.2 * before
    for svc in {s["svc"] for s in case.spans.values()}:
        servers = case.servers(svc)
        if sum(case.after(s) for s in servers) > 30:
            assert _error_share(case, servers, True) < _error_share(case, servers, False) + 0.03, svc


def test_bare_mode_has_no_status_no_protocol_attributes_and_inferred_kinds(bare_case):
    case = bare_case
    truth = case.truth
    assert truth["bare"] is True and "-bare-" in truth["scenario"] and 60 <= truth["fault_at_s"] <= 120
    assert truth["target_kind"] == "service" and case.metric_lines == 0
    for span in case.spans.values():
        assert not span.get("status"), span
        assert not [k for k in span["attrs"] if k.startswith(STRIPPED)], span["attrs"]
        parent = case.parent(span)
        if parent is None or parent["svc"] != span["svc"]:
            assert span["kind"] == SERVER
        elif any(k["svc"] != span["svc"] for k in case.children[span["spanId"]]):
            assert span["kind"] == CLIENT
        else:
            assert span["kind"] == INTERNAL
    for rec in case.logs:
        assert not [a for a in rec.get("attributes", ()) if a["key"].startswith(STRIPPED)]
    # Errors survive as exception events and error logs tied to spans, some before the onset (background).
    assert any(s.get("events") for s in case.spans.values())
    errors = [r for r in case.logs if r["severityText"] == "ERROR"]
    assert all(r.get("spanId") for r in errors) and any(r["t"] < case.onset for r in errors)
    # Light traffic: about a request a second at the entry.
    roots = [s for s in case.spans.values() if s["svc"] == "frontend" and case.parent(s) is None]
    assert len(roots) < 1.2 * truth["duration_s"]


def test_bare_and_normal_differ_only_in_export(network_delay, bare_case):
    """The bare case is the same system: same services and span names, the same fault shape."""
    assert {s["svc"] for s in bare_case.spans.values()} >= {s["svc"] for s in network_delay.spans.values()
                                                           if s["svc"] != "email"} - {"email"}
    assert bare_case.truth["service"] == network_delay.truth["service"]
    target = bare_case.truth["service"]
    gaps = []
    for span in bare_case.servers(target):
        parent = bare_case.parent(span)
        if parent is not None and bare_case.after(span):
            gaps.append(_ms(parent) - _ms(span))
    assert _median(gaps) > 100


def test_corpus_of_new_kinds_normal_and_bare(tmp_path):
    truths = simulate_corpus(tmp_path, seeds=(4,), topologies=("shop",), faults=("consumer_lag", "code_return"),
                             duration_s=150, rate_per_s=1.5, bare=(False, True), bare_duration_s=150,
                             bare_rate_per_s=0.7, workers=1, compress=False)
    assert [(t["fault"], t["bare"]) for t in truths] == [("consumer_lag", False), ("consumer_lag", True),
                                                         ("code_return", False), ("code_return", True)]
    for t in truths:
        assert t["scenario"].endswith("-bare-s4") == t["bare"]
        assert (tmp_path / t["files"]["otlp"]).name == t["scenario"] + ".jsonl"
        assert json.loads((tmp_path / t["files"]["truth"]).read_text())["bare"] == t["bare"]
        assert t["symptom"] == (t["service"] if t["fault"] == "consumer_lag" else "frontend")
    default = simulate_corpus(tmp_path / "d", seeds=(0,), topologies=("shop",), duration_s=1, workers=1)
    assert {t["fault"] for t in default} == set(TOPOLOGIES["shop"].faults) & set(CLASSIC_FAULTS)
