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

import numpy as np
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
# With no before, requests that stop right after a callee must have called no more services before
# it, on average, than this above those that went on
SAME_WAY = 0.5


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
    # with no before: `before` is 0, `after` the share of the units that called the terminal and
    # ended right after it; "calls" are the services called by those that went on (before) and by
    # those that stopped (after)
    peer: bool = False

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
        if self.peer:
            went_on, stopped = self.units
            return (f"{stopped} of {stopped + went_on} {who} requests that called {self.terminal} ended {where}, "
                    f"calling {self.calls_after:.1f} services against {self.calls_before:.1f} in those that went "
                    "on (compared with their peers, not with a before)")
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


def peer_path_stops(store: Store, spans_table: str, min_z: float = THIN_Z) -> list[PathShift]:
    """With no before (or too few requests in it): per service operation, a callee after which many
    of its requests end, calling fewer services (or skipping a write of its own) than the peers that
    called the same operation of it and went on, strongest first.

    A changed return value running since the data began leaves no change in time to find; what is
    left is the split among the requests themselves: some take the whole path, the others stop right
    after the faulty answer and skip the calls that follow. The code's own branches can look alike,
    so this orders a guess and never stands out from the peers (PEER_PATH_CAP). Some are told apart:
    requests of two routes under one operation name call different operations of the callee; a cache
    hit that skips a query skips only a read of the service's own; calls made side by side end in
    any order but skip no service."""
    tally: dict[tuple[str, str, str, str], dict[bool, list[tuple[int, int, int]]]] = {}
    for r in evidence.path_stops(store, spans_table):
        # the work a request does: the services it calls, and its own write if it makes one (an
        # order stored, a message sent) — the part a request cut short skips, where a read (a cache
        # miss) is only the code's own shortcut
        tally.setdefault((r["service"], r["op"], r["x"], r["x_op"]), {True: [], False: []})[
            bool(r["stopped"])].append((int(r["kinds"]) + int(r["wrote"]), int(r["units"]), int(r["before"])))
    out = []
    for (service, op, x, _), split in tally.items():
        stopped, went_on = split[True], split[False]
        k, m = sum(u for _, u, _ in stopped), sum(u for _, u, _ in went_on)
        if k < 5 or m < 3 or k / (k + m) < MIN_RISE:
            continue
        called_stopped = sum(d * u for d, u, _ in stopped) / k
        called_on = sum(d * u for d, u, _ in went_on) / m
        if called_stopped > (1 - MIN_DROP) * called_on:
            continue
        # a path cut short is the same path up to the answer: requests that had called more
        # services before it came another way (routes under one operation name)
        if sum(b for _, _, b in stopped) / k > sum(b for _, _, b in went_on) / m + SAME_WAY:
            continue
        p = mannwhitneyu(_spread(went_on), _spread(stopped), alternative="greater", method="asymptotic").pvalue
        z = z_of(p)
        if z >= min_z and not math.isnan(z):
            out.append(PathShift(service, x, 0.0, k / (k + m), called_on, called_stopped, (m, k), z, op, peer=True))
    out.sort(key=lambda p: (-p.z, p.service, p.operation, p.terminal))
    return out


def _spread(counts: list[tuple[int, int, int]]) -> np.ndarray:
    """(services called, units, _) rows as one value per unit."""
    return np.repeat([d for d, _, _ in counts], [u for _, u, _ in counts])


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
