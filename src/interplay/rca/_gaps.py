"""Time between spans is an interaction: the gap around each remote call, and queue wait.

A delay on one service's network, its sidecar or its accept queue shows in neither side's span:
it is the time between a CLIENT span and the SERVER span it caused (client duration minus
server duration). A consumer falling behind shows only as the wait between a PRODUCER's end and
its CONSUMER's start. Both are properties of the edge, compared here between the windows with a
rank test (light traffic leaves a handful of calls per edge), then placed on a service by the
pattern across peers: if the callers of X all see the gap grow, X's network is the suspect; if one
caller sees it toward all of its callees, that caller's is.

A gap grows in its bulk (a delay: every exchange waits) or in its tail (packet loss: most exchanges
pass untouched while a few wait for a TCP retransmit, hundreds of milliseconds each), so both the
median and the share of slow exchanges are compared.
"""
from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, field

from scipy.stats import fisher_exact

from ..detect import change_point, median, rises, robust_z
from ..store import evidence
from ..store.base import Store

PER_WINDOW = 400   # gap samples per edge and window: enough for a rank test, bounded at any scale
ALPHA = 0.01       # a gap "grew" when the rank test is this sure ...
MIN_GROWTH_NS = 1_000_000  # ... and its median rose by at least 1 ms and by half its baseline
CALLEE_TIE = 0.1   # with equal support, the callee is the likelier culprit (a fault on a pod's network)
PEER_RATIO = 3.0   # with no baseline, an edge's gap stands out at this many times its peers' median ...
PEER_MIN_NS = 5_000_000  # ... and at least this much above it ...
PEER_CALL_SHARE = 1 / 3  # ... and this much of the call it delays
# A queue's wait grew where it rose by this much at least: a consumer's poll loop alone moves a
# message's wait by milliseconds (one that falls behind, by seconds)
QUEUE_MIN_GROWTH_NS = 100_000_000
# An edge's slow tail stands out from its peers' where at least PEER_SLOW_SHARE of its exchanges wait
# longer than PEER_SLOW_NS between the spans while the other edges' seldom do: a lost segment waits
# for a TCP retransmission timeout (200 ms at least on Linux), and loss that matters hits a tenth of
# exchanges; a healthy edge's slow waits (a delayed ACK, a paused peer, a busy proxy) mostly stay
# under that, and past it they are a few percent of exchanges (on real gRPC edges up to ~9%).
PEER_SLOW_NS = 180_000_000
PEER_SLOW_SHARE = 0.1
# A slow exchange waits past its baseline's 90th percentile by at least this much (and twice it):
# far beyond the jitter of a healthy network, well under a retransmission timeout (200 ms).
SLOW_EXCHANGE_NS = 20_000_000


@dataclass
class EdgeGap:
    caller: str
    callee: str
    how: str  # "gap" (synchronous call) or "queue" (producer end → consumer start)
    before: list[float] = field(default_factory=list)  # ns
    after: list[float] = field(default_factory=list)
    series: list[tuple[int, float]] = field(default_factory=list)  # (consumer/server start ns, gap ns)
    p_value: float = 1.0
    peer: bool = False  # `before` holds the other edges' gaps (no baseline in time), not this edge's past
    # one-sided Fisher test that slow exchanges became more common (see slow_ns); not against peers:
    # edges differ in their tails by nature (a far callee, a busy proxy), one edge from its past does not
    tail_p: float = 1.0
    # no CLIENT span times the call: the gap is from the server's end until the caller goes on, which
    # holds the caller's own work after the answer too
    implicit: bool = False
    # with or without a baseline: that its slow tail stands out from the other edges' after the onset,
    # and the share of exchanges past PEER_SLOW_NS on the other edges and on this one
    peer_tail_p: float = 1.0
    peer_slow_shares: tuple[float, float] = (0.0, 0.0)

    @property
    def before_ms(self) -> float | None:
        return median(self.before) / 1e6 if self.before else None

    @property
    def after_ms(self) -> float | None:
        return median(self.after) / 1e6 if self.after else None

    @property
    def growth_ns(self) -> float:
        if not self.before or not self.after:
            return 0.0
        return median(self.after) - median(self.before)

    @property
    def comparable(self) -> bool:
        # two calls before are enough for an exact rank test: all of thirty later calls above
        # both has p = 1/496 (light traffic and a short baseline leave no more)
        return len(self.before) >= 2 and len(self.after) >= 3

    @property
    def grew(self) -> bool:
        if self.peer:
            return self.comparable and (self.median_stands_out or self.tail_p < ALPHA)
        return self.comparable and (
            (self.p_value < ALPHA and self.growth_ns >= (MIN_GROWTH_NS if self.how == "gap" else QUEUE_MIN_GROWTH_NS)
             and self.growth_ns >= 0.5 * max(median(self.before), 0.0))
            or self.tail_grew)

    @property
    def median_stands_out(self) -> bool:
        """With no baseline: the edge's median gap is several times its peers' (a delay every exchange waits)."""
        return (self.peer and self.comparable and self.p_value < ALPHA and self.growth_ns >= PEER_MIN_NS
                and median(self.after) >= PEER_RATIO * max(median(self.before), 0.0))

    @property
    def tail_stands_out(self) -> bool:
        """Whatever the baseline: more of its exchanges wait long than the other edges' do."""
        return self.comparable and self.peer_tail_p < ALPHA

    @property
    def tail_grew(self) -> bool:
        """Slow exchanges became more common, and the average call lost a material time to them."""
        return (self.how == "gap" and not self.peer and self.comparable and self.tail_p < ALPHA
                and self.mean_growth_ns >= MIN_GROWTH_NS
                and self.mean_growth_ns >= 0.5 * max(_mean(self.before), 0.0))

    @property
    def mean_growth_ns(self) -> float:
        """What the average call lost: where only a few exchanges wait, long, the median stays put."""
        return _mean(self.after) - _mean(self.before) if self.before and self.after else 0.0

    @property
    def slow_ns(self) -> float:
        """The gap past which an exchange counts as slow: well beyond the baseline's 90th percentile
        (with no baseline, past what a healthy network ever waits)."""
        if self.peer:
            return float(PEER_SLOW_NS)
        q90 = sorted(self.before)[int(0.9 * (len(self.before) - 1))] if self.before else 0.0
        return max(2 * q90, q90 + SLOW_EXCHANGE_NS)

    def slow_shares(self) -> tuple[float, float]:
        """The share of exchanges past `slow_ns` before and after."""
        cut = self.slow_ns
        return (sum(v > cut for v in self.before) / max(len(self.before), 1),
                sum(v > cut for v in self.after) / max(len(self.after), 1))


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def tail_rises(after: list[float], before: list[float], cut: float) -> float:
    """One-sided Fisher exact p-value that more of `after` than of `before` lies past `cut`."""
    return _share_rises(sum(v > cut for v in after), len(after), sum(v > cut for v in before), len(before))


def _share_rises(k_a: int, n_a: int, k_b: int, n_b: int) -> float:
    """One-sided Fisher exact p-value that k_a of n_a is a larger share than k_b of n_b."""
    if k_a == 0:
        return 1.0
    return float(fisher_exact([[k_a, n_a - k_a], [k_b, n_b - k_b]], alternative="greater").pvalue)


def edge_gaps(store: Store, spans_table: str) -> dict[tuple[str, str, str], EdgeGap]:
    """Per (caller, callee, how): gap samples in the baseline ('baseline') and incident windows.

    `spans_table` is `graph.window_spans`' table (w = 'baseline' | 'incident')."""
    rows = evidence.edge_gap_samples(store, spans_table, PER_WINDOW)
    gaps: dict[tuple[str, str, str], EdgeGap] = {}
    for r in rows:
        key = (r["caller"], r["callee"], r["how"])
        g = gaps.setdefault(key, EdgeGap(*key))
        (g.before if r["w"] == "baseline" else g.after).append(float(r["gap_ns"]))
        g.implicit = g.implicit or bool(r["implicit"])
        g.series.append((int(r["t"]), float(r["gap_ns"])))
    every_before = sorted(x for g in gaps.values() if g.how == "gap" for x in g.before)
    for g in gaps.values():
        if g.comparable:
            g.p_value = rises(g.after, g.before)
            if g.how == "gap":  # a lost segment delays a call; a queue's wait is read by its backlog
                g.tail_p = min(tail_rises(g.after, g.before, g.slow_ns), _pooled_tail_p(g, every_before))
    return gaps


def _pooled_tail_p(g: EdgeGap, every_before: list[float]) -> float:
    """The tail test against every edge's before (`every_before`, sorted), where this edge's own
    before showed no more slow exchanges than the others' did: a minute of light traffic holds a
    handful of calls per edge, too few for a rise to the share packet loss leaves (a tenth of
    exchanges) to be sure; how rarely any exchange waited that long before is known from all of
    them. An edge whose before had a slow tail of its own (a far callee, a busy proxy) is held to
    its own past."""
    cut = g.slow_ns
    n_all = len(every_before)
    k_all = n_all - bisect_right(every_before, cut)
    k_own = sum(v > cut for v in g.before)
    n_others, k_others = n_all - len(g.before), k_all - k_own
    if not n_others or k_own / len(g.before) > k_others / n_others:
        return 1.0
    return _share_rises(sum(v > cut for v in g.after), len(g.after), k_all, n_all)


def _peer_samples(edges: list[EdgeGap], g: EdgeGap) -> list[float]:
    """The other synchronous edges' gaps after the onset, at most ~100 from each (a busy edge does
    not speak for all)."""
    return [x for o in edges if o is not g for x in o.after[::max(len(o.after) // 100, 1)]]


def _tail_among_peers(g: EdgeGap, others: list[float], call: float | None) -> float:
    """One-sided p-value that more of the edge's exchanges wait past PEER_SLOW_NS than the other
    edges' do (packet loss: most exchanges pass untouched, so the median stays with the peers'),
    where PEER_SLOW_SHARE of them do and such a wait is a good part of the call."""
    if len(g.after) < 3 or len(others) < 2 or (call and PEER_SLOW_NS / 1e6 < PEER_CALL_SHARE * call):
        return 1.0
    if _share_past(g.after, PEER_SLOW_NS) < PEER_SLOW_SHARE:
        return 1.0
    return tail_rises(g.after, others, PEER_SLOW_NS)


def mark_tails_among_peers(gaps: dict[tuple[str, str, str], EdgeGap],
                           call_ms: dict[tuple[str, str], float] | None = None) -> None:
    """Whatever the baseline, note each synchronous edge whose slow tail its peers lack
    (`peer_tail_p`): where the fault ran before the onset too (a short before, a late start),
    nothing grew in time, but whose network it is still shows across the peers."""
    edges = [g for g in gaps.values() if g.how == "gap" and g.after]
    for g in edges:
        _mark_tail(g, _peer_samples(edges, g), (call_ms or {}).get((g.caller, g.callee)))


def _mark_tail(g: EdgeGap, others: list[float], call: float | None) -> None:
    g.peer_tail_p = _tail_among_peers(g, others, call)
    g.peer_slow_shares = (_share_past(others, PEER_SLOW_NS), _share_past(g.after, PEER_SLOW_NS))


def _share_past(values: list[float], cut: float) -> float:
    return sum(v > cut for v in values) / max(len(values), 1)


def compare_with_peers(gaps: dict[tuple[str, str, str], EdgeGap],
                       call_ms: dict[tuple[str, str], float] | None = None) -> None:
    """With no baseline in time, compare each synchronous edge's gap with every other edge's, and
    each queue's wait with the other queues' from the same sender.

    Between two healthy services the gap is a few milliseconds of network and proxy, much alike
    across a system's edges; an edge whose gap is several times everyone else's stands out
    without a before (a delay on one pod's network shows on every edge into it), and so does one
    whose slow tail no other edge has. Only if it is a good part of the call (`call_ms`: each
    edge's median call): a few milliseconds on the way to a model that answers in seconds is its
    distance, and with no before nothing tells them apart."""
    edges = [g for g in gaps.values() if g.how == "gap" and g.after]
    for g in edges:
        g.before, g.peer, g.p_value = _peer_samples(edges, g), True, 1.0
        call = (call_ms or {}).get((g.caller, g.callee))
        _mark_tail(g, g.before, call)
        g.tail_p = g.peer_tail_p
        if g.comparable and (not call or median(g.after) / 1e6 >= PEER_CALL_SHARE * call):
            g.p_value = rises(g.after, g.before)
    # A queue's wait against the other consumers of the same sender's messages: every consumer
    # group takes each message within milliseconds, unless it fell behind. A lone consumer has no peer.
    queues = [g for g in gaps.values() if g.how == "queue" and g.after]
    for g in queues:
        others = [x for o in queues if o is not g and o.caller == g.caller for x in o.after]
        g.before, g.peer, g.p_value = others, True, 1.0
        if g.comparable:
            g.p_value = rises(g.after, g.before)


def gap_support(gaps: dict[tuple[str, str, str], EdgeGap]) -> dict[str, float]:
    """Per service: the share of its comparable synchronous edges (in and out) whose gap grew, or
    whose slow tail stands out from its peers'."""
    seen: dict[str, list[bool]] = {}
    for g in gaps.values():
        if g.how != "gap" or not g.comparable:
            continue
        for service in (g.caller, g.callee):
            seen.setdefault(service, []).append(g.grew or g.tail_stands_out)
    return {s: sum(v) / len(v) for s, v in seen.items()}


def place_gap(caller: str, callee: str, support: dict[str, float]) -> dict[str, float]:
    """How to split the blame for a gap on caller → callee between the two (sums to 1)."""
    if caller != callee and not support.get(caller) and not support.get(callee):
        return {caller: 0.5, callee: 0.5}  # no gap grew on either side: nothing says whose it is
    a = support.get(caller, 0.0) ** 2
    b = support.get(callee, 0.0) ** 2 + CALLEE_TIE * max(support.get(callee, 0.0), 0.5)
    total = a + b
    return {caller: a / total, callee: b / total} if caller != callee else {callee: 1.0}


def queue_onset(gaps: dict[tuple[str, str, str], EdgeGap]) -> tuple[int, float] | None:
    """(time, strength) of the clearest level shift in any queue's wait over the whole data.

    A consumer falling behind moves no entry point, so the onset is dated on the queues
    themselves; the strength is a robust z / 2 of the log wait, on the scale of the other onsets."""
    best: tuple[int, float] | None = None
    for g in gaps.values():
        if g.how != "queue" or len(g.series) < 8:
            continue
        points = sorted(g.series)
        values = [math.log(max(v, 0.0) + MIN_GROWTH_NS) for _, v in points]
        k = change_point(values, min_segment=4)
        if k is None:
            continue
        strength = robust_z(values[:k], median(values[k:]), floor=0.1) / 2
        if best is None or strength > best[1]:
            best = (points[k][0], strength)
    return best
