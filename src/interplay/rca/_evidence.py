"""Evidence extractors: one small function per kind, all `(ctx, shares) -> list[Evidence]`.

`shares` is what the blame handed on (`_rank.blame_shares`): each node's share of the symptom.
The ranker consumes the list; add an extractor by appending it to EXTRACTORS.
"""
from __future__ import annotations

import math
from typing import Any

from ..detect import proportion_z, robust_z
from ..logtemplates import template_shifts
from ..model import TimeRange
from ..model_results import Evidence
from ..store import evidence as store_evidence
from ..store.base import Store
from ..timeutil import format_time
from ._attribution import BlameShares, Period
from ._context import Context, evidence
from ._gaps import MIN_GROWTH_NS, PEER_SLOW_NS, gap_support, place_gap
from ._rank import metric_surge_sender, queue_lags

MIN = 60 * 10**9


def error_origin(ctx: Context, shares: BlameShares) -> list[Evidence]:
    """Failing symptom requests whose first error is this node's own."""
    out = []
    for (service, op, kind), node in shares.nodes.items():
        weight = node.error
        if weight < 0.02:
            continue
        st = ctx.blame.self_time.get((service, op, kind), {})
        before = st.get(Period.BASELINE, {}).get("own_errors", 0)
        after = st.get(Period.INCIDENT, {}).get("own_errors", 0)
        out.append(evidence(service, "error_origin",
                            f"{weight:.0%} of the symptom's failing requests start failing in "
                            f"{service} {op}", operation=op, before=before, after=after, weight=weight,
                            exemplar_trace=node.exemplar))
    return out


def self_time(ctx: Context, shares: BlameShares) -> list[Evidence]:
    """Extra latency on the critical path spent in this node itself, not waiting on callees."""
    out = []
    for (service, op, kind), node in shares.nodes.items():
        weight = node.latency
        if weight < 0.02:
            continue
        st = ctx.blame.self_time.get((service, op, kind), {})
        b = st.get(Period.BASELINE, {}).get("p90_self_ms")
        a = st.get(Period.INCIDENT, {}).get("p90_self_ms")
        what = f"p90 self-time {_ms(b)} → {_ms(a)}" if a is not None else "more work"
        out.append(evidence(service, "self_time", f"{service} {op}: {what} on the critical path; "
                            f"{weight:.0%} of the extra latency originates here", operation=op,
                            before=b, after=a, weight=weight, exemplar_trace=node.exemplar))
    return out


def path_shift(ctx: Context, shares: BlameShares) -> list[Evidence]:
    """Requests of a service that now end right after one callee's answer, or before any call."""
    return [evidence(p.suspect, "path_shift", p.summary(), before=round(p.before, 4), after=round(p.after, 4),
                     weight=min(p.rise, 1.0), caller=p.service, calls_before=round(p.calls_before, 3),
                     calls_after=round(p.calls_after, 3), z=round(p.z, 2))
            for p in ctx.paths]


def exception_surge(ctx: Context, shares: BlameShares) -> list[Evidence]:
    """Spans that newly carry exception events or error logs, where no span status says so."""
    return [evidence(e.gave_up_on or e.service, "exception_surge",
                     (f"{e.gave_up_on} worked on after {e.service} stopped waiting (timeouts): " if e.gave_up_on
                      else "") + e.summary(),
                     before=e.before[0], after=e.after[0], weight=0.0, z=round(e.z, 2),
                     reported_by_callee=e.reported_by_callee)
            for e in ctx.errors]


def queue_lag(ctx: Context, shares: BlameShares) -> list[Evidence]:
    """A topic or queue whose messages wait longer before their consumer takes them, or a
    consumer whose own lag metric rose."""
    lags = queue_lags(ctx)
    behind = {lag["consumer"] for lag in lags}
    out = [evidence(m.service, "queue_lag", f"{m.service} {m.metric}: {_num(m.before)} → {_num(m.after)} and "
                    f"staying up (robust z {m.z:.1f}); {m.service} fell behind", before=m.before, after=m.after,
                    metric=m.metric, consumer=m.service, z=round(m.z, 2), weight=0.0)
           for m in ctx.lags if m.service not in behind]
    for lag in lags:
        why = (f"{lag['producer']} sends more ({lag['rate_before']:.2f}/s → {lag['rate_after']:.2f}/s)"
               if lag["surge"] else f"{lag['consumer']} fell behind")
        q = lag.get("backlog")
        if q is not None:
            (kb, nb), (ki, ni) = q.before, q.after
            than = f"of the other consumers' {kb} of {nb}" if q.peer else f"{kb} of {nb} before"
            out.append(evidence(lag["suspect"], "queue_lag",
                                f"queue {q.sender} → {q.consumer}: {ki} of {ni} messages ({q.operation}) not taken "
                                f"by {q.consumer} (against {than}); about {q.waiting} waiting, the oldest for "
                                f"{_s(q.behind_s)} when the data ends; {why}",
                                before=kb / nb, after=ki / ni, weight=0.0, producer=q.sender, consumer=q.consumer,
                                lag_seconds=round(q.behind_s, 3), messages_waiting=q.waiting))
            continue
        out.append(evidence(lag["suspect"], "queue_lag",
                            f"queue {lag['producer']} → {lag['consumer']}: messages wait {_s(lag['before_s'])} → "
                            f"{_s(lag['after_s'])} before they are consumed (median); {why}",
                            before=round(lag["before_s"], 3), after=round(lag["after_s"], 3), weight=0.0,
                            producer=lag["producer"], consumer=lag["consumer"], lag_seconds=round(lag["after_s"], 3)))
    return out


def network_gap(ctx: Context, shares: BlameShares) -> list[Evidence]:
    """Time between a caller's CLIENT span and its callee's SERVER span that grew (or, with no CLIENT
    span, from the SERVER span's end until the caller went on)."""
    support = gap_support(ctx.gaps)
    out = []
    for g in ctx.gaps.values():
        if g.how != "gap" or not (g.grew or g.tail_stands_out):
            continue
        what = ("time from the answer until the caller went on (no client span: network, proxy, and the "
                "caller's own next step)" if g.implicit
                else "time between the two spans (network, proxy, accept queue)")
        parts = place_gap(g.caller, g.callee, support)
        for service, part in parts.items():
            if part < 0.2:
                continue
            if not g.grew or g.peer and not g.median_stands_out:  # a slow tail the other edges lack
                others, own = g.peer_slow_shares
                seen = (f"exchanges over {_ms(PEER_SLOW_NS / 1e6)} {own:.0%} of {len(g.after)} calls, "
                        f"other edges {others:.0%} (median {_ms(g.after_ms)})")
            elif g.peer:
                seen = f"median {_ms(g.after_ms)} over {len(g.after)} calls, other edges {_ms(g.before_ms)}"
            elif g.tail_grew and g.growth_ns < MIN_GROWTH_NS:  # a few exchanges wait long (packet loss)
                slow_b, slow_a = g.slow_shares()
                seen = (f"exchanges over {_ms(g.slow_ns / 1e6)} {slow_b:.0%} → {slow_a:.0%} of {len(g.after)} "
                        f"calls (median {_ms(g.before_ms)} → {_ms(g.after_ms)})")
            else:
                seen = f"median {_ms(g.before_ms)} → {_ms(g.after_ms)} over {len(g.after)} calls"
            peer: dict[str, Any] = {"peer": True} if g.peer or not g.grew else {}
            out.append(evidence(service, "network_gap", f"{g.caller} → {g.callee}: {what} {seen}",
                                before=_r(g.before_ms), after=_r(g.after_ms), **peer,
                                weight=0.0, caller=g.caller, callee=g.callee, placed=round(part, 3),
                                p_value=float(f"{min(g.p_value, g.tail_p) if g.grew else g.peer_tail_p:.3g}")))
    return out


def rate_shift(ctx: Context, shares: BlameShares) -> list[Evidence]:
    """Calls on an edge rising or falling sharply: load, loops, retry storms."""
    out = []
    for e in ctx.graph.edges:
        b, i = e.stats.get("baseline"), e.stats.get("incident")
        if not b or not i:
            continue
        r = i.rate / max(b.rate, 1e-3)
        retry_share = (i.retries or 0) / max(i.calls, 1)
        if i.calls < 10 or (r < 2 and retry_share < 0.2):
            continue
        what = "retries" if retry_share >= 0.2 else ("calls" if r >= 2 else "")
        out.append(evidence(e.caller, "rate_shift",
                            f"{e.caller} → {e.callee}: {b.rate:.2f}/s → {i.rate:.2f}/s"
                            + (f" ({retry_share:.0%} retries)" if retry_share >= 0.2 else ""),
                            before=b.rate, after=i.rate, callee=e.callee, what=what))
    return out


def request_surge(ctx: Context, shares: BlameShares) -> list[Evidence]:
    """Services whose request metrics surged where the traces hold too little before to show it,
    and the caller sending the calls that surged."""
    out = []
    for name, surge in sorted(ctx.surges.items()):
        seen = f"requests to {name} rose {surge.before:.2f}/s → {surge.after:.2f}/s by its metrics ({surge.metric})"
        common = {"before": round(surge.before, 4), "after": round(surge.after, 4), "metric": surge.metric,
                  "source": "metrics"}
        out.append(evidence(name, "rate_shift", seen, **common, what="requests"))
        sent = metric_surge_sender(ctx, name)
        if sent:
            out.append(evidence(sent[0], "rate_shift", f"{sent[0]} sends the calls that surged: {seen}",
                                **common, callee=name, what="calls"))
    return out


def saturation(ctx: Context, shares: BlameShares) -> list[Evidence]:
    """All operations of a service slower together: the service itself is short of CPU or workers."""
    out = []
    for n in ctx.graph.nodes:
        ratios = []
        for o in n.operations:
            b, i = o.stats.get("baseline"), o.stats.get("incident")
            if b and i and b.calls >= 5 and i.calls >= 5 and o.kind in ("SERVER", "CONSUMER", "INTERNAL"):
                ratios.append(i.p50_ms / max(b.p50_ms, 1e-3))
        if len(ratios) >= 2 and min(ratios) >= 1.5:
            out.append(evidence(n.id, "saturation", f"all {len(ratios)} operations of {n.id} slowed "
                                f"together (p50 ×{min(ratios):.1f} to ×{max(ratios):.1f})",
                                before=1.0, after=round(min(ratios), 2), weight=0.03))
    return out


def log_templates(ctx: Context, shares: BlameShares) -> list[Evidence]:
    """Log templates new in the incident or surging, per service."""
    out = []
    for t in template_shifts(ctx.store, ctx.baseline, ctx.incident)[:30]:
        label = "new" if t["new"] else f"×{t['surge']:.0f}"
        out.append(evidence(t["service"], "log_template", f"{label} log template in {t['service']}: "
                            f"{t['template']!r} ({t['before']} → {t['after']})",
                            before=t["before"], after=t["after"], severity=t["severity"],
                            example=t["example"], weight=0.02 if (t["severity"] or 0) >= 13 else 0.01))
    return out


def resource_shift(ctx: Context, shares: BlameShares) -> list[Evidence]:
    """A service's own CPU, memory or restarts that rose at the onset and stayed up."""
    return [evidence(r.service, "resource_shift", f"{r.service} {r.metric}: {_num(r.before)} → {_num(r.after)} "
                     f"and staying up (robust z {r.z:.1f})", before=r.before, after=r.after, metric=r.metric,
                     z=round(r.z, 2), weight=0.0) for r in ctx.resources]


def metric_shift(ctx: Context, shares: BlameShares) -> list[Evidence]:
    """Service metrics whose incident level sits far outside their baseline (robust z)."""
    return metric_shifts(ctx.store, ctx.baseline, ctx.incident, limit=20)


def metric_shifts(store: Store, baseline: TimeRange, incident: TimeRange, limit: int = 20) -> list[Evidence]:
    rows = store_evidence.metric_values(store, baseline, incident)
    out = []
    for r in rows:
        b, i = r["b"] or [], r["i"] or []
        if len(b) < 3 or not i:
            continue
        spread = max(abs(sum(b) / len(b)) * 0.01, 1e-9)
        z = max(abs(robust_z(b, v, floor=spread)) for v in i)
        z = min(z, 1e6)
        if z < 3:
            continue
        out.append(evidence(r["service"], "metric_shift", f"{r['service']} {r['name']}: "
                            f"{_num(sorted(b)[len(b) // 2])} → {_num(max(i, key=lambda v: abs(v - b[0])))} "
                            f"(robust z {z:.1f})", before=sorted(b)[len(b) // 2], after=max(i),
                            metric=r["name"], z=round(z, 2), weight=0.02))
    out.sort(key=lambda e: -e.details["z"])
    return out[:limit]


def changes(ctx: Context, shares: BlameShares) -> list[Evidence]:
    """Change events and service.version switches near the onset; the closer, the more they count."""
    out = []
    lo, hi = ctx.onset_ns - 60 * MIN, ctx.onset_ns + 10 * MIN
    for c in store_evidence.changes_between(ctx.store, lo, hi):
        out.append(_change(ctx, c["service"], c["time_ns"], f"{c['kind']}: {c['description']}",
                           kind=c["kind"], version=c["version"]))
    since = ctx.baseline.since_ns or 0
    # A version is new when first seen in [lo, hi), and not at the start of the data: what was
    # running when the data begins was deployed at some unknown time before.
    new_after = max(lo, since + max(MIN, (ctx.onset_ns - since) // 10))
    for v in store_evidence.versions_first_seen(ctx.store, min(since, lo), hi, new_after):
        out.append(_change(ctx, v["service"], v["first_ns"], f"service.version {v['service_version']} "
                           "first seen", kind="version", version=v["service_version"]))
    return out


def _change(ctx: Context, service: str, t: int, what: str, **extra: Any) -> Evidence:
    minutes = (ctx.onset_ns - t) / MIN
    # a change shortly before the onset can cause it; one 20+ minutes earlier rarely does
    closeness = math.exp(-max(minutes, 0) / 5) if minutes > -2 else 0.2
    when = f"{abs(minutes):.1f} min {'before' if minutes >= 0 else 'after'} onset"
    return evidence(service, "change", f"{what} at {format_time(t)} ({when})", before=None,
                    after=format_time(t), weight=0.05 * closeness, minutes_before_onset=round(minutes, 1),
                    **extra)


def _ms(v: float | None) -> str:
    if v is None:
        return "?"
    return f"{v:.0f} ms" if v >= 10 else f"{v:.1f} ms"


def _s(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds >= 1 else _ms(seconds * 1000)


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 3)


def _num(v: float) -> str:
    return f"{v:.3g}"


EXTRACTORS = [error_origin, self_time, path_shift, queue_lag, exception_surge, network_gap, rate_shift, request_surge,
              saturation, log_templates, resource_shift, metric_shift, changes]

__all__ = ["EXTRACTORS", "metric_shifts", "proportion_z"]
