"""The investigation's reads of a window's evidence: over `window_spans`' scratch table of sampled
spans (column `w` names each span's window: 'baseline' | 'incident'): call paths per unit, the time
between spans on each edge, exception events and error logs, how complete the traces are; and the
metrics and changes around an onset.
"""
from __future__ import annotations

from typing import Any

from ..model import TimeRange
from .base import Store
from .predicates import window_where


def path_terminals(store: Store, spans_table: str) -> list[dict[str, Any]]:
    """Per service, window `w` and `terminal` (the callee a unit last called, '' for none): how many
    of its units ended there (`units`) and the remote `calls` those units made."""
    s = spans_table
    return store.query(f"""
        WITH units AS (SELECT DISTINCT trace_id, service, w FROM {s}
                       WHERE kind IN ('SERVER', 'CONSUMER') OR parent_span_id IS NULL),
        calls AS (SELECT p.trace_id AS trace_id, p.service AS service, p.w AS w, c.service AS callee,
                         p.start_ns AS start_ns
                  FROM {s} c JOIN {s} p ON c.trace_id = p.trace_id AND c.parent_span_id = p.span_id
                  WHERE c.service <> p.service),
        per AS (SELECT u.service AS service, u.w AS w, u.trace_id AS trace_id, count(c.callee) AS n,
                       coalesce(arg_max(c.callee, c.start_ns), '') AS terminal
                FROM units u LEFT JOIN calls c ON c.trace_id = u.trace_id AND c.service = u.service AND c.w = u.w
                GROUP BY u.service, u.w, u.trace_id)
        SELECT service, w, terminal, count(*) AS units, sum(n) AS calls FROM per GROUP BY ALL""")


def unit_calls(store: Store, spans_table: str, per_unit_cap: int) -> list[dict[str, Any]]:
    """Per service, up to `per_unit_cap` of its units (by hash): start `t` and remote calls `n`."""
    s = spans_table
    return store.query(f"""
        WITH units AS (SELECT trace_id, service, min(start_ns) AS t FROM {s}
                       WHERE kind IN ('SERVER', 'CONSUMER') OR parent_span_id IS NULL GROUP BY ALL),
        calls AS (SELECT p.trace_id AS trace_id, p.service AS service, count(*) AS n
                  FROM {s} c JOIN {s} p ON c.trace_id = p.trace_id AND c.parent_span_id = p.span_id
                  WHERE c.service <> p.service GROUP BY ALL),
        per AS (SELECT u.service AS service, u.t AS t, coalesce(c.n, 0) AS n,
                       row_number() OVER (PARTITION BY u.service ORDER BY hash(u.trace_id)) AS k
                FROM units u LEFT JOIN calls c ON c.trace_id = u.trace_id AND c.service = u.service)
        SELECT service, t, n FROM per WHERE k <= {int(per_unit_cap)}""")


def edge_gap_samples(store: Store, spans_table: str, per_window: int) -> list[dict[str, Any]]:
    """Per edge (caller, callee, how: 'gap' around a synchronous call | 'queue' before a message is
    consumed) and window `w`: up to `per_window` samples (by hash) of `gap_ns` at consumer/server start `t`."""
    s = spans_table
    return store.query(f"""
        WITH pairs AS (
            SELECT w, caller, callee, CASE WHEN queued THEN 'queue' ELSE 'gap' END AS how,
                   CASE WHEN queued THEN c_start - p_end ELSE p_dur - c_dur END AS gap_ns, sid, c_start AS t
            FROM (SELECT p.w AS w, p.service AS caller, c.service AS callee, c.span_id AS sid,
                         c.start_ns AS c_start, p.start_ns + p.duration_ns AS p_end,
                         p.duration_ns AS p_dur, c.duration_ns AS c_dur,
                         -- a message: by kind, or (where kinds were lost) a child that starts after
                         -- its parent ended
                         p.kind = 'PRODUCER' OR c.kind = 'CONSUMER' OR c.start_ns >= p.start_ns + p.duration_ns
                             AS queued
                  FROM {s} c JOIN {s} p ON c.trace_id = p.trace_id AND c.parent_span_id = p.span_id
                  WHERE c.service <> p.service AND p.w = c.w
                    AND (p.kind IN ('CLIENT', 'PRODUCER') OR c.kind = 'CONSUMER')) x),
        lk AS (  -- a consumer in a trace of its own names its message's producer by a link
            SELECT w, service, span_id, start_ns, json_extract_string(links, '$[0].span_id') AS link_span,
                   json_extract_string(links, '$[0].trace_id') AS link_trace
            FROM {s} WHERE links <> ''),
        linked AS (
            SELECT c.w AS w, p.service AS caller, c.service AS callee, 'queue' AS how,
                   c.start_ns - (p.start_ns + p.duration_ns) AS gap_ns, c.span_id AS sid, c.start_ns AS t
            FROM lk c
            JOIN (SELECT trace_id, span_id, service, start_ns, duration_ns FROM spans
                  WHERE trace_id IN (SELECT link_trace FROM lk)) p
              ON p.trace_id = c.link_trace AND p.span_id = c.link_span
            WHERE p.service <> c.service),
        picked AS (SELECT *, row_number() OVER (PARTITION BY w, caller, callee, how ORDER BY hash(sid)) AS k
                   FROM (SELECT * FROM pairs UNION ALL SELECT * FROM linked) x)
        SELECT w, caller, callee, how, gap_ns, t FROM picked WHERE k <= {int(per_window)}""")


def error_marks(store: Store, spans_table: str, min_severity: int) -> list[dict[str, Any]]:
    """Per service and window `w`, of its spans without error status: `n`, and `k` with an exception
    event or a log of `min_severity` or more."""
    s = spans_table
    return store.query(f"""
        WITH el AS (SELECT DISTINCT trace_id, span_id FROM logs
                    WHERE severity_number >= {int(min_severity)} AND span_id IS NOT NULL AND span_id <> ''
                      AND trace_id IN (SELECT trace_id FROM {s}))
        SELECT x.service AS service, x.w AS w, count(*) AS n,
               count(*) FILTER (WHERE x.exc OR el.span_id IS NOT NULL) AS k
        FROM {s} x LEFT JOIN el ON el.trace_id = x.trace_id AND el.span_id = x.span_id
        WHERE NOT x.err
        GROUP BY ALL""")


def trace_completeness(store: Store, spans_table: str) -> dict[str, Any]:
    """Of the traces in the table: how many (`traces`), how many `complete` (one root, no orphan), `spans`."""
    s = spans_table
    return store.query(f"""
        WITH orphan AS (SELECT DISTINCT c.trace_id FROM {s} c ANTI JOIN {s} p
                        ON p.trace_id = c.trace_id AND p.span_id = c.parent_span_id
                        WHERE c.parent_span_id IS NOT NULL),
        roots AS (SELECT trace_id, count(*) FILTER (WHERE parent_span_id IS NULL) AS r FROM {s} GROUP BY trace_id)
        SELECT count(*) AS traces,
               count(*) FILTER (WHERE r = 1 AND trace_id NOT IN (SELECT trace_id FROM orphan)) AS complete,
               (SELECT count(*) FROM {s}) AS spans FROM roots""")[0]


def signal_counts(store: Store, window: TimeRange) -> dict[str, Any]:
    """Log records, metric points and changes in the window."""
    counts = {}
    for table in ("logs", "metrics", "changes"):
        c, p = window_where(window, "time_ns")
        counts[table] = store.query(f"SELECT count(*) AS n FROM {table} WHERE {c}", p)[0]["n"]
    return counts


def metric_values(store: Store, baseline: TimeRange, incident: TimeRange) -> list[dict[str, Any]]:
    """Per service metric: its values (averaged per time) in time order, `b` in the baseline, `i` in the incident."""
    bc, bp = window_where(baseline, "time_ns")
    ic, ip = window_where(incident, "time_ns")
    return store.query(f"""
        WITH m AS (SELECT service, name, CASE WHEN {bc} THEN 'b' ELSE 'i' END AS w, time_ns,
                          avg(value) AS v
                   FROM metrics WHERE (({bc}) OR ({ic})) AND value IS NOT NULL AND isfinite(value)
                   GROUP BY ALL)
        SELECT service, name, list(v ORDER BY time_ns) FILTER (WHERE w = 'b') AS b,
               list(v ORDER BY time_ns) FILTER (WHERE w = 'i') AS i
        FROM m GROUP BY ALL""", bp + bp + ip)


def metric_points(store: Store, window: TimeRange) -> list[dict[str, Any]]:
    """Every finite metric point in the window averaged per (service, name, time_ns) as `v`, in time order."""
    cond, params = window_where(window, "time_ns")
    return store.query(f"""
        SELECT service, name, time_ns, avg(value) AS v FROM metrics
        WHERE {cond} AND value IS NOT NULL AND isfinite(value) GROUP BY ALL ORDER BY time_ns""", params)


def changes_between(store: Store, lo: int, hi: int) -> list[dict[str, Any]]:
    """Change events in [lo, hi), earliest first."""
    return store.query("SELECT time_ns, service, kind, description, version FROM changes "
                       "WHERE time_ns >= ? AND time_ns < ? ORDER BY time_ns", [lo, hi])


def versions_first_seen(store: Store, lo: int, hi: int, not_before: int) -> list[dict[str, Any]]:
    """Each (service, service_version) whose first span in [lo, hi) starts at `not_before` or later: `first_ns`."""
    return store.query("""
            SELECT * FROM (SELECT service, service_version, min(start_ns) AS first_ns FROM spans
                           WHERE start_ns >= ? AND start_ns < ? AND service_version <> '' GROUP BY ALL) v
            WHERE first_ns >= ?""", [lo, hi, not_before])
