"""Log templates: log bodies with their variable parts masked, counted per window in SQL.

Masking (numbers, hex ids, UUIDs, quoted strings) runs in the database, so millions of log lines
reduce to a few hundred (service, template) rows; drain3, when installed, then merges templates
that differ in a token the masks missed.

    >>> mask("waited 412 ms for connection 0x7f3a")
    'waited <*> ms for connection <*>'
"""
from __future__ import annotations

from typing import Any

from .model import TimeRange
from .store.base import Store
from .store.log_templates import mask, template_counts

__all__ = ["mask", "template_shifts"]

def template_shifts(store: Store, baseline: TimeRange, incident: TimeRange,
                    min_count: int = 3) -> list[dict[str, Any]]:
    """Templates per service that are new in the incident or surged, with counts and rates per window."""
    rows = template_counts(store, baseline, incident)
    rows = _merge_with_drain(rows)
    b_s = _seconds(baseline)
    i_s = _seconds(incident)
    out = []
    for r in rows:
        if r["after"] < min_count:
            continue
        rate_b, rate_i = r["before"] / b_s, r["after"] / i_s
        if r["before"] == 0 or rate_i > 3 * rate_b:
            out.append({**r, "new": r["before"] == 0, "rate_before": rate_b, "rate_after": rate_i,
                        "surge": rate_i / rate_b if rate_b else None})
    out.sort(key=lambda r: (-(r["severity"] or 0), -r["after"]))
    return out


def _seconds(w: TimeRange) -> float:
    if w.since_ns is None or w.until_ns is None:
        return 1.0
    return max((w.until_ns - w.since_ns) / 1e9, 1.0)


def _merge_with_drain(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Cluster the masked templates of each service with drain3 (if installed); sum their counts."""
    try:
        from drain3 import TemplateMiner
        from drain3.template_miner_config import TemplateMinerConfig
    except ImportError:
        return rows
    merged: dict[tuple[str, int], dict[str, Any]] = {}
    miners: dict[str, Any] = {}
    for r in sorted(rows, key=lambda r: -(r["before"] + r["after"])):
        miner = miners.get(r["service"])
        if miner is None:
            config = TemplateMinerConfig()
            config.profiling_enabled = False
            miner = miners[r["service"]] = TemplateMiner(config=config)
        cluster = miner.add_log_message(r["template"] or "")
        key = (r["service"], cluster["cluster_id"])
        m = merged.setdefault(key, {**r, "before": 0, "after": 0})
        m["before"] += r["before"]
        m["after"] += r["after"]
        m["template"] = cluster["template_mined"]
        m["severity"] = max(m["severity"] or 0, r["severity"] or 0)
    return list(merged.values())
