"""Questions about the telemetry itself, answered in SQL: services, traces, one trace, changes, logs,
a service's series and operations, callers of an operation, metric units. Aggregation runs in the database;
what a hub answers (services, traces, a trace, changes, logs, series, operations, a symptom's series) comes
back as records (`model_telemetry`); internal helpers (per-service buckets, metric units) as plain rows."""
from __future__ import annotations

import re
from typing import Any

from .. import model
from ..model import InvalidInput, NotFound
from ..model_results import Caller
from ..model_telemetry import (
    Change,
    ChangeMark,
    LogRecord,
    Series,
    SeriesPoint,
    Service,
    ServiceOperation,
    SymptomBucket,
    SymptomSeries,
    Trace,
    TraceSpan,
    TraceSummary,
)
from ..timeutil import format_time
from .base import Store
from .log_templates import mask
from .predicates import ENTRY, window_where

_ENTRY = ENTRY


def services(store: Store, window: model.TimeRange = model.TimeRange()) -> list[Service]:
    """Per service: spans, requests and their rate, error rate, p50/p99 latency, first/last seen."""
    sql = store.sql
    cond, params = window_where(window)
    rows = store.query(f"""
        WITH s AS (
            SELECT service, start_ns, end_ns, duration_ns, status_code = 'ERROR' AS err,
                   {_ENTRY} AS entry
            FROM spans WHERE {cond}),
        per AS (
            SELECT service, count(*) AS spans,
                   count(*) FILTER (WHERE entry) AS requests,
                   count(*) FILTER (WHERE err) AS error_spans,
                   count(*) FILTER (WHERE entry AND err) AS entry_errors,
                   {sql.quantile('duration_ns', 0.5)} FILTER (WHERE entry) AS p50_entry,
                   {sql.quantile('duration_ns', 0.99)} FILTER (WHERE entry) AS p99_entry,
                   {sql.quantile('duration_ns', 0.5)} AS p50_all,
                   {sql.quantile('duration_ns', 0.99)} AS p99_all,
                   min(start_ns) AS first_ns, max(end_ns) AS last_ns
            FROM s GROUP BY service)
        SELECT * FROM per ORDER BY service""", params)
    out = []
    for r in rows:
        has_entry = r["requests"] > 0
        requests = r["requests"] if has_entry else r["spans"]
        errors = r["entry_errors"] if has_entry else r["error_spans"]
        span_s = max((r["last_ns"] - r["first_ns"]) / 1e9, 1.0)
        p50 = r["p50_entry"] if has_entry else r["p50_all"]
        p99 = r["p99_entry"] if has_entry else r["p99_all"]
        out.append(Service(
            service=r["service"], spans=r["spans"], requests=requests,
            request_rate=round(requests / span_s, 3),
            errors=errors, error_rate=round(errors / requests, 5) if requests else 0.0,
            p50_ms=round(p50 / 1e6, 3), p99_ms=round(p99 / 1e6, 3),
            first_seen=format_time(r["first_ns"]), last_seen=format_time(r["last_ns"])))
    return out


def traces(store: Store, window: model.TimeRange = model.TimeRange(), *, service: str | None = None,
           operation: str | None = None, errors_only: bool = False, min_duration_ns: int | None = None,
           attributes: dict[str, str] | None = None, limit: int = 20) -> list[TraceSummary]:
    """Traces matching the filters, newest first, with their root service and operation.

    attributes: key → value that one span of the trace carries (its own attributes or its resource's),
    every pair on that same span, values compared as text.
    """
    if limit < 1 or limit > 10_000:
        raise InvalidInput(f"limit {limit}: must be between 1 and 10000")
    cond, params = window_where(window)
    match = [cond]
    for key, value in (attributes or {}).items():
        _attribute_path(key)
        match.append(f"({store.sql.attr('attributes', key)} = ? OR "
                     f"{store.sql.attr('resource_attributes', key)} = ?)")
        params += [str(value), str(value)]
    if service:
        match.append("service = ?")
        params.append(service)
    if operation:
        match.append("operation = ?")
        params.append(operation)
    if errors_only:
        match.append("status_code = 'ERROR'")
    having, hparams = [], []
    if min_duration_ns is not None:
        having.append("max(end_ns) - min(start_ns) >= ?")
        hparams.append(min_duration_ns)
    bounds = store.query(f"SELECT min(start_ns) AS a, max(start_ns) AS b FROM spans WHERE {' AND '.join(match)}",
                         params)[0]
    if bounds["b"] is None:
        return []
    # Newest first without grouping every trace of the store: a trace that began at or after a
    # cutoff has all its spans, the matching one included, after it. So look back from the newest
    # match, widening the lookback until `limit` traces began inside it (or it covers everything).
    lookback = 60 * 10**9
    while True:
        cutoff = bounds["b"] - lookback
        if cutoff <= bounds["a"]:
            rows = _trace_rows(store, match, params, having, hparams, limit)
            break
        rows = _trace_rows(store, match + ["start_ns >= ?"], params + [cutoff],
                           having + ["min(start_ns) >= ?"], hparams + [cutoff], limit)
        if len(rows) >= limit:
            break
        lookback *= 8
    return [TraceSummary(
        trace_id=r["trace_id"], root_service=r["root_service"], root_operation=r["root_operation"],
        start=format_time(r["first_ns"]), start_ns=r["first_ns"], duration_ms=round(r["span_ns"] / 1e6, 3),
        spans=r["spans"], errors=r["errors"], services=r["services"], complete=r["roots"] == 1,
    ) for r in rows]


def _trace_rows(store: Store, match: list[str], params: list[Any], having: list[str], hparams: list[Any],
                limit: int) -> list[dict[str, Any]]:
    """Per trace with a span matching every condition: its root, first start, span and error counts."""
    sql = store.sql
    return store.query(f"""
        WITH hit AS (SELECT DISTINCT trace_id FROM spans WHERE {' AND '.join(match)})
        SELECT trace_id,
               coalesce({sql.arg_min('service', 'start_ns')} FILTER (WHERE parent_span_id IS NULL),
                        {sql.arg_min('service', 'start_ns')}) AS root_service,
               coalesce({sql.arg_min('operation', 'start_ns')} FILTER (WHERE parent_span_id IS NULL),
                        {sql.arg_min('operation', 'start_ns')}) AS root_operation,
               min(start_ns) AS first_ns, max(end_ns) - min(start_ns) AS span_ns,
               count(*) AS spans, count(*) FILTER (WHERE status_code = 'ERROR') AS errors,
               count(DISTINCT service) AS services,
               count(*) FILTER (WHERE parent_span_id IS NULL) AS roots
        FROM spans WHERE trace_id IN (SELECT trace_id FROM hit)
        GROUP BY trace_id {('HAVING ' + ' AND '.join(having)) if having else ''}
        ORDER BY first_ns DESC, trace_id LIMIT {int(limit)}""", params + hparams)


def trace(store: Store, trace_id: str) -> Trace:
    """One trace as a tree: each span with its children; orphans (parent never arrived) as roots.

    Each span carries its attributes, events, links and resource attributes as JSON text, and its scope."""
    trace_id = trace_id.strip().lower()
    if len(trace_id) != 32 or any(c not in "0123456789abcdef" for c in trace_id):
        raise InvalidInput(f"trace id {trace_id!r}: expected 32 hex characters")
    text = store.sql.attrs_text
    rows = store.query(f"""
        SELECT span_id, parent_span_id, service, operation, kind, start_ns, end_ns, duration_ns,
               status_code, status_message, service_version, scope_name, scope_version, trace_state,
               {text('resource_attributes')} AS resource_attributes, {text('attributes')} AS attributes, events, links
        FROM spans WHERE trace_id = ? ORDER BY start_ns, span_id""", [trace_id])
    if not rows:
        raise NotFound(f"trace {trace_id} not found")
    return Trace(trace_id, len(rows), build_tree(rows))


def build_tree(rows: list[dict[str, Any]]) -> list[TraceSpan]:
    """Nest span rows by parent (in row order); a span whose parent is not among them is a root.

    Each span's self time is its duration not covered by its children. Built children first, without
    recursion, so a trace nested thousands deep builds too."""
    by_id = {r["span_id"]: r for r in rows}
    children: dict[str, list[str]] = {span_id: [] for span_id in by_id}
    roots = []
    for span_id, r in by_id.items():
        parent = r["parent_span_id"] or ""
        if parent in by_id and parent != span_id:
            children[parent].append(span_id)
        else:
            roots.append(span_id)
    order, stack = [], list(roots)
    while stack:  # parents before their children
        span_id = stack.pop()
        order.append(span_id)
        stack.extend(children[span_id])
    built: dict[str, TraceSpan] = {}
    root_ids = set(roots)
    for span_id in reversed(order):
        r = by_id[span_id]
        kids = children[span_id]
        built[span_id] = TraceSpan(
            **r, children=[built[k] for k in kids],
            orphan=r["parent_span_id"] is not None if span_id in root_ids else None,
            self_ns=r["duration_ns"] - _covered(r["start_ns"], r["end_ns"], [by_id[k] for k in kids]))
    return [built[span_id] for span_id in roots]


def _covered(start: int, end: int, children: list[dict[str, Any]]) -> int:
    """Time in [start, end] during which at least one child ran (overlaps counted once)."""
    covered, cursor = 0, start
    for child in sorted(children, key=lambda c: c["start_ns"]):
        lo, hi = max(child["start_ns"], cursor), min(child["end_ns"], end)
        if hi > lo:
            covered += hi - lo
            cursor = hi
    return covered


def changes(store: Store, window: model.TimeRange = model.TimeRange(), *, service: str | None = None,
            limit: int = 200) -> list[Change]:
    """Change events, newest first."""
    cond, params = window_where(window, "time_ns")
    if service:
        cond += " AND service = ?"
        params.append(service)
    rows = store.query(f"""SELECT time_ns, service, kind, description, version, attributes
                           FROM changes WHERE {cond} ORDER BY time_ns DESC LIMIT {int(limit)}""", params)
    return [Change(r["time_ns"], r["service"], r["kind"], r["description"], r["version"], r["attributes"],
                   format_time(r["time_ns"])) for r in rows]


# OpenTelemetry severity numbers: each name is the lowest number of its range (TRACE 1-4, DEBUG 5-8, ...).
SEVERITIES = {"TRACE": 1, "DEBUG": 5, "INFO": 9, "WARN": 13, "ERROR": 17, "FATAL": 21}


def logs(store: Store, window: model.TimeRange = model.TimeRange(), *, service: str | None = None,
         severity: str | None = None, text: str | None = None, trace_id: str | None = None,
         span_id: str | None = None, similar_to: str | None = None, limit: int = 100) -> list[LogRecord]:
    """Log records matching the filters, newest first.

    severity is a minimum (WARN: WARN, ERROR and FATAL); text matches anywhere in the body, any case;
    similar_to is a log line whose template (numbers, ids and quoted strings masked) the records share.
    """
    if limit < 1 or limit > 10_000:
        raise InvalidInput(f"limit {limit}: must be between 1 and 10000")
    cond, params = window_where(window, "time_ns")
    clauses = [cond]
    if service:
        clauses.append("service = ?")
        params.append(service)
    if severity:
        level = SEVERITIES.get(severity.strip().upper().removesuffix("ING"))  # WARNING → WARN
        if level is None:
            raise InvalidInput(f"severity {severity!r}: expected one of {', '.join(SEVERITIES)}")
        clauses.append("severity_number >= ?")
        params.append(level)
    if text:
        clauses.append("position(lower(?) IN lower(body)) > 0")
        params.append(text)
    if trace_id:
        clauses.append("trace_id = ?")
        params.append(_hex_id(trace_id, 32, "trace id"))
    if span_id:
        clauses.append("span_id = ?")
        params.append(_hex_id(span_id, 16, "span id"))
    if similar_to:
        clauses.append("body LIKE ?")
        params.append(mask(similar_to).replace("<*>", "%"))
    rows = store.query(f"""
        SELECT time_ns, service, severity_number, severity_text, body, trace_id, span_id, attributes
        FROM logs WHERE {' AND '.join(clauses)}
        ORDER BY time_ns DESC, service, body LIMIT {int(limit)}""", params)
    return [LogRecord(**r, time=format_time(r["time_ns"]), severity=severity_name(r["severity_number"],
                                                                                r["severity_text"]))
            for r in rows]


def severity_name(number: int | None, text: str | None) -> str:
    """The record's severity text, else the name of its number's range, else UNSPECIFIED."""
    if text:
        return text
    for name, lo in sorted(SEVERITIES.items(), key=lambda kv: -kv[1]):
        if number and number >= lo:
            return name
    return "UNSPECIFIED"


def _hex_id(value: str, length: int, what: str) -> str:
    value = value.strip().lower()
    if len(value) != length or any(c not in "0123456789abcdef" for c in value):
        raise InvalidInput(f"{what} {value!r}: expected {length} hex characters")
    return value


def series(store: Store, service: str, operation: str | None, window: model.TimeRange,
           buckets: int = 60) -> Series:
    """Requests, rate, errors and p50/p95/p99 latency of a service's (or operation's) entry spans per bucket.

    Entry spans are where work enters the service (SERVER/CONSUMER spans, or roots), as in `services`.
    A service with no entry spans (a worker, a client-only caller) is charted from all its spans.
    Empty buckets are returned with zero requests so charts show gaps as such.
    """
    match = "service = ?" + (" AND operation = ?" if operation else "")
    mparams: list[Any] = [service] + ([operation] if operation else [])
    cond, params = window_where(window)
    lo, hi = window.since_ns, window.until_ns
    row = store.query(f"SELECT min(start_ns) AS lo, max(start_ns) AS hi, count(*) FILTER (WHERE {_ENTRY}) AS entries "
                      f"FROM spans WHERE {cond} AND {match}", params + mparams)[0]
    if lo is None or hi is None:
        if row["lo"] is None:
            return Series(service, operation, 0, [])
        lo = lo if lo is not None else row["lo"]
        hi = hi if hi is not None else row["hi"] + 1
    entry = _ENTRY if row["entries"] else "TRUE"
    step = max((hi - lo + buckets - 1) // buckets, 1)
    sql = store.sql
    rows = store.query(f"""
        SELECT {sql.idiv('(start_ns - ?)', '?')} AS b, count(*) AS requests,
               count(*) FILTER (WHERE status_code = 'ERROR') AS errors,
               {sql.quantile('duration_ns', 0.5)} AS p50, {sql.quantile('duration_ns', 0.95)} AS p95,
               {sql.quantile('duration_ns', 0.99)} AS p99
        FROM spans WHERE start_ns >= ? AND start_ns < ? AND {match} AND {entry}
        GROUP BY b ORDER BY b""", [lo, step, lo, hi] + mparams)
    by_bucket = {int(r["b"]): r for r in rows}
    points = []
    for b in range((hi - lo + step - 1) // step):
        r = by_bucket.get(b)
        if r is None:  # no requests: no latency or error rate (None, not 0)
            points.append(SeriesPoint(lo + b * step, 0, 0.0, 0))
            continue
        n = r["requests"]
        points.append(SeriesPoint(lo + b * step, n, round(n / (step / 1e9), 4), r["errors"],
                                  round(r["errors"] / n, 5), round(r["p50"] / 1e6, 3), round(r["p95"] / 1e6, 3),
                                  round(r["p99"] / 1e6, 3)))
    return Series(service, operation, step, points)


def operations(store: Store, service: str, window: model.TimeRange = model.TimeRange()) -> list[ServiceOperation]:
    """A service's operations (span names by kind): calls, error rate, p50/p95/p99, entry point or not."""
    sql = store.sql
    cond, params = window_where(window)
    rows = store.query(f"""
        SELECT operation, kind, count(*) AS calls, count(*) FILTER (WHERE status_code = 'ERROR') AS errors,
               {sql.quantile('duration_ns', 0.5)} AS p50, {sql.quantile('duration_ns', 0.95)} AS p95,
               {sql.quantile('duration_ns', 0.99)} AS p99, count(*) FILTER (WHERE {_ENTRY}) AS entries
        FROM spans WHERE {cond} AND service = ?
        GROUP BY operation, kind ORDER BY calls DESC, operation, kind""", params + [service])
    if not rows and not store.query("SELECT 1 AS x FROM spans WHERE service = ? LIMIT 1", [service]):
        raise NotFound(f"service {service!r} not found")
    return [ServiceOperation(r["operation"], r["kind"], r["calls"], r["errors"], round(r["errors"] / r["calls"], 5),
                             r["entries"] > 0, round(r["p50"] / 1e6, 3), round(r["p95"] / 1e6, 3),
                             round(r["p99"] / 1e6, 3)) for r in rows]


def operation_callers(store: Store, service: str, operation: str,
                      window: model.TimeRange = model.TimeRange()) -> list[Caller]:
    """Who calls one operation of a service: per calling service, calls, rate, errors and latency.

    The calls are the operation's spans whose parent span belongs to another service (mode async when
    that parent is a PRODUCER, a queue in between).
    """
    cond, params = window_where(window, "c.start_ns")
    sql = store.sql
    rows = store.query(f"""
        SELECT p.service AS caller, max(CASE WHEN p.kind = 'PRODUCER' THEN 1 ELSE 0 END) AS queued,
               count(*) AS calls, count(*) FILTER (WHERE c.status_code = 'ERROR') AS errors,
               min(c.start_ns) AS lo, max(c.start_ns) AS hi,
               {sql.quantile('c.duration_ns', 0.5)} AS p50, {sql.quantile('c.duration_ns', 0.95)} AS p95
        FROM spans c JOIN spans p ON p.trace_id = c.trace_id AND p.span_id = c.parent_span_id
        WHERE {cond} AND c.service = ? AND c.operation = ? AND p.service <> c.service
        GROUP BY p.service ORDER BY calls DESC, caller""", params + [service, operation])
    lo = window.since_ns if window.since_ns is not None else min((r["lo"] for r in rows), default=0)
    hi = window.until_ns if window.until_ns is not None else max((r["hi"] for r in rows), default=0)
    seconds = max((hi - lo) / 1e9, 1.0)
    return [Caller(r["caller"], "async" if r["queued"] else "sync", r["calls"], r["errors"],
                   round(r["calls"] / seconds, 4), round(r["errors"] / r["calls"], 5),
                   round(r["p50"] / 1e6, 3), round(r["p95"] / 1e6, 3)) for r in rows]


def known_target(store: Store, service: str, operation: str | None) -> bool:
    """Whether spans of this service (and operation) were ever stored."""
    match = "service = ?" + (" AND operation = ?" if operation else "")
    return bool(store.query(f"SELECT 1 AS x FROM spans WHERE {match} LIMIT 1",
                            [service] + ([operation] if operation else [])))


_ATTRIBUTE_KEY = re.compile(r"[A-Za-z0-9_.:/@-]{1,200}")


def _attribute_path(key: str) -> str:
    """The JSON path of an attribute key; keys are limited to the characters keys use, because
    ClickHouse wants the path as a literal, not a parameter."""
    if not _ATTRIBUTE_KEY.fullmatch(key):
        raise InvalidInput(f"attribute key {key!r}: use letters, digits and . _ - : / @ only")
    return f"'$.\"{key}\"'"


def parse_attributes(pairs: list[str] | tuple[str, ...], where: str = "--attr") -> dict[str, str]:
    """['http.route=/cart', 'k=v'] → {'http.route': '/cart', 'k': 'v'}."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"{where} {pair!r}: expected KEY=VALUE")
        _attribute_path(key.strip())
        out[key.strip()] = value
    return out


def service_buckets(store: Store, window: model.TimeRange = model.TimeRange(), buckets: int = 24) -> dict[str, Any]:
    """Every service's entry spans per time bucket: requests, errors, p50 and p95 latency, in one query.

    Services with no entry spans are counted from all their spans.
    """
    cond, params = window_where(window)
    lo, hi = window.since_ns, window.until_ns
    if lo is None or hi is None:
        row = store.query(f"SELECT min(start_ns) AS lo, max(start_ns) AS hi FROM spans WHERE {cond}", params)[0]
        if row["lo"] is None:
            return {"step_ns": 0, "lo_ns": lo, "rows": []}
        lo = lo if lo is not None else row["lo"]
        hi = hi if hi is not None else row["hi"] + 1
    step = max((hi - lo + buckets - 1) // buckets, 1)
    sql = store.sql
    rows = store.query(f"""
        WITH s AS (
            SELECT service, start_ns, duration_ns, status_code = 'ERROR' AS err, {_ENTRY} AS entry
            FROM spans WHERE start_ns >= ? AND start_ns < ?),
        has_entry AS (SELECT service, {sql.bool_or('entry')} AS any_entry FROM s GROUP BY service)
        SELECT s.service AS service, {sql.idiv('(s.start_ns - ?)', '?')} AS b, count(*) AS requests,
               count(*) FILTER (WHERE s.err) AS errors,
               {sql.quantile('s.duration_ns', 0.5)} AS p50, {sql.quantile('s.duration_ns', 0.95)} AS p95
        FROM s JOIN has_entry h ON h.service = s.service
        WHERE s.entry OR NOT h.any_entry
        GROUP BY s.service, b ORDER BY s.service, b""", [lo, hi, lo, step])
    return {"step_ns": step, "lo_ns": lo, "buckets": (hi - lo + step - 1) // step,
            "rows": [{"service": r["service"], "b": int(r["b"]), "requests": r["requests"], "errors": r["errors"],
                      "p50_ms": round(r["p50"] / 1e6, 3), "p95_ms": round(r["p95"] / 1e6, 3)} for r in rows]}


def metric_units(store: Store) -> dict[tuple[str, str], str]:
    """(service, metric name) → the unit its points were recorded in (UCUM: s, ms, By, 1, ...)."""
    rows = store.query("SELECT service, name, max(unit) AS unit FROM metrics WHERE unit <> '' GROUP BY service, name")
    return {(r["service"], r["name"]): r["unit"] for r in rows}


def first_span_ns(store: Store, since_ns: int) -> int | None:
    """When the first span at or after since_ns started (None: no span there)."""
    t = store.query("SELECT min(start_ns) AS t FROM spans WHERE start_ns >= ?", [since_ns])[0]["t"]
    return int(t) if t is not None else None


def newest_span_ns(store: Store) -> int | None:
    """When the newest span started (None: no spans)."""
    t = store.query("SELECT max(start_ns) AS t FROM spans")[0]["t"]
    return int(t) if t is not None else None


def entry_series(store: Store, entry: list[dict[str, Any]], window: model.TimeRange,
                 buckets: int = 60) -> SymptomSeries:
    """The entry points' requests, errors and p90 per bucket over a closed window, and the changes in it."""
    lo, hi = window.since_ns, window.until_ns
    if lo is None or hi is None or hi <= lo:
        return SymptomSeries([], [])
    width = max((hi - lo) // buckets, 1)
    match, params = _entry_match(entry)
    cond, wparams = window_where(window)
    sql = store.sql
    rows = store.query(f"""
        SELECT {sql.idiv('(start_ns - ?)', '?')} AS b, count(*) AS requests,
               count(*) FILTER (WHERE status_code = 'ERROR') AS errors,
               {sql.quantile('duration_ns', 0.9)} / 1e6 AS p90_ms
        FROM spans WHERE {cond} AND {ENTRY} AND {match}
        GROUP BY b ORDER BY b""", [lo, width, *wparams, *params])
    changes = store.query("SELECT time_ns, service, kind, description, version FROM changes "
                          "WHERE time_ns >= ? AND time_ns < ? ORDER BY time_ns", [lo, hi])
    return SymptomSeries([SymptomBucket(lo + int(r["b"]) * width, r["requests"], r["errors"],
                                        float(r["p90_ms"] or 0.0)) for r in rows],
                         [ChangeMark(c["time_ns"], c["service"], c["kind"], c["description"], c["version"])
                          for c in changes])


def _entry_match(entry: list[dict[str, Any]]) -> tuple[str, list[Any]]:
    if not entry:
        return "TRUE", []
    clauses, params = [], []
    for e in entry:
        if e.get("operation"):
            clauses.append("(service = ? AND operation = ?)")
            params += [e["service"], e["operation"]]
        else:
            clauses.append("service = ?")
            params.append(e["service"])
    return "(" + " OR ".join(clauses) + ")", params
