"""Tools for language-model agents: small answers first, detail on request (progressive disclosure).

Each tool is a plain method over an `Interplay`-like hub and returns compact JSON text of at most
`limit` bytes (8 KiB by default). When an answer had to be cut, it says so in `truncated`, with the
tool call that shows the rest. The MCP server (`interplay.server.mcp`) only registers these.

    >>> from interplay.api import Interplay
    >>> tools = Tools(Interplay.open(":memory:"))
    >>> tools.list_services()
    '{"services":[],"total":0,"next":"no telemetry in that window: send OTLP to interplay serve, or ingest a file"}'
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

from .backend import Backend
from .logtemplates import mask
from .model import InvalidInput, NotFound, TimeRange
from .model_agents import AgentRun, Step
from .model_results import Hop, Investigation, RootCause, to_json
from .model_telemetry import Trace, TraceSpan
from .timeutil import format_time, parse_time_ns

LIMIT = 8192        # bytes of UTF-8 JSON per answer
TEXT_CAP = 240      # characters of any one telemetry string


class Tools:
    """The tool set over one hub (`Interplay`, or `RemoteInterplay` for a running server)."""

    def __init__(self, hub: Backend, *, limit: int = LIMIT,
                 submit: Callable[[Callable[[Any], Any]], Future] | None = None) -> None:
        self.hub = hub
        self.limit = limit
        self._submit = submit  # the server's writer queue: kept investigations are written there

    # -- coarse ----------------------------------------------------------------------------------
    def list_services(self, since: str | None = None, until: str | None = None, offset: int = 0) -> str:
        """Every service's health in the window: request rate, error rate, p50/p99 latency; worst first."""
        rows = sorted(self.hub.services(_window(since, until)), key=lambda r: (-r.error_rate, -r.p99_ms, r.service))
        items = [{"service": r.service, "rate_per_s": r.request_rate, "requests": r.requests,
                  "error_rate": r.error_rate, "p50_ms": r.p50_ms, "p99_ms": r.p99_ms,
                  "last_seen": r.last_seen} for r in rows]
        doc: dict[str, Any] = {"services": items[offset:], "total": len(items)}
        if offset:
            doc["offset"] = offset
        doc["next"] = ("service_graph(service) for who calls whom; investigate() for root causes"
                       if items else "no telemetry in that window: send OTLP to interplay serve, or ingest a file")
        return self._fit(doc, "services", lambda n: f"list_services(offset={offset + n})")

    def service_graph(self, service: str, depth: int = 1, since: str | None = None,
                      until: str | None = None) -> str:
        """The interactions around one service, up to depth hops (1-2): callers, callees, resources."""
        if depth not in (1, 2):
            raise InvalidInput("depth: expected 1 or 2")
        graph = self.hub.graph(_window(since, until))
        window = next(iter(graph.windows), "window")
        kinds = {n.id: n.kind for n in graph.nodes}
        if service not in kinds:
            raise NotFound(f"service {service!r} not in the graph of that window; list_services() names them")
        reach, frontier = {service}, {service}
        for _ in range(depth):
            frontier = {e.callee if e.caller in frontier else e.caller for e in graph.edges
                        if e.caller in frontier or e.callee in frontier} - reach
            reach |= frontier
        edges: list[dict[str, Any]] = []
        for e in graph.edges:
            if e.caller in reach and e.callee in reach:
                st = e.stats.get(window)
                edges.append({"from": e.caller, "to": e.callee, "to_kind": e.callee_kind,
                              "mode": e.mode, "rate_per_s": round(st.rate, 3) if st else 0.0,
                              "error_rate": st.error_rate if st else 0.0, "p95_ms": st.p95_ms if st else None,
                              "calls": st.calls if st else 0})
        edges.sort(key=lambda e: (e["from"] != service and e["to"] != service, -e["calls"]))
        doc = {"service": service, "depth": depth,
               "nodes": sorted(({"id": n, "kind": kinds.get(n, "service")} for n in reach), key=lambda n: n["id"]),
               "edges": edges, "total_edges": len(edges),
               "next": "impact(service) for its blast radius; investigate(symptom=service) if it misbehaves"}
        return self._fit(doc, "edges", lambda n: "service_graph with depth=1, or since/until for a narrower window")

    # -- investigation -------------------------------------------------------------------------
    def investigate(self, symptom: str | None = None, at: str | None = None, since: str | None = None,
                    until: str | None = None) -> str:
        """Rank root causes of a symptom ('service' or 'service:operation'; None: find it) near `at`."""
        at_ns = parse_time_ns(at, where="at") if at else None
        result = self.hub.investigate(symptom=symptom, at_ns=at_ns, window=_window(since, until))
        inv_id = self._keep(symptom, at_ns, result)
        return self._fit(compact_result(inv_id, result), "root_causes",
                         lambda n: f"cause_evidence(investigation_id={inv_id!r}, rank=N) for any rank")

    def cause_evidence(self, investigation_id: str, rank: int = 1, offset: int = 0) -> str:
        """The evidence for one ranked cause of a kept investigation, and its full causal chain."""
        causes = self._kept(investigation_id)
        cause = next((c for c in causes if c.rank == rank), None)
        if cause is None:
            ranks = [c.rank for c in causes]
            raise NotFound(f"investigation {investigation_id} has no cause of rank {rank} (ranks: {ranks})")
        evidence = [{k: _clip(v) for k, v in to_json(e).items() if k != "service" or v != cause.service}
                    for e in cause.evidence]
        doc = {"investigation_id": investigation_id, "rank": rank, "service": cause.service,
               "operation": cause.operation, "kind": cause.kind, "score": cause.score,
               "summary": _clip(cause.summary), "explains": to_json(cause.explains),
               "chain": [_hop(h) for h in cause.chain],
               "evidence": evidence[offset:], "total_evidence": len(evidence),
               "exemplar_trace": cause.exemplar_trace}
        if offset:
            doc["offset"] = offset
        if cause.exemplar_trace:
            doc["next"] = f"trace_summary(trace_id={cause.exemplar_trace!r}) for a failing request"
        return self._fit(doc, "evidence", lambda n: f"cause_evidence(investigation_id={investigation_id!r}, "
                                                    f"rank={rank}, offset={offset + n})")

    def impact(self, target: str, since: str | None = None, until: str | None = None) -> str:
        """Blast radius of a change to 'service[:operation]': who calls it, which entry points go through it."""
        r = self.hub.impact(target, _window(since, until))
        doc: dict[str, Any] = {"target": to_json(r.target),
               "direct_callers": [{"service": c.service, "mode": c.mode, "rate": c.rate, "error_rate": c.error_rate,
                                   "p95_ms": c.p95_ms} for c in r.direct_callers],
               "entry_points": [{"service": e.service, "operation": e.operation, "requests": e.requests,
                                 "share": e.share, "mode": e.mode}
                                for e in sorted(r.entry_points, key=lambda e: -(e.requests or 0))],
               "upstream": sorted({u.service for u in r.upstream})}
        doc["total_entry_points"] = len(doc["entry_points"])
        return self._fit(doc, "entry_points", lambda n: "impact with a narrower target (service:operation)")

    # -- detail ----------------------------------------------------------------------------------
    def trace_summary(self, trace_id: str) -> str:
        """One trace summarised: duration, span count, services, errors (own vs propagated), critical path."""
        doc = summarize_trace(self.hub.trace(trace_id))
        return self._fit(doc, "critical_path", lambda n: "the full tree: interplay trace " + trace_id)

    def recent_changes(self, service: str | None = None, since: str | None = None, until: str | None = None,
                       limit: int = 20) -> str:
        """Change events (deploys, config, flags, infra), newest first."""
        rows = self.hub.changes(_window(since, until), service=service or None, limit=max(1, min(limit, 200)))
        items = [{"time": r.time or format_time(r.time_ns), "service": r.service, "kind": r.kind,
                  "version": r.version or None, "description": _clip(r.description)} for r in rows]
        doc = {"changes": items, "shown": len(items)}
        if not items:
            doc["next"] = "no change events recorded; investigate() also notices service.version switches"
        return self._fit(doc, "changes", lambda n: "recent_changes with until=<time of the oldest shown>")

    def search_logs(self, service: str | None = None, severity: str | None = None, text: str | None = None,
                    trace_id: str | None = None, like: str | None = None, since: str | None = None,
                    until: str | None = None, limit: int = 50) -> str:
        """Log records, newest first: by service, minimum severity (WARN, ERROR...), text in the body,
        trace id, or `like` a log line (same template); with the templates they share, most frequent first."""
        rows = self.hub.logs(_window(since, until), service=service or None, severity=severity or None,
                             text=text or None, trace_id=trace_id or None, similar_to=like or None,
                             limit=max(1, min(limit, 500)))
        templates = Counter((r.service, mask(r.body or "")) for r in rows)
        items = [{"time": r.time, "service": r.service, "severity": r.severity, "body": _clip(r.body),
                  **({"trace_id": r.trace_id} if r.trace_id else {}),
                  **({"span_id": r.span_id} if r.span_id else {})} for r in rows]
        doc: dict[str, Any] = {
            "templates": [{"service": svc, "template": _clip(t, 160), "records": n}
                          for (svc, t), n in templates.most_common(10)],
            "records": items, "matched": len(items)}
        doc["next"] = ("trace_summary(trace_id) for a record's request; search_logs(like=BODY) for its template"
                       if items else "no log records match: widen since/until or drop a filter")
        return self._fit(doc, "records", lambda n: "search_logs with until=<time of the oldest shown>, or a filter")

    def agent_runs(self, agent: str | None = None, failed: bool = False, since: str | None = None,
                   until: str | None = None, limit: int = 20) -> str:
        """Agent runs, newest first: status, steps, tokens, failure modes."""
        runs = self.hub.agent_runs(agent=agent or None, failed=failed, window=_window(since, until),
                                   limit=max(1, min(limit, 200)))
        items = [_run_item(r) for r in runs]
        doc = {"runs": items, "shown": len(items)}
        if items:
            doc["next"] = "agent_run(run_id) for one run's steps"
        return self._fit(doc, "runs", lambda n: "agent_runs with failed=true, agent=NAME or until=<oldest started>")

    def agent_sessions(self, session_id: str | None = None, since: str | None = None, until: str | None = None,
                       limit: int = 20) -> str:
        """Agent runs grouped by conversation / session id; with session_id, that session's runs in order."""
        if session_id:
            found = self.hub.agent_session(session_id)
            doc: dict[str, Any] = {"session_id": found.session_id, "runs_count": found.runs_count,
                   "failed_runs": found.failed_runs, "cost_usd": found.cost_usd,
                   "runs": [{**_run_item(r), **({"session_divergence": {
                       "step": d.step, "happened": d.happened, "expected": to_json(d.expected)}}
                       if (d := r.session_divergence) else {})} for r in found.runs or []]}
            return self._fit(doc, "runs", lambda n: "agent_run(run_id) for one run's steps")
        sessions = self.hub.agent_sessions(window=_window(since, until), limit=max(1, min(limit, 200)))
        items = [{"session_id": s_.session_id, "runs_count": s_.runs_count, "failed_runs": s_.failed_runs,
                  "agents": s_.agents, "started": s_.started, "last_started": s_.last_started, "tokens": s_.tokens,
                  "cost_usd": s_.cost_usd, "failure_modes": s_.failure_modes} for s_ in sessions]
        doc = {"sessions": items, "shown": len(items)}
        if items:
            doc["next"] = "agent_sessions(session_id=ID) for one session's runs in order"
        return self._fit(doc, "sessions", lambda n: "agent_sessions with until=<oldest started>")

    def agent_run(self, run_id: str, offset: int = 0) -> str:
        """One agent run: its summary, failure modes and its steps (model calls, tool calls, errors)."""
        r = self.hub.agent_run(run_id)
        steps = [_step(s) for s in r.steps_detail or []]
        doc = {"run_id": r.run_id, "agent": r.agent, "status": r.status, "started": r.started,
               "duration_ms": r.duration_ms, "tokens": to_json(r.tokens), "error": _clip(r.error),
               "failure_modes": [{"mode": m.mode, "step": m.step, "summary": _clip(m.summary)}
                                 for m in r.failure_modes],
               "steps": steps[offset:], "total_steps": len(steps)}
        if offset:
            doc["offset"] = offset
        return self._fit(doc, "steps", lambda n: f"agent_run(run_id={run_id!r}, offset={offset + n})")

    # -- helpers -------------------------------------------------------------------------------
    def _keep(self, symptom: str | None, at_ns: int | None, result: Investigation) -> str:
        """Keep the result so cause_evidence can find it (a server already kept what it ran)."""
        if result.id:
            return result.id

        def job(hub: Any) -> str:
            return str(hub.keep_investigation(result, source="mcp", symptom=symptom, at_ns=at_ns))
        return self._submit(job).result(timeout=60) if self._submit else job(self.hub)

    def _kept(self, inv_id: str) -> list[RootCause]:
        """The ranked causes of a kept investigation (none when it failed: an alert keeps its error)."""
        result = self.hub.kept_investigation(inv_id).result
        return list(result.root_causes) if result is not None else []

    def _fit(self, doc: dict[str, Any], key: str, more: Callable[[int], str]) -> str:
        return fit(doc, key, more, self.limit)


def fit(doc: dict[str, Any], key: str, more: Callable[[int], str], limit: int = LIMIT) -> str:
    """Compact JSON of doc within limit bytes, dropping items from the end of doc[key] if needed.

    A cut answer carries `truncated`: how many items are shown of how many, and the call for the rest.
    """
    text = _dump(doc)
    if len(text.encode()) <= limit:
        return text
    items = list(doc.get(key) or [])
    lo, hi = 0, len(items)
    best = None
    while lo <= hi:  # the most items that fit, by bisection
        mid = (lo + hi) // 2
        trial = {**doc, key: items[:mid], "truncated": {"shown": mid, "of": len(items), "more": more(mid)}}
        candidate = _dump(trial)
        if len(candidate.encode()) <= limit:
            best, lo = candidate, mid + 1
        else:
            hi = mid - 1
    if best is not None:
        return best
    # even without items it is too big: a last resort that is still valid JSON
    return _dump({"truncated": {"shown": 0, "of": len(items), "more": more(0)},
                  "error": f"answer over {limit} bytes even without its {key}; narrow the question"})


def compact_result(inv_id: str, r: Investigation, causes: int = 5) -> dict[str, Any]:
    """An investigation result in a few hundred bytes per cause: rank, summary, chain as text."""
    entry = []
    for e in r.symptom.entry_points[:3]:
        b, i = e.baseline or {}, e.incident or {}
        entry.append(f"{e.service} {e.operation or ''}: errors {b.get('error_rate', 0):.1%} → "
                     f"{i.get('error_rate', 0):.1%}, p90 {b.get('p90_ms', 0):.0f} → {i.get('p90_ms', 0):.0f} ms")
    dc = r.data_completeness
    doc = {"investigation_id": inv_id, "symptom": r.symptom.given or "detected", "symptom_shift": entry,
           "onset": r.onset, "onset_source": r.onset_source, "method": r.method,
           "root_causes": [{"rank": c.rank, "service": c.service, "operation": c.operation,
                            "kind": c.kind, "score": c.score, "summary": _clip(c.summary),
                            "chain": [_clip(f"{h.service}: {h.effect}", 200) for h in c.chain]}
                           for c in r.root_causes[:causes]],
           "total_causes": len(r.root_causes),
           "data": {"traces": dc.traces, "complete_share": dc.complete_share, "logs": dc.logs,
                    "metric_points": dc.metric_points, "changes": dc.changes},
           "next": f"cause_evidence(investigation_id={inv_id!r}, rank=1) for the evidence behind a cause"}
    if not doc["root_causes"]:
        doc["next"] = "nothing explains a change; try another symptom, or at=<when it started>"
    return doc


def summarize_trace(t: Trace, errors: int = 10) -> dict[str, Any]:
    """Duration, services, errors and the critical path of a trace tree from `Interplay.trace`."""
    roots = t.roots
    nodes = [n for r in roots for n in _walk(r)]
    main = max(roots, key=lambda r: r.duration_ns) if roots else None
    failing = [n for n in nodes if n.status_code == "ERROR"]
    own = [n for n in failing if not any(c.status_code == "ERROR" for c in n.children)]
    path = _critical_path(main) if main else []
    start = min((n.start_ns for n in nodes), default=0)
    return {
        "trace_id": t.trace_id, "spans": t.spans,
        "duration_ms": round((max((n.end_ns for n in nodes), default=0) - start) / 1e6, 3),
        "root": f"{main.service} {main.operation}" if main else None,
        "roots": len(roots), "orphans": sum(1 for r in roots if r.orphan),
        "services": sorted({n.service for n in nodes}),
        "errors": len(failing),
        "error_origins": [{"service": n.service, "operation": n.operation,
                           "message": _clip(n.status_message or None, 160)} for n in own[:errors]],
        "slowest_self_time": [{"service": n.service, "operation": n.operation, "self_ms": round(n.self_ns / 1e6, 3)}
                              for n in sorted(path, key=lambda n: -n.self_ns)[:5]],
        "critical_path": [{"service": n.service, "operation": n.operation,
                           "at_ms": round((n.start_ns - start) / 1e6, 3),
                           "duration_ms": round(n.duration_ns / 1e6, 3),
                           "self_ms": round(n.self_ns / 1e6, 3),
                           **({"error": True} if n.status_code == "ERROR" else {})} for n in path],
    }


def _critical_path(node: TraceSpan) -> list[TraceSpan]:
    """Spans that bound the trace's end-to-end time, in start order.

    From the last child to finish, step back to the latest child that finished before it started
    (concurrent siblings that finished earlier are not on the path), and recurse into each.
    """
    chosen, cursor = [], node.end_ns
    for child in sorted(node.children, key=lambda c: -c.end_ns):
        if child.end_ns <= cursor:
            chosen.append(child)
            cursor = child.start_ns
    out = [node]
    for child in sorted(chosen, key=lambda c: c.start_ns):
        out += _critical_path(child)
    return out


def _walk(node: TraceSpan) -> Iterator[TraceSpan]:
    yield node
    for child in node.children:
        yield from _walk(child)


def _run_item(r: AgentRun) -> dict[str, Any]:
    return {"run_id": r.run_id, "agent": r.agent, "status": r.status, "started": r.started,
            "duration_ms": r.duration_ms, "steps": r.steps, "model_calls": r.model_calls,
            "tool_calls": r.tool_calls, "tokens": r.tokens.total,
            "usd": r.cost.usd if r.cost else None, "errors": r.errors, "error": _clip(r.error, 120),
            "session": r.conversation_id,
            "failure_modes": [m.mode for m in r.failure_modes]}


def _step(s: Step) -> dict[str, Any]:
    step = {"i": s.index, "kind": s.kind, "name": _clip(s.name, 80), "service": s.service,
            "ms": s.duration_ms, "status": s.status}
    if s.call and s.call.model:
        step["model"] = s.call.model
    tokens = s.call.tokens.total if s.call else None
    if tokens:
        step["tokens"] = tokens
    if s.tool_call and s.tool_call.arguments:
        step["args"] = _clip(s.tool_call.arguments, 120)
    if s.downstream:
        step["downstream"] = s.downstream
    if s.retries:
        step["retries"] = s.retries
    err = s.error
    if err:
        cause = err.caused_by
        step["error"] = _clip(" ".join(str(x) for x in (err.type, err.message, err.http_status) if x), 160)
        if cause:
            step["caused_by"] = f"{cause.service} {cause.operation or ''}".strip()
    return step


def _hop(h: Hop) -> dict[str, Any]:
    return {"service": h.service, "operation": h.operation, "effect": _clip(h.effect)}


def _clip(value: Any, cap: int = TEXT_CAP) -> Any:
    if isinstance(value, str) and len(value) > cap:
        return value[:cap] + "…"
    return value


def _dump(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), default=str)


def _window(since: str | None, until: str | None) -> TimeRange:
    return TimeRange(parse_time_ns(since, where="since") if since else None,
                     parse_time_ns(until, where="until") if until else None)



TOOL_NAMES = ("list_services", "service_graph", "investigate", "cause_evidence", "trace_summary",
              "search_logs", "agent_runs", "agent_run", "agent_sessions", "recent_changes", "impact")
