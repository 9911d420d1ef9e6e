"""Reading the exporter's tables as Interplay's `spans`, `logs`, `metrics` and `changes`, whatever
generation of the OpenTelemetry Collector ClickHouse exporter created them, without creating anything.

On open, the store reads which columns `otel_traces`, `otel_logs` and `otel_metrics_*` have
(`system.columns`) and builds one SELECT per Interplay table from them; every query the layers above
run gets the tables it names as common table expressions in front (`in_scope`), its own text left as
written. So a read-only command needs no view, and the SELECT always fits the columns that are there:

- old tables: no `ScopeName`/`ScopeVersion`, `Duration Int64`, `SPAN_KIND_*`/`STATUS_CODE_*` spellings,
  no `EventName`, `TraceFlags` or exemplars; the first metric tables without `ServiceName` (it is read
  from the resource), with `ValueAsDouble`/`ValueAsInt` for `Value` and `AggTemp` for the temporality;
- current tables: `Map(LowCardinality(String), String)` attributes, `EventName`, `*AttributeItems` aliases,
  metric and exemplar times in whole seconds (`DateTime`, since exporter v0.160);
- JSON-typed tables (`traces_json_table.sql` and friends): attributes of type `JSON`, whose dotted keys
  ClickHouse stores as nested paths; they are flattened back to `{"service.name": ...}` here.

A span's `attributes` and `resource_attributes` are maps, not text: the exporter's `SpanAttributes` and
`ResourceAttributes` as stored, so `clickhouse_sql.attr` reads `SpanAttributes['http.route']` without
any JSON in between (JSON-typed and text columns are converted to a map); the question modules ask
`sql.attrs_text` where they return them. Logs, metrics and changes keep attributes as JSON text.

A table that is missing reads as empty; a column Interplay cannot do without raises an error that
names the table and the column.
"""
from __future__ import annotations

from ..batch import SCHEMAS
from ..model import StoreUnavailable
from .clickhouse_sql import _TEMP_TABLE_AS

TRACES, LOGS, CHANGES = "otel_traces", "otel_logs", "interplay_changes"
METRIC_TABLES = {"gauge": "otel_metrics_gauge", "sum": "otel_metrics_sum", "histogram": "otel_metrics_histogram",
                 "exponential_histogram": "otel_metrics_exponential_histogram", "summary": "otel_metrics_summary"}
EXPORTER_TABLES = (TRACES, LOGS, *METRIC_TABLES.values())
REQUIRED = {TRACES: ("Timestamp", "TraceId", "SpanId", "ParentSpanId", "SpanName", "SpanKind", "ServiceName",
                     "Duration", "StatusCode"),
            LOGS: ("Timestamp", "ServiceName", "Body"),
            **{t: ("TimeUnix", "MetricName") for t in METRIC_TABLES.values()}}
Columns = dict[str, dict[str, str]]  # table → column → ClickHouse type


def detect(transport, database: str, own: str) -> Columns:
    """Columns of every exporter table in `database` and of Interplay's tables in `own`."""
    rows = transport.query_arrow(
        "SELECT database, table, name, type FROM system.columns "
        "WHERE (database = {db:String} AND table IN {tables:Array(String)}) "
        "OR (database = {own:String} AND table = {changes:String})",
        {"db": database, "tables": list(EXPORTER_TABLES), "own": own, "changes": CHANGES}).to_pylist()
    found: Columns = {}
    for r in rows:
        found.setdefault(r["table"], {})[r["name"]] = r["type"]
    if not found and not transport.query_arrow("SELECT name FROM system.databases WHERE name = {db:String}",
                                               {"db": database}).num_rows:
        raise StoreUnavailable(f"{transport.description}: database {database} does not exist")
    for table, cols in found.items():
        missing = [c for c in REQUIRED.get(table, ()) if c not in cols]
        if missing:
            raise StoreUnavailable(
                f"{database}.{table} has no column {missing[0]} (columns: {', '.join(list(cols)[:12])}): "
                "not a table of the OpenTelemetry Collector ClickHouse exporter Interplay can read")
    return found


def sources(columns: Columns, database: str, own: str) -> dict[str, str]:
    """A SELECT per Interplay table (`spans`, `logs`, `metrics`, `changes`) over what exists."""
    db, ownq = _ident(database), _ident(own)
    metric_parts = [_metrics(type_, table, columns[table], db) for type_, table in METRIC_TABLES.items()
                    if table in columns]
    return {
        "spans": _spans(columns[TRACES], db) if TRACES in columns else _empty("spans"),
        "logs": _logs(columns[LOGS], db) if LOGS in columns else _empty("logs"),
        "metrics": "\nUNION ALL\n".join(metric_parts) if metric_parts else _empty("metrics"),
        "changes": (f"SELECT time_ns, service, kind, description, version, attributes FROM {ownq}.{CHANGES}"
                    if CHANGES in columns else _empty("changes")),
    }


def in_scope(sql: str, tables: dict[str, str]) -> str:
    """`sql` with Interplay's tables defined as common table expressions in front of its query.

    The statement itself is left as written (ClickHouse resolves `spans` to the CTE, in subqueries
    and UNION parts too), so nothing in a literal, a comment or a quoted name is touched. Only the
    tables whose name occurs in the text are defined (a false match costs an unused CTE). A SELECT
    or WITH [RECURSIVE] gets them ahead of its own CTEs, `CREATE TEMPORARY TABLE ... AS` (the
    vocabulary's `create_temp_table`) in its query; any other statement runs as is.

    >>> in_scope("SELECT 'FROM spans' AS s FROM spans", {"spans": "SELECT 1", "logs": "SELECT 2"})
    "WITH spans AS (SELECT 1) SELECT 'FROM spans' AS s FROM spans"
    """
    head, query = "", sql.lstrip()
    if query[:22].upper() == "CREATE TEMPORARY TABLE" and _TEMP_TABLE_AS in query:
        head, sep, query = query.partition(_TEMP_TABLE_AS)
        head, query = head + sep, query.lstrip()
    ctes = ", ".join(f"{name} AS ({select})" for name, select in tables.items() if name in query)
    if not ctes:
        return sql
    words = query.split(None, 2)
    first = words[0].upper() if words else ""
    if first == "WITH":
        if len(words) > 2 and words[1].upper() == "RECURSIVE":
            return f"{head}WITH RECURSIVE {ctes}, {words[2]}"
        return f"{head}WITH {ctes}, {query[4:].lstrip()}"
    if first.startswith("SELECT"):
        return f"{head}WITH {ctes} {query}"
    if query.startswith("("):  # a parenthesised UNION takes no WITH in front
        return f"{head}WITH {ctes} SELECT * FROM ({query})"
    return sql


# -- the SELECTs ------------------------------------------------------------------------------------
_KIND = ("if(SpanKind IN ('', 'SPAN_KIND_UNSPECIFIED', 'Unspecified'), 'UNSPECIFIED', "
         "upper(replaceRegexpOne(SpanKind, '^SPAN_KIND_', '')))")
_STATUS = "if(StatusCode = '', 'UNSET', upper(replaceRegexpOne(StatusCode, '^STATUS_CODE_', '')))"
_NS = "toUnixTimestamp64Nano(toDateTime64({0}, 9))"  # DateTime or DateTime64 columns alike
_TEMPORALITY = "multiIf(AggregationTemporality = 1, 'delta', AggregationTemporality = 2, 'cumulative', '')"


def _spans(c: dict[str, str], db: str) -> str:
    return f"""SELECT TraceId AS trace_id, SpanId AS span_id,
       CAST(nullIf(ParentSpanId, '') AS Nullable(String)) AS parent_span_id,
       CAST(ServiceName AS String) AS service, CAST(SpanName AS String) AS operation, {_KIND} AS kind,
       toUnixTimestamp64Nano(Timestamp) AS start_ns, toUnixTimestamp64Nano(Timestamp) + toInt64(Duration) AS end_ns,
       toInt64(Duration) AS duration_ns, {_STATUS} AS status_code, {_str(c, 'StatusMessage')} AS status_message,
       {_attr_get(c, 'ResourceAttributes', 'service.version')} AS service_version,
       {_str(c, 'ScopeName')} AS scope_name, {_map(c, 'ResourceAttributes')} AS resource_attributes,
       {_map(c, 'SpanAttributes')} AS attributes, {_events(c)} AS events, {_links(c)} AS links,
       {_str(c, 'TraceState')} AS trace_state, {_str(c, 'ScopeVersion')} AS scope_version
FROM {db}.{TRACES}"""


def _logs(c: dict[str, str], db: str) -> str:
    flags = "toInt32(TraceFlags)" if "TraceFlags" in c else "toInt32(0)"
    return f"""SELECT toUnixTimestamp64Nano(Timestamp) AS time_ns, toUnixTimestamp64Nano(Timestamp) AS observed_time_ns,
       CAST(ServiceName AS String) AS service, toInt32({_or(c, 'SeverityNumber', '0')}) AS severity_number,
       {_str(c, 'SeverityText')} AS severity_text, CAST(Body AS String) AS body,
       CAST(nullIf({_str(c, 'TraceId')}, '') AS Nullable(String)) AS trace_id,
       CAST(nullIf({_str(c, 'SpanId')}, '') AS Nullable(String)) AS span_id, {_str(c, 'ScopeName')} AS scope_name,
       {_attrs(c, 'ResourceAttributes')} AS resource_attributes, {_attrs(c, 'LogAttributes')} AS attributes,
       {_str(c, 'EventName')} AS event_name, {flags} AS trace_flags, {_str(c, 'ScopeVersion')} AS scope_version
FROM {db}.{LOGS}"""


_MEAN = "if(Count > 0, Sum / Count, NULL)"


def _metrics(type_: str, table: str, c: dict[str, str], db: str) -> str:
    hist, exp, summary = type_ == "histogram", type_ == "exponential_histogram", type_ == "summary"
    counted = hist or exp or summary
    value = _MEAN if counted else _value(c, "Value")
    if hist:
        buckets, bounds = "toJSONString(BucketCounts)", "toJSONString(ExplicitBounds)"
    elif summary:
        buckets, bounds = "toJSONString(`ValueAtQuantiles.Value`)", "toJSONString(`ValueAtQuantiles.Quantile`)"
    else:
        buckets = bounds = "NULL"
    mono = "IsMonotonic" if type_ == "sum" else "NULL"
    temporality = (_TEMPORALITY if "AggregationTemporality" in c
                   else _TEMPORALITY.replace("AggregationTemporality", "AggTemp") if "AggTemp" in c else "''")
    service = "ServiceName" if "ServiceName" in c else _attr_get(c, "ResourceAttributes", "service.name")
    minmax = "Min" if (hist or exp) and "Min" in c else "NULL", "Max" if (hist or exp) and "Max" in c else "NULL"
    e = {k: (k if exp and k in c else "NULL") for k in ("Scale", "ZeroCount", "PositiveOffset", "NegativeOffset")}
    pos = "toJSONString(PositiveBucketCounts)" if exp else "NULL"
    neg = "toJSONString(NegativeBucketCounts)" if exp else "NULL"
    start = _NS.format('StartTimeUnix') if 'StartTimeUnix' in c else '0'
    return f"""SELECT {_NS.format('TimeUnix')} AS time_ns,
       CAST(nullIf({start}, 0) AS Nullable(Int64)) AS start_time_ns,
       CAST({service} AS String) AS service, CAST(MetricName AS String) AS name, '{type_}' AS type,
       {_str(c, 'MetricUnit')} AS unit, CAST({value} AS Nullable(Float64)) AS value,
       CAST({'Count' if counted else 'NULL'} AS Nullable(Int64)) AS count,
       CAST({'Sum' if counted else 'NULL'} AS Nullable(Float64)) AS sum,
       CAST({minmax[0]} AS Nullable(Float64)) AS min, CAST({minmax[1]} AS Nullable(Float64)) AS max,
       CAST({buckets} AS Nullable(String)) AS bucket_counts, CAST({bounds} AS Nullable(String)) AS explicit_bounds,
       CAST({mono} AS Nullable(Bool)) AS is_monotonic, {temporality} AS temporality,
       {_attrs(c, 'ResourceAttributes')} AS resource_attributes, {_attrs(c, 'Attributes')} AS attributes,
       {_str(c, 'MetricDescription')} AS description, {_str(c, 'ScopeName')} AS scope_name,
       {_str(c, 'ScopeVersion')} AS scope_version, toInt32({_or(c, 'Flags', '0')}) AS flags,
       {_exemplars(c)} AS exemplars, CAST({e['Scale']} AS Nullable(Int32)) AS scale,
       CAST({e['ZeroCount']} AS Nullable(Int64)) AS zero_count,
       CAST({e['PositiveOffset']} AS Nullable(Int32)) AS positive_offset,
       CAST({pos} AS Nullable(String)) AS positive_bucket_counts,
       CAST({e['NegativeOffset']} AS Nullable(Int32)) AS negative_offset,
       CAST({neg} AS Nullable(String)) AS negative_bucket_counts
FROM {db}.{table}"""


def _events(c: dict[str, str]) -> str:
    if "Events.Timestamp" not in c:
        return "'[]'"
    attrs = _json_each(c, "Events.Attributes", "`Events.Timestamp`")
    return ("concat('[', arrayStringConcat(arrayMap((t, n, a) -> concat('{\"time_ns\":', "
            "toString(toUnixTimestamp64Nano(toDateTime64(t, 9))), ',\"name\":', toJSONString(toString(n)), "
            "',\"attributes\":', a, '}'), "
            f"`Events.Timestamp`, `Events.Name`, {attrs}), ','), ']')")


def _links(c: dict[str, str]) -> str:
    if "Links.TraceId" not in c:
        return "'[]'"
    attrs = _json_each(c, "Links.Attributes", "`Links.TraceId`")
    state = "`Links.TraceState`" if "Links.TraceState" in c else "arrayMap(x -> '', `Links.TraceId`)"
    return ("concat('[', arrayStringConcat(arrayMap((t, s, st, a) -> concat('{\"trace_id\":', toJSONString(t), "
            "',\"span_id\":', toJSONString(s), if(st = '', '', concat(',\"trace_state\":', toJSONString(st))), "
            "',\"attributes\":', a, '}'), "
            f"`Links.TraceId`, `Links.SpanId`, {state}, {attrs}), ','), ']')")


def _value(c: dict[str, str], column: str) -> str:
    """`Value`, or in the first metric tables `ValueAsDouble`/`ValueAsInt` (whichever the point had)."""
    if column in c or f"{column}AsDouble" not in c:
        return f"`{column}`"
    if column.startswith("Exemplars."):
        return f"arrayMap((d, i) -> if(d != 0, d, toFloat64(i)), `{column}AsDouble`, `{column}AsInt`)"
    return f"if(`{column}AsDouble` != 0, `{column}AsDouble`, toFloat64(`{column}AsInt`))"


def _exemplars(c: dict[str, str]) -> str:
    if "Exemplars.TimeUnix" not in c:
        return "'[]'"
    attrs = _json_each(c, "Exemplars.FilteredAttributes", "`Exemplars.TimeUnix`")
    value = _value(c, "Exemplars.Value")
    return ("concat('[', arrayStringConcat(arrayMap((t, v, tr, sp, a) -> concat('{\"time_ns\":', "
            "toString(toUnixTimestamp64Nano(toDateTime64(t, 9))), ',\"value\":', toJSONString(v), "
            "',\"trace_id\":', toJSONString(tr), "
            f"',\"span_id\":', toJSONString(sp), ',\"attributes\":', a, '}}'), `Exemplars.TimeUnix`, {value}, "
            f"`Exemplars.TraceId`, `Exemplars.SpanId`, {attrs}), ','), ']')")


def _json_each(c: dict[str, str], column: str, like: str) -> str:
    """Each element of an array-of-attribute-maps column as JSON object text."""
    kind = c.get(column, "")
    if not kind:
        return f"arrayMap(x -> '{{}}', {like})"
    return f"arrayMap(x -> {_to_json('x', kind.removeprefix('Array(').removesuffix(')'))}, `{column}`)"


def _map(c: dict[str, str], column: str) -> str:
    """A span attribute column as the map `clickhouse_sql.attr` reads by key: the exporter's own Map
    as stored, a JSON-typed or text one converted (values as text, as the exporter writes them)."""
    kind = c.get(column, "")
    if kind.startswith("Map("):
        return column
    if not kind:
        return _NO_MAP
    return f"JSONExtract({_to_json(column, kind)}, 'Map(String, String)')"


_NO_MAP = "CAST(map(), 'Map(String, String)')"
# Span columns that are attribute maps here and JSON text in `interplay.batch` (see clickhouse_sql.attrs_text).
MAP_COLUMNS = {"spans": ("resource_attributes", "attributes")}


def _attrs(c: dict[str, str], column: str) -> str:
    return _to_json(column, c[column]) if column in c else "'{}'"


def _to_json(expr: str, kind: str) -> str:
    """Attribute map or JSON value → flat JSON object text ({"service.name": "x"})."""
    if kind.startswith("JSON") or kind.startswith("Object("):
        return _flatten(f"toJSONString({expr})")
    if kind.startswith("Map("):
        return f"toJSONString(CAST({expr}, 'Map(String, String)'))"
    return f"toString({expr})"


def _flatten(text: str, depth: int = 4) -> str:
    """JSON object text whose dotted keys ClickHouse's JSON type nested ({"a":{"b":1}}) → {"a.b":1}."""
    pairs = f"JSONExtractKeysAndValuesRaw({text})"
    for _ in range(depth):
        pairs = ("arrayFlatten(arrayMap(kv -> if(startsWith(kv.2, '{'), arrayMap(c -> (concat(kv.1, '.', c.1), c.2), "
                 f"JSONExtractKeysAndValuesRaw(kv.2)), [kv]), {pairs}))")
    return f"concat('{{', arrayStringConcat(arrayMap(kv -> concat(toJSONString(kv.1), ':', kv.2), {pairs}), ','), '}}')"


def _attr_get(c: dict[str, str], column: str, key: str) -> str:
    kind = c.get(column, "")
    if kind.startswith("Map("):
        return f"{column}['{key}']"
    if kind.startswith("JSON"):
        return f"toString({column}.`{key}`)"
    return "''"


def _str(c: dict[str, str], column: str) -> str:
    return f"CAST({column} AS String)" if column in c else "''"


def _or(c: dict[str, str], column: str, default: str) -> str:
    return column if column in c else default


_CH = {"string": "String", "int64": "Int64", "int32": "Int32", "double": "Float64", "bool": "Bool"}


def _empty(table: str) -> str:
    maps = MAP_COLUMNS.get(table, ())
    cols = ", ".join(f"{_NO_MAP if f.name in maps else f'CAST(NULL AS Nullable({_CH[str(f.type)]}))'} AS `{f.name}`"
                     for f in SCHEMAS[table])
    return f"SELECT {cols} WHERE 0"


def _ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"
