"""Investigation from metrics alone (no traces): BARO-like robust z-scores per service metric.

Each (service, metric) series is scored by how far its incident values sit from its baseline
median in units of the baseline's MAD; a service's score is its strongest metric. The onset,
when not given, is the change point of the per-bucket strongest deviation across all series.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..detect import change_point, median, robust_z
from ..model import NotFound, TimeRange
from ..model_results import (
    DataCompleteness,
    Evidence,
    Hop,
    Investigation,
    RootCause,
    Signals,
    Symptom,
    Window,
    Windows,
)
from ..store import evidence
from ..store.base import Store
from ..timeutil import format_time
from ._windows import parse_symptom


def investigate_metrics(store: Store, symptom: str | None, at_ns: int | None,
                        window: TimeRange) -> Investigation:
    rows = evidence.metric_points(store, window)
    if not rows:
        raise NotFound("no spans or metrics in that time range: nothing to investigate")
    series: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for r in rows:
        series.setdefault((r["service"], r["name"]), []).append((r["time_ns"], r["v"]))
    times = sorted({r["time_ns"] for r in rows})
    onset = at_ns if at_ns is not None else _onset(series, times)
    scores: dict[str, list[tuple[float, str, float, float]]] = {}
    for (service, name), points in series.items():
        before = [v for t, v in points if t < onset]
        after = [v for t, v in points if t >= onset]
        if len(before) < 3 or not after:
            continue
        spread = max(abs(median(before)) * 0.01, 1e-9)
        z = max(abs(robust_z(before, v, floor=spread)) for v in after)
        scores.setdefault(service, []).append((min(z, 1e6), name, median(before), max(after)))
    wanted = parse_symptom(symptom)
    causes = []
    ranked = sorted(scores.items(), key=lambda kv: -max(s[0] for s in kv[1]))
    for rank, (service, metric_scores) in enumerate(ranked[:8], 1):
        metric_scores.sort(key=lambda s: -s[0])
        z, name, b, a = metric_scores[0]
        summary = f"{service} {name}: {b:.3g} → {a:.3g} (robust z {z:.1f})"
        causes.append(RootCause(
            rank=rank, service=service, operation=None, kind="service", score=round(z, 3), summary=summary,
            chain=[Hop(service, None, summary)],
            evidence=[Evidence(service, None, "metric_shift", f"{service} {n}: {bb:.3g} → {aa:.3g} (robust z {zz:.1f})",
                               before=bb, after=aa, weight=0.0, details={"metric": n, "z": round(zz, 2)})
                      for zz, n, bb, aa in metric_scores[:5]],
            exemplar_trace=None))
    lo, hi = times[0], times[-1] + 1
    return Investigation(
        symptom=Symptom(given=wanted.label() if wanted else None, entry_points=[]),
        onset=format_time(onset), onset_source="given" if at_ns is not None else "detected",
        windows=Windows(Window(format_time(lo), format_time(onset), lo, onset),
                        Window(format_time(onset), format_time(hi), onset, hi)),
        method="metrics (robust z-score per service metric, BARO-like)",
        root_causes=causes, load_moves=[],
        data_completeness=DataCompleteness(traces=0, spans=0, complete_traces=0, complete_share=0.0, logs=0,
                                           metric_points=len(rows), changes=0,
                                           signals=Signals(traces=False, logs=False, metrics=True, changes=False)))


def _onset(series: dict[tuple[str, str], list[tuple[int, float]]], times: list[int]) -> int:
    """Change point of the per-timestamp strongest deviation, each series scaled by its first third."""
    index = {t: i for i, t in enumerate(times)}
    worst = [0.0] * len(times)
    for points in series.values():
        ref = [v for _, v in points[: max(len(points) // 3, 3)]]
        if len(ref) < 3:
            continue
        spread = max(abs(median(ref)) * 0.01, 1e-9)
        for t, v in points:
            worst[index[t]] = max(worst[index[t]], min(abs(robust_z(ref, v, floor=spread)), 50.0))
    k = change_point(worst)
    return times[k] if k is not None else times[len(times) // 2]


# A service's own CPU, memory, disk I/O and restarts: what a resource fault moves (stress on a
# pod's CPU, memory or disk multiplies its own series). Host- and node-wide series (shared by every
# pod on the machine) and traffic counters (they follow load) are left out.
RESOURCE_METRIC = re.compile(r"(^|[._-])(cpu|mem|memory|disk|diskio|blkio|fs)([._-]|$)|restart", re.IGNORECASE)
SHARED_METRIC = re.compile(r"(^|[._-])(node|system|host)([._-]|$)", re.IGNORECASE)
RESOURCE_Z = 3.0       # a sustained rise this many robust spreads above the baseline counts ...
RESOURCE_RATIO = 2.0   # ... when it at least doubled: a busier hour moves CPU by a fraction, a fault by multiples
RESOURCE_POINTS = 5    # "sustained": the median of the first points after the onset
MIN_BEFORE_NS = 10 * 60 * 10**9  # metrics often reach further back than traces: use it


@dataclass(frozen=True)
class ResourceShift:
    service: str
    metric: str
    before: float
    after: float
    z: float


def resource_shifts(store: Store, onset_ns: int, until_ns: int, before_ns: int = MIN_BEFORE_NS,
                    services: set[str] | None = None) -> list[ResourceShift]:
    """Services whose own CPU, memory or restarts rose and stayed up at the onset, strongest first.

    The baseline is whatever the metrics hold in `before_ns` before the onset, not only the traces'
    baseline: metrics are scraped for longer, and a resource fault seldom shows in a span."""
    rows = evidence.metric_points(store, TimeRange(onset_ns - before_ns, until_ns))
    series: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for r in rows:
        if RESOURCE_METRIC.search(r["name"]) and not SHARED_METRIC.search(r["name"]) \
                and (services is None or r["service"] in services):
            series.setdefault((r["service"], r["name"]), []).append((int(r["time_ns"]), float(r["v"])))
    best: dict[str, ResourceShift] = {}
    for (service, name), points in series.items():
        before = [v for t, v in points if t < onset_ns]
        after = [v for t, v in points if t >= onset_ns][:RESOURCE_POINTS]
        if len(before) < 3 or not after:
            continue
        b, a = median(before), median(after)
        z = robust_z(before, a, floor=max(abs(b) * 0.05, 1e-9))
        if z >= RESOURCE_Z and a >= RESOURCE_RATIO * b and (service not in best or z > best[service].z):
            best[service] = ResourceShift(service, name, b, a, min(z, 1e6))
    return sorted(best.values(), key=lambda r: (-r.z, r.service))
