"""Code faults change what callers do, not how long a span takes: call paths compared per service.

A changed return value or a thrown exception that the caller handles shows in no span status and
no latency. It shows in the call paths: the caller stops making the calls it used to make after
the faulty answer. Per service, each of its requests in a trace (a unit) ends with a last remote
call, or with none; when units suddenly end right after calling X far more often than before, and
the service makes fewer calls per unit, X's answers are what changed (a unit that now makes no
call at all points at the service itself).

A step is a call into another service, or a leaf span of the service's own (a database query, a
cache read): the work skipped after a faulty answer is often the service's own write. Units are
compared per entry operation, as a service's operations take different paths. Requests that
stop after a failed step are the failure's effect, which the error and latency blame follow.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.stats import mannwhitneyu

from ..detect import drop_point, proportion_z, z_of
from ..store import evidence
from ..store.base import Store

SELF = evidence.PATH_SELF  # the terminal of a unit whose last step was its own (or none): the service itself
MIN_Z = 3.5        # a terminal's share must rise this surely ...
# ... or, where nothing else changed clearly, at the usual 1% level: a handful of requests before
# (an operation called a few times a minute) cannot reach MIN_Z, and the ranking is then said to be a
# guess; requests that plainly stop calling downstream are the likeliest one
THIN_Z = 2.33
MIN_RISE = 0.1     # ... and by at least this much of the service's units
MIN_DROP = 0.1     # and the steps per unit fall by at least this fraction
# A drop in steps per unit is dated where this many units lie on either side (or a twentieth of
# them, if fewer): on busy traffic a fault a few seconds into the data leaves dozens before it.
PATH_ONSET_SIDE = 20


@dataclass(frozen=True)
class PathShift:
    service: str          # the service whose requests now stop early
    terminal: str         # what they stop after: a callee, or the service itself
    before: float         # share of the service's units ending there
    after: float
    calls_before: float   # remote calls per unit
    calls_after: float
    units: tuple[int, int]
    z: float
    operation: str = ""   # the entry operation of those requests

    @property
    def suspect(self) -> str:
        return self.terminal or self.service

    @property
    def rise(self) -> float:
        return self.after - self.before

    def summary(self) -> str:
        where = (f"right after calling {self.terminal}" if self.terminal
                 else "without calling anything downstream")
        who = f"{self.service} {self.operation}" if self.operation else self.service
        return (f"{who} requests now end {where}: {self.before:.0%} → {self.after:.0%} of them; "
                f"steps per request {self.calls_before:.1f} → {self.calls_after:.1f}")



unit_paths = evidence.unit_paths  # each unit's steps and last step, once for both questions below


def path_shifts(store: Store, units_table: str, min_z: float = MIN_Z) -> list[PathShift]:
    """Services whose requests newly stop early, strongest first (`units_table`: from `unit_paths`)."""
    rows = evidence.path_terminals(store, units_table)
    tally: dict[tuple[str, str], dict[str, dict[str, tuple[int, int]]]] = {}
    for r in rows:
        tally.setdefault((r["service"], r["op"]), {}).setdefault(r["w"], {})[r["terminal"]] = \
            (int(r["units"]), int(r["calls"]))
    out = []
    for (service, op), by_w in tally.items():
        b, i = by_w.get("baseline", {}), by_w.get("incident", {})
        nb, ni = sum(u for u, _ in b.values()), sum(u for u, _ in i.values())
        if nb < 5 or ni < 5:
            continue
        calls_b = sum(c for _, c in b.values()) / nb
        calls_i = sum(c for _, c in i.values()) / ni
        if calls_i > (1 - MIN_DROP) * calls_b:
            continue
        for terminal in sorted(set(b) | set(i)):
            if terminal.startswith(evidence.PATH_FAILED):
                continue
            kb, ki = b.get(terminal, (0, 0))[0], i.get(terminal, (0, 0))[0]
            z = proportion_z(kb, nb, ki, ni)
            shift = PathShift(service, terminal, kb / nb, ki / ni, calls_b, calls_i, (nb, ni), z, op)
            if z >= min_z and shift.rise >= MIN_RISE and not math.isnan(z):
                out.append(shift)
    out.sort(key=lambda p: (-p.z, p.service, p.operation, p.terminal))
    return out


def path_onset(store: Store, units_table: str, per_service: int = 3000) -> tuple[int, float] | None:
    """(time, strength) of the clearest drop in steps per request of any service's operation.

    A code fault that cuts call paths short moves neither errors nor latency at the entry points,
    so the onset is dated on the call paths themselves; the strength is a Mann–Whitney z / 4, on the
    scale of the other onsets."""
    rows = evidence.unit_calls(store, units_table, per_service)
    series: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for r in rows:
        series.setdefault((r["service"], r["op"]), []).append((int(r["t"]), float(r["n"])))
    best: tuple[int, float] | None = None
    for points in series.values():
        if len(points) < 20:
            continue
        points.sort()
        values = [n for _, n in points]
        k = drop_point(values, min_segment=max(5, min(len(values) // 20, PATH_ONSET_SIDE)))
        if k is None:
            continue
        before, after = values[:k], values[k:]
        mb, ma = sum(before) / len(before), sum(after) / len(after)
        if ma > (1 - MIN_DROP) * mb:
            continue
        # a rank test: step counts are small integers, often constant on each side, where a t
        # statistic divides by a variance near zero and calls any clean split infinitely strong
        p = mannwhitneyu(before, after, alternative="greater", method="asymptotic").pvalue
        z = z_of(p)
        if best is None or z / 4 > best[1]:
            best = (points[k][0], z / 4)
    return best
