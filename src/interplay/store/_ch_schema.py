"""ClickHouse schema: the OpenTelemetry Collector exporter's tables, Interplay's views over them,
and the SQL that moves a staged Interplay batch into them.

Tables are created exactly as the exporter (`exporter/clickhouseexporter`) creates them, so a
database the exporter already fills is read as is, and what Interplay writes the exporter's users
can read. The rest of Interplay queries `spans`, `logs`, `metrics` and `changes` with the columns of
`interplay.batch`: here those are VIEWs that normalise both spellings the exporter has used over
time (`SPAN_KIND_SERVER` / `Server`, `STATUS_CODE_ERROR` / `Error`) and turn attribute maps into
JSON text. Attribute values are strings in the exporter, so they come back as strings.
"""
from __future__ import annotations

from ..batch import SCHEMAS

_MAP = "Map(LowCardinality(String), String)"
_RES_SCOPE = f"""
    ResourceAttributes {_MAP} CODEC(ZSTD(1)),
    ResourceSchemaUrl String CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    ScopeAttributes {_MAP} CODEC(ZSTD(1)),
    ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)),
    ScopeSchemaUrl String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    MetricName String CODEC(ZSTD(1)),
    MetricDescription String CODEC(ZSTD(1)),
    MetricUnit String CODEC(ZSTD(1)),
    Attributes {_MAP} CODEC(ZSTD(1)),
    StartTimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    TimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),"""
_EXEMPLARS = f"""
    Exemplars Nested (
        FilteredAttributes {_MAP},
        TimeUnix DateTime64(9),
        Value Float64,
        SpanId String,
        TraceId String
    ) CODEC(ZSTD(1)),"""
_METRIC_TAIL = """
    ) ENGINE = MergeTree
    PARTITION BY toDate(TimeUnix)
    ORDER BY (ServiceName, MetricName, Attributes, toUnixTimestamp64Nano(TimeUnix))
    SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1"""

TABLES: dict[str, str] = {
    "otel_traces": f"""CREATE TABLE IF NOT EXISTS otel_traces (
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
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1
) ENGINE = MergeTree
PARTITION BY toDate(Timestamp)
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp))
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1""",
    "otel_logs": f"""CREATE TABLE IF NOT EXISTS otel_logs (
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TimestampTime DateTime DEFAULT toDateTime(Timestamp),
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
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_body Body TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8
) ENGINE = MergeTree
PARTITION BY toDate(TimestampTime)
PRIMARY KEY (ServiceName, TimestampTime)
ORDER BY (ServiceName, TimestampTime, Timestamp)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1""",
    "otel_metrics_gauge": f"""CREATE TABLE IF NOT EXISTS otel_metrics_gauge ({_RES_SCOPE}
    Value Float64 CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),{_EXEMPLARS.rstrip(',')}{_METRIC_TAIL}""",
    "otel_metrics_sum": f"""CREATE TABLE IF NOT EXISTS otel_metrics_sum ({_RES_SCOPE}
    Value Float64 CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),{_EXEMPLARS}
    AggregationTemporality Int32 CODEC(ZSTD(1)),
    IsMonotonic Boolean CODEC(Delta, ZSTD(1)){_METRIC_TAIL}""",
    "otel_metrics_histogram": f"""CREATE TABLE IF NOT EXISTS otel_metrics_histogram ({_RES_SCOPE}
    Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    BucketCounts Array(UInt64) CODEC(ZSTD(1)),
    ExplicitBounds Array(Float64) CODEC(ZSTD(1)),{_EXEMPLARS}
    Flags UInt32 CODEC(ZSTD(1)),
    Min Float64 CODEC(ZSTD(1)),
    Max Float64 CODEC(ZSTD(1)),
    AggregationTemporality Int32 CODEC(ZSTD(1)){_METRIC_TAIL}""",
    "otel_metrics_exponential_histogram": f"""CREATE TABLE IF NOT EXISTS otel_metrics_exponential_histogram ({_RES_SCOPE}
    Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    Scale Int32 CODEC(ZSTD(1)),
    ZeroCount UInt64 CODEC(ZSTD(1)),
    PositiveOffset Int32 CODEC(ZSTD(1)),
    PositiveBucketCounts Array(UInt64) CODEC(ZSTD(1)),
    NegativeOffset Int32 CODEC(ZSTD(1)),
    NegativeBucketCounts Array(UInt64) CODEC(ZSTD(1)),{_EXEMPLARS}
    Flags UInt32 CODEC(ZSTD(1)),
    Min Float64 CODEC(ZSTD(1)),
    Max Float64 CODEC(ZSTD(1)),
    AggregationTemporality Int32 CODEC(ZSTD(1)){_METRIC_TAIL}""",
    "otel_metrics_summary": f"""CREATE TABLE IF NOT EXISTS otel_metrics_summary ({_RES_SCOPE}
    Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    ValueAtQuantiles Nested (
        Quantile Float64,
        Value Float64
    ) CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)){_METRIC_TAIL}""",
    "interplay_changes": """CREATE TABLE IF NOT EXISTS interplay_changes (
    time_ns Int64, service LowCardinality(String), kind LowCardinality(String), description String,
    version String, attributes String
) ENGINE = MergeTree ORDER BY (service, time_ns)""",
}

METRIC_TABLES = {"gauge": "otel_metrics_gauge", "sum": "otel_metrics_sum", "histogram": "otel_metrics_histogram",
                 "exponential_histogram": "otel_metrics_exponential_histogram", "summary": "otel_metrics_summary"}

# -- reading: Interplay's tables as views -----------------------------------------------------------
# Both spellings: SPAN_KIND_SERVER (exporter before v0.9x) and Server (after); '' for a missing code.
_KIND = ("if(SpanKind IN ('', 'SPAN_KIND_UNSPECIFIED', 'Unspecified'), 'UNSPECIFIED', "
         "upper(replaceRegexpOne(SpanKind, '^SPAN_KIND_', '')))")
_STATUS = "if(StatusCode = '', 'UNSET', upper(replaceRegexpOne(StatusCode, '^STATUS_CODE_', '')))"
_NS = "toUnixTimestamp64Nano(toDateTime64({0}, 9))"  # DateTime or DateTime64 columns alike
_TEMPORALITY = "multiIf(AggregationTemporality = 1, 'delta', AggregationTemporality = 2, 'cumulative', '')"


def _json(map_column: str) -> str:
    return f"toJSONString(CAST({map_column}, 'Map(String, String)'))"


_EVENTS = ("toJSONString(arrayMap((t, n, a) -> CAST(tuple(toUnixTimestamp64Nano(t), n, CAST(a, 'Map(String, String)')), "
           "'Tuple(time_ns Int64, name String, attributes Map(String, String))'), "
           "`Events.Timestamp`, `Events.Name`, `Events.Attributes`))")
_LINKS = ("toJSONString(arrayMap((t, s, a) -> CAST(tuple(t, s, CAST(a, 'Map(String, String)')), "
          "'Tuple(trace_id String, span_id String, attributes Map(String, String))'), "
          "`Links.TraceId`, `Links.SpanId`, `Links.Attributes`))")

_METRIC_COMMON = f"""{_NS.format('TimeUnix')} AS time_ns,
       CAST(nullIf({_NS.format('StartTimeUnix')}, 0) AS Nullable(Int64)) AS start_time_ns,
       CAST(ServiceName AS String) AS service, CAST(MetricName AS String) AS name"""
_METRIC_ATTRS = f"{_json('ResourceAttributes')} AS resource_attributes, {_json('Attributes')} AS attributes"


def _metric_select(type_: str, table: str, value: str, count: str, sum_: str, min_: str, max_: str,
                   buckets: str, bounds: str, mono: str, temporality: str) -> str:
    return f"""SELECT {_METRIC_COMMON}, '{type_}' AS type, MetricUnit AS unit,
       CAST({value} AS Nullable(Float64)) AS value, CAST({count} AS Nullable(Int64)) AS count,
       CAST({sum_} AS Nullable(Float64)) AS sum, CAST({min_} AS Nullable(Float64)) AS min,
       CAST({max_} AS Nullable(Float64)) AS max, CAST({buckets} AS Nullable(String)) AS bucket_counts,
       CAST({bounds} AS Nullable(String)) AS explicit_bounds, CAST({mono} AS Nullable(Bool)) AS is_monotonic,
       {temporality} AS temporality, {_METRIC_ATTRS}
FROM {table}"""


_MEAN = "if(Count > 0, Sum / Count, NULL)"
VIEWS: dict[str, str] = {
    "spans": f"""CREATE VIEW IF NOT EXISTS spans AS
SELECT TraceId AS trace_id, SpanId AS span_id, CAST(nullIf(ParentSpanId, '') AS Nullable(String)) AS parent_span_id,
       CAST(ServiceName AS String) AS service, CAST(SpanName AS String) AS operation, {_KIND} AS kind,
       toUnixTimestamp64Nano(Timestamp) AS start_ns, toUnixTimestamp64Nano(Timestamp) + toInt64(Duration) AS end_ns,
       toInt64(Duration) AS duration_ns, {_STATUS} AS status_code, StatusMessage AS status_message,
       ResourceAttributes['service.version'] AS service_version, ScopeName AS scope_name,
       {_json('ResourceAttributes')} AS resource_attributes, {_json('SpanAttributes')} AS attributes,
       {_EVENTS} AS events, {_LINKS} AS links
FROM otel_traces""",
    "logs": f"""CREATE VIEW IF NOT EXISTS logs AS
SELECT toUnixTimestamp64Nano(Timestamp) AS time_ns, toUnixTimestamp64Nano(Timestamp) AS observed_time_ns,
       CAST(ServiceName AS String) AS service, toInt32(SeverityNumber) AS severity_number,
       CAST(SeverityText AS String) AS severity_text, Body AS body,
       CAST(nullIf(TraceId, '') AS Nullable(String)) AS trace_id,
       CAST(nullIf(SpanId, '') AS Nullable(String)) AS span_id, ScopeName AS scope_name,
       {_json('ResourceAttributes')} AS resource_attributes, {_json('LogAttributes')} AS attributes
FROM otel_logs""",
    "metrics": "CREATE VIEW IF NOT EXISTS metrics AS\n" + "\nUNION ALL\n".join([
        _metric_select("gauge", "otel_metrics_gauge", "Value", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL",
                       "NULL", "''"),
        _metric_select("sum", "otel_metrics_sum", "Value", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL",
                       "IsMonotonic", _TEMPORALITY),
        _metric_select("histogram", "otel_metrics_histogram", _MEAN, "Count", "Sum", "Min", "Max",
                       "toJSONString(BucketCounts)", "toJSONString(ExplicitBounds)", "NULL", _TEMPORALITY),
        _metric_select("exponential_histogram", "otel_metrics_exponential_histogram", _MEAN, "Count", "Sum",
                       "Min", "Max", "NULL", "NULL", "NULL", _TEMPORALITY),
        _metric_select("summary", "otel_metrics_summary", _MEAN, "Count", "Sum", "NULL", "NULL",
                       "toJSONString(`ValueAtQuantiles.Value`)", "toJSONString(`ValueAtQuantiles.Quantile`)",
                       "NULL", "''"),
    ]),
    "changes": "CREATE VIEW IF NOT EXISTS changes AS SELECT * FROM interplay_changes",
}

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


def _raw_map(raw: str) -> str:
    return _map_of(raw)


def _map_of(expr: str) -> str:
    # Non-string values come out as their JSON text (1, true, [1,2]), as the exporter writes them.
    return f"CAST(JSONExtract({expr}, 'Map(String, String)'), '{_MAP}')"


# Newer exporter spelling (pdata's String()): Server, Error, Unset.
_KIND_OUT = ("multiIf(kind = 'SERVER', 'Server', kind = 'CLIENT', 'Client', kind = 'PRODUCER', 'Producer', "
             "kind = 'CONSUMER', 'Consumer', kind = 'INTERNAL', 'Internal', 'Unspecified')")
_STATUS_OUT = "multiIf(status_code = 'ERROR', 'Error', status_code = 'OK', 'Ok', 'Unset')"
_FROM_NS = "fromUnixTimestamp64Nano(toInt64({0}))"


def move_sql(table: str, stage: str, metric_type: str | None = None) -> str:
    """INSERT ... SELECT moving a staging table's rows into their exporter table."""
    if table == "spans":
        ev = "JSONExtractArrayRaw(ifNull(events, '[]'))"
        ln = "JSONExtractArrayRaw(ifNull(links, '[]'))"
        return f"""INSERT INTO otel_traces (Timestamp, TraceId, SpanId, ParentSpanId, TraceState, SpanName, SpanKind,
    ServiceName, ResourceAttributes, ScopeName, ScopeVersion, SpanAttributes, Duration, StatusCode, StatusMessage,
    `Events.Timestamp`, `Events.Name`, `Events.Attributes`, `Links.TraceId`, `Links.SpanId`, `Links.TraceState`,
    `Links.Attributes`)
SELECT {_FROM_NS.format('start_ns')}, trace_id, span_id, ifNull(parent_span_id, ''), '', operation, {_KIND_OUT},
       service, {_with_version()}, ifNull(scope_name, ''), '', {_to_map('attributes')},
       toUInt64(greatest(ifNull(duration_ns, end_ns - start_ns), 0)), {_STATUS_OUT}, ifNull(status_message, ''),
       arrayMap(e -> {_FROM_NS.format("JSONExtractInt(e, 'time_ns')")}, {ev}),
       arrayMap(e -> JSONExtractString(e, 'name'), {ev}),
       arrayMap(e -> {_raw_map("JSONExtractRaw(e, 'attributes')")}, {ev}),
       arrayMap(e -> JSONExtractString(e, 'trace_id'), {ln}), arrayMap(e -> JSONExtractString(e, 'span_id'), {ln}),
       arrayMap(e -> '', {ln}), arrayMap(e -> {_raw_map("JSONExtractRaw(e, 'attributes')")}, {ln})
FROM {stage}"""
    if table == "logs":
        return f"""INSERT INTO otel_logs (Timestamp, TraceId, SpanId, SeverityText, SeverityNumber, ServiceName, Body,
    ResourceAttributes, ScopeName, LogAttributes)
SELECT {_FROM_NS.format('time_ns')}, ifNull(trace_id, ''), ifNull(span_id, ''), ifNull(severity_text, ''),
       toUInt8(least(greatest(ifNull(severity_number, 0), 0), 255)), service, ifNull(body, ''),
       {_to_map('resource_attributes')}, ifNull(scope_name, ''), {_to_map('attributes')}
FROM {stage}"""
    if table == "changes":
        return (f"INSERT INTO interplay_changes SELECT time_ns, service, kind, ifNull(description, ''), "
                f"ifNull(version, ''), ifNull(attributes, '{{}}') FROM {stage}")
    return _metric_move(stage, metric_type or "gauge")


def _with_version() -> str:
    """Resource attributes, with service.version added when only the column carried it."""
    base = _to_map("resource_attributes")
    return (f"if(ifNull(service_version, '') = '' OR mapContains({base}, 'service.version'), {base}, "
            f"mapUpdate({base}, CAST(map('service.version', service_version), '{_MAP}')))")


def _metric_move(stage: str, type_: str) -> str:
    table = METRIC_TABLES[type_]
    common = ["ResourceAttributes", "ServiceName", "MetricName", "MetricUnit", "Attributes", "StartTimeUnix",
              "TimeUnix"]
    values = [_to_map("resource_attributes"), "service", "name", "ifNull(unit, '')", _to_map("attributes"),
              _FROM_NS.format("ifNull(start_time_ns, 0)"), _FROM_NS.format("time_ns")]
    temporality = "multiIf(temporality = 'delta', 1, temporality = 'cumulative', 2, 0)"
    floats = "arrayMap(x -> toFloat64(x), JSONExtract(ifNull({0}, '[]'), 'Array(Float64)'))"
    extra: dict[str, str] = {}
    if type_ in ("gauge", "sum"):
        extra["Value"] = "ifNull(value, nan)"
    if type_ == "sum":
        extra.update(AggregationTemporality=temporality, IsMonotonic="ifNull(is_monotonic, false)")
    if type_ in ("histogram", "exponential_histogram", "summary"):
        extra.update(Count="toUInt64(ifNull(count, 0))", Sum="ifNull(sum, 0)")
    if type_ in ("histogram", "exponential_histogram"):
        extra.update(Min="ifNull(min, nan)", Max="ifNull(max, nan)", AggregationTemporality=temporality)
    if type_ == "histogram":
        extra.update(BucketCounts="JSONExtract(ifNull(bucket_counts, '[]'), 'Array(UInt64)')",
                     ExplicitBounds=floats.format("explicit_bounds"))
    if type_ == "summary":
        extra["`ValueAtQuantiles.Quantile`"] = floats.format("explicit_bounds")
        extra["`ValueAtQuantiles.Value`"] = floats.format("bucket_counts")
    cols = common + list(extra)
    return (f"INSERT INTO {table} ({', '.join(cols)}) SELECT {', '.join(values + list(extra.values()))} "
            f"FROM {stage} WHERE type = '{type_}'")


# Rows a failed move may have written, matched by key, for the compensating delete.
UNDO: dict[str, tuple[str, str]] = {
    "spans": ("otel_traces", "(TraceId, SpanId) IN (SELECT trace_id, span_id FROM {stage})"),
    "logs": ("otel_logs", "(Timestamp, ServiceName, Body) IN (SELECT " + _FROM_NS.format("time_ns")
             + ", service, ifNull(body, '') FROM {stage})"),
    "changes": ("interplay_changes", "(time_ns, service, description) IN "
                                     "(SELECT time_ns, service, ifNull(description, '') FROM {stage})"),
}
METRIC_UNDO = ("(TimeUnix, ServiceName, MetricName) IN (SELECT " + _FROM_NS.format("time_ns")
               + ", service, name FROM {stage})")

# Retention: (table, time expression) per telemetry table the store deletes from.
TIME_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "spans": [("otel_traces", "Timestamp")],
    "logs": [("otel_logs", "Timestamp")],
    "metrics": [(t, "TimeUnix") for t in METRIC_TABLES.values()],
}
