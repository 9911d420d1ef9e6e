"""Symptom and onset: which entry points went wrong, and when; baseline and incident windows."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from scipy.stats import fisher_exact

from ..detect import change_point, proportion_z, robust_z, slower_z
from ..model import InvalidInput, NotFound, TimeRange
from ..store import entry_points
from ..store.base import Store
from ..store.entry_points import Scope

# A unit of work: where a request enters a service (SERVER, CONSUMER, or a root such as a cron job).
UNIT: Scope = "units"
# Where work enters the system as a whole, when no symptom is given: roots and queue consumers.
SYSTEM_ENTRY: Scope = "system"
LATENCY_FLOOR_NS = 2_000_000
DURATIONS_PER_WINDOW = 400  # request durations per entry point and window for the rank tests
FIRST_RISE_Z = 3.0  # a rise in errors before the clearest one this sure dates the onset instead
ERRORS_FULL = 20  # requests after the onset for an error rate's shift to count fully
PEER_TAIL = 0.5  # the strength of a peer contrast that is only the slowest tenth against the rest
# With no baseline, entry points that fail this much more often than the others together, and at
# least this share of their requests, are where the fault shows: the others' slow and failing tenth
# is the background any system has (a database that pauses now and then, a flaky page).
PEER_FAIL_RATIO = 3.0
PEER_FAIL_SHARE = 0.2
FAIL_ALPHA = 0.01


@dataclass(frozen=True, slots=True)
class Group:
    service: str
    operation: str | None = None

    def label(self) -> str:
        return self.service + (f":{self.operation}" if self.operation else "")


def parse_symptom(text: str | None) -> Group | None:
    """'frontend' or 'frontend:GET /checkout' → Group; None or '' → None (find it)."""
    if not text:
        return None
    service, _, operation = str(text).partition(":")
    if not service.strip():
        raise InvalidInput(f"symptom {text!r}: expected SERVICE or SERVICE:OPERATION")
    return Group(service.strip(), operation.strip() or None)


def data_range(store: Store, window: TimeRange) -> tuple[int, int] | None:
    """The span of time the data really covers inside the window.

    A stray span hours away (clock skew, a replayed test span) or a window reaching past the data
    would otherwise stretch the baseline over empty time and dilute every rate in it, so the
    range is clamped to where the data is: the 0.1% and 99.9% quantiles of span start times.
    """
    row = entry_points.data_extent(store, window)
    if row["lo"] is None:
        return None
    first, last = int(row["lo"]), int(row["hi"]) + 1
    dense_lo, dense_hi = int(row["a"]), int(row["b"]) + 1
    slack = max(dense_hi - dense_lo, 1) // 20  # gaps smaller than 5% of the range are just data
    lo = first if dense_lo - first <= slack else dense_lo
    hi = last if last - dense_hi <= slack else dense_hi
    # A bound the caller gave stands unless it reaches well past the data.
    if window.since_ns is not None and lo - window.since_ns <= slack:
        lo = window.since_ns
    if window.until_ns is not None and window.until_ns - hi <= slack:
        hi = window.until_ns
    return (lo, hi) if hi > lo else (first, last)


def _pairs(groups: list[Group] | None) -> list[tuple[str, str | None]] | None:
    return [(g.service, g.operation) for g in groups] if groups else None


def find_onset(store: Store, lo: int, hi: int, groups: list[Group] | None,
               scope: Scope = SYSTEM_ENTRY, pooled: bool = False) -> tuple[int, Group | None, float]:
    """(onset ns, the entry group whose shift is strongest, strength) over bucketed error rate and p90."""
    buckets = max(12, min(120, int((hi - lo) / 15e9)))
    width = max((hi - lo) // buckets, 1)
    rows = entry_points.onset_buckets(store, lo, hi, width, buckets, _pairs(groups), scope, pooled)
    series: dict[tuple[str, str], dict[int, dict[str, Any]]] = {}
    for r in rows:
        series.setdefault((r["service"], r["operation"]), {})[int(r["b"])] = r
    if not series:
        raise NotFound("no requests found for the symptom in that time range")
    best: tuple[int, Group | None, float] = (lo + (hi - lo) // 2, None, 0.0)
    for (service, operation), by_bucket in series.items():
        split, strength = _strongest_shift(by_bucket, buckets)
        if split is not None and strength > best[2]:
            best = (lo + split * width, Group(service, operation or None), strength)
    return best


def _strongest_shift(by_bucket: dict[int, dict[str, Any]], buckets: int) -> tuple[int | None, float]:
    present = sorted(by_bucket)
    if len(present) < 6:
        return None, 0.0
    n = [by_bucket[b]["n"] for b in present]
    lat = [math.log((by_bucket[b]["p90"] or 0.0) + LATENCY_FLOOR_NS) for b in present]
    best: tuple[int | None, float] = (None, 0.0)
    errors = [by_bucket[b]["e"] for b in present]
    split = _error_split(n, errors)
    if split is not None:
        k, z = split
        # A rate that rose in steps (a fault that got worse) splits best between the steps: the
        # onset is the first clear rise, so look again before the split found.
        while z > 0:
            earlier = _error_split(n[:k], errors[:k])
            if earlier is None or earlier[1] < FIRST_RISE_Z:
                break
            k = earlier[0]
        best = (present[k], z)
    shift = change_point(lat, [math.sqrt(c) for c in n])
    if shift is not None:
        after = sorted(lat[shift:])[len(lat[shift:]) // 2]
        # bucket p90s are noisy; demand more than for error rates. A drop counts too: requests
        # that suddenly end early (a code fault cutting the call path short) date an onset as well.
        z = abs(robust_z(lat[:shift], after, floor=0.1)) / 2
        if z > best[1]:
            best = (present[shift], z)
    return best


def _error_split(n: list[int], errors: list[int], min_segment: int = 2) -> tuple[int, float] | None:
    """(first bucket after, z) of the split where the error rate shifts most clearly, up or down
    (a fall dates no onset, and then no rise beside it is clear either).

    Weighed as `anomalous_groups` will score it: a shift with a handful of requests after it counts
    for less. On light traffic a few chance failures near the end are otherwise the clearest-looking
    split, and a fault running for minutes is dated at its last burst."""
    total_n, total_e = sum(n), sum(errors)
    best: tuple[int, float, float] | None = None
    seen_n = seen_e = 0
    for k in range(1, len(n)):
        seen_n += n[k - 1]
        seen_e += errors[k - 1]
        if k < min_segment or len(n) - k < min_segment:
            continue
        after = total_n - seen_n
        z = proportion_z(seen_e, seen_n, total_e - seen_e, after)
        weighed = abs(z) * min(1.0, after / ERRORS_FULL)
        if best is None or weighed >= best[2]:  # ties to the later split: dated when it happened
            best = (k, z, weighed)
    return best[:2] if best else None


def anomalous_groups(store: Store, baseline: TimeRange, incident: TimeRange,
                     groups: list[Group] | None, scope: Scope = SYSTEM_ENTRY) -> list[dict[str, Any]]:
    """Entry groups with their baseline/incident error rate and p90, and how strongly each shifted."""
    rows = entry_points.entry_stats(store, baseline, incident, _pairs(groups), scope)
    by: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        by.setdefault((r["service"], r["operation"]), {})[r["w"]] = r
    # Inside (every service's own requests), a service that few requests reach has a handful of them
    # in a short window: there, requests all slower than before count as surely as a rank test says.
    durations: dict[tuple[str, str], dict[str, list[float]]] = {}
    sampled = entry_points.entry_durations(store, baseline, incident, _pairs(groups), scope, DURATIONS_PER_WINDOW) \
        if scope == UNIT else []
    for r in sampled:
        durations.setdefault((r["service"], r["operation"]), {}).setdefault(r["w"], []).append(float(r["duration_ns"]))
    out = []
    for (service, operation), w in by.items():
        b, i = w.get("baseline"), w.get("incident")
        if not b or not i or i["n"] < 3:
            continue
        ez = proportion_z(b["e"], b["n"], i["e"], i["n"])
        # a floor of LATENCY_FLOOR_NS: a sub-millisecond operation doubling is noise to its users
        lat = math.log((i["p90"] + LATENCY_FLOOR_NS) / (b["p90"] + LATENCY_FLOOR_NS))
        # a p90 of a few dozen requests moves with two slow ones: latency needs more requests to
        # count fully than an error rate, whose z already weighs how many there were ...
        lat_score = lat / math.log(1.5) * min(1.0, i["n"] / 50)
        d = durations.get((service, operation))
        if d and lat > 0:  # ... unless they are surely slower (z / 4: an error rate's scale)
            sure = slower_z(d.get("incident", []), d.get("baseline", []), float(b["p90"])) / 4
            lat_score = max(lat_score, min(lat / math.log(1.5), sure))
        score = max(ez / 4 * min(1.0, i["n"] / ERRORS_FULL), lat_score)
        out.append({"service": service, "operation": operation, "score": score,
                    "baseline": _stats(b), "incident": _stats(i), "threshold_ns": b["p99"], "p90_ns": b["p90"]})
    out.sort(key=lambda g: -g["score"])
    return out


def peer_groups(store: Store, window: TimeRange, groups: list[Group] | None,
                scope: Scope = SYSTEM_ENTRY, limit: int = 12) -> list[dict[str, Any]]:
    """With no baseline, the symptom's entry groups over the whole window, each split into its
    failing and slowest-tenth requests ("incident") and the rest of its own requests ("baseline").

    When the fault runs from the first second of the data there is no before to compare with;
    what the slow and failing requests do differently from their peers in the same window is the
    evidence left. The score is nominal: peers show a contrast, not a shift in time; and where no
    request fails or lies far out, only the slowest tenth against the rest, which differs in some
    service in any data: then it is half as strong (PEER_TAIL)."""
    rows = entry_points.peer_stats(store, window, _pairs(groups), scope)
    by: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        by.setdefault((r["service"], r["operation"]), {"total": r["total"], "cut": r["cut"],
                                                       "sharp": bool(r["sharp"])})[r["w"]] = r
    out = []
    for (service, operation), w in sorted(by.items(), key=lambda kv: (-kv[1]["total"], kv[0])):
        b, i = w.get("baseline"), w.get("incident")
        if not b or not i:
            continue
        out.append({"service": service, "operation": operation, "score": 1.0 if w["sharp"] else PEER_TAIL,
                    "peer": True,
                    "baseline": _stats(b), "incident": _stats(i), "threshold_ns": w["cut"], "p90_ns": w["cut"]})
    return (_failing_far_more(out) or out)[:limit]


def _failing_far_more(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The peer groups whose requests fail far more often than the other groups' together
    (PEER_FAIL_RATIO, PEER_FAIL_SHARE, and surely: a one-sided Fisher test)."""
    def counts(g: dict[str, Any]) -> tuple[int, int]:
        return g["incident"]["errors"], g["incident"]["requests"] + g["baseline"]["requests"]

    errors, total = (sum(x) for x in zip(*(counts(g) for g in groups))) if groups else (0, 0)
    out = []
    for g in groups:
        e, n = counts(g)
        e_o, n_o = errors - e, total - n
        if not n_o or e < PEER_FAIL_SHARE * n or e / n < PEER_FAIL_RATIO * e_o / n_o:
            continue
        if fisher_exact([[e, n - e], [e_o, n_o - e_o]], alternative="greater").pvalue < FAIL_ALPHA:
            out.append({**g, "fails_far_more": True})
    return out


def _stats(r: dict[str, Any]) -> dict[str, Any]:
    return {"requests": r["n"], "errors": r["e"], "error_rate": round(r["e"] / r["n"], 5),
            "p50_ms": round(r["p50"] / 1e6, 3), "p90_ms": round(r["p90"] / 1e6, 3)}
