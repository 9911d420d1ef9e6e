"""Every generation of the Collector ClickHouse exporter's tables, read with no re-ingest and untouched.

The tables are created with each generation's DDL and filled as that exporter fills them (JSONEachRow,
its spellings: SPAN_KIND_SERVER / STATUS_CODE_ERROR in the oldest, Server / Error later, JSON-typed
attribute columns in the JSON tables); Interplay then opens them read-only, as every query command does.
"""
from __future__ import annotations

import json
import random

import chdb  # noqa: F401  (not installed: these tests fail, never skip)
import pytest

from interplay.model import InterplayError
from interplay.model_results import to_json
from interplay.store import telemetry as queries
from interplay.store._ch_schema import exporter_ddl
from interplay.store._ch_transport import ChdbTransport
from interplay.store.clickhouse import ClickHouseStore

T0 = 1_767_225_600 * 10**9
_MAP = "Map(LowCardinality(String), String)"
_NESTED = """Events Nested (Timestamp DateTime64(9), Name LowCardinality(String), Attributes {attr}) CODEC(ZSTD(1)),
    Links Nested (TraceId String, SpanId String, TraceState String, Attributes {attr}) CODEC(ZSTD(1))"""

# The first exporter generation: no ScopeName/ScopeVersion, Duration Int64, TraceFlags UInt32 in logs.
OLD = [f"""CREATE TABLE otel_traces (
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)), TraceId String CODEC(ZSTD(1)), SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)), TraceState String CODEC(ZSTD(1)), SpanName LowCardinality(String),
    SpanKind LowCardinality(String), ServiceName LowCardinality(String), ResourceAttributes {_MAP},
    SpanAttributes {_MAP}, Duration Int64 CODEC(ZSTD(1)), StatusCode LowCardinality(String),
    StatusMessage String, {_NESTED.format(attr=_MAP)}
) ENGINE MergeTree() PARTITION BY toDate(Timestamp)
ORDER BY (ServiceName, SpanName, toUnixTimestamp(Timestamp), TraceId)""",
       f"""CREATE TABLE otel_logs (
    Timestamp DateTime64(9), TraceId String, SpanId String, TraceFlags UInt32, SeverityText LowCardinality(String),
    SeverityNumber Int32, ServiceName LowCardinality(String), Body String, ResourceAttributes {_MAP},
    LogAttributes {_MAP}
) ENGINE MergeTree() PARTITION BY toDate(Timestamp)
ORDER BY (ServiceName, SeverityText, toUnixTimestamp(Timestamp), TraceId)""",
       # the first metric tables: no ServiceName, ValueAsDouble/ValueAsInt, AggTemp
       f"""CREATE TABLE otel_metrics_sum (
    ResourceAttributes {_MAP}, ResourceSchemaUrl String, ScopeName String, ScopeVersion String,
    ScopeAttributes {_MAP}, ScopeDroppedAttributesCount UInt32, ScopeSchemaUrl String, MetricName String,
    MetricDescription String, MetricUnit String, Attributes {_MAP}, StartTimeUnix DateTime64(9),
    TimeUnix DateTime64(9), ValueAsDouble Float64, ValueAsInt UInt32, Flags UInt32,
    Exemplars Nested (FilteredAttributes {_MAP}, TimeUnix DateTime64(9), ValueAsDouble Float64, ValueAsInt Int64,
                      SpanId String, TraceId String),
    AggTemp Int32, IsMonotonic Boolean
) ENGINE MergeTree() PARTITION BY toUnixTimestamp64Nano(TimeUnix) ORDER BY (toUnixTimestamp64Nano(TimeUnix))"""]
OLD_SUM = {"ResourceAttributes": {"service.name": "payments"}, "MetricName": "charges", "MetricUnit": "1",
           "Attributes": {"outcome": "declined"}, "TimeUnix": "1767227400.250000000", "ValueAsDouble": 0,
           "ValueAsInt": 42, "Exemplars.FilteredAttributes": [{}], "Exemplars.TimeUnix": ["1767227399.000000000"],
           "Exemplars.ValueAsDouble": [0.0], "Exemplars.ValueAsInt": [1], "Exemplars.SpanId": ["00f067aa0ba902b7"],
           "Exemplars.TraceId": ["4bf92f3577b34da6a3ce929d0e0e4736"], "AggTemp": 2, "IsMonotonic": True}

# The JSON-typed tables (traces_json_table.sql, logs_json_table.sql).
JSON_TYPED = [f"""CREATE TABLE otel_traces (
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)), TraceId String, SpanId String, ParentSpanId String,
    TraceState String, SpanName LowCardinality(String), SpanKind LowCardinality(String),
    ServiceName LowCardinality(String), ResourceAttributes JSON, ScopeName String, ScopeVersion String,
    SpanAttributes JSON, Duration UInt64, StatusCode LowCardinality(String), StatusMessage String,
    {_NESTED.format(attr="JSON")}
) ENGINE = MergeTree PARTITION BY toDate(Timestamp)
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp), Timestamp)""",
              """CREATE TABLE otel_logs (
    Timestamp DateTime64(9), TraceId String, SpanId String, TraceFlags UInt8, SeverityText LowCardinality(String),
    SeverityNumber UInt8, ServiceName LowCardinality(String), Body String, ResourceSchemaUrl LowCardinality(String),
    ResourceAttributes JSON, ScopeSchemaUrl LowCardinality(String), ScopeName String,
    ScopeVersion LowCardinality(String), ScopeAttributes JSON, LogAttributes JSON, EventName String
) ENGINE = MergeTree PARTITION BY toDate(Timestamp) PRIMARY KEY (ServiceName, toDateTime(Timestamp))
ORDER BY (ServiceName, toDateTime(Timestamp), Timestamp)"""]

# The current generation (exporter v0.160 on): what `exporter_ddl` creates, checked against the exporter's own
# sorting keys and types in test_writing_creates_current_exporter_tables_and_keeps_its_own_apart; metric times
# in whole seconds.
CURRENT = exporter_ddl("default", {})
DDL = {"old": OLD, "current": CURRENT, "json": JSON_TYPED}

SPELLINGS = {"old": ({"SERVER": "SPAN_KIND_SERVER", "CLIENT": "SPAN_KIND_CLIENT"},
                     {"UNSET": "STATUS_CODE_UNSET", "ERROR": "STATUS_CODE_ERROR"}),
             "current": ({"SERVER": "Server", "CLIENT": "Client"}, {"UNSET": "Unset", "ERROR": "Error"}),
             "json": ({"SERVER": "Server", "CLIENT": "Client"}, {"UNSET": "Unset", "ERROR": "Error"})}
# An exponential histogram point as the current exporter inserts it (times cut to the second).
EXP_HISTOGRAM = {"ResourceAttributes": {"service.name": "payments"}, "ServiceName": "payments",
                 "MetricName": "charge.latency", "MetricDescription": "card charge latency", "MetricUnit": "ms",
                 "ScopeName": "payments.metrics", "ScopeVersion": "1.0", "Attributes": {"route": "/charge"},
                 "StartTimeUnix": "1767225600", "TimeUnix": "1767227400", "Count": 7, "Sum": 301.5, "Scale": 3,
                 "ZeroCount": 1, "PositiveOffset": 4, "PositiveBucketCounts": [1, 0, 2, 3], "NegativeOffset": 0,
                 "NegativeBucketCounts": [], "Exemplars.FilteredAttributes": [{"order": "o-9"}],
                 "Exemplars.TimeUnix": ["1767227399"], "Exemplars.Value": [250.0],
                 "Exemplars.SpanId": ["00f067aa0ba902b7"], "Exemplars.TraceId": ["4bf92f3577b34da6a3ce929d0e0e4736"],
                 "Flags": 0, "Min": 0.0, "Max": 250.0, "AggregationTemporality": 2}


def _rows(generation: str) -> tuple[list[dict], list[dict]]:
    """Thirty minutes of checkout traffic; from minute 20 payments fails a third of its charges."""
    kinds, codes = SPELLINGS[generation]
    rng = random.Random(5)
    spans, logs = [], []
    for n in range(360):
        start = T0 + n * 5 * 10**9
        trace = f"{n + 1:032x}"
        fail = start >= T0 + 20 * 60 * 10**9 and rng.random() < 1 / 3
        for sid, parent, service, name, kind, off, dur, err, attrs in [
            (1, 0, "frontend", "GET /checkout", "SERVER", 0, 60, fail,
             {"http.response.status_code": "500" if fail else "200"}),
            (2, 1, "frontend", "GET /cart", "CLIENT", 1, 8, False, {"server.address": "cart"}),
            (3, 2, "cart", "GET /cart", "SERVER", 2, 6, False, {}),
            (4, 1, "frontend", "POST /charge", "CLIENT", 10, 40, fail, {"server.address": "payments"}),
            (5, 4, "payments", "POST /charge", "SERVER", 11, 38, fail, {}),
        ]:
            ts = start + off * 10**6 + rng.randrange(10**6)
            row = {"Timestamp": f"{ts // 10**9}.{ts % 10**9:09d}", "TraceId": trace,
                   "SpanId": f"{n + 1:012x}{sid:04x}", "ParentSpanId": f"{n + 1:012x}{parent:04x}" if parent else "",
                   "TraceState": "", "SpanName": name, "SpanKind": kinds[kind], "ServiceName": service,
                   "ResourceAttributes": {"service.name": service, "service.version": "3.1.4",
                                          "k8s.pod.name": f"{service}-0"},
                   "SpanAttributes": attrs, "Duration": int((dur + rng.random()) * 10**6),
                   "StatusCode": codes["ERROR" if err else "UNSET"],
                   "StatusMessage": "card declined" if err and service == "payments" else "",
                   "Events.Timestamp": [], "Events.Name": [], "Events.Attributes": [],
                   "Links.TraceId": [], "Links.SpanId": [], "Links.TraceState": [], "Links.Attributes": []}
            if err and service == "payments":
                row.update({"Events.Timestamp": [row["Timestamp"]], "Events.Name": ["exception"],
                            "Events.Attributes": [{"exception.type": "CardError"}]})
                logs.append({"Timestamp": row["Timestamp"], "TraceId": trace, "SpanId": row["SpanId"],
                             "TraceFlags": 1, "SeverityText": "ERROR", "SeverityNumber": 17,
                             "ServiceName": "payments", "Body": "charge failed: card declined",
                             "ResourceAttributes": {"service.name": "payments"},
                             "LogAttributes": {"order.id": str(n)}})
            spans.append(row)
    return spans, logs


def _fill(path, generation: str) -> None:
    """Create the generation's tables and insert its rows, as that exporter would; then let go of the path."""
    t = ChdbTransport(str(path))
    try:
        for ddl in DDL[generation]:
            t.command(ddl)
        spans, logs = _rows(generation)
        for table, rows in (("otel_traces", spans), ("otel_logs", logs)):
            t.command(f"INSERT INTO {table} FORMAT JSONEachRow\n" + "\n".join(json.dumps(r) for r in rows))
        if generation == "current":
            t.command("INSERT INTO otel_metrics_exponential_histogram FORMAT JSONEachRow\n"
                      + json.dumps(EXP_HISTOGRAM))
        if generation == "old":
            t.command("INSERT INTO otel_metrics_sum FORMAT JSONEachRow\n" + json.dumps(OLD_SUM))
    finally:
        t.close()


_SNAPSHOT = ("SELECT database, name, engine, total_rows, metadata_modification_time FROM system.tables "
             "WHERE database NOT IN ('system', 'INFORMATION_SCHEMA', 'information_schema') ORDER BY database, name")


@pytest.mark.parametrize("generation", ["old", "current", "json"])
def test_read_only_over_each_generation(tmp_path, generation):
    path = tmp_path / "ch"
    _fill(path, generation)
    store = ClickHouseStore.chdb(str(path), read_only=True)
    try:
        before = store.transport.query_arrow(_SNAPSHOT).to_pylist()
        databases = store.transport.query_arrow("SELECT name FROM system.databases ORDER BY name").to_pylist()
        by = {s.service: s for s in queries.services(store)}
        assert set(by) == {"frontend", "cart", "payments"}
        assert by["payments"].requests == 360 and by["payments"].errors == by["frontend"].errors > 10
        assert by["cart"].errors == 0
        newest = queries.traces(store, errors_only=True, limit=5)
        assert len(newest) == 5 and all(t.root_service == "frontend" for t in newest)
        tree = queries.trace(store, newest[0].trace_id)
        (root,) = tree.roots
        assert root.service_version == "3.1.4" and root.kind == "SERVER" and root.status_code == "ERROR"
        assert json.loads(root.resource_attributes)["k8s.pod.name"] == "frontend-0"  # flat keys, both generations
        assert str(json.loads(root.attributes)["http.response.status_code"]) == "500"
        pay = next(c for c in root.children if c.operation == "POST /charge").children[0]
        (event,) = json.loads(pay.events)
        assert event["name"] == "exception" and event["attributes"] == {"exception.type": "CardError"}
        logs = store.query("SELECT service, body, trace_id, attributes FROM logs WHERE severity_number >= 17")
        assert logs and all(r["service"] == "payments" and r["trace_id"] for r in logs)
        from interplay.rca import investigate
        r = to_json(investigate(store))
        assert r["root_causes"][0]["service"] == "payments", [c["service"] for c in r["root_causes"]]
        # read-only: nothing created, nothing changed, no database of Interplay's own
        assert store.transport.query_arrow(_SNAPSHOT).to_pylist() == before
        assert store.transport.query_arrow("SELECT name FROM system.databases ORDER BY name").to_pylist() == databases
        assert "interplay" not in {d["name"] for d in databases}
        assert {t["name"] for t in before} == ({"otel_traces", "otel_logs", "otel_metrics_sum"} if generation == "old"
                                               else {"otel_traces", "otel_logs"} if generation == "json" else {
            "otel_traces", "otel_traces_trace_id_ts", "otel_traces_trace_id_ts_mv", "otel_logs",
            *(f"otel_metrics_{k}" for k in ("gauge", "sum", "histogram", "exponential_histogram", "summary"))})
        if generation == "old":
            (m,) = store.query("SELECT * FROM metrics")
            assert (m["service"], m["name"], m["type"], m["value"], m["temporality"], m["is_monotonic"]) == \
                ("payments", "charges", "sum", 42.0, "cumulative", True)
            assert [(e["value"], e["span_id"]) for e in json.loads(m["exemplars"])] == [(1.0, "00f067aa0ba902b7")]
        if generation == "current":
            (m,) = store.query("SELECT * FROM metrics")
            assert (m["type"], m["count"], m["scale"], m["zero_count"], m["positive_offset"]) == \
                ("exponential_histogram", 7, 3, 1, 4)
            assert json.loads(m["positive_bucket_counts"]) == [1, 0, 2, 3] and m["time_ns"] == 1767227400 * 10**9
            assert (m["description"], m["scope_name"], m["scope_version"]) == \
                ("card charge latency", "payments.metrics", "1.0")
            assert json.loads(m["exemplars"]) == [{"time_ns": 1767227399 * 10**9, "value": 250.0,
                                                   "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
                                                   "span_id": "00f067aa0ba902b7", "attributes": {"order": "o-9"}}]
    finally:
        store.close()


def _fingerprint(path) -> dict:
    """Every table in the database with its engine, rows, change time and a hash of its content."""
    t = ChdbTransport(str(path))
    try:
        tables = t.query_arrow(_SNAPSHOT).to_pylist()
        for table in tables:
            name = f"`{table['database']}`.`{table['name']}`"
            if table["engine"] != "MaterializedView":
                table["content"] = t.query_arrow(
                    f"SELECT count() AS n, groupBitXor(cityHash64(toString(tuple(*)))) AS h FROM {name}").to_pylist()
        table_dbs = {d["name"] for d in t.query_arrow("SELECT name FROM system.databases").to_pylist()}
        return {"tables": tables, "databases": sorted(table_dbs)}
    finally:
        t.close()


@pytest.mark.integration
@pytest.mark.parametrize("generation", ["old", "current", "json"])
def test_query_commands_answer_from_each_generation_and_change_nothing(tmp_path, generation):
    """The real CLI (services, traces, trace, logs, investigate) over exporter tables, no re-ingest: right
    answers, and the database is the same afterwards, to the content hash of each table."""
    from conftest import run_cli
    path = tmp_path / "ch"
    _fill(path, generation)
    before = _fingerprint(path)
    db = ["--db", f"chdb:{path}", "--format", "json"]
    by = {s["service"]: s for s in json.loads(run_cli("services", *db).stdout)}
    assert set(by) == {"frontend", "cart", "payments"} and by["payments"]["errors"] > 10
    traces = json.loads(run_cli("traces", "--errors", "--limit", "3", *db).stdout)
    assert len(traces) == 3 and all(t["root_service"] == "frontend" and t["errors"] >= 3 for t in traces)
    tree = json.loads(run_cli("trace", traces[0]["trace_id"], *db).stdout)
    assert tree["spans"] == 5 and tree["roots"][0]["status_code"] == "ERROR"
    logs = json.loads(run_cli("logs", "--service", "payments", *db).stdout)
    assert logs and all("card declined" in r["body"] for r in logs)
    report = json.loads(run_cli("investigate", *db).stdout)
    assert report["root_causes"][0]["service"] == "payments"
    after = _fingerprint(path)
    assert after == before
    assert "interplay" not in after["databases"]


def test_writing_creates_current_exporter_tables_and_keeps_its_own_apart(tmp_path):
    from interplay.api import changes_batch
    from interplay.otlp.columns import ColumnBuilder
    from interplay.otlp.jsonmap import add_request
    from interplay.testing import TraceBuilder, traces_request
    t = TraceBuilder(T0, seed=3)
    t.span("frontend", "GET /", duration_ms=20).child("db", "SELECT", kind="CLIENT", duration_ms=5)
    b = ColumnBuilder()
    add_request("traces", traces_request([t]), b, "test")
    store = ClickHouseStore.chdb(str(tmp_path / "ch"))
    try:
        store.append(b.build())
        store.append(changes_batch({"time": "2026-01-01T00:00:00Z", "service": "frontend", "kind": "deploy",
                                    "description": "v2"}))
        tables = {(r["database"], r["name"]) for r in store.transport.query_arrow(_SNAPSHOT).to_pylist()}
        assert {("default", "otel_traces"), ("default", "otel_traces_trace_id_ts"),
                ("default", "otel_traces_trace_id_ts_mv"), ("default", "otel_logs"),
                ("interplay", "interplay_changes")} <= tables
        assert not {n for d, n in tables if d == "default"} & {"spans", "logs", "metrics", "changes",
                                                                "interplay_changes"}
        cols = {r["name"] for r in store.transport.query_arrow(
            "SELECT name FROM system.columns WHERE database = 'default' AND table = 'otel_logs'").to_pylist()}
        assert "EventName" in cols and "TimestampTime" not in cols and "LogAttributeItems" in cols
        metric = store.transport.query_arrow(
            "SELECT sorting_key, (SELECT type FROM system.columns WHERE database = 'default' "
            "AND table = 'otel_metrics_sum' AND name = 'TimeUnix') AS time_type FROM system.tables "
            "WHERE database = 'default' AND name = 'otel_metrics_sum'").to_pylist()
        assert metric == [{"sorting_key": "ServiceName, MetricName, toStartOfHour(TimeUnix), cityHash64(Attributes), "
                                          "TimeUnix", "time_type": "DateTime"}]
        lookup = store.transport.query_arrow(
            "SELECT TraceId, min(Start) AS s FROM otel_traces_trace_id_ts GROUP BY TraceId").to_pylist()
        assert [r["TraceId"] for r in lookup] == [t.trace_id]
        assert store.counts() == {"spans": 2, "logs": 0, "metrics": 0, "changes": 1}
        assert queries.changes(store)[0].description == "v2"
    finally:
        store.close()


def test_writing_into_old_tables_fits_their_columns(tmp_path):
    path = tmp_path / "ch"
    _fill(path, "old")
    from interplay.otlp.columns import ColumnBuilder
    from interplay.otlp.jsonmap import add_request
    from interplay.testing import TraceBuilder, traces_request
    t = TraceBuilder(T0 + 3600 * 10**9, seed=4)
    t.span("search", "GET /q", duration_ms=20)
    b = ColumnBuilder()
    add_request("traces", traces_request([t]), b, "test")
    store = ClickHouseStore.chdb(str(path))
    try:
        store.append(b.build())
        assert {s.service for s in queries.services(store)} == {"frontend", "cart", "payments", "search"}
        cols = {r["name"] for r in store.transport.query_arrow(
            "SELECT name FROM system.columns WHERE database = 'default' AND table = 'otel_traces'").to_pylist()}
        assert "ScopeName" not in cols  # Interplay did not alter the user's table
        metric = {"resourceMetrics": [{"resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "search"}}]}, "scopeMetrics": [{"metrics": [{
                "name": "queries", "sum": {"aggregationTemporality": 1, "isMonotonic": True, "dataPoints": [
                    {"timeUnixNano": str(T0 + 3600 * 10**9), "asDouble": 7.5}]}}]}]}]}
        b = ColumnBuilder()
        add_request("metrics", metric, b, "test")
        store.append(b.build())
        rows = store.query("SELECT service, value, temporality FROM metrics WHERE name = 'queries'")
        assert rows == [{"service": "search", "value": 7.5, "temporality": "delta"}]
    finally:
        store.close()


def test_a_table_that_does_not_fit_is_named(tmp_path):
    t = ChdbTransport(str(tmp_path / "ch"))
    t.command("CREATE TABLE otel_traces (Timestamp DateTime64(9), TraceId String, SpanId String) "
              "ENGINE = MergeTree ORDER BY Timestamp")
    t.close()
    with pytest.raises(InterplayError) as err:
        ClickHouseStore.chdb(str(tmp_path / "ch"), read_only=True)
    assert "default.otel_traces has no column ParentSpanId" in str(err.value)


def test_writing_into_json_typed_tables(tmp_path):
    """serve/ingest into the exporter's JSON-typed tables: attributes go in as JSON, read back flat."""
    path = tmp_path / "ch"
    _fill(path, "json")
    from interplay.otlp.columns import ColumnBuilder
    from interplay.otlp.jsonmap import add_request
    from interplay.testing import TraceBuilder, traces_request
    t = TraceBuilder(T0 + 3600 * 10**9, seed=6)
    t.span("search", "GET /q", duration_ms=20, attributes={"http.route": "/q", "retries": 2})
    b = ColumnBuilder()
    add_request("traces", traces_request([t]), b, "test")
    store = ClickHouseStore.chdb(str(path))
    try:
        store.append(b.build())
        (root,) = queries.trace(store, t.trace_id).roots
        assert json.loads(root.attributes) == {"http.route": "/q", "retries": "2"}
        assert json.loads(root.resource_attributes)["service.name"] == "search"
        kinds = store.transport.query_arrow(
            "SELECT toTypeName(SpanAttributes) AS t FROM otel_traces WHERE ServiceName = 'search'").to_pylist()
        assert kinds == [{"t": "JSON"}]
    finally:
        store.close()


def test_json_typed_metric_tables(tmp_path):
    """metrics_sum_json_table.sql's shape: JSON attributes and exemplar attributes, read flat."""
    t = ChdbTransport(str(tmp_path / "ch"))
    t.command("""CREATE TABLE otel_metrics_sum (
        ResourceAttributes JSON, ResourceSchemaUrl String, ScopeName String, ScopeVersion String, ScopeAttributes JSON,
        ScopeDroppedAttrCount UInt32, ScopeSchemaUrl String, ServiceName LowCardinality(String), MetricName String,
        MetricDescription String, MetricUnit String, Attributes JSON, StartTimeUnix DateTime64(9),
        TimeUnix DateTime64(9), Value Float64, Flags UInt32,
        Exemplars Nested (FilteredAttributes JSON, TimeUnix DateTime64(9), Value Float64, SpanId String, TraceId String),
        AggregationTemporality Int32, IsMonotonic Boolean
    ) ENGINE = MergeTree ORDER BY (ServiceName, MetricName, toUnixTimestamp64Nano(TimeUnix))""")
    row = {"ResourceAttributes": {"service.name": "cart", "k8s.pod.name": "cart-1"}, "ServiceName": "cart",
           "MetricName": "http.server.requests", "MetricDescription": "requests served", "ScopeName": "io.metrics",
           "TimeUnix": "1767225600.000000000", "StartTimeUnix": "1767225500.000000000", "Value": 5,
           "Attributes": {"http.route": "/a"}, "Exemplars.FilteredAttributes": [{"user.id": "u1"}],
           "Exemplars.TimeUnix": ["1767225599.500000000"], "Exemplars.Value": [1.5],
           "Exemplars.SpanId": ["00f067aa0ba902b7"], "Exemplars.TraceId": ["4bf92f3577b34da6a3ce929d0e0e4736"],
           "AggregationTemporality": 2, "IsMonotonic": True}
    t.command("INSERT INTO otel_metrics_sum FORMAT JSONEachRow\n" + json.dumps(row))
    t.close()
    store = ClickHouseStore.chdb(str(tmp_path / "ch"), read_only=True)
    try:
        (m,) = store.query("SELECT * FROM metrics")
        assert (m["service"], m["type"], m["value"], m["temporality"], m["is_monotonic"]) == \
            ("cart", "sum", 5.0, "cumulative", True)
        assert json.loads(m["attributes"]) == {"http.route": "/a"}
        assert json.loads(m["resource_attributes"])["k8s.pod.name"] == "cart-1"
        assert (m["description"], m["scope_name"]) == ("requests served", "io.metrics")
        assert json.loads(m["exemplars"]) == [{"time_ns": 1767225599500000000, "value": 1.5,
                                               "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
                                               "span_id": "00f067aa0ba902b7", "attributes": {"user.id": "u1"}}]
        assert store.counts()["metrics"] == 1 and store.counts()["spans"] == 0
    finally:
        store.close()


@pytest.mark.integration
@pytest.mark.parametrize("generation", ["old", "json"])
def test_query_commands_over_http_change_nothing(tmp_path, generation):
    """The same over ClickHouse's HTTP interface (clickhouse:// URLs, clickhouse-connect; the server is
    chDB behind tests/chdb_http_server.py): no database, table or row is created or changed."""
    import clickhouse_connect  # noqa: F401

    from chdb_http_server import ShimProcess
    from conftest import run_cli
    path = tmp_path / "ch"
    _fill(path, generation)
    before = _fingerprint(path)
    shim = ShimProcess(path)
    try:
        db = ["--db", shim.url("default"), "--format", "json"]
        by = {s["service"]: s for s in json.loads(run_cli("services", *db).stdout)}
        assert set(by) == {"frontend", "cart", "payments"} and by["payments"]["errors"] > 10
        (trace,) = json.loads(run_cli("traces", "--errors", "--limit", "1", *db).stdout)
        assert json.loads(run_cli("trace", trace["trace_id"], *db).stdout)["spans"] == 5
        assert json.loads(run_cli("investigate", *db).stdout)["root_causes"][0]["service"] == "payments"
    finally:
        shim.stop()
    after = _fingerprint(path)
    assert after == before and "interplay" not in after["databases"]
