"""The interaction graph of a window: services and resources, and who calls whom, from spans.

Nodes are services (they emit spans) and resources without spans of their own (databases, caches,
queues, LLM providers, external APIs), named from the client side's attributes. Edges run caller →
callee: a span whose child lives in another service, a CLIENT/PRODUCER span with no child (a resource),
and a CONSUMER span linked to its producer. Everything is aggregated in SQL; Python sees one row per
edge and per operation.

    >>> from interplay.api import Interplay
    >>> g = interaction_graph(Interplay.open(":memory:").store)
    >>> g.nodes, g.edges
    ([], [])
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal, TypeVar

from .model import TimeRange
from .model_results import (
    Caller,
    Edge,
    EdgeStats,
    EntryReach,
    Graph,
    GraphWindow,
    Impact,
    ImpactTarget,
    Node,
    NodeStats,
    Operation,
    Upstream,
)
from .store.base import Store
from .store.interactions import (
    edge_rows,
    entry_points_through,
    operation_rows,
    resource_name,
    span_count,
    span_extent,
    window_spans,
    windows_case,
)
from .store.predicates import ENTRY

# rca/ and bench/ import these from here
__all__ = ["ENTRY", "impact", "interaction_graph", "resource_name",
           "sample_share", "window_spans", "windows_case"]

# A graph reads at most about this many spans: above it, that share of whole traces (by hash),
# so a service map of a large store costs a bounded time and memory (10M spans: 12 s, 5 GB whole).
GRAPH_SPANS = 1_000_000


def interaction_graph(store: Store, window: TimeRange = TimeRange(), *,
                      windows: dict[str, TimeRange] | None = None, sample: float | None = None,
                      spans_table: str | None = None) -> Graph:
    """Nodes and caller→callee edges with rate, error rate and p50/p95 latency per window.

    With `windows` (e.g. {"baseline": ..., "incident": ...}) every statistic is given per window.
    With `sample` < 1, only that share of traces (whole traces, chosen by hash) is read and the
    counts are scaled back up: estimates, for large windows (`sampled_share` says so). By default
    the share keeps about GRAPH_SPANS spans. `spans_table` is a table that `window_spans` made for
    the same windows and sample (a caller that reads them again keeps it).
    """
    windows = windows or {"window": window}
    if sample is None:
        sample = sample_share(store, windows, GRAPH_SPANS)
    if spans_table is None:
        with window_spans(store, windows, sample) as table:
            return interaction_graph(store, windows=windows, sample=sample, spans_table=table)
    seconds = {name: _seconds(store, w) for name, w in windows.items()}
    factor = 1.0 / sample
    edges = [{**_scale(r, factor), "rate": r["calls"] / seconds[r["w"]]} for r in edge_rows(store, spans_table)]
    operations = _operations(store, spans_table, seconds, factor)
    services = sorted({o.service for o in operations})
    known = set(services)
    for r in edges:  # a "resource" named like a service we see is that service, its spans missing
        if r["callee_kind"] != "service" and r["callee"] in known:
            r["callee_kind"] = "service"
    merged = _merge_edges(edges, windows)
    nodes = []
    for s in services:
        ops = [o for o in operations if o.service == s]
        nodes.append(Node(s, "service", ops, _service_stats(ops, windows)))
    return Graph(windows={n: GraphWindow(w.since_ns, w.until_ns, seconds[n]) for n, w in windows.items()},
                 sampled_share=sample, nodes=nodes + _resources(merged, windows), edges=merged)


def sample_share(store: Store, windows: dict[str, TimeRange], spans: int) -> float:
    """The share of traces that holds about `spans` of the windows' spans (1.0: read them all)."""
    n = span_count(store, windows)
    return 1.0 if n <= spans else spans / n


def _scale(r: dict[str, Any], factor: float) -> dict[str, Any]:
    if factor != 1.0:
        for key in ("calls", "errors", "retries"):
            if key in r and r[key] is not None:
                r[key] = int(round(r[key] * factor))
    return r


def _seconds(store: Store, w: TimeRange) -> float:
    if w.since_ns is not None and w.until_ns is not None:
        return max((w.until_ns - w.since_ns) / 1e9, 1e-3)
    first, last = span_extent(store, w)
    if first is None or last is None:
        return 1.0
    lo = w.since_ns if w.since_ns is not None else first
    hi = w.until_ns if w.until_ns is not None else last
    return max((hi - lo) / 1e9, 1.0)


def _merge_edges(rows: list[dict[str, Any]], windows: dict[str, TimeRange]) -> list[Edge]:
    """One edge per (caller, callee, mode), its stats per window. Two rows of one window meet where
    a callee answered some calls (parent/child spans) and never reported others (a CLIENT span
    with no SERVER span behind it, typically a timeout, named by its address): both are calls to
    it, so counts add up; the p50 is the larger group's and the p95 the slower group's (the calls
    that never came back are the tail)."""
    edges: dict[tuple, Edge] = {}
    for r in rows:
        key = (r["caller"], r["callee"], r["mode"])
        e = edges.setdefault(key, Edge(r["caller"], r["callee"], r["callee_kind"], r["mode"], {}))
        before = e.stats.get(r["w"])
        e.stats[r["w"]] = _stat(r) if before is None else _combined(before, _stat(r))
    return [replace(e, stats=_in_order(e.stats, windows))
            for e in sorted(edges.values(), key=lambda e: (e.caller, e.callee, e.mode))]


S = TypeVar("S")


def _in_order(stats: dict[str, S], windows: dict[str, Any]) -> dict[str, S]:
    """Per-window stats in the order the windows were given: SQL hands a group's windows back in
    any order (a hash aggregate), and the JSON should not change from run to run."""
    return {name: stats[name] for name in windows if name in stats}


def _combined(a: EdgeStats, b: EdgeStats) -> EdgeStats:
    calls = a.calls + b.calls
    errors = a.errors + b.errors
    retries = None if a.retries is None and b.retries is None else (a.retries or 0) + (b.retries or 0)
    return EdgeStats(calls, errors, round(a.rate + b.rate, 4), round(errors / calls, 5) if calls else 0.0,
                     max(a, b, key=lambda s: (s.calls, s.p50_ms)).p50_ms, max(a.p95_ms, b.p95_ms), retries)


def _stat(r: dict[str, Any]) -> EdgeStats:
    calls = r["calls"]
    return EdgeStats(calls, r["errors"], round(r["rate"], 4), round(r["errors"] / calls, 5) if calls else 0.0,
                     round((r["p50"] or 0) / 1e6, 3), round((r["p95"] or 0) / 1e6, 3), r.get("retries"))


def _operations(store: Store, s: str, seconds: dict[str, float], factor: float = 1.0) -> list[Operation]:
    rows = operation_rows(store, s)
    entry: dict[tuple[str, str, str], bool] = {}  # by (service, operation, kind)
    stats: dict[tuple[str, str, str], dict[str, EdgeStats]] = {}
    for r in rows:
        _scale(r, factor)
        key = (r["service"], r["operation"], r["kind"])
        entry[key] = entry.get(key, False) or bool(r["entry"])
        r["rate"] = r["calls"] / seconds[r["w"]]
        windows = stats.setdefault(key, {})
        prev = windows.get(r["w"])
        if prev is None or prev.calls < r["calls"]:  # roots and non-roots of one op: keep the larger
            windows[r["w"]] = _stat(r)
    return [Operation(service, op, kind, entry[(service, op, kind)], _in_order(per_window, seconds))
            for (service, op, kind), per_window in sorted(stats.items())]


def _service_stats(operations: list[Operation], windows: dict[str, TimeRange]) -> dict[str, NodeStats]:
    """Per window, the requests at a service's entry operations (`operations`: the service's)."""
    out = {}
    for name in windows:
        ops = [o.stats[name] for o in operations if o.entry and name in o.stats]
        calls = sum(s.calls for s in ops)
        errors = sum(s.errors for s in ops)
        out[name] = NodeStats(requests=calls, errors=errors, rate=round(sum(s.rate for s in ops), 4),
                              error_rate=round(errors / calls, 5) if calls else 0.0,
                              p95_ms=max((s.p95_ms for s in ops), default=0.0))
    return out


def _resources(edges: list[Edge], windows: dict[str, TimeRange]) -> list[Node]:
    """The nodes that are not services, by name: per window, the calls into each over all its edges."""
    nodes: dict[str, Node] = {}
    for e in edges:
        if e.callee_kind != "service":
            node = nodes.setdefault(e.callee, Node(e.callee, e.callee_kind))
            for name, st in e.stats.items():
                node.stats[name] = _with_calls(node.stats.get(name), st)
    return [replace(nodes[name], stats=_in_order(nodes[name].stats, windows)) for name in sorted(nodes)]


def _with_calls(total: NodeStats | None, st: EdgeStats) -> NodeStats:
    """A resource's window with one more edge's calls into it added."""
    total = total or NodeStats(calls=0)
    calls, errors = (total.calls or 0) + st.calls, total.errors + st.errors
    return NodeStats(calls=calls, errors=errors, rate=round(total.rate + st.rate, 4),
                     error_rate=round(errors / calls, 5) if calls else 0.0)


def impact(store: Store, target: str, window: TimeRange = TimeRange()) -> Impact:
    """Blast radius of 'service[:operation]' (or a resource): its direct and transitive callers,
    and for each entry point the share of its requests whose trace passes through the target,
    synchronously or only via a queue."""
    service, _, operation = target.partition(":")
    graph = interaction_graph(store, window)
    callers: dict[str, list[Edge]] = {}
    for e in graph.edges:
        callers.setdefault(e.callee, []).append(e)
    direct = [_caller(e.caller, e.mode, e.stats["window"]) for e in callers.get(service, [])]
    upstream: dict[str, Literal["sync", "async"]] = {}
    frontier: list[tuple[str, Literal["sync", "async"]]] = [(service, "sync")]
    while frontier:
        node, mode = frontier.pop()
        for e in callers.get(node, []):
            m: Literal["sync", "async"] = "async" if "async" in (mode, e.mode) else "sync"
            if e.caller not in upstream or (m == "sync" and upstream[e.caller] == "async"):
                upstream[e.caller] = m
                frontier.append((e.caller, m))
    rows = entry_points_through(store, service, operation or None, window)
    entries = [EntryReach(r["service"], r["operation"], r["requests"], r["through"],
                          round(r["through"] / r["requests"], 4),
                          "self" if r["service"] == service else upstream.get(r["service"], "async"))
               for r in rows]
    return Impact(ImpactTarget(service, operation or None), direct,
                  [Upstream(s, m) for s, m in sorted(upstream.items())], entries)


def _caller(service: str, mode: Literal["sync", "async"], st: EdgeStats) -> Caller:
    return Caller(service, mode, st.calls, st.errors, st.rate, st.error_rate, st.p50_ms, st.p95_ms, st.retries)
