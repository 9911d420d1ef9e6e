"""The interaction graph's SQL: the windows' spans read once into a scratch table, edges caller → callee
(parent/child across services, leaf CLIENT/PRODUCER spans to resources, links to producers), operations,
and the entry points whose traces pass through a target. `graph` turns the rows into nodes and edges.
"""
from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from ..model import TimeRange
from .base import EngineSQL, Store, scratch_table
from .predicates import ENTRY, window_where


def resource_name(sql: EngineSQL, column: str = "attributes") -> str:
    """The resource a leaf CLIENT/PRODUCER span talks to, from its attributes in `column`."""
    def a(key: str) -> str:
        return f"nullif({sql.attr(column, key)}, '')"
    return (
        "CASE WHEN {ms} IS NOT NULL THEN {ms} || coalesce('/' || {md}, '') "
        "ELSE coalesce({peer}, {addr}, {dbname}, {db}, {gp}, {gs}, {host}, 'external') END").format(
        ms=a("messaging.system"), md=a("messaging.destination.name"), peer=a("peer.service"),
        addr=a("server.address"), dbname=a("db.name"), db=a("db.system"), gp=a("gen_ai.provider.name"),
        gs=a("gen_ai.system"), host=a("net.peer.name"))


def resource_kind(sql: EngineSQL, column: str = "attributes") -> str:
    """What kind of thing that resource is: queue, cache, database, llm or external."""
    def a(key: str) -> str:
        return f"nullif({sql.attr(column, key)}, '')"
    return (
        "CASE WHEN {ms} IS NOT NULL THEN 'queue' "
        "WHEN lower(coalesce({db}, {dbn}, '')) IN ('redis', 'memcached', 'valkey') THEN 'cache' "
        "WHEN coalesce({db}, {dbn}) IS NOT NULL THEN 'database' "
        "WHEN coalesce({gp}, {gs}) IS NOT NULL THEN 'llm' ELSE 'external' END").format(
        ms=a("messaging.system"), db=a("db.system"), dbn=a("db.system.name"),
        gp=a("gen_ai.provider.name"), gs=a("gen_ai.system"))


def _retry(sql: EngineSQL, alias: str) -> str:
    """A resent call: marked so by its client, or, where the export drops that mark, started after
    a sibling call (same parent, same operation) had failed or thrown (`failed_calls`, joined as f).
    Timed-out calls resent unmarked would otherwise read as a caller sending twice the load."""
    resent = sql.attr(alias + ".attrs", "http.request.resend_count")
    return f"(coalesce(f.first_end <= {alias}.start_ns, false) OR coalesce({resent}, '0') NOT IN ('0', ''))"


def _failed_calls_join(alias: str) -> str:
    return (f"LEFT JOIN failed_calls f ON f.trace_id = {alias}.trace_id AND f.parent_span_id = {alias}.parent_span_id "
            f"AND f.service = {alias}.service AND f.operation = {alias}.operation")


def windows_case(windows: dict[str, TimeRange], column: str = "start_ns") -> tuple[str, str, list[Any]]:
    """(CASE naming each row's window, WHERE covering all windows, params for CASE then WHERE)."""
    whens, case_params, conds, cond_params = [], [], [], []
    for name, w in windows.items():
        cond, params = window_where(w, column)
        whens.append(f"WHEN {cond} THEN '{name}'")
        case_params += params
        conds.append(f"({cond})")
        cond_params += params
    return f"CASE {' '.join(whens)} END", " OR ".join(conds) or "TRUE", case_params + cond_params


def span_count(store: Store, windows: dict[str, TimeRange]) -> int:
    """Spans in any of the windows."""
    conds, params = [], []
    for w in windows.values():
        cond, p = window_where(w)
        conds.append(f"({cond})")
        params += p
    return int(store.query(f"SELECT count(*) AS n FROM spans WHERE {' OR '.join(conds)}", params)[0]["n"])


def sample_condition(sql: EngineSQL, share: float, column: str = "trace_id") -> str:
    """SQL keeping about `share` of traces, whole, chosen by a hash of the trace id."""
    if share >= 1.0:
        return "TRUE"
    return f"({sql.hash(column)} % 10000) < {max(int(share * 10000), 1)}"


def span_extent(store: Store, window: TimeRange) -> tuple[int | None, int | None]:
    """When the window's first and last spans started (None, None: no spans)."""
    cond, params = window_where(window)
    row = store.query(f"SELECT min(start_ns) AS a, max(start_ns) AS b FROM spans WHERE {cond}", params)[0]
    return row["a"], row["b"]


def window_spans(store: Store, windows: dict[str, TimeRange], sample: float = 1.0) -> AbstractContextManager[str]:
    """A temporary table of the windows' spans (the `sample` share of traces) with what the graph
    needs and `w`, the window's name; dropped on exit. One read of the span table serves every
    statistic of the graph (and the caller's own, such as trace completeness)."""
    case, cond, params = windows_case(windows)
    return scratch_table(store, f"""
        SELECT trace_id, span_id, parent_span_id, service, operation, kind, start_ns, duration_ns,
               status_code = 'ERROR' AS err, {case} AS w,
               position('"exception"' IN events) > 0 AS exc,
               CASE WHEN kind IN ('CLIENT', 'PRODUCER') THEN attributes ELSE {store.sql.NO_ATTRS} END AS attrs,
               CASE WHEN links NOT IN ('', '[]') THEN links ELSE '' END AS links
        FROM spans WHERE ({cond}) AND {sample_condition(store.sql, sample)}""", params, "_ip_graph")


def edge_rows(store: Store, s: str) -> list[dict[str, Any]]:
    """Per (window, caller, callee, mode) of the scratch table `s`: calls, errors, retries, p50, p95."""
    sql = store.sql
    return store.query(f"""
    WITH failed_calls AS (  -- few: the first end of a failed call, per parent and operation
        SELECT trace_id, parent_span_id, service, operation, min(start_ns + duration_ns) AS first_end
        FROM {s} WHERE kind = 'CLIENT' AND (err OR exc) GROUP BY trace_id, parent_span_id, service, operation),
    pc AS (
        SELECT c.w AS w, p.service AS caller, c.service AS callee, 'service' AS callee_kind,
               CASE WHEN c.kind = 'CONSUMER' OR p.kind = 'PRODUCER' THEN 'async' ELSE 'sync' END AS mode,
               c.duration_ns AS duration_ns, c.err AS err, {_retry(sql, 'p')} AS retry
        FROM {s} c JOIN {s} p ON c.trace_id = p.trace_id AND c.parent_span_id = p.span_id
        {_failed_calls_join('p')}
        WHERE c.service <> p.service),
    leaf AS (
        SELECT x.* FROM {s} x
        WHERE x.kind IN ('CLIENT', 'PRODUCER')
          AND NOT EXISTS (SELECT 1 FROM {s} c WHERE c.trace_id = x.trace_id AND c.parent_span_id = x.span_id)),
    res AS (
        SELECT l.w AS w, l.service AS caller, {resource_name(sql, 'l.attrs')} AS callee,
               {resource_kind(sql, 'l.attrs')} AS callee_kind,
               CASE WHEN l.kind = 'PRODUCER' THEN 'async' ELSE 'sync' END AS mode,
               l.duration_ns AS duration_ns, l.err AS err, {_retry(sql, 'l')} AS retry
        FROM leaf l {_failed_calls_join('l')}),
    lk AS (  -- one row per link, its trace and span id taken at the same index k
        SELECT x.*, x.link_spans[x.k] AS link_span, x.link_traces[x.k] AS link_trace
        FROM (SELECT service, duration_ns, err, w,
                     {sql.json_list_texts('links', 'span_id')} AS link_spans,
                     {sql.json_list_texts('links', 'trace_id')} AS link_traces,
                     unnest(range(1, length({sql.json_list_texts('links', 'span_id')}) + 1)) AS k
              FROM {s} WHERE links <> '') x),
    linked AS (  -- the producer may be outside the window or the sample: look it up by id
        SELECT c.w AS w, p.service AS caller, c.service AS callee, 'service' AS callee_kind,
               'async' AS mode, c.duration_ns AS duration_ns, c.err AS err, false AS retry
        FROM lk c
        JOIN (SELECT trace_id, span_id, service FROM spans
              WHERE kind IN ('PRODUCER', 'CLIENT') AND trace_id IN (SELECT link_trace FROM lk)) p
          ON p.trace_id = c.link_trace AND p.span_id = c.link_span
        WHERE p.service <> c.service),
    allx AS (SELECT * FROM pc UNION ALL SELECT * FROM res UNION ALL SELECT * FROM linked)
    SELECT w, caller, callee, callee_kind, mode, count(*) AS calls, count(*) FILTER (WHERE err) AS errors,
           count(*) FILTER (WHERE retry) AS retries,
           {sql.quantile('duration_ns', 0.5)} AS p50, {sql.quantile('duration_ns', 0.95)} AS p95
    FROM allx WHERE w IS NOT NULL GROUP BY ALL""")


def operation_rows(store: Store, s: str) -> list[dict[str, Any]]:
    """Per (window, service, operation, kind) of the scratch table `s`: entry or not, calls, errors, p50, p95."""
    sql = store.sql
    return store.query(f"""
        SELECT w, service, operation, kind, {ENTRY} AS entry, count(*) AS calls,
               count(*) FILTER (WHERE err) AS errors,
               {sql.quantile('duration_ns', 0.5)} AS p50, {sql.quantile('duration_ns', 0.95)} AS p95
        FROM {s} WHERE w IS NOT NULL GROUP BY ALL""")


def entry_points_through(store: Store, service: str, operation: str | None,
                         window: TimeRange) -> list[dict[str, Any]]:
    """Per root (service, operation): requests, and those whose trace reaches the target (a service,
    service:operation, or a resource by name), most reached first (ties by name: the same order on every run)."""
    cond, params = window_where(window)
    match = "service = ?" + (" AND operation = ?" if operation else "")
    mparams = [service] + ([operation] if operation else [])
    resource = resource_name(store.sql)
    return store.query(f"""
        WITH hit AS (
            SELECT DISTINCT trace_id FROM spans WHERE {cond} AND ({match} OR
                (kind IN ('CLIENT', 'PRODUCER') AND {resource} = ?{' AND operation = ?' if operation else ''}))),
        roots AS (SELECT trace_id, service, operation FROM spans WHERE {cond} AND parent_span_id IS NULL)
        SELECT r.service, r.operation, count(*) AS requests, count(h.trace_id) AS through
        FROM roots r LEFT JOIN hit h USING (trace_id) GROUP BY ALL HAVING count(h.trace_id) > 0
        ORDER BY through DESC, r.service, r.operation""", params + mparams + mparams + params)
