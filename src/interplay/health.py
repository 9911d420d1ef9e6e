"""Which services look anomalous now: the latest quarter of a window against its first half, judged by
the statistics the investigation uses (detect.proportion_z for error rates, detect.robust_z for latency).

    >>> explain({"kind": "errors", "before": 0.004, "after": 0.095, "z": 6.1})
    'errors 0.4% → 9.5% (two-proportion z 6.1)'
"""
from __future__ import annotations

from typing import Any

from .detect import median, proportion_z, robust_z
from .model import TimeRange
from .model_telemetry import Anomalies, Anomaly
from .store.base import Store
from .store.telemetry import service_buckets

Z = 3.0           # as significant as the investigation asks of a shift
MIN_REQUESTS = 20  # fewer requests in either part: too little to judge
MIN_RATIO = 1.5    # a latency shift must also be this large to matter


def anomalies(store: Store, window: TimeRange = TimeRange(), buckets: int = 24) -> Anomalies:
    """The services that shifted (by name, as the SQL returned them), and how they were judged."""
    data = service_buckets(store, window, buckets)
    n = data.get("buckets", 0)
    out: dict[str, Anomaly] = {}
    if n >= 8:
        per: dict[str, list[dict[str, Any]]] = {}
        for r in data["rows"]:
            per.setdefault(r["service"], []).append(r)
        for service, rows in per.items():
            found = _judge([r for r in rows if r["b"] < n // 2], [r for r in rows if r["b"] >= n - n // 4])
            if found:
                out[service] = Anomaly(found["kind"], found["before"], found["after"], found["z"], explain(found))
    return Anomalies(out, "the latest quarter of the window against its first half: error rate by "
                                       "a two-proportion z test, p95 latency by a robust z over the first half's "
                                       f"buckets; flagged at z ≥ {Z:g}")


def _judge(before: list[dict[str, Any]], recent: list[dict[str, Any]]) -> dict[str, Any] | None:
    nb, nr = sum(r["requests"] for r in before), sum(r["requests"] for r in recent)
    if nb < MIN_REQUESTS or nr < MIN_REQUESTS:
        return None
    eb, er = sum(r["errors"] for r in before), sum(r["errors"] for r in recent)
    z = proportion_z(eb, nb, er, nr)
    if z >= Z and er / nr >= 0.01:
        return {"kind": "errors", "before": round(eb / nb, 5), "after": round(er / nr, 5), "z": round(z, 1)}
    base = [r["p95_ms"] for r in before if r["requests"] >= 3]
    now = median([r["p95_ms"] for r in recent if r["requests"] >= 3] or [0.0])
    if len(base) >= 3 and now >= MIN_RATIO * median(base):
        z = robust_z(base, now)
        if z >= Z:
            return {"kind": "latency", "before": round(median(base), 3), "after": round(now, 3), "z": round(z, 1)}
    return None


def explain(found: dict[str, Any]) -> str:
    """One line a person reads on hover."""
    if found["kind"] == "errors":
        return f"errors {_pct(found['before'])} → {_pct(found['after'])} (two-proportion z {found['z']:.1f})"
    return f"p95 {_ms(found['before'])} → {_ms(found['after'])} (robust z {found['z']:.1f})"


def _pct(share: float) -> str:
    p = share * 100
    return "0%" if p == 0 else "<0.1%" if p < 0.1 else f"{p:.1f}%" if p < 10 else f"{p:.0f}%"


def _ms(value: float) -> str:
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"
