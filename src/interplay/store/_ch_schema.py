"""ClickHouse schema for writing: the exporter's tables as the current OpenTelemetry Collector
ClickHouse exporter (`exporter/clickhouseexporter`) creates them, Interplay's own tables, and the SQL
that moves a staged Interplay batch into whatever exporter tables exist.

Interplay creates tables only when asked to write (ingest, serve, migrate into the store), and only
those missing: the exporter's tables in the user's database (with the trace-id lookup table and its
materialized view when it creates `otel_traces` itself), its own (`interplay_changes`, kept
investigations, staging tables) in a database of its own. Writes fit the columns that are there:
an older table without `ScopeName` or `EventName` gets the rest, a JSON-typed one gets JSON. Reading
is `_ch_sources`.
"""
from __future__ import annotations

from ..batch import SCHEMAS
from ..model import InvalidInput
from ._ch_sources import CHANGES, LOGS, METRIC_TABLES, TRACES, Columns, _ident

_MAP = "Map(LowCardinality(String), String)"


def _items(column: str) -> str:
    """The exporter's `key=value` array alias over an attribute map (what its text indexes serve)."""
    return (f"{column.removesuffix('s')}Items Array(String) ALIAS "
            f"arrayMap(kv -> concat(kv.1, '=', kv.2), CAST({column}, 'Array(Tuple(String, String))'))")


def exporter_ddl(db: str, existing: Columns) -> list[str]:
    """CREATE statements for the exporter tables `db` lacks (current exporter DDL)."""
    q = _ident(db)
    out = []
    if TRACES not in existing:
        out += [_TRACES.format(db=q, items=",\n    ".join(_items(c) for c in ("ResourceAttributes", "SpanAttributes"))),
                _TRACE_ID_TS.format(db=q), _TRACE_ID_TS_MV.format(db=q)]
    if LOGS not in existing:
        out.append(_LOGS.format(db=q, items=",\n    ".join(
            _items(c) for c in ("ResourceAttributes", "ScopeAttributes", "LogAttributes"))))
    for type_, table in METRIC_TABLES.items():
        if table not in existing:
            out.append(_METRIC.format(db=q, table=table, columns=_METRIC_COLUMNS[type_]))
    return out


def own_ddl(own: str) -> list[str]:
    return [f"CREATE DATABASE IF NOT EXISTS {_ident(own)}",
            f"""CREATE TABLE IF NOT EXISTS {_ident(own)}.{CHANGES} (
    time_ns Int64, service LowCardinality(String), kind LowCardinality(String), description String,
    version String, attributes String
) ENGINE = MergeTree ORDER BY (service, time_ns)"""]


_TRACES = f"""CREATE TABLE IF NOT EXISTS {{db}}.{TRACES} (
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes {_MAP} CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes {_MAP} CODEC(ZSTD(1)),
    Duration UInt64 CODEC(T64, ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested (
        Timestamp DateTime64(9),
        Name LowCardinality(String),
        Attributes {_MAP}
    ) CODEC(ZSTD(1)),
    Links Nested (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes {_MAP}
    ) CODEC(ZSTD(1)),
    {{items}},
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1,
    INDEX idx_lower_span_name lower(SpanName) TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8
) ENGINE = MergeTree
PARTITION BY toDate(Timestamp)
PRIMARY KEY (ServiceName, SpanName, toDateTime(Timestamp))
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp), Timestamp)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1"""

# The exporter's lookup from trace id to its time range, kept by a materialized view.
_TRACE_ID_TS = f"""CREATE TABLE IF NOT EXISTS {{db}}.{TRACES}_trace_id_ts (
    TraceId String CODEC(ZSTD(1)),
    Start SimpleAggregateFunction(min, DateTime) CODEC(ZSTD(1)),
    End SimpleAggregateFunction(max, DateTime) CODEC(ZSTD(1))
) ENGINE = AggregatingMergeTree()
PARTITION BY toStartOfWeek(Start)
ORDER BY (TraceId)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1"""
_TRACE_ID_TS_MV = f"""CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.{TRACES}_trace_id_ts_mv
TO {{db}}.{TRACES}_trace_id_ts
AS SELECT TraceId, min(Timestamp) AS Start, max(Timestamp) AS End
FROM {{db}}.{TRACES}
WHERE TraceId != ''
GROUP BY TraceId"""

_LOGS = f"""CREATE TABLE IF NOT EXISTS {{db}}.{LOGS} (
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    TraceFlags UInt8,
    SeverityText LowCardinality(String) CODEC(ZSTD(1)),
    SeverityNumber UInt8,
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    Body String CODEC(ZSTD(1)),
    ResourceSchemaUrl LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes {_MAP} CODEC(ZSTD(1)),
    ScopeSchemaUrl LowCardinality(String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion LowCardinality(String) CODEC(ZSTD(1)),
    ScopeAttributes {_MAP} CODEC(ZSTD(1)),
    LogAttributes {_MAP} CODEC(ZSTD(1)),
    EventName String CODEC(ZSTD(1)),
    {{items}},
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_log_attr_key mapKeys(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_log_attr_value mapValues(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_lower_body lower(Body) TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8
) ENGINE = MergeTree
PARTITION BY toDate(Timestamp)
PRIMARY KEY (ServiceName, toDateTime(Timestamp))
ORDER BY (ServiceName, toDateTime(Timestamp), Timestamp)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1"""

# Metric tables as the exporter creates them since v0.160: times in whole seconds (DateTime), sorted by
# hour and a hash of the attributes rather than the whole attribute map (a smaller primary index).
_EXEMPLARS = f"""Exemplars Nested (
        FilteredAttributes {_MAP},
        TimeUnix DateTime,
        Value Float64,
        SpanId String,
        TraceId String
    ) CODEC(ZSTD(1))"""
_HIST_TAIL = f"""{_EXEMPLARS},
    Flags UInt32 CODEC(ZSTD(1)),
    Min Float64 CODEC(ZSTD(1)),
    Max Float64 CODEC(ZSTD(1)),
    AggregationTemporality Int32 CODEC(ZSTD(1))"""
_METRIC_COLUMNS = {
    "gauge": f"Value Float64 CODEC(ZSTD(1)),\n    Flags UInt32 CODEC(ZSTD(1)),\n    {_EXEMPLARS}",
    "sum": f"""Value Float64 CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),
    {_EXEMPLARS},
    AggregationTemporality Int32 CODEC(ZSTD(1)),
    IsMonotonic Boolean CODEC(Delta, ZSTD(1))""",
    "histogram": f"""Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    BucketCounts Array(UInt64) CODEC(ZSTD(1)),
    ExplicitBounds Array(Float64) CODEC(ZSTD(1)),
    {_HIST_TAIL}""",
    "exponential_histogram": f"""Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    Scale Int32 CODEC(ZSTD(1)),
    ZeroCount UInt64 CODEC(ZSTD(1)),
    PositiveOffset Int32 CODEC(ZSTD(1)),
    PositiveBucketCounts Array(UInt64) CODEC(ZSTD(1)),
    NegativeOffset Int32 CODEC(ZSTD(1)),
    NegativeBucketCounts Array(UInt64) CODEC(ZSTD(1)),
    {_HIST_TAIL}""",
    "summary": """Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    ValueAtQuantiles Nested (
        Quantile Float64,
        Value Float64
    ) CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1))""",
}
_METRIC = f"""CREATE TABLE IF NOT EXISTS {{db}}.{{table}} (
    ResourceAttributes {_MAP} CODEC(ZSTD(1)),
    ResourceSchemaUrl String CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    ScopeAttributes {_MAP} CODEC(ZSTD(1)),
    ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)),
    ScopeSchemaUrl String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    MetricName LowCardinality(String) CODEC(ZSTD(1)),
    MetricDescription String CODEC(ZSTD(1)),
    MetricUnit String CODEC(ZSTD(1)),
    Attributes {_MAP} CODEC(ZSTD(1)),
    StartTimeUnix DateTime CODEC(Delta, ZSTD(1)),
    TimeUnix DateTime CODEC(Delta, ZSTD(1)),
    {{columns}},
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_key mapKeys(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_value mapValues(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_time_minmax TimeUnix TYPE minmax GRANULARITY 1
) ENGINE = MergeTree
PARTITION BY toDate(TimeUnix)
ORDER BY (ServiceName, MetricName, toStartOfHour(TimeUnix), cityHash64(Attributes), TimeUnix)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1"""

# -- writing: a staged Interplay batch → the exporter's tables --------------------------------------
_CH_TYPES = {"string": "Nullable(String)", "int64": "Nullable(Int64)", "int32": "Nullable(Int32)",
             "double": "Nullable(Float64)", "bool": "Nullable(Bool)"}


def staging_ddl(stage: str, table: str) -> str:
    """A staging table with the columns of batch.py's schema for `table`."""
    cols = ", ".join(f"`{f.name}` {_CH_TYPES[str(f.type)]}" for f in SCHEMAS[table])
    return f"CREATE TABLE {stage} ({cols}) ENGINE = MergeTree ORDER BY tuple()"


def _to_map(json_column: str) -> str:
    """JSON object text → Map(String, String), values as the exporter writes them (strings unquoted)."""
    return _map_of(f"ifNull({json_column}, '{{}}')")


def _map_of(expr: str) -> str:
    # Non-string values come out as their JSON text (1, true, [1,2]), as the exporter writes them.
    return f"CAST(JSONExtract({expr}, 'Map(String, String)'), '{_MAP}')"


# Newer exporter spelling (pdata's String()): Server, Error, Unset.
_KIND_OUT = ("multiIf(kind = 'SERVER', 'Server', kind = 'CLIENT', 'Client', kind = 'PRODUCER', 'Producer', "
             "kind = 'CONSUMER', 'Consumer', kind = 'INTERNAL', 'Internal', 'Unspecified')")
_STATUS_OUT = "multiIf(status_code = 'ERROR', 'Error', status_code = 'OK', 'Ok', 'Unset')"
_FROM_NS = "fromUnixTimestamp64Nano(toInt64({0}))"
_EV = "JSONExtractArrayRaw(ifNull(events, '[]'))"
_LN = "JSONExtractArrayRaw(ifNull(links, '[]'))"
_EX = "JSONExtractArrayRaw(ifNull(exemplars, '[]'))"
_FLOATS = "arrayMap(x -> toFloat64(x), JSONExtract(ifNull({0}, '[]'), 'Array(Float64)'))"
_UINTS = "JSONExtract(ifNull({0}, '[]'), 'Array(UInt64)')"
_E_ATTRS = _map_of("JSONExtractRaw(e, 'attributes')")  # of one element e of _EV, _LN or _EX
_E_TIME = _FROM_NS.format("JSONExtractInt(e, 'time_ns')")


def move_sql(table: str, stage: str, metric_type: str | None = None, *, db: str = "default",
             own: str = "interplay", columns: Columns | None = None) -> str:
    """INSERT ... SELECT moving a staging table's rows into their table in `db` (changes: `own`),
    writing only the columns the target has (`columns`, as detected; None: the current exporter's)."""
    if table == "changes":
        return (f"INSERT INTO {_ident(own)}.{CHANGES} SELECT time_ns, service, kind, ifNull(description, ''), "
                f"ifNull(version, ''), ifNull(attributes, '{{}}') FROM {stage}")
    target = {"spans": TRACES, "logs": LOGS}.get(table) or METRIC_TABLES[metric_type or "gauge"]
    values = {"spans": _span_values, "logs": _log_values}.get(table, _metric_values)(metric_type or "gauge")
    have = (columns or {}).get(target)
    if have is not None:
        values = {col: _fit(expr, have[col]) for col, expr in {**values, **_legacy(values, have)}.items()
                  if col in have}
    cols = ", ".join(f"`{c}`" for c in values)
    where = f" WHERE type = '{metric_type}'" if table == "metrics" else ""
    return (f"INSERT INTO {_ident(db)}.{target} ({cols}) SELECT {', '.join(values.values())} "
            f"FROM {stage}{where}")


def check_writable(table: str, have: dict[str, str], db: str) -> None:
    """InvalidInput naming the column when an existing exporter table lacks one writes need."""
    from ._ch_sources import REQUIRED
    missing = [c for c in REQUIRED.get(table, ()) if c not in have]
    if missing:
        raise InvalidInput(f"cannot write to {db}.{table}: it has no column {missing[0]}")


def _legacy(values: dict[str, str], have: dict[str, str]) -> dict[str, str]:
    """The first metric tables' names for what later ones call Value and AggregationTemporality."""
    out = {}
    for col in ("Value", "Exemplars.Value"):
        if col in values and col not in have and f"{col}AsDouble" in have:
            out[f"{col}AsDouble"] = values[col]
            out[f"{col}AsInt"] = "0" if col == "Value" else f"arrayMap(x -> 0, {values[col]})"
    if "AggregationTemporality" in values and "AggregationTemporality" not in have:
        out["AggTemp"] = values["AggregationTemporality"]
    return out


def _fit(expr: str, kind: str) -> str:
    """A Map-valued expression for a column that may be JSON-typed (the exporter's JSON tables)."""
    if kind.startswith("JSON"):
        return f"CAST({expr}, 'JSON')"
    if kind.startswith("Array(JSON"):
        return f"arrayMap(m -> CAST(m, 'JSON'), {expr})"
    return expr


def _span_values(_: str) -> dict[str, str]:
    return {
        "Timestamp": _FROM_NS.format("start_ns"), "TraceId": "trace_id", "SpanId": "span_id",
        "ParentSpanId": "ifNull(parent_span_id, '')", "TraceState": "ifNull(trace_state, '')",
        "SpanName": "operation", "SpanKind": _KIND_OUT, "ServiceName": "service",
        "ResourceAttributes": _with_version(), "ScopeName": "ifNull(scope_name, '')",
        "ScopeVersion": "ifNull(scope_version, '')", "SpanAttributes": _to_map("attributes"),
        "Duration": "toUInt64(greatest(ifNull(duration_ns, end_ns - start_ns), 0))",
        "StatusCode": _STATUS_OUT, "StatusMessage": "ifNull(status_message, '')",
        "Events.Timestamp": f"arrayMap(e -> {_E_TIME}, {_EV})",
        "Events.Name": f"arrayMap(e -> JSONExtractString(e, 'name'), {_EV})",
        "Events.Attributes": f"arrayMap(e -> {_E_ATTRS}, {_EV})",
        "Links.TraceId": f"arrayMap(e -> JSONExtractString(e, 'trace_id'), {_LN})",
        "Links.SpanId": f"arrayMap(e -> JSONExtractString(e, 'span_id'), {_LN})",
        "Links.TraceState": f"arrayMap(e -> JSONExtractString(e, 'trace_state'), {_LN})",
        "Links.Attributes": f"arrayMap(e -> {_E_ATTRS}, {_LN})",
    }


def _log_values(_: str) -> dict[str, str]:
    return {
        "Timestamp": _FROM_NS.format("time_ns"), "TraceId": "ifNull(trace_id, '')", "SpanId": "ifNull(span_id, '')",
        "TraceFlags": "toUInt8(ifNull(trace_flags, 0))", "SeverityText": "ifNull(severity_text, '')",
        "SeverityNumber": "toUInt8(least(greatest(ifNull(severity_number, 0), 0), 255))",
        "ServiceName": "service", "Body": "ifNull(body, '')", "ResourceAttributes": _to_map("resource_attributes"),
        "ScopeName": "ifNull(scope_name, '')", "ScopeVersion": "ifNull(scope_version, '')",
        "LogAttributes": _to_map("attributes"), "EventName": "ifNull(event_name, '')",
    }


def _metric_values(type_: str) -> dict[str, str]:
    out = {"ResourceAttributes": _to_map("resource_attributes"), "ScopeName": "ifNull(scope_name, '')",
           "ScopeVersion": "ifNull(scope_version, '')", "ServiceName": "service", "MetricName": "name",
           "MetricDescription": "ifNull(description, '')", "MetricUnit": "ifNull(unit, '')",
           "Attributes": _to_map("attributes"), "StartTimeUnix": _FROM_NS.format("ifNull(start_time_ns, 0)"),
           "TimeUnix": _FROM_NS.format("time_ns"), "Flags": "toUInt32(ifNull(flags, 0))"}
    temporality = "multiIf(temporality = 'delta', 1, temporality = 'cumulative', 2, 0)"
    if type_ in ("gauge", "sum"):
        out["Value"] = "ifNull(value, nan)"
    if type_ == "sum":
        out.update(AggregationTemporality=temporality, IsMonotonic="ifNull(is_monotonic, false)")
    if type_ in ("histogram", "exponential_histogram", "summary"):
        out.update(Count="toUInt64(ifNull(count, 0))", Sum="ifNull(sum, 0)")
    if type_ in ("histogram", "exponential_histogram"):
        out.update(Min="ifNull(min, nan)", Max="ifNull(max, nan)", AggregationTemporality=temporality)
    if type_ == "histogram":
        out.update(BucketCounts=_UINTS.format("bucket_counts"), ExplicitBounds=_FLOATS.format("explicit_bounds"))
    if type_ == "exponential_histogram":
        out.update(Scale="ifNull(scale, 0)", ZeroCount="toUInt64(ifNull(zero_count, 0))",
                   PositiveOffset="ifNull(positive_offset, 0)",
                   PositiveBucketCounts=_UINTS.format("positive_bucket_counts"),
                   NegativeOffset="ifNull(negative_offset, 0)",
                   NegativeBucketCounts=_UINTS.format("negative_bucket_counts"))
    if type_ == "summary":
        out["ValueAtQuantiles.Quantile"] = _FLOATS.format("explicit_bounds")
        out["ValueAtQuantiles.Value"] = _FLOATS.format("bucket_counts")
    if type_ != "summary":
        out.update({
            "Exemplars.FilteredAttributes": f"arrayMap(e -> {_E_ATTRS}, {_EX})",
            "Exemplars.TimeUnix": f"arrayMap(e -> {_E_TIME}, {_EX})",
            "Exemplars.Value": f"arrayMap(e -> JSONExtractFloat(e, 'value'), {_EX})",
            "Exemplars.SpanId": f"arrayMap(e -> JSONExtractString(e, 'span_id'), {_EX})",
            "Exemplars.TraceId": f"arrayMap(e -> JSONExtractString(e, 'trace_id'), {_EX})",
        })
    return out


def _with_version() -> str:
    """Resource attributes, with service.version added when only the column carried it."""
    base = _to_map("resource_attributes")
    return (f"if(ifNull(service_version, '') = '' OR mapContains({base}, 'service.version'), {base}, "
            f"mapUpdate({base}, CAST(map('service.version', service_version), '{_MAP}')))")


# Rows a failed move may have written, matched by key, for the compensating delete.
UNDO: dict[str, tuple[str, str]] = {
    "spans": (TRACES, "(TraceId, SpanId) IN (SELECT trace_id, span_id FROM {stage})"),
    "logs": (LOGS, "(Timestamp, ServiceName, Body) IN (SELECT " + _FROM_NS.format("time_ns")
             + ", service, ifNull(body, '') FROM {stage})"),
    "changes": (CHANGES, "(time_ns, service, description) IN "
                         "(SELECT time_ns, service, ifNull(description, '') FROM {stage})"),
}
METRIC_UNDO = ("(TimeUnix, ServiceName, MetricName) IN (SELECT " + _FROM_NS.format("time_ns")
               + ", service, name FROM {stage})")

# Retention: (table, time column) per telemetry table the store deletes from.
TIME_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "spans": [(TRACES, "Timestamp")],
    "logs": [(LOGS, "Timestamp")],
    "metrics": [(t, "TimeUnix") for t in METRIC_TABLES.values()],
}
