"""Fusion: blame shares per node, load handed back to whoever sent it, small bonuses from other
evidence, and the causal chain from each cause up to the symptom."""
from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from ..detect import z_of
from ..model_results import Edge, EdgeStats
from ._attribution import GAP, BlameShares, NodeShare, Period
from ._context import Context
from ._gaps import gap_support, place_gap
from ._paths import PathShift
from ._surge import SURGE_RATIO

STRENGTH_CAP = 4.0  # strengths past this are all "certain"
# requests stopping after one answer while their peers go on, with no before: at most as strong as
# the peers' contrast of slow and failing requests (nominally 1), as the code may branch so by design
PEER_PATH_CAP = 1.0
PEER_PATH_FULL = 0.5  # ... and only where at least this share of the requests that got the answer stopped
GAP_SYMPTOM = "latency"  # the kind of symptom an edge's grown gap is (its share is latency)
SURGE = 1.5  # first-try calls into a node must rise this much before its trouble counts as load
MIN_SURGE_CALLS = 20
WAIT_RISE = 3.0  # a callee this much slower, with this many more calls in flight, fills its caller's pool


def blame_shares(ctx: Context) -> tuple[dict[str, dict[str, Any]], BlameShares]:
    """Per service/resource: the share of the symptom's excess (failing or slow requests) it explains;
    and per node (service, operation, kind) of the blame, its own share (the evidence extractors'
    error origins and self time).

    Errors: the rise in the fraction of requests whose failure originates at the node. Latency: the
    node's share of the mean extra critical-path time, scaled by the rise in slow requests.
    """
    u_b, u_i = ctx.blame.units.get(Period.BASELINE, {}), ctx.blame.units.get(Period.INCIDENT, {})
    if not u_i.get("sampled") or not u_b.get("sampled"):
        return {}, BlameShares()
    n_i, n_b = u_i["sampled"], u_b["sampled"]
    err_ex = max(u_i["error_units"] / n_i - u_b["error_units"] / n_b, 0.0)
    lat_mean = {k: v.incident.get("latency", 0.0) / n_i - v.baseline.get("latency", 0.0) / n_b
                for k, v in ctx.blame.nodes.items()}
    lat_pos = sum(max(x, 0.0) for x in lat_mean.values()) or 1.0
    # a node's excess counts as surely as its units shifted; the unsure rest stays unexplained
    sure = ctx.blame.latency_confidence
    lat_mean = {k: x * sure.get(k, 1.0) for k, x in lat_mean.items()}
    # Extra requests (that did not fail) slower than the baseline's p99, or than its p90: a thin
    # baseline makes its p99 noisy, and a moderate shift moves the bulk without the tail.
    lat_ex = max(u_i["slow_units"] / n_i - u_b["slow_units"] / n_b,
                 u_i.get("slow90_units", 0) / n_i - u_b.get("slow90_units", 0) / n_b, 0.0)
    total_ex = max(err_ex + lat_ex, 1e-9)
    err_mean = {k: v.incident.get("error", 0.0) / n_i - v.baseline.get("error", 0.0) / n_b
                for k, v in ctx.blame.nodes.items()}
    # The nodes' rises can only share the symptom's rise in failing requests: where failures moved
    # from one origin to another and the symptom failed no more often, there is nothing to share.
    err_pos = max(sum(max(x, 0.0) for x in err_mean.values()), err_ex, 1e-9)
    by_service: dict[str, dict[str, Any]] = {}
    nodes: dict[tuple[str, str, str], NodeShare] = {}
    support = gap_support(ctx.gaps)
    for key, node in ctx.blame.nodes.items():
        share = nodes[key] = NodeShare(error=max(err_mean[key], 0.0) / err_pos * err_ex / total_ex,
                                       latency=max(lat_mean[key], 0.0) / lat_pos * lat_ex / total_ex,
                                       exemplar=node.exemplar)
        for service, op, kind, part in _placed(key, support):
            s = by_service.setdefault(service, {"service": service, "error": 0.0, "latency": 0.0,
                                                "kind": _node_kind(kind), "operations": []})
            s["error"] += share.error * part
            s["latency"] += share.latency * part
            s["operations"].append(((share.error + share.latency) * part, op, share.exemplar))
    for s in by_service.values():
        s["operations"].sort(key=lambda t: (-t[0], str(t[1]), str(t[2])))  # ties in a fixed order on every engine
        s["score"] = s["error"] + s["latency"]
    return by_service, BlameShares(nodes)


def fuse_other_symptoms(ctx: Context, shares: dict[str, dict[str, Any]]) -> None:
    """Weigh the symptom's blame shares against the symptoms no entry point shows: call paths that
    stopped (a code fault) and queues whose wait grew (a consumer falling behind).

    All strengths are on one scale (a z / 4, as for error-rate symptoms), so a faint latency
    wobble does not outweigh requests that plainly stopped calling downstream or a queue hours
    behind, nor the other way round; each score stays a share of what there is to explain.
    """
    others = other_symptoms(ctx)
    if not others:
        return
    symptom = min(max((g["score"] for g in ctx.groups), default=0.0), STRENGTH_CAP) if shares else 0.0
    total = symptom + sum(w for w, _, _ in others)
    for s in shares.values():
        for field in ("score", "error", "latency", "load"):
            if field in s:
                s[field] *= symptom / total
    for w, suspect, field in others:
        s = shares.setdefault(suspect, {"service": suspect, "error": 0.0, "latency": 0.0, "kind": "service",
                                        "operations": [], "score": 0.0})
        s["score"] += w / total
        s[field] = s.get(field, 0.0) + w / total


def other_symptoms(ctx: Context) -> list[tuple[float, str, str]]:
    """(strength, suspect, kind) of each call-path shift ('path'), grown queue wait or consumer lag
    metric ('lag'), surge of exceptions or error logs without span status ('exceptions'), resource
    shift ('resources') and edge gap ('latency')."""
    out = [(_peer_stop_strength(p) if p.peer else min(p.z / 4, STRENGTH_CAP), p.suspect, "path") for p in ctx.paths]
    # one reading per consumer: its queue's spans, or its own lag metric, whichever says it more surely
    behind: dict[str, tuple[float, str]] = {}
    for lag in queue_lags(ctx):
        if lag["z"] > behind.get(lag["consumer"], (-1.0, ""))[0]:
            behind[lag["consumer"]] = (lag["z"], lag["suspect"])
    for m in ctx.lags:
        z, suspect = behind.get(m.service, (0.0, ""))
        behind[m.service] = (max(z, m.z), suspect or _load_sender(ctx, m.service) or m.service)
    out += [(min(z / 4, STRENGTH_CAP), suspect, "lag") for z, suspect in behind.values()]
    for e in ctx.errors:
        # a caller's timeouts on a callee that worked on are that callee's slowness
        out.append((min(e.z / 4, STRENGTH_CAP) * (0.25 if e.reported else 1.0), e.gave_up_on or e.service,
                    "exceptions"))
    for r in ctx.resources:  # a service's own CPU or memory that rose and stayed up ...
        # ... unless its callers sent a surge of calls: then the CPU is the load's effect, and the
        # caller that sent most of the extra calls is the suspect (as for load in the blame)
        out.append((min(r.z / 4, STRENGTH_CAP), _load_sender(ctx, r.service) or r.service, "resources"))
    # An edge whose gap grew is a symptom of its own, as a queue's wait is: with a baseline, one whose
    # gap grew in time (a delay that few requests pass need not move the entry points' p90); with
    # none, one whose gap dwarfs its peers'.
    support = gap_support(ctx.gaps)
    for g in ctx.gaps.values():
        if g.how == "gap" and g.grew:
            parts = place_gap(g.caller, g.callee, support)
            z = z_of(min(g.p_value, g.tail_p))
            out.append((min(z / 4, STRENGTH_CAP), max(parts, key=lambda k: (parts[k], k)), GAP_SYMPTOM))
    return out


def _peer_stop_strength(p: PathShift) -> float:
    """Requests cut short with no before count as surely as they split, and as much as many of
    those that got the answer stopped: a few stopping (spans lost, a rare branch) is weak evidence."""
    return min(p.z / 4, PEER_PATH_CAP) * min(1.0, p.after / PEER_PATH_FULL)


def _load_sender(ctx: Context, service: str) -> str | None:
    """The caller that sent most of a surge of calls into `service` (calls rose SURGE-fold), if any."""
    if ctx.peer:  # no baseline in time: the rates before come from metrics, if any
        return _metric_sender_name(ctx, service)
    before = after = 0.0
    calls_before = 0
    extra: dict[str, float] = {}
    for e in ctx.graph.edges:
        if e.callee != service or e.caller == service:
            continue
        b, i = e.stats.get("baseline") or EdgeStats(), e.stats.get("incident") or EdgeStats()
        # first tries only: retries follow a failure rather than cause the load
        rate_b, rate_i = _first_try_rate(b), _first_try_rate(i)
        before += rate_b
        after += rate_i
        calls_before += b.calls
        extra[e.caller] = extra.get(e.caller, 0.0) + rate_i - rate_b
    # a rate from a handful of calls before is noise: there must be a before to call it a surge
    if not extra or calls_before < MIN_SURGE_CALLS or after < SURGE * before:
        return _metric_sender_name(ctx, service)
    return max(extra, key=lambda c: (extra[c], c))


def _metric_sender_name(ctx: Context, service: str) -> str | None:
    sent = metric_surge_sender(ctx, service) if ctx.surges else None
    return sent[0] if sent else None


def metric_surge_sender(ctx: Context, service: str, depth: int = 0) -> tuple[str, float] | None:
    """Where the traces hold little or no before: (the caller sending the surge, the share of
    `service`'s calls it added) when the metrics say `service`'s requests surged and one caller
    sends enough of its calls now to have added them all; followed upward while that caller's
    requests surged too. A node with no request metrics of its own (a database, a cache) carries
    the load of the caller sending most of its calls, if that caller's requests surged. None when
    nobody did, or several callers share the calls (no way to tell whose)."""
    calls: dict[str, float] = {}
    every = 0.0  # retries included: the metrics count them too
    for e in ctx.graph.edges:
        if e.callee == service and e.caller != service:
            i = e.stats.get("incident") or EdgeStats()
            calls[e.caller] = calls.get(e.caller, 0.0) + i.calls - (i.retries or 0)
            every += i.calls
    total = sum(calls.values())
    if total < MIN_SURGE_CALLS or depth > 6:
        return None
    top = max(calls, key=lambda c: (calls[c], c))
    share = calls[top] / total
    surge = ctx.surges.get(service)
    if surge is None:
        up = metric_surge_sender(ctx, top, depth + 1) if top in ctx.surges else None
        return (up[0], up[1] * share) if up else None
    # retries follow a failure rather than cause the load: only a surge of first tries counts
    first_tries = surge.after * total / every
    if first_tries < SURGE_RATIO * surge.before:
        return None
    added = 1.0 - surge.before / first_tries
    # the other callers' calls now must be no surge of their own: what the before held, give or take
    # (the metrics' minutes and the traces' seconds count the same calls a little differently)
    if (1.0 - share) * first_tries > SURGE_RATIO * surge.before:
        return None
    further = metric_surge_sender(ctx, top, depth + 1) if top in ctx.surges else None
    return (further[0], min(further[1], added)) if further else (top, added)


def _first_try_rate(stats: EdgeStats) -> float:
    calls = stats.calls
    return stats.rate * (calls - (stats.retries or 0)) / calls if calls else 0.0


def queue_lags(ctx: Context) -> list[dict[str, Any]]:
    """Queues whose wait (producer end → consumer start) grew, or whose consumer newly leaves
    messages untaken (`waiting`, the oldest `behind_s`): the consumer fell behind, unless the
    producer's messages surged."""
    rates = {(e.caller, e.callee): e.stats for e in ctx.graph.edges if e.mode == "async"}

    def lag(producer: str, consumer: str, z: float, **seen: Any) -> dict[str, Any]:
        st = rates.get((producer, consumer), {})
        b, i = st.get("baseline"), st.get("incident")
        surge = bool(b and i and i.rate >= SURGE * max(b.rate, 1e-9))
        return {"producer": producer, "consumer": consumer, "suspect": producer if surge else consumer,
                "surge": surge, "z": z, "rate_before": b.rate if b else None, "rate_after": i.rate if i else None,
                **seen}

    out = []
    for g in ctx.gaps.values():
        if g.how == "queue" and g.grew:
            out.append(lag(g.caller, g.callee, z_of(g.p_value),
                           before_s=(g.before_ms or 0.0) / 1000, after_s=(g.after_ms or 0.0) / 1000))
    waits = {(x["producer"], x["consumer"]) for x in out}
    for q in ctx.backlogs:  # one reading per queue: a grown wait already says it fell behind
        if (q.sender, q.consumer) not in waits:
            waits.add((q.sender, q.consumer))
            out.append(lag(q.sender, q.consumer, q.z, backlog=q))
    return out


def _placed(key: tuple[str, str, str], support: dict[str, float]) -> list[tuple[str, str, str, float]]:
    """(service, operation, kind, part) the node's blame goes to: itself, or for the time between
    a caller and its callee, the two sides as the pattern across their peers says."""
    service, op, kind = key
    if kind != GAP:
        return [(service, op, kind, 1.0)]
    caller, callee = service, op
    parts = place_gap(caller, callee, support)
    return [(caller, f"network to {callee}", "SERVER", parts[caller]),
            (callee, f"network from {caller}", "SERVER", parts[callee])]


def _node_kind(kind: str) -> str:
    return kind if kind in ("database", "cache", "queue", "llm", "external") else "service"


def hand_back_waiting(ctx: Context, shares: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Move a caller's own extra time to the callee it was waiting on.

    A caller whose pool of connections or workers fills up because one callee got slow spends
    the extra time in itself (waiting for a worker, a connection, a semaphore), on every path,
    even on requests that never reach that callee. When the caller's own time rose together with
    one callee's latency and the calls in flight to it (rate × latency, Little's law), the caller
    is the victim: the blame moves to the callee (split by the rise in calls in flight), when the
    callee's own slowness is on the symptom's critical path as well."""
    moves = []
    for name, s in list(shares.items()):
        own = s.get("latency", 0.0)
        if own <= 0:
            continue
        # latency found anywhere but in the caller: a pool that waits for minutes leaves its callee's
        # seconds a sliver of the whole, but still most of what happened below it
        elsewhere = sum(t.get("latency", 0.0) for n, t in shares.items() if n != name)
        rises: dict[str, float] = {}
        for e in ctx.graph.edges:
            b, i = e.stats.get("baseline"), e.stats.get("incident")
            if e.caller != name or e.mode != "sync" or not b or not i or e.callee == name:
                continue
            slower = i.p50_ms / max(b.p50_ms, 1e-3)
            in_flight = (i.rate * i.p50_ms) / max(b.rate * b.p50_ms, 1e-9)
            # the callee's own slowness must be on the symptom's critical path too: a slower call
            # running beside longer work is not what the caller waits for
            callee_latency = shares.get(e.callee, {}).get("latency", 0.0)
            on_path = callee_latency >= 0.02 or (callee_latency > 0 and callee_latency >= elsewhere / 2)
            if slower >= WAIT_RISE and in_flight >= WAIT_RISE and i.calls >= 5 and on_path:
                rises[e.callee] = rises.get(e.callee, 0.0) + in_flight
        total = sum(rises.values())
        for callee, rise in rises.items():
            part = own * rise / total
            t = shares.setdefault(callee, {"service": callee, "error": 0.0, "latency": 0.0, "kind": "service",
                                           "operations": [], "score": 0.0})
            t["latency"] += part
            t["score"] += part
            s["latency"] -= part
            s["score"] -= part
            moves.append({"from": name, "to": callee, "share": round(part, 4), "why": "waiting"})
    return moves


def hand_back_load(ctx: Context, shares: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Move blame from a node swamped by a surge of first-try calls to the callers that sent it.

    A service slowed or failing because someone calls it far more than before is a symptom of
    that caller (a loop, a runaway job, an agent); retries are excluded, since they follow the
    failure rather than cause it. Follows the surge upward while the caller was itself surged.
    """
    incoming = {} if ctx.peer else _incoming_rates(ctx)  # with no trace baseline, only metrics tell
    spans = (max(ctx.graph.windows["baseline"].seconds, 1), max(ctx.graph.windows["incident"].seconds, 1))
    moves = []
    for name in sorted(shares, key=lambda n: (-shares[n]["score"], n)):
        s = shares[name]
        if s["score"] <= 0:
            continue
        sources = _surge_sources(name, s["score"], incoming, spans, depth=0)
        if not sources and ctx.surges:  # a short trace baseline: the request metrics reach further back
            sent = metric_surge_sender(ctx, name)
            sources = [(sent[0], s["score"] * sent[1])] if sent else []
        for caller, amount in sources:
            shares.setdefault(caller, {"service": caller, "error": 0.0, "latency": 0.0, "kind": "service",
                                       "operations": [], "score": 0.0})
            shares[caller]["score"] += amount
            shares[caller]["load"] = shares[caller].get("load", 0.0) + amount
            s["score"] -= amount
            moves.append({"from": name, "to": caller, "share": round(amount, 4)})
    return moves


def _incoming_rates(ctx: Context) -> dict[str, dict[str, tuple[float, float, float]]]:
    out: dict[str, dict[str, tuple[float, float, float]]] = defaultdict(dict)
    for e in ctx.graph.edges:
        b = e.stats.get("baseline") or EdgeStats()
        i = e.stats.get("incident") or EdgeStats()
        first_b = (b.calls - (b.retries or 0)) / max(ctx.graph.windows["baseline"].seconds, 1)
        first_i = (i.calls - (i.retries or 0)) / max(ctx.graph.windows["incident"].seconds, 1)
        prev = out[e.callee].get(e.caller, (0.0, 0.0, 0.0))
        out[e.callee][e.caller] = (prev[0] + first_b, prev[1] + first_i, prev[2] + i.calls)
    return out


def _surge_sources(node: str, amount: float, incoming, spans: tuple[float, float],
                   depth: int) -> list[tuple[str, float]]:
    callers = incoming.get(node, {})
    base = sum(v[0] for v in callers.values())
    inc = sum(v[1] for v in callers.values())
    calls_i = sum(v[2] for v in callers.values())
    if depth > 6 or not callers or inc < SURGE * base or calls_i < 30:
        return []
    expected = base / max(inc, 1e-9) * calls_i
    if (calls_i - expected) / math.sqrt(max(expected, 1.0)) < 5 or surge_z(base, inc, *spans) < 5:
        return []
    moved = amount * (inc - base) / inc
    growth = {c: max(v[1] - v[0], 0.0) for c, v in callers.items()}
    total = sum(growth.values()) or 1.0
    out = []
    for caller, g in growth.items():
        if g <= 0:
            continue
        part = moved * g / total
        further = _surge_sources(caller, part, incoming, spans, depth + 1)
        out += further or [(caller, part)]
    return out


def surge_z(rate_before: float, rate_after: float, seconds_before: float, seconds_after: float) -> float:
    """How far calls rose, counting the before's own noise: under one steady rate, the calls after
    are binomial among all calls, in proportion to the windows' lengths. No calls before (no
    baseline at all, or no traffic in it) is no evidence of a rise: 0."""
    before, after = rate_before * seconds_before, rate_after * seconds_after
    n = before + after
    if before <= 0 or n <= 0 or seconds_before <= 0 or seconds_after <= 0:
        return 0.0
    p = seconds_after / (seconds_before + seconds_after)
    return (after - n * p) / math.sqrt(n * p * (1 - p))


def causal_chain(ctx: Context, root: str, root_effect: str, symptom_services: set[str],
                 by_paths: bool = False) -> list[dict[str, Any]]:
    """Hops from the root cause up the callers to a symptom service, each with what it did.

    The hops are the path the symptom's failing or slow requests really took down to the cause
    (the commonest one, with how many took it); for a cause found by call paths that stopped, the
    caller whose requests stop after it. Only without either is the path walked on the graph."""
    edges = {(e.caller, e.callee): e for e in ctx.graph.edges}
    shift = next((p for p in ctx.paths if p.suspect == root), None) if by_paths else None
    if shift is not None and shift.service != root:
        return [{"service": root, "operation": None, "effect": root_effect},
                _hop(shift.service, root, edges, units=shift.units[1])]
    if shift is None and ctx.blame.paths.get(root):
        services, bad, units, entry = ctx.blame.paths[root][0]
        chain = [{"service": root, "operation": None, "effect": root_effect, "traces": bad or units}]
        for caller, callee in zip(reversed(services[:-1]), reversed(services[1:])):
            chain.append(_hop(caller, callee, edges, units=bad or units))
        chain[-1]["entry_operation"] = entry  # the symptom's operation these requests came in by
        return chain
    callers: dict[str, list[Edge]] = defaultdict(list)
    for e in ctx.graph.edges:
        callers[e.callee].append(e)
    chain = [{"service": root, "operation": None, "effect": root_effect}]
    seen, node = {root}, root
    while node not in symptom_services:
        options = [e for e in callers.get(node, []) if e.caller not in seen]
        if not options:
            break
        e = max(options, key=lambda e: (_reaches(e.caller, symptom_services, callers, {node}),
                                        _edge_change(e)))
        chain.append({"service": e.caller, "operation": None, "effect": _edge_effect(e)})
        seen.add(e.caller)
        node = e.caller
    return chain


def _hop(caller: str, callee: str, edges: dict[tuple[str, str], Edge], units: int) -> dict[str, Any]:
    e = edges.get((caller, callee))
    effect = _edge_effect(e) if e else f"calls {callee}"
    return {"service": caller, "operation": None, "effect": effect, "traces": units}


def _reaches(node: str, targets: set[str], callers, seen: set[str]) -> bool:
    stack = [node]
    seen = set(seen)
    while stack:
        n = stack.pop()
        if n in targets:
            return True
        seen.add(n)
        stack += [e.caller for e in callers.get(n, []) if e.caller not in seen]
    return False


def _edge_change(e: Edge) -> float:
    """How much harm flowed over this edge: extra failed calls and extra waiting, per second.

    Weighting by traffic makes the chain follow the caller the incident hurt most, not a rarely
    used caller whose few calls happened to slow down the most.
    """
    b, i = e.stats.get("baseline"), e.stats.get("incident")
    if not b or not i:
        return 0.0
    rate = i.rate
    extra_errors = max(i.error_rate - b.error_rate, 0.0) * rate
    extra_wait_s = max(i.p95_ms - b.p95_ms, 0.0) / 1000 * rate
    return extra_errors + extra_wait_s + 1e-6 * math.log(max(i.p95_ms, 0.01) / max(b.p95_ms, 0.01))


def _edge_effect(e: Edge) -> str:
    b, i = e.stats.get("baseline"), e.stats.get("incident")
    if not b or not i:
        return f"calls to {e.callee} ({e.mode})"
    return (f"calls to {e.callee} ({e.mode}): errors {b.error_rate:.1%} → {i.error_rate:.1%}, "
            f"p95 {b.p95_ms:.0f} ms → {i.p95_ms:.0f} ms, rate {b.rate:.2f}/s → {i.rate:.2f}/s")
