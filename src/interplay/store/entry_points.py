"""Where requests enter, as the investigation asks about them: the data's extent, the entry points'
error rate and latency per time bucket and per window, and each one's slow tenth against its peers.

Entry points are named by (service, operation) pairs, an operation of None meaning all of the
service's; with none given, `scope` says which spans count: "system" (where work enters the system
as a whole: roots and queue consumers) or "units" (where work enters any service).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from ..model import TimeRange
from .base import Store
from .predicates import ENTRY, SYSTEM_ENTRY, window_where

Scope = Literal["system", "units"]
Groups = Sequence[tuple[str, str | None]]
_SCOPES = {"system": SYSTEM_ENTRY, "units": ENTRY}


def data_extent(store: Store, window: TimeRange) -> dict[str, Any]:
    """Span start times in the window: min `lo`, max `hi`, and the 0.1% and 99.9% quantiles `a`, `b`."""
    cond, params = window_where(window)
    sql = store.sql
    return store.query(f"""SELECT {sql.quantile('start_ns', 0.001)} AS a, {sql.quantile('start_ns', 0.999)} AS b,
                                  min(start_ns) AS lo, max(start_ns) AS hi
                           FROM spans WHERE {cond}""", params)[0]


def onset_buckets(store: Store, lo: int, hi: int, width: int, buckets: int, groups: Groups | None,
                  scope: Scope = "system", pooled: bool = False) -> list[dict[str, Any]]:
    """Per entry point (or all pooled: '') and bucket `b` (`width` ns each, the last open-ended) from lo
    to hi: requests `n`, errors `e`, `p90` ns."""
    cond, params = _entry_condition(groups, scope)
    by_operation = not pooled and (not groups or any(op for _, op in groups))
    sql = store.sql
    return store.query(f"""
        SELECT {"''" if pooled else 'service'} AS service, {'operation' if by_operation else "''"} AS operation,
               least({sql.idiv('(start_ns - ?)', '?')}, {int(buckets) - 1}) AS b, count(*) AS n,
               count(*) FILTER (WHERE status_code = 'ERROR') AS e,
               {sql.quantile('duration_ns', 0.9)} AS p90
        FROM spans WHERE start_ns >= ? AND start_ns < ? AND {cond}
        GROUP BY ALL""", [lo, width, lo, hi] + params)


def entry_stats(store: Store, baseline: TimeRange, incident: TimeRange, groups: Groups | None,
                scope: Scope = "system") -> list[dict[str, Any]]:
    """Per entry point and window `w` ('b' | 'i'): requests `n`, errors `e`, `p50`, `p90`, `p99` ns."""
    bc, bp = window_where(baseline)
    ic, ip = window_where(incident)
    cond, gparams = _entry_condition(groups, scope)
    sql = store.sql
    return store.query(f"""
        SELECT service, operation, CASE WHEN {bc} THEN 'b' ELSE 'i' END AS w, count(*) AS n,
               count(*) FILTER (WHERE status_code = 'ERROR') AS e,
               {sql.quantile('duration_ns', 0.5)} AS p50, {sql.quantile('duration_ns', 0.9)} AS p90,
               {sql.quantile('duration_ns', 0.99)} AS p99
        FROM spans WHERE (({bc}) OR ({ic})) AND {cond} GROUP BY ALL""", bp + bp + ip + gparams)


def peer_stats(store: Store, window: TimeRange, groups: Groups | None,
               scope: Scope = "system") -> list[dict[str, Any]]:
    """Per entry point with 10+ requests: its `total` and p90 `cut`, and per side `w` its stats as
    `entry_stats` gives them: 'i' the failing or slower-than-cut requests, 'b' the rest."""
    c, p = window_where(window)
    cond, gparams = _entry_condition(groups, scope)
    sql = store.sql
    return store.query(f"""
        WITH r AS (SELECT service, operation, duration_ns, status_code = 'ERROR' AS err
                   FROM spans WHERE {c} AND {cond}),
        q AS (SELECT service, operation, count(*) AS total, {sql.quantile('duration_ns', 0.9)} AS cut
              FROM r GROUP BY ALL HAVING count(*) >= 10)
        SELECT r.service AS service, r.operation AS operation, q.total AS total, q.cut AS cut,
               CASE WHEN r.err OR r.duration_ns > q.cut THEN 'i' ELSE 'b' END AS w, count(*) AS n,
               count(*) FILTER (WHERE r.err) AS e, {sql.quantile('r.duration_ns', 0.5)} AS p50,
               {sql.quantile('r.duration_ns', 0.9)} AS p90, {sql.quantile('r.duration_ns', 0.99)} AS p99
        FROM r JOIN q ON r.service = q.service AND r.operation = q.operation
        GROUP BY ALL""", p + gparams)


def has_requests(store: Store, lo: int, hi: int, service: str, operation: str | None) -> bool:
    """Whether the entry point has a request starting in [lo, hi)."""
    cond, params = _entry_condition([(service, operation)], "units")
    return bool(store.query(f"SELECT 1 AS x FROM spans WHERE start_ns >= ? AND start_ns < ? AND {cond} LIMIT 1",
                            [lo, hi] + params))


def _entry_condition(groups: Groups | None, scope: Scope) -> tuple[str, list[Any]]:
    """Where the requests of these entry points enter (their units), or the scope's spans when none is given."""
    if not groups:
        return _SCOPES[scope], []
    parts, params = [], []
    for service, operation in groups:
        if operation:
            parts.append("(service = ? AND operation = ?)")
            params += [service, operation]
        else:
            parts.append("(service = ?)")
            params.append(service)
    return "(" + " OR ".join(parts) + f") AND {ENTRY}", params
