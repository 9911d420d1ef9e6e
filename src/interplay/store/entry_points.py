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
    """Per entry point and window `w` ('baseline' | 'incident'): requests `n`, errors `e`, `p50`, `p90`, `p99` ns."""
    bc, bp = window_where(baseline)
    ic, ip = window_where(incident)
    cond, gparams = _entry_condition(groups, scope)
    sql = store.sql
    return store.query(f"""
        SELECT service, operation, CASE WHEN {bc} THEN 'baseline' ELSE 'incident' END AS w, count(*) AS n,
               count(*) FILTER (WHERE status_code = 'ERROR') AS e,
               {sql.quantile('duration_ns', 0.5)} AS p50, {sql.quantile('duration_ns', 0.9)} AS p90,
               {sql.quantile('duration_ns', 0.99)} AS p99
        FROM spans WHERE (({bc}) OR ({ic})) AND {cond} GROUP BY ALL""", bp + bp + ip + gparams)


def entry_durations(store: Store, baseline: TimeRange, incident: TimeRange, groups: Groups | None,
                    scope: Scope = "system", per_window: int = 400) -> list[dict[str, Any]]:
    """Per entry point and window `w` ('baseline' | 'incident'): up to `per_window` request durations
    `duration_ns`, picked by hash of the span id (the same requests on every run)."""
    bc, bp = window_where(baseline)
    ic, ip = window_where(incident)
    cond, gparams = _entry_condition(groups, scope)
    sql = store.sql
    return store.query(f"""
        WITH r AS (SELECT service, operation, CASE WHEN {bc} THEN 'baseline' ELSE 'incident' END AS w,
                          duration_ns, span_id
                   FROM spans WHERE (({bc}) OR ({ic})) AND {cond}),
        picked AS (SELECT service, operation, w, duration_ns,
                          row_number() OVER (PARTITION BY service, operation, w ORDER BY {sql.hash('span_id')}) AS k
                   FROM r)
        SELECT service, operation, w, duration_ns FROM picked WHERE k <= {int(per_window)}""",
                       bp + bp + ip + gparams)


def peer_stats(store: Store, window: TimeRange, groups: Groups | None,
               scope: Scope = "system") -> list[dict[str, Any]]:
    """Per entry point with 10+ requests: its `total`, its `cut`, whether it has failing or
    outlying requests (`sharp`), and per side `w` its stats as `entry_stats` gives them: 'incident'
    the failing or slower-than-cut requests, 'baseline' the rest.

    The cut is the far-out fence (Q3 + 3 IQR) where some request fails or lies past it: those are
    what stands out from the peers. Else it is the p90: the slowest tenth, which differs from the
    rest by construction, and says so by `sharp` false."""
    c, p = window_where(window)
    cond, gparams = _entry_condition(groups, scope)
    sql = store.sql
    return store.query(f"""
        WITH r AS (SELECT service, operation, duration_ns, status_code = 'ERROR' AS err
                   FROM spans WHERE {c} AND {cond}),
        f AS (SELECT service, operation, count(*) AS total, count(*) FILTER (WHERE err) AS errs,
                     {sql.quantile('duration_ns', 0.9)} AS p90,
                     {sql.quantile('duration_ns', 0.75)} + 3 * ({sql.quantile('duration_ns', 0.75)}
                                                             - {sql.quantile('duration_ns', 0.25)}) AS fence
              FROM r GROUP BY ALL HAVING count(*) >= 10),
        o AS (SELECT f.service AS service, f.operation AS operation, f.total AS total, f.p90 AS p90,
                     f.fence AS fence,
                     CASE WHEN f.errs > 0 OR count(r.duration_ns) > 0 THEN 1 ELSE 0 END AS sharp
              FROM f LEFT JOIN r ON r.service = f.service AND r.operation = f.operation
                                AND r.duration_ns > f.fence
              GROUP BY f.service, f.operation, f.total, f.p90, f.fence, f.errs),
        q AS (SELECT service, operation, total, sharp,
                     CASE WHEN sharp = 1 THEN greatest(p90, fence) ELSE p90 END AS cut FROM o)
        SELECT r.service AS service, r.operation AS operation, q.total AS total, q.cut AS cut, q.sharp AS sharp,
               CASE WHEN r.err OR r.duration_ns > q.cut THEN 'incident' ELSE 'baseline' END AS w, count(*) AS n,
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
