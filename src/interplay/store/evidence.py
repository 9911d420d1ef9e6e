"""The investigation's reads of a window's evidence: over `window_spans`' scratch table of sampled
spans (column `w` names each span's window: 'baseline' | 'incident'): call paths per unit, the time
between spans on each edge, exception events and error logs, how complete the traces are; and the
metrics and changes around an onset.
"""
from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from ..model import TimeRange
from .base import EngineSQL, Store, scratch_table
from .predicates import ANSWER, window_where

PATH_SELF = ""      # the terminal of a unit whose last step was its own (or that made none)
PATH_FAILED = "!"   # marks a terminal whose step failed


# A child that is a message rather than a call: by kind, or (where kinds were lost) one that starts
# after its parent ended and is no answer (c: the child, p: the parent).
_QUEUED = (f"(p.kind = 'PRODUCER' OR c.kind = 'CONSUMER' OR (c.start_ns >= p.start_ns + p.duration_ns "
           f"AND NOT {ANSWER}))")
# A step of a service's own that writes: a statement or command that changes data, by the first word
# of its span name (the semantic conventions name a database span by its operation), or a message sent.
_WRITE = (r"(?i)^\s*(INSERT|UPDATE|DELETE|UPSERT|MERGE|REPLACE|SET|SETEX|MSET|HSET|HMSET|HDEL|DEL|"
          r"LPUSH|RPUSH|SADD|SREM|ZADD|ZREM|XADD|INCR|INCRBY|DECR|PUT|PUBLISH|SEND)\b")


def _unit_steps(sql: EngineSQL, s: str) -> str:
    """CTEs `units` (each entry span: trace_id, unit_id, service, op, w, t) and `per` (each unit's
    step count `n` and `terminal`, its last step's callee).

    A step is a call into another service, or a leaf span of the service's own (a database query,
    a cache read, a call to something uninstrumented). It belongs to the entry span of its service,
    in its trace, that started last before it and had not ended (an ASOF join): a service that
    serves a request and later consumes a message in the same trace has two units. Sending a
    message is one step of the sender's own, however many consume it: a consumer that falls behind
    does not cut the sender's path short. A step that failed (status or exception event) prefixes
    its callee with PATH_FAILED."""
    return f"""
        units AS (SELECT trace_id, span_id AS unit_id, service, operation AS op, w, start_ns AS t,
                         start_ns + duration_ns AS t_end
                  FROM {s} WHERE kind IN ('SERVER', 'CONSUMER') OR parent_span_id IS NULL),
        steps AS (SELECT DISTINCT CASE WHEN q THEN p_id ELSE c_id END AS step_id, trace_id, service,
                         CASE WHEN q THEN '{PATH_SELF}' ELSE callee END AS callee,
                         CASE WHEN q THEN '' ELSE callee_op END AS callee_op, start_ns,
                         CASE WHEN q THEN p_bad ELSE p_bad OR c_bad END AS bad, q AS wr
                  FROM (SELECT c.span_id AS c_id, p.span_id AS p_id, p.trace_id AS trace_id, p.service AS service,
                               c.service AS callee, c.operation AS callee_op, p.start_ns AS start_ns,
                               (p.err OR p.exc) AS p_bad,
                               (c.err OR c.exc) AS c_bad,
                               {_QUEUED} AS q
                        FROM {s} c JOIN {s} p ON c.trace_id = p.trace_id AND c.parent_span_id = p.span_id
                        WHERE c.service <> p.service) x
                  UNION ALL
                  SELECT x.span_id AS step_id, x.trace_id AS trace_id, x.service AS service,
                         '{PATH_SELF}' AS callee, '' AS callee_op, x.start_ns AS start_ns, (x.err OR x.exc) AS bad,
                         (x.kind = 'PRODUCER' OR {sql.regexp_matches('x.operation', _WRITE)}) AS wr
                  FROM {s} x ANTI JOIN (SELECT DISTINCT trace_id, parent_span_id FROM {s}
                                        WHERE parent_span_id IS NOT NULL) k
                       ON k.trace_id = x.trace_id AND k.parent_span_id = x.span_id
                  WHERE x.kind NOT IN ('SERVER', 'CONSUMER') AND x.parent_span_id IS NOT NULL),
        owned AS (SELECT st.trace_id AS trace_id, st.step_id AS step_id,
                         CASE WHEN st.bad THEN '{PATH_FAILED}' || st.callee ELSE st.callee END AS callee,
                         st.callee_op AS callee_op, st.start_ns AS start_ns, u.unit_id AS unit_id, st.wr AS wr
                  FROM steps st ASOF JOIN units u
                       ON u.trace_id = st.trace_id AND u.service = st.service AND st.start_ns >= u.t
                  WHERE st.start_ns <= u.t_end),
        per AS (SELECT u.trace_id AS trace_id, u.unit_id AS unit_id, count(o.callee) AS n,
                       coalesce({sql.arg_max('o.callee', '(o.start_ns, o.callee)')}, '{PATH_SELF}') AS terminal
                FROM units u LEFT JOIN owned o ON o.trace_id = u.trace_id AND o.unit_id = u.unit_id
                GROUP BY u.trace_id, u.unit_id)"""


def unit_paths(store: Store, spans_table: str) -> AbstractContextManager[str]:
    """A temporary table of every unit in `spans_table` (service, op, w, t, unit_id) with its step
    count `n` and `terminal`; read by `path_terminals` and `unit_calls`, dropped on exit."""
    return scratch_table(store, f"""
        WITH {_unit_steps(store.sql, spans_table)}
        SELECT u.service AS service, u.op AS op, u.w AS w, u.t AS t, u.unit_id AS unit_id, p.n AS n,
               p.terminal AS terminal
        FROM units u JOIN per p ON p.trace_id = u.trace_id AND p.unit_id = u.unit_id""", prefix="_ip_paths")


def path_terminals(store: Store, units_table: str) -> list[dict[str, Any]]:
    """Per service, entry operation `op`, window `w` and `terminal` (the callee of a unit's last
    step, PATH_SELF for its own work or none, prefixed PATH_FAILED when that step failed): how many
    of its units ended there (`units`) and the steps those units took (`calls`). `units_table`:
    from `unit_paths`."""
    return store.query(f"""
        SELECT service, op, w, terminal, count(*) AS units, sum(n) AS calls FROM {units_table} GROUP BY ALL""")


def path_stops(store: Store, spans_table: str) -> list[dict[str, Any]]:
    """Per service, entry operation `op` and operation `x_op` of callee `x` that its units in the
    incident window called without failing: of those units, how many (`units`) ended right after
    such a call (`stopped`) or went on to another step (not stopped), by the number of services
    `kinds` each called and whether it `wrote` (1: made a write of its own, see _WRITE); and
    `before`, the sum over those units of the services each called before its first call to `x`.
    Units whose last step failed are left out: a failure's effect is read elsewhere. So are units
    in traces that lost spans (one whose parent is missing): a lost call reads as a path cut short."""
    sql = store.sql
    # a failed try and its retry are one service called
    service = f"replace(o.callee, '{PATH_FAILED}', '')"
    remote = f"o.callee NOT IN ('{PATH_SELF}', '{PATH_FAILED}')"
    return store.query(f"""
        WITH {_unit_steps(sql, spans_table)},
        last AS (SELECT o.trace_id AS trace_id, o.unit_id AS unit_id,
                        {sql.arg_max('o.callee', '(o.start_ns, o.callee)')} AS terminal,
                        {sql.arg_max('o.callee_op', '(o.start_ns, o.callee)')} AS terminal_op,
                        count(DISTINCT CASE WHEN {remote} THEN {service} END) AS kinds,
                        max(CASE WHEN o.callee = '{PATH_SELF}' AND o.wr THEN 1 ELSE 0 END) AS wrote
                 FROM owned o GROUP BY o.trace_id, o.unit_id),
        called AS (SELECT trace_id, unit_id, callee AS x, callee_op AS x_op, min(start_ns) AS first_ns FROM owned
                   WHERE callee <> '{PATH_SELF}' AND callee NOT LIKE '{PATH_FAILED}%'
                   GROUP BY trace_id, unit_id, callee, callee_op),
        broken AS (SELECT DISTINCT c.trace_id AS trace_id FROM {spans_table} c
                   LEFT JOIN {spans_table} p ON p.trace_id = c.trace_id AND p.span_id = c.parent_span_id
                   WHERE c.parent_span_id IS NOT NULL AND p.span_id IS NULL),
        pre AS (SELECT c.trace_id AS trace_id, c.unit_id AS unit_id, c.x AS x, c.x_op AS x_op,
                       count(DISTINCT CASE WHEN {remote} AND o.start_ns < c.first_ns THEN {service} END) AS before
                FROM called c JOIN owned o ON o.trace_id = c.trace_id AND o.unit_id = c.unit_id
                GROUP BY c.trace_id, c.unit_id, c.x, c.x_op)
        SELECT u.service AS service, u.op AS op, c.x AS x, c.x_op AS x_op,
               l.terminal = c.x AND l.terminal_op = c.x_op AS stopped, l.kinds AS kinds, l.wrote AS wrote,
               count(*) AS units,
               sum(c.before) AS before
        FROM units u JOIN last l ON l.trace_id = u.trace_id AND l.unit_id = u.unit_id
        JOIN pre c ON c.trace_id = u.trace_id AND c.unit_id = u.unit_id
        WHERE u.w = 'incident' AND l.terminal NOT LIKE '{PATH_FAILED}%'
          AND u.trace_id NOT IN (SELECT trace_id FROM broken)
        GROUP BY ALL""")


def unit_calls(store: Store, units_table: str, per_unit_cap: int) -> list[dict[str, Any]]:
    """Per service and entry operation `op`, up to `per_unit_cap` of its units (by hash): start `t`
    and steps `n`. `units_table`: from `unit_paths`."""
    key = store.sql.hash("unit_id")
    return store.query(f"""
        SELECT service, op, t, n
        FROM (SELECT service, op, t, n,
                     row_number() OVER (PARTITION BY service, op ORDER BY {key}) AS k FROM {units_table})
        WHERE k <= {int(per_unit_cap)}""")


def edge_gap_samples(store: Store, spans_table: str, per_window: int) -> list[dict[str, Any]]:
    """Per edge (caller, callee, how: 'gap' around a synchronous call | 'queue' before a message is
    consumed) and window `w`: up to `per_window` samples (by hash) of `gap_ns` at consumer/server start `t`;
    `implicit` 1 where no CLIENT span times the call (the gap then holds some of the caller's own work)."""
    s, sql = spans_table, store.sql
    return store.query(f"""
        WITH kids AS (SELECT trace_id, parent_span_id AS span_id, count(*) AS n FROM {s}
                      GROUP BY trace_id, parent_span_id),
        pairs AS (
            SELECT w, caller, callee, CASE WHEN queued THEN 'queue' ELSE 'gap' END AS how,
                   CASE WHEN queued THEN c_start - p_end ELSE p_dur - c_dur END AS gap_ns, sid, c_start AS t,
                   0 AS implicit
            FROM (SELECT p.w AS w, p.service AS caller, c.service AS callee, c.span_id AS sid,
                         c.start_ns AS c_start, p.start_ns + p.duration_ns AS p_end,
                         p.duration_ns AS p_dur, c.duration_ns AS c_dur, k.n AS kids,
                         {_QUEUED} AS queued
                  FROM {s} c JOIN {s} p ON c.trace_id = p.trace_id AND c.parent_span_id = p.span_id
                  JOIN kids k ON k.trace_id = p.trace_id AND k.span_id = p.span_id
                  WHERE c.service <> p.service AND p.w = c.w
                    AND (p.kind IN ('CLIENT', 'PRODUCER') OR c.kind = 'CONSUMER')) x
            -- a call's time around its answer is the client's less the server's only where the
            -- client span has that one child: with more (retried attempts, work of its own), the
            -- others' time would count as the wire's
            WHERE queued OR kids = 1),
        implicit AS (  -- a server span right under the caller's own span: no CLIENT span times the
                       -- call, so the edge's time is from the server's end until the caller goes on
                       -- (its next call or its end): the answer's way back. A call made beside it
                       -- and still running then is what the caller waits for after it: no gap
            SELECT c.w AS w, p.service AS caller, c.service AS callee, 'gap' AS how,
                   least(coalesce(min(CASE WHEN nx.span_id IS NOT NULL
                                      THEN greatest(nx.start_ns, c.start_ns + c.duration_ns) END),
                                  p.start_ns + p.duration_ns),
                         p.start_ns + p.duration_ns)
                     - (c.start_ns + c.duration_ns) AS gap_ns, c.span_id AS sid, c.start_ns AS t, 1 AS implicit
            FROM {s} c JOIN {s} p ON c.trace_id = p.trace_id AND c.parent_span_id = p.span_id
            LEFT JOIN {s} nx ON nx.trace_id = c.trace_id AND nx.parent_span_id = c.parent_span_id
                             AND nx.span_id <> c.span_id
                             AND nx.start_ns + nx.duration_ns > c.start_ns + c.duration_ns
            WHERE c.service <> p.service AND p.w = c.w AND c.kind = 'SERVER'
              AND p.kind NOT IN ('CLIENT', 'PRODUCER')
            GROUP BY c.w, p.service, c.service, c.span_id, c.start_ns, c.duration_ns, p.start_ns, p.duration_ns),
        lk AS (  -- a consumer in a trace of its own names its message's producer by a link
            SELECT w, service, span_id, start_ns, {sql.json_text('links', '$[0].span_id')} AS link_span,
                   {sql.json_text('links', '$[0].trace_id')} AS link_trace
            FROM {s} WHERE links <> ''),
        linked AS (
            SELECT c.w AS w, p.service AS caller, c.service AS callee, 'queue' AS how,
                   c.start_ns - (p.start_ns + p.duration_ns) AS gap_ns, c.span_id AS sid, c.start_ns AS t,
                   0 AS implicit
            FROM lk c
            JOIN (SELECT trace_id, span_id, service, start_ns, duration_ns FROM spans
                  WHERE trace_id IN (SELECT link_trace FROM lk)) p
              ON p.trace_id = c.link_trace AND p.span_id = c.link_span
            WHERE p.service <> c.service),
        picked AS (SELECT *, row_number() OVER (PARTITION BY w, caller, callee, how ORDER BY {sql.hash('sid')}) AS k
                   FROM (SELECT * FROM pairs UNION ALL SELECT * FROM implicit UNION ALL SELECT * FROM linked) x)
        SELECT w, caller, callee, how, gap_ns, t, implicit FROM picked WHERE k <= {int(per_window)}""")


def error_marks(store: Store, spans_table: str, min_severity: int) -> list[dict[str, Any]]:
    """Per service and window `w`, of its visits (its spans without error status in one trace): `n`,
    and `k` in which a span has an exception event or a log of `min_severity` or more. Counted per
    visit, not per span: a service's many inner spans (queries, cache reads) do not dilute a failing
    request."""
    return _error_marks(store, spans_table, min_severity, "w", [])


def error_mark_buckets(store: Store, spans_table: str, min_severity: int, lo: int, width: int,
                       buckets: int) -> list[dict[str, Any]]:
    """`error_marks` per time bucket `w` (0 .. buckets - 1, `width` ns each from lo) instead of window."""
    return _error_marks(store, spans_table, min_severity,
                        f"least(greatest({store.sql.idiv('(start_ns - ?)', '?')}, 0), {int(buckets) - 1})",
                        [lo, width])


def _error_marks(store: Store, s: str, min_severity: int, group: str, params: list[Any]) -> list[dict[str, Any]]:
    sql = store.sql
    return store.query(f"""
        WITH el AS ({_error_logs(s, min_severity)}),
        visits AS (SELECT x.trace_id AS trace_id, x.service AS service, min(x.start_ns) AS start_ns,
                          {sql.arg_min('x.w', 'x.start_ns')} AS w,
                          {sql.bool_or('x.exc OR el.span_id IS NOT NULL')} AS marked
                   FROM {s} x LEFT JOIN el ON el.trace_id = x.trace_id AND el.span_id = x.span_id
                   WHERE NOT x.err
                   GROUP BY x.trace_id, x.service)
        SELECT service, {group} AS w, count(*) AS n, count(*) FILTER (WHERE marked) AS k
        FROM visits GROUP BY ALL""", params)


# A synchronous call whose callee worked longer than its caller waited: the caller gave up (a
# timeout), so a mark it logs then reports the callee's slowness. Durations, not ends, so that clock
# skew between the two hosts cannot fake it.
_ABANDONED = f"c.duration_ns > p.duration_ns AND NOT {_QUEUED}"


def error_mark_origins(store: Store, spans_table: str, min_severity: int,
                       split_ns: int | None = None) -> list[dict[str, Any]]:
    """Per service and window `w`, of its visits without error status (its spans in one trace): `n`;
    `k` marked as in `error_marks`; and `reported`, those marked while a service it called in that
    trace was marked too, failed by status or outlived the call (the mark reports a callee's
    failure or slowness rather than begins one); `caller_marked`, visits whose caller in that trace was
    marked or failed, and `passed_on`, those of them marked themselves (the failure reached the
    caller, when it goes with this service's marks rather than anything else the caller met); and
    `given_up`, visits not marked themselves whose caller, marked, stopped waiting for them while
    they worked on (the caller's timeout, logged: this service's slowness). With `split_ns`, `w` is
    'baseline' before it and 'incident' from it on instead."""
    sql = store.sql
    s = spans_table
    w = f"CASE WHEN min(x.start_ns) < {int(split_ns)} THEN 'baseline' ELSE 'incident' END" \
        if split_ns is not None else sql.arg_min('x.w', 'x.start_ns')
    return store.query(f"""
        WITH el AS ({_error_logs(s, min_severity)}),
        visits AS (SELECT x.trace_id AS trace_id, x.service AS service, {w} AS w,
                          {sql.bool_or('NOT x.err AND (x.exc OR el.span_id IS NOT NULL)')} AS marked,
                          {sql.bool_or('x.err')} AS failed
                   FROM {s} x LEFT JOIN el ON el.trace_id = x.trace_id AND el.span_id = x.span_id
                   GROUP BY x.trace_id, x.service),
        calls AS (SELECT c.trace_id AS trace_id, p.service AS caller, c.service AS callee,
                         {sql.bool_or(_ABANDONED)} AS abandoned
                  FROM {s} c JOIN {s} p ON c.trace_id = p.trace_id AND c.parent_span_id = p.span_id
                  WHERE c.service <> p.service GROUP BY c.trace_id, p.service, c.service),
        reported AS (SELECT DISTINCT k.trace_id AS trace_id, k.caller AS service
                     FROM calls k JOIN visits v ON v.trace_id = k.trace_id AND v.service = k.callee
                     WHERE v.marked OR v.failed OR k.abandoned),
        passed AS (SELECT DISTINCT k.trace_id AS trace_id, k.callee AS service
                   FROM calls k JOIN visits v ON v.trace_id = k.trace_id AND v.service = k.caller
                   WHERE v.marked OR v.failed),
        dropped AS (SELECT DISTINCT k.trace_id AS trace_id, k.callee AS service
                    FROM calls k JOIN visits v ON v.trace_id = k.trace_id AND v.service = k.caller
                    WHERE k.abandoned AND v.marked),
        tally AS (SELECT v.service AS service, v.w AS w, 1 AS n, CASE WHEN v.marked THEN 1 ELSE 0 END AS k,
                         0 AS reported, 0 AS passed_on, 0 AS caller_marked, 0 AS given_up
                  FROM visits v WHERE NOT v.failed
                  UNION ALL
                  SELECT v.service AS service, v.w AS w, 0 AS n, 0 AS k, 1 AS reported, 0 AS passed_on,
                         0 AS caller_marked, 0 AS given_up
                  FROM visits v JOIN reported r ON r.trace_id = v.trace_id AND r.service = v.service
                  WHERE v.marked
                  UNION ALL
                  SELECT v.service AS service, v.w AS w, 0 AS n, 0 AS k, 0 AS reported,
                         CASE WHEN v.marked THEN 1 ELSE 0 END AS passed_on, 1 AS caller_marked, 0 AS given_up
                  FROM visits v JOIN passed r ON r.trace_id = v.trace_id AND r.service = v.service
                  WHERE NOT v.failed
                  UNION ALL
                  SELECT v.service AS service, v.w AS w, 0 AS n, 0 AS k, 0 AS reported, 0 AS passed_on,
                         0 AS caller_marked, 1 AS given_up
                  FROM visits v JOIN dropped r ON r.trace_id = v.trace_id AND r.service = v.service
                  WHERE NOT v.failed AND NOT v.marked)
        SELECT service, w, sum(n) AS n, sum(k) AS k, sum(reported) AS reported, sum(passed_on) AS passed_on,
               sum(caller_marked) AS caller_marked, sum(given_up) AS given_up
        FROM tally GROUP BY service, w""")


def abandoned_calls(store: Store, spans_table: str, min_severity: int) -> list[dict[str, Any]]:
    """Per window `w`, caller and callee: the caller's `marked` visits (as in `error_marks`) in
    traces where it stopped waiting for that callee, which worked on (its timeout, logged)."""
    sql, s = store.sql, spans_table
    return store.query(f"""
        WITH el AS ({_error_logs(s, min_severity)}),
        marked AS (SELECT DISTINCT x.trace_id AS trace_id, x.service AS service
                   FROM {s} x LEFT JOIN el ON el.trace_id = x.trace_id AND el.span_id = x.span_id
                   WHERE NOT x.err AND (x.exc OR el.span_id IS NOT NULL)),
        calls AS (SELECT c.trace_id AS trace_id, p.service AS caller, c.service AS callee,
                         {sql.arg_min('p.w', 'p.start_ns')} AS w
                  FROM {s} c JOIN {s} p ON c.trace_id = p.trace_id AND c.parent_span_id = p.span_id
                  WHERE c.service <> p.service AND {_ABANDONED} GROUP BY c.trace_id, p.service, c.service)
        SELECT k.w AS w, k.caller AS caller, k.callee AS callee, count(*) AS marked
        FROM calls k JOIN marked m ON m.trace_id = k.trace_id AND m.service = k.caller GROUP BY ALL""")


def _error_logs(spans_table: str, min_severity: int) -> str:
    """The (trace_id, span_id) of logs at `min_severity` or above tied to a span of the table's traces."""
    return f"""SELECT DISTINCT trace_id, span_id FROM logs
               WHERE severity_number >= {int(min_severity)} AND span_id IS NOT NULL AND span_id <> ''
                 AND trace_id IN (SELECT trace_id FROM {spans_table})"""


def queue_deliveries(store: Store, spans_table: str, per_window: int) -> list[dict[str, Any]]:
    """Per message a service sent that another service consumes (`sender`, `operation`, `consumer`):
    when it was sent (`sent_ns`, the sending span's end), its window `w`, and whether that consumer
    took it (`consumed`: a span of the consumer under it); up to `per_window` messages (by hash) per
    window, sender, operation and consumer, with `total` the messages there. A message is a span
    with a child in another service that is a CONSUMER, under a PRODUCER, or (where kinds were
    lost) starts after its parent ended; every span of that sender's operation is a message."""
    s, sql = spans_table, store.sql
    return store.query(f"""
        WITH kids AS (SELECT c.trace_id AS trace_id, c.parent_span_id AS parent_span_id, c.service AS service,
                             p.service AS sender, p.operation AS operation,
                             {_QUEUED} AS queued
                      FROM {s} c JOIN {s} p ON c.trace_id = p.trace_id AND c.parent_span_id = p.span_id
                      WHERE c.service <> p.service),
        routes AS (SELECT DISTINCT sender, operation, service AS consumer FROM kids WHERE queued),
        sent AS (SELECT m.w AS w, m.trace_id AS trace_id, m.span_id AS span_id, r.sender AS sender,
                        r.operation AS operation, r.consumer AS consumer, m.start_ns + m.duration_ns AS sent_ns
                 FROM {s} m JOIN routes r ON m.service = r.sender AND m.operation = r.operation),
        took AS (SELECT DISTINCT trace_id, parent_span_id, service FROM kids),
        marked AS (SELECT x.*, CASE WHEN t.service IS NOT NULL THEN 1 ELSE 0 END AS consumed,
                          count(*) OVER (PARTITION BY x.w, x.sender, x.operation, x.consumer) AS total,
                          row_number() OVER (PARTITION BY x.w, x.sender, x.operation, x.consumer
                                             ORDER BY {sql.hash('x.span_id')}) AS k
                   FROM sent x LEFT JOIN took t ON t.trace_id = x.trace_id AND t.parent_span_id = x.span_id
                                               AND t.service = x.consumer)
        SELECT w, sender, operation, consumer, sent_ns, consumed, total FROM marked WHERE k <= {int(per_window)}""")


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
    sql = store.sql
    return store.query(f"""
        WITH m AS (SELECT service, name, CASE WHEN {bc} THEN 'b' ELSE 'i' END AS w, time_ns,
                          avg(value) AS v
                   FROM metrics WHERE (({bc}) OR ({ic})) AND value IS NOT NULL AND {sql.isfinite('value')}
                   GROUP BY ALL)
        SELECT service, name, {sql.ordered_list('v', ['time_ns'], "w = 'b'")} AS b,
               {sql.ordered_list('v', ['time_ns'], "w = 'i'")} AS i
        FROM m GROUP BY ALL""", bp + bp + ip)


def metric_points(store: Store, window: TimeRange) -> list[dict[str, Any]]:
    """Every finite metric point in the window averaged per (service, name, time_ns) as `v`, in time order."""
    cond, params = window_where(window, "time_ns")
    return store.query(f"""
        SELECT service, name, time_ns, avg(value) AS v FROM metrics
        WHERE {cond} AND value IS NOT NULL AND {store.sql.isfinite('value')} GROUP BY ALL ORDER BY time_ns""", params)


# Metrics that count the requests a service served: OTLP server-duration histograms (each point's
# count) and the RCAEval layout's per-service `workload` column.
SERVED_METRICS = ("http.server.request.duration", "http.server.duration", "rpc.server.duration", "workload")


def served_points(store: Store, window: TimeRange) -> list[dict[str, Any]]:
    """Points of the metrics that count each service's requests (SERVED_METRICS) in the window, in
    time order: a histogram's `count` with its `temporality` and series `attributes`, a gauge's `value`."""
    cond, params = window_where(window, "time_ns")
    names = ", ".join("?" * len(SERVED_METRICS))
    return store.query(f"""
        SELECT service, name, type, temporality, attributes, start_time_ns AS start_ns, time_ns, count, value
        FROM metrics WHERE {cond} AND name IN ({names}) ORDER BY time_ns""", params + list(SERVED_METRICS))


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
