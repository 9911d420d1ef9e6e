"""The interaction graph of a window: services and resources, and who calls whom, from spans.

Nodes are services (they emit spans) and resources without spans of their own (databases, caches,
queues, LLM providers, external APIs), named from the client side's attributes. Edges run caller →
callee: a span whose child lives in another service, a CLIENT/PRODUCER span with no child (a resource),
and a CONSUMER span linked to its producer. Everything is aggregated in SQL; Python sees one row per
edge and per operation.

    >>> from interplay.api import Interplay
    >>> g = interaction_graph(Interplay.open(":memory:").store)
    >>> g["nodes"], g["edges"]
    ([], [])
"""
from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from .model import TimeRange
from .store.base import Store, scratch_table
from .store.predicates import window_where

# A graph reads at most about this many spans: above it, that share of whole traces (by hash),
# so a service map of a large store costs a bounded time and memory (10M spans: 12 s, 5 GB whole).
GRAPH_SPANS = 1_000_000

# Where work enters a service: SERVER/CONSUMER spans, or roots (a cron job, an agent run).
ENTRY = "(kind IN ('SERVER', 'CONSUMER') OR parent_span_id IS NULL)"


def _attr(key: str, column: str = "attributes") -> str:
    return f"nullif(json_extract_string({column}, '$.\"{key}\"'), '')"


# The resource a leaf CLIENT/PRODUCER span talks to, and what kind of thing it is.
RESOURCE_NAME = (
    "CASE WHEN {ms} IS NOT NULL THEN {ms} || coalesce('/' || {md}, '') "
    "ELSE coalesce({peer}, {addr}, {dbname}, {db}, {gp}, {gs}, {host}, 'external') END").format(
    ms=_attr("messaging.system"), md=_attr("messaging.destination.name"), peer=_attr("peer.service"),
    addr=_attr("server.address"), dbname=_attr("db.name"), db=_attr("db.system"),
    gp=_attr("gen_ai.provider.name"), gs=_attr("gen_ai.system"), host=_attr("net.peer.name"))
RESOURCE_KIND = (
    "CASE WHEN {ms} IS NOT NULL THEN 'queue' "
    "WHEN lower(coalesce({db}, {dbn}, '')) IN ('redis', 'memcached', 'valkey') THEN 'cache' "
    "WHEN coalesce({db}, {dbn}) IS NOT NULL THEN 'database' "
    "WHEN coalesce({gp}, {gs}) IS NOT NULL THEN 'llm' ELSE 'external' END").format(
    ms=_attr("messaging.system"), db=_attr("db.system"), dbn=_attr("db.system.name"),
    gp=_attr("gen_ai.provider.name"), gs=_attr("gen_ai.system"))


_RETRY = ("coalesce(json_extract_string({a}, '$.\"http.request.resend_count\"'), '0') "
          "NOT IN ('0', '')")


def windows_case(windows: dict[str, TimeRange], column: str = "start_ns") -> tuple[str, str, list[Any]]:
    """(CASE naming each row's window, WHERE covering all windows, params for CASE then WHERE)."""
    whens, case_params, conds, cond_params = [], [], [], []
    for name, w in windows.items():
        cond, params = window_where(w, column)
        whens.append(f"WHEN {cond} THEN '{name}'")
        case_params += params
        conds.append(f"({cond})")
        cond_params += params
    return f"CASE {' '.join(whens)} END", " OR ".join(conds) or "TRUE", case_params + cond_params


def interaction_graph(store: Store, window: TimeRange = TimeRange(), *,
                      windows: dict[str, TimeRange] | None = None, sample: float | None = None,
                      spans_table: str | None = None) -> dict[str, Any]:
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
    edges = _edges(store, spans_table, seconds, 1.0 / sample)
    operations = _operations(store, spans_table, seconds, 1.0 / sample)
    services = sorted({o["service"] for o in operations})
    known = set(services)
    for e in edges:  # a "resource" named like a service we see is that service, its spans missing
        if e["callee_kind"] != "service" and e["callee"] in known:
            e["callee_kind"] = "service"
    edges = _merge_edges(edges)
    nodes = [{"id": s, "kind": "service",
              "operations": [o for o in operations if o["service"] == s],
              "stats": _service_stats(operations, s, windows)} for s in services]
    resources: dict[str, dict[str, Any]] = {}
    for e in edges:
        if e["callee_kind"] != "service":
            node = resources.setdefault(e["callee"], {"id": e["callee"], "kind": e["callee_kind"],
                                                      "operations": [], "stats": {}})
            for name, st in e["stats"].items():
                acc = node["stats"].setdefault(name, {"calls": 0, "errors": 0, "rate": 0.0})
                acc["calls"] += st["calls"]
                acc["errors"] += st["errors"]
                acc["rate"] = round(acc["rate"] + st["rate"], 4)
                acc["error_rate"] = round(acc["errors"] / acc["calls"], 5) if acc["calls"] else 0.0
    return {"windows": {n: {"since_ns": w.since_ns, "until_ns": w.until_ns, "seconds": seconds[n]}
                        for n, w in windows.items()},
            "sampled_share": sample,
            "nodes": nodes + sorted(resources.values(), key=lambda r: r["id"]),
            "edges": edges}


def sample_share(store: Store, windows: dict[str, TimeRange], spans: int) -> float:
    """The share of traces that holds about `spans` of the windows' spans (1.0: read them all)."""
    conds, params = [], []
    for w in windows.values():
        cond, p = window_where(w)
        conds.append(f"({cond})")
        params += p
    n = store.query(f"SELECT count(*) AS n FROM spans WHERE {' OR '.join(conds)}", params)[0]["n"]
    return 1.0 if n <= spans else spans / n


def sample_condition(share: float, column: str = "trace_id") -> str:
    """SQL keeping about `share` of traces, whole, chosen by a hash of the trace id."""
    if share >= 1.0:
        return "TRUE"
    return f"(hash({column}) % 10000) < {max(int(share * 10000), 1)}"


def _scale(r: dict[str, Any], factor: float) -> dict[str, Any]:
    if factor != 1.0:
        for key in ("calls", "errors", "retries"):
            if key in r and r[key] is not None:
                r[key] = int(round(r[key] * factor))
    return r


def _seconds(store: Store, w: TimeRange) -> float:
    if w.since_ns is not None and w.until_ns is not None:
        return max((w.until_ns - w.since_ns) / 1e9, 1e-3)
    cond, params = window_where(w)
    row = store.query(f"SELECT min(start_ns) AS a, max(start_ns) AS b FROM spans WHERE {cond}", params)[0]
    if row["a"] is None:
        return 1.0
    lo = w.since_ns if w.since_ns is not None else row["a"]
    hi = w.until_ns if w.until_ns is not None else row["b"]
    return max((hi - lo) / 1e9, 1.0)


def window_spans(store: Store, windows: dict[str, TimeRange], sample: float = 1.0) -> AbstractContextManager[str]:
    """A temporary table of the windows' spans (the `sample` share of traces) with what the graph
    needs and `w`, the window's name; dropped on exit. One read of the span table serves every
    statistic of the graph (and the caller's own, such as trace completeness)."""
    case, cond, params = windows_case(windows)
    return scratch_table(store, f"""
        SELECT trace_id, span_id, parent_span_id, service, operation, kind, start_ns, duration_ns,
               status_code = 'ERROR' AS err, {case} AS w,
               position('"exception"' IN events) > 0 AS exc,
               CASE WHEN kind IN ('CLIENT', 'PRODUCER') THEN attributes END AS attrs,
               CASE WHEN links NOT IN ('', '[]') THEN links ELSE '' END AS links
        FROM spans WHERE ({cond}) AND {sample_condition(sample)}""", params, "_ip_graph")


def _edges(store: Store, s: str, seconds: dict[str, float], factor: float = 1.0) -> list[dict[str, Any]]:
    rows = store.query(f"""
    WITH pc AS (
        SELECT c.w AS w, p.service AS caller, c.service AS callee, 'service' AS callee_kind,
               CASE WHEN c.kind = 'CONSUMER' OR p.kind = 'PRODUCER' THEN 'async' ELSE 'sync' END AS mode,
               c.duration_ns AS duration_ns, c.err AS err, {_RETRY.format(a='p.attrs')} AS retry
        FROM {s} c JOIN {s} p ON c.trace_id = p.trace_id AND c.parent_span_id = p.span_id
        WHERE c.service <> p.service),
    leaf AS (
        SELECT x.* FROM {s} x
        WHERE x.kind IN ('CLIENT', 'PRODUCER')
          AND NOT EXISTS (SELECT 1 FROM {s} c WHERE c.trace_id = x.trace_id AND c.parent_span_id = x.span_id)),
    res AS (
        SELECT l.w AS w, l.service AS caller, {RESOURCE_NAME.replace('(attributes', '(l.attrs')} AS callee,
               {RESOURCE_KIND.replace('(attributes', '(l.attrs')} AS callee_kind,
               CASE WHEN l.kind = 'PRODUCER' THEN 'async' ELSE 'sync' END AS mode,
               l.duration_ns AS duration_ns, l.err AS err, {_RETRY.format(a='l.attrs')} AS retry
        FROM leaf l),
    lk AS (  -- one row per link, its trace and span id taken at the same index k
        SELECT x.*, x.link_spans[x.k] AS link_span, x.link_traces[x.k] AS link_trace
        FROM (SELECT service, duration_ns, err, w,
                     json_extract_string(links, '$[*].span_id') AS link_spans,
                     json_extract_string(links, '$[*].trace_id') AS link_traces,
                     unnest(range(1, length(json_extract_string(links, '$[*].span_id')) + 1)) AS k
              FROM {s} WHERE links <> '') x),
    linked AS (  -- the producer may be outside the window or the sample: look it up by id
        SELECT c.w AS w, p.service AS caller, c.service AS callee, 'service' AS callee_kind,
               'async' AS mode, c.duration_ns AS duration_ns, c.err AS err, false AS retry
        FROM lk c
        JOIN (SELECT trace_id, span_id, service FROM spans
              WHERE kind IN ('PRODUCER', 'CLIENT') AND trace_id IN (SELECT link_trace FROM lk)) p
          ON p.trace_id = c.link_trace AND p.span_id = c.link_span
        WHERE p.service <> c.service),
    allx AS (SELECT * FROM pc UNION ALL SELECT * FROM res UNION ALL SELECT * FROM linked)
    SELECT w, caller, callee, callee_kind, mode, count(*) AS calls, count(*) FILTER (WHERE err) AS errors,
           count(*) FILTER (WHERE retry) AS retries,
           approx_quantile(duration_ns, 0.5) AS p50, approx_quantile(duration_ns, 0.95) AS p95
    FROM allx WHERE w IS NOT NULL GROUP BY ALL""")
    return [{**_scale(r, factor), "rate": r["calls"] / seconds[r["w"]]} for r in rows]


def _merge_edges(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    edges: dict[tuple, dict[str, Any]] = {}
    for r in rows:
        key = (r["caller"], r["callee"], r["mode"])
        e = edges.setdefault(key, {"caller": r["caller"], "callee": r["callee"],
                                   "callee_kind": r["callee_kind"], "mode": r["mode"], "stats": {}})
        e["stats"][r["w"]] = _stat(r)
    return sorted(edges.values(), key=lambda e: (e["caller"], e["callee"], e["mode"]))


def _stat(r: dict[str, Any]) -> dict[str, Any]:
    calls = r["calls"]
    out = {"calls": calls, "errors": r["errors"], "rate": round(r["rate"], 4),
            "error_rate": round(r["errors"] / calls, 5) if calls else 0.0,
            "p50_ms": round((r["p50"] or 0) / 1e6, 3), "p95_ms": round((r["p95"] or 0) / 1e6, 3)}
    if "retries" in r:
        out["retries"] = r["retries"]
    return out


def _operations(store: Store, s: str, seconds: dict[str, float], factor: float = 1.0) -> list[dict[str, Any]]:
    rows = store.query(f"""
        SELECT w, service, operation, kind, {ENTRY} AS entry, count(*) AS calls,
               count(*) FILTER (WHERE err) AS errors,
               approx_quantile(duration_ns, 0.5) AS p50, approx_quantile(duration_ns, 0.95) AS p95
        FROM {s} WHERE w IS NOT NULL GROUP BY ALL""")
    ops: dict[tuple, dict[str, Any]] = {}
    for r in rows:
        _scale(r, factor)
        key = (r["service"], r["operation"], r["kind"])
        o = ops.setdefault(key, {"service": r["service"], "operation": r["operation"], "kind": r["kind"],
                                 "entry": False, "stats": {}})
        o["entry"] = o["entry"] or bool(r["entry"])
        r["rate"] = r["calls"] / seconds[r["w"]]
        prev = o["stats"].get(r["w"])
        if prev is None or prev["calls"] < r["calls"]:  # roots and non-roots of one op: keep the larger
            o["stats"][r["w"]] = _stat(r)
    return sorted(ops.values(), key=lambda o: (o["service"], o["operation"], o["kind"]))


def _service_stats(operations: list[dict[str, Any]], service: str,
                   windows: dict[str, TimeRange]) -> dict[str, Any]:
    out = {}
    for name in windows:
        ops = [o["stats"][name] for o in operations
               if o["service"] == service and o["entry"] and name in o["stats"]]
        calls = sum(s["calls"] for s in ops)
        errors = sum(s["errors"] for s in ops)
        out[name] = {"requests": calls, "errors": errors, "rate": round(sum(s["rate"] for s in ops), 4),
                     "error_rate": round(errors / calls, 5) if calls else 0.0,
                     "p95_ms": max((s["p95_ms"] for s in ops), default=0.0)}
    return out


def impact(store: Store, target: str, window: TimeRange = TimeRange()) -> dict[str, Any]:
    """Blast radius of 'service[:operation]' (or a resource): its direct and transitive callers,
    and for each entry point the share of its requests whose trace passes through the target,
    synchronously or only via a queue."""
    service, _, operation = target.partition(":")
    graph = interaction_graph(store, window)
    callers: dict[str, list[dict[str, Any]]] = {}
    for e in graph["edges"]:
        callers.setdefault(e["callee"], []).append(e)
    direct = [{"service": e["caller"], "mode": e["mode"], **e["stats"]["window"]}
              for e in callers.get(service, [])]
    upstream: dict[str, str] = {}  # caller → "sync" | "async"
    frontier, modes = [(service, "sync")], {}
    while frontier:
        node, mode = frontier.pop()
        for e in callers.get(node, []):
            m = "async" if "async" in (mode, e["mode"]) else "sync"
            if e["caller"] not in upstream or (m == "sync" and upstream[e["caller"]] == "async"):
                upstream[e["caller"]] = m
                frontier.append((e["caller"], m))
    modes = upstream
    cond, params = window_where(window)
    match = "service = ?" + (" AND operation = ?" if operation else "")
    mparams = [service] + ([operation] if operation else [])
    rows = store.query(f"""
        WITH hit AS (
            SELECT DISTINCT trace_id FROM spans WHERE {cond} AND ({match} OR
                (kind IN ('CLIENT', 'PRODUCER') AND {RESOURCE_NAME} = ?{' AND operation = ?' if operation else ''}))),
        roots AS (SELECT trace_id, service, operation FROM spans WHERE {cond} AND parent_span_id IS NULL)
        SELECT r.service, r.operation, count(*) AS requests, count(h.trace_id) AS through
        FROM roots r LEFT JOIN hit h USING (trace_id) GROUP BY ALL HAVING count(h.trace_id) > 0
        ORDER BY through DESC""", params + mparams + mparams + params)
    entries = [{"service": r["service"], "operation": r["operation"], "requests": r["requests"],
                "through": r["through"], "share": round(r["through"] / r["requests"], 4),
                "mode": "self" if r["service"] == service else modes.get(r["service"], "async")}
               for r in rows]
    return {"target": {"service": service, "operation": operation or None},
            "direct_callers": direct,
            "upstream": [{"service": s, "mode": m} for s, m in sorted(modes.items())],
            "entry_points": entries}
