"""Investigation from metrics alone (no traces): BARO-like robust z-scores per service metric.

Each (service, metric) series is centred and scaled by its baseline, as BARO's RobustScaler does
(median, robust spread), and scored by the level it held after the onset; a service's score is its
strongest metric. What keeps this sound on short, thin series (a handful of one-minute points):

- the spread is shrunk toward the metric's family (the same metric name across services): three
  baseline points can sit almost still by chance, and a series that sat still, or one near zero
  among larger peers (a CPU of 0.04 cores beside services at 5), would turn noise into a huge z;
- the after-level is one the series held for `SUSTAIN` consecutive points, not its single largest
  point: one spike is what noise does, a fault holds;
- node- or host-wide series (every pod on the machine shares them) and the SLI pseudo-services
  (the front door's `entry_*` columns) are no candidates: they move with whatever went wrong.
  The SLIs date the onset when it is not given: they are the symptom;
- a detected onset leaves `MIN_BASELINE` points before it, so there is always a baseline to score.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable
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

Series = dict[tuple[str, str], list[tuple[int, float]]]

SLI_SERVICES = frozenset({"entry"})  # metrics_csv's pseudo-service for the front door's SLIs
MIN_BASELINE = 3    # points before the onset a series needs to be scored (and a detected onset leaves)
SUSTAIN = 2         # the after-level is one the series held for this many consecutive points
RESOLUTION = 0.01   # of the family's level: the smallest move a series is measured in
PRIOR_POINTS = 4    # how many baseline points the family's spread counts as
Z_CAP = 1e6


def investigate_metrics(store: Store, symptom: str | None, at_ns: int | None,
                        window: TimeRange) -> Investigation:
    rows = evidence.metric_points(store, window)
    if not rows:
        raise NotFound("no spans or metrics in that time range: nothing to investigate")
    series: Series = {}
    for r in rows:
        series.setdefault((r["service"], r["name"]), []).append((int(r["time_ns"]), float(r["v"])))
    times = sorted({t for points in series.values() for t, _ in points})
    onset = at_ns if at_ns is not None else _onset(series, times)
    scores = _scores({k: v for k, v in series.items() if _candidate(*k)}, onset)
    wanted = parse_symptom(symptom)
    causes = []
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1][0][0], kv[0]))
    for rank, (service, metric_scores) in enumerate(ranked[:8], 1):
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


def _candidate(service: str, name: str) -> bool:
    """A service's own series: not an SLI pseudo-service, not a node- or host-wide series."""
    return service not in SLI_SERVICES and not SHARED_METRIC.search(name)


def _scores(series: Series, onset: int) -> dict[str, list[tuple[float, str, float, float]]]:
    """Per service, its metrics' (|z|, name, baseline median, held level after), strongest first."""
    split = {k: ([v for t, v in pts if t < onset], [v for t, v in pts if t >= onset]) for k, pts in series.items()}
    split = {k: (b, a) for k, (b, a) in split.items() if len(b) >= MIN_BASELINE and a}
    families = _families((name, b) for (_, name), (b, _) in split.items())
    scores: dict[str, list[tuple[float, str, float, float]]] = {}
    for (service, name), (before, after) in split.items():
        center, spread = _scale(before, families.get(name))
        level = _held_level(after, center)
        z = min(abs(level - center) / spread, Z_CAP)
        scores.setdefault(service, []).append((z, name, center, level))
    for metric_scores in scores.values():
        metric_scores.sort(key=lambda s: (-s[0], s[1]))
    return scores


@dataclass(frozen=True)
class Family:
    """One metric name pooled over its services' baselines."""
    relative_spread: float  # median of robust spread / |median|
    level: float            # median of |median|


def _families(baselines: Iterable[tuple[str, list[float]]]) -> dict[str, Family]:
    """Each metric name's Family from (name, baseline) pairs, one per service."""
    rel: dict[str, list[float]] = {}
    level: dict[str, list[float]] = {}
    for name, before in baselines:
        center = median(before)
        level.setdefault(name, []).append(abs(center))
        spread = _spread(before, center)
        if center and spread:  # a series that sat still tells nothing of its family's noise
            rel.setdefault(name, []).append(spread / abs(center))
    return {name: Family(median(rel.get(name, [])), median(levels)) for name, levels in level.items()}


def _scale(before: list[float], family: Family | None) -> tuple[float, float]:
    """The baseline's median and its spread, shrunk toward the family's.

    The series' own spread (1.4826 MAD) counts as many observations as it has points and the family's
    relative spread at this series' level as PRIOR_POINTS more (a scaled-inverse-chi-squared prior on
    the variance): a short baseline leans on its peers, a long one on itself. Below RESOLUTION of the
    family's level a move is not told apart from zero: a near-zero series among larger peers is noise."""
    center = median(before)
    own = _spread(before, center)
    if family is None:
        return center, max(own, abs(center) * RESOLUTION, 1e-9)
    prior = family.relative_spread * abs(center)
    n = len(before)
    spread = math.sqrt((n * own * own + PRIOR_POINTS * prior * prior) / (n + PRIOR_POINTS))
    return center, max(spread, RESOLUTION * family.level, 1e-9)


def _spread(values: list[float], center: float) -> float:
    return median([abs(x - center) for x in values]) * 1.4826


def _held_level(after: list[float], center: float) -> float:
    """The farthest from `center` the series stayed for SUSTAIN consecutive points after the onset
    (each run counts for its point nearest `center`): one spike is what noise does, a fault holds."""
    if len(after) < SUSTAIN:
        return median(after)
    runs = [min(after[i:i + SUSTAIN], key=lambda v: abs(v - center)) for i in range(len(after) - SUSTAIN + 1)]
    return max(runs, key=lambda v: abs(v - center))


def _onset(series: Series, times: list[int]) -> int:
    """Change point of the SLIs' deviation (the symptom) where there are SLIs, else of the per-timestamp
    strongest deviation over every series; each series scaled by its first third. Leaves MIN_BASELINE
    timestamps before it."""
    if len(times) <= MIN_BASELINE:
        return times[-1]
    slis = {k: v for k, v in series.items() if k[0] in SLI_SERVICES}
    own = {k: v for k, v in series.items() if not SHARED_METRIC.search(k[1])} or series
    worst = _deviation(slis, times) if slis else []
    if not any(worst):  # no SLIs, or SLIs that never moved: the strongest move of any service's own series
        worst = _deviation(own, times)
    k = change_point(worst)
    k = len(times) // 2 if k is None else k
    return times[min(max(k, MIN_BASELINE), len(times) - 1)]


def _deviation(series: Series, times: list[int]) -> list[float]:
    """Per timestamp, the largest deviation (in scaled units, capped at 50) that any series held into
    its next point, each series scaled by its first third: a spike dates nothing."""
    index = {t: i for i, t in enumerate(times)}
    ref_len = max(len(times) // 3, MIN_BASELINE)
    refs = {k: [v for t, v in pts if index[t] < ref_len] for k, pts in series.items()}
    families = _families((name, ref) for (_, name), ref in refs.items() if len(ref) >= MIN_BASELINE)
    worst = [0.0] * len(times)
    for key, points in series.items():
        ref = refs[key]
        if len(ref) < MIN_BASELINE:
            continue
        center, spread = _scale(ref, families.get(key[1]))
        devs = [(index[t], min(abs(v - center) / spread, 50.0)) for t, v in points]
        for (i, dev), (_, following) in zip(devs, devs[1:] + devs[-1:]):
            worst[i] = max(worst[i], min(dev, following))
    return worst


# A service's own CPU, memory, disk I/O, open sockets and file descriptors, and restarts: what a
# resource fault moves (stress on a pod's CPU, memory or disk, a socket or descriptor leak multiplies
# its own series). Host- and node-wide series (shared by every pod on the machine) and traffic
# counters (they follow load) are left out.
RESOURCE_METRIC = re.compile(r"(^|[._-])(cpu|mem|memory|disk|diskio|blkio|fs|sockets?|fds?|file_descriptors?)"
                             r"([._-]|$)|restart", re.IGNORECASE)
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


def resource_shifts(rows: list[dict], onset_ns: int, services: set[str] | None = None,
                    pattern: re.Pattern[str] = RESOURCE_METRIC, least: float = 0.0) -> list[ResourceShift]:
    """Services whose own CPU, memory or restarts (or other series whose name `pattern` finds)
    rose to at least `least` and stayed up at the onset, strongest first.

    `rows` are `metric_points` from whatever the metrics hold before the onset, not only the
    traces' baseline: metrics are scraped for longer, and a resource fault seldom shows in a span."""
    series: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for r in rows:
        if pattern.search(r["name"]) and not SHARED_METRIC.search(r["name"]) \
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
        if (z >= RESOURCE_Z and a >= RESOURCE_RATIO * b and a >= least
                and (service not in best or z > best[service].z)):
            best[service] = ResourceShift(service, name, b, a, min(z, 1e6))
    return sorted(best.values(), key=lambda r: (-r.z, r.service))


# A consumer's own lag series (Kafka's records-lag-max, an exporter's kafka_consumergroup_lag, the
# Collector's kafka.consumer_group.lag): it falls behind where its lag rose and stayed up. A lag of
# a few messages or seconds comes and goes with any batch; LAG_LEAST is where it stops being that.
LAG_METRIC = re.compile(r"(^|[._-])lag([._-]|$)", re.IGNORECASE)
LAG_LEAST = 10.0


def lag_shifts(rows: list[dict], onset_ns: int, services: set[str] | None = None) -> list[ResourceShift]:
    """Consumers whose lag metric rose and stayed up at the onset, strongest first: where traces
    hold no before (or no queue spans), the metrics still say who fell behind."""
    return resource_shifts(rows, onset_ns, services, LAG_METRIC, LAG_LEAST)
