"""Request rates from metrics: a surge of calls where the traces hold no before.

With no trace baseline (the data begins with the fault running) the traces cannot tell that a
service is called far more than it was; its request metrics, scraped for longer, can. A service
whose served requests per second rose several-fold at the onset is swamped by load, and the caller
that sends most of its calls now is where that load comes from (a loop, a runaway job, an agent).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..detect import median, robust_z
from ..model import TimeRange
from ..store import evidence
from ..store.base import Store

SURGE_RATIO = 1.5   # requests per second after / before: a busier hour moves it by a fraction
SURGE_Z = 5.0       # and this far beyond the before's own spread (robust z)
MIN_POINTS = 3      # points before the onset: fewer say nothing of the usual rate


@dataclass(frozen=True)
class RateSurge:
    service: str
    metric: str
    before: float  # median requests per second (or the gauge's unit) before the onset
    after: float
    z: float

    @property
    def extra_share(self) -> float:
        """The share of the calls now that the surge added."""
        return 1.0 - self.before / self.after if self.after > 0 else 0.0


def rate_surges(store: Store, baseline: TimeRange, incident: TimeRange) -> dict[str, RateSurge]:
    """Per service: its served-request rate (from metrics) if it surged at `incident`'s start."""
    if incident.since_ns is None:
        return {}
    onset = incident.since_ns
    series = _rates(evidence.served_points(store, TimeRange(baseline.since_ns, incident.until_ns)))
    out: dict[str, RateSurge] = {}
    for (service, name), points in series.items():
        before = [r for start, t, r in points if t <= onset]
        after = [r for start, t, r in points if start >= onset]
        if len(before) < MIN_POINTS or not after:
            continue
        b, a = median(before), median(after)
        z = robust_z(before, a, floor=max(0.1 * b, 1e-9))
        if a >= SURGE_RATIO * max(b, 1e-9) and z >= SURGE_Z and (service not in out or z > out[service].z):
            out[service] = RateSurge(service, name, b, a, min(z, 1e6))
    return out


def _rates(rows: list[dict]) -> dict[tuple[str, str], list[tuple[int, int, float]]]:
    """(service, metric) -> [(interval start, end, rate)] in time order: a delta histogram's counts
    per interval, a cumulative one's differences, a gauge's values; a service's attribute sets summed."""
    per_time: dict[tuple[str, str], dict[tuple[int, int], float]] = {}
    last: dict[tuple, tuple[int, int, float]] = {}  # cumulative series -> (start, time, count)
    for r in rows:
        key = (r["service"], r["name"])
        t = int(r["time_ns"])
        if r["type"] == "gauge":
            if r["value"] is not None:
                per_time.setdefault(key, {})[(t, t)] = per_time.get(key, {}).get((t, t), 0.0) + float(r["value"])
            continue
        if r["type"] != "histogram" or r["count"] is None:
            continue
        count, start = float(r["count"]), int(r["start_ns"] or 0)
        if r["temporality"] == "cumulative":
            series = (key, str(r["attributes"]), start)
            prev = last.get(series)
            last[series] = (start, t, count)
            if prev is None or count < prev[2] or t <= prev[1]:
                continue  # the first point, or a reset
            start, count = prev[1], count - prev[2]
        if t <= start:
            continue
        slot = per_time.setdefault(key, {})
        slot[(start, t)] = slot.get((start, t), 0.0) + count / ((t - start) / 1e9)
    return {key: sorted((start, t, v) for (start, t), v in slots.items()) for key, slots in per_time.items()}
