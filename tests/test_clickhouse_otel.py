"""Reading a database the OpenTelemetry Collector's ClickHouse exporter filled, with no re-ingest.

`fixtures/otel_traces.sql` holds rows exactly as the exporter inserts them, in both spellings its
versions used (SPAN_KIND_SERVER / Server, STATUS_CODE_ERROR / Error). The server transport runs
against INTERPLAY_TEST_CLICKHOUSE_URL=clickhouse://user:pass@host:8123/db when set (a real server),
else against `chdb_http_server.py` (ClickHouse's HTTP interface over chDB, in a subprocess).
"""
from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import chdb  # noqa: F401  (not installed: these tests fail, never skip)
import pytest

from interplay.model_results import to_json
from interplay.store import telemetry as queries
from interplay.store.base import scratch_table
from interplay.store.clickhouse import ClickHouseStore
from interplay.store.open import open_store

FIXTURE = Path(__file__).parent / "fixtures" / "otel_traces.sql"
T0 = 1_767_225_600 * 10**9


@pytest.fixture
def exporter_db(tmp_path):
    store = ClickHouseStore.chdb(str(tmp_path / "ch"))
    store.transport.command(FIXTURE.read_text())
    yield store
    store.close()


def test_spans_view_normalises_both_spellings(exporter_db):
    rows = exporter_db.query("SELECT span_id, parent_span_id, kind, status_code, start_ns, end_ns, duration_ns "
                             "FROM spans ORDER BY span_id")
    got = {r["span_id"]: (r["kind"], r["status_code"]) for r in rows}
    assert got == {
        "a000000000000001": ("SERVER", "ERROR"), "a000000000000002": ("CLIENT", "ERROR"),
        "a000000000000003": ("SERVER", "ERROR"), "a000000000000004": ("CLIENT", "UNSET"),
        "b000000000000001": ("SERVER", "OK"), "b000000000000002": ("CLIENT", "UNSET"),
        "b000000000000003": ("SERVER", "ERROR"), "b000000000000004": ("PRODUCER", "UNSET"),
        "b000000000000005": ("CONSUMER", "UNSET"), "b000000000000006": ("INTERNAL", "UNSET"),
        "b000000000000007": ("UNSPECIFIED", "UNSET"),
    }
    first = rows[0]
    assert first["parent_span_id"] is None
    assert (first["start_ns"], first["duration_ns"], first["end_ns"]) == (T0, 300_000_000, T0 + 300_000_000)


def test_services_over_exporter_rows(exporter_db):
    by = {s.service: s for s in queries.services(exporter_db)}
    assert set(by) == {"frontend", "payments", "recs", "audit"}
    assert by["frontend"].requests == 2 and by["frontend"].errors == 1
    assert by["payments"].requests == 1 and by["payments"].error_rate == 1.0
    assert by["recs"].errors == 1
    assert by["audit"].requests == 1  # the CONSUMER span (the orphan's parent never arrived: not a root)
    assert by["frontend"].p50_ms == 210.0  # entry spans 300 ms and 120 ms


def test_trace_tree_over_exporter_rows(exporter_db):
    tree = queries.trace(exporter_db, "0a000000000000000000000000000001")
    (root,) = tree.roots
    assert (root.service, root.operation, root.kind, root.status_code) == \
        ("frontend", "GET /checkout", "SERVER", "ERROR")
    assert root.service_version == "1.4.0"
    assert json.loads(root.attributes) == {"http.request.method": "GET", "http.response.status_code": "500"}
    payments = root.children[0].children[0]
    assert payments.service == "payments" and payments.status_message == "card processor timeout"
    (event,) = json.loads(payments.events)
    assert event == {"time_ns": T0 + 210_000_000, "name": "exception",
                     "attributes": {"exception.type": "TimeoutError", "exception.message": "card processor timeout"}}
    assert payments.self_ns == 195_000_000
    newer = queries.trace(exporter_db, "0b000000000000000000000000000002")
    assert [r.span_id for r in newer.roots] == ["b000000000000001", "b000000000000007"]
    assert newer.roots[1].orphan is True
    links = exporter_db.query("SELECT links FROM spans WHERE span_id = ?", ["b000000000000003"])[0]["links"]
    assert json.loads(links) == [{"trace_id": "0a000000000000000000000000000001", "span_id": "a000000000000001",
                                  "attributes": {"link.kind": "follows"}}]


def test_traces_filters_over_exporter_rows(exporter_db):
    # queries.traces needs a portable alias (see test_store_backends); the same query, portable:
    first = exporter_db.sql.arg_min("service", "start_ns")
    rows = exporter_db.query(f"""
        SELECT trace_id, coalesce({first} FILTER (WHERE parent_span_id IS NULL), {first}) AS root_service,
               min(start_ns) AS first_ns, count(*) FILTER (WHERE status_code = 'ERROR') AS errors,
               count(*) FILTER (WHERE parent_span_id IS NULL) AS roots
        FROM spans GROUP BY trace_id ORDER BY first_ns DESC""")
    assert [(r["trace_id"][:2], r["root_service"], r["errors"], r["roots"]) for r in rows] == \
        [("0b", "frontend", 1, 1), ("0a", "frontend", 3, 1)]


def test_tables_come_into_scope_and_the_statement_stays_as_written(exporter_db):
    """`spans` and the others are CTEs in front of a statement, never text replaced inside it: a
    literal, an alias or a statement's own CTEs and temporary tables read as written."""
    row = exporter_db.query("SELECT 'x FROM spans JOIN logs' AS text, count() AS spans FROM spans")[0]
    assert row == {"text": "x FROM spans JOIN logs", "spans": 11}
    assert exporter_db.query("SELECT count() AS n FROM spans AS s JOIN spans t ON t.parent_span_id = s.span_id "
                             "WHERE s.service = ?", ["frontend"])[0]["n"] == 4
    assert exporter_db.query("WITH roots AS (SELECT span_id FROM spans WHERE parent_span_id IS NULL) "
                             "SELECT count() AS n FROM roots")[0]["n"] == 2
    assert exporter_db.query("WITH RECURSIVE down AS (SELECT span_id, 0 AS depth FROM spans WHERE span_id = ? "
                             "UNION ALL SELECT c.span_id, d.depth + 1 FROM down AS d JOIN spans AS c "
                             "ON c.parent_span_id = d.span_id) SELECT max(depth) AS d FROM down",
                             ["a000000000000001"])[0]["d"] == 3
    assert exporter_db.query("SELECT count() AS n FROM (SELECT service FROM spans UNION ALL "
                             "SELECT service FROM logs) WHERE service IN (SELECT service FROM spans)")[0]["n"] == 11
    with scratch_table(exporter_db, "SELECT span_id, service FROM spans WHERE service = 'frontend'") as name:
        assert exporter_db.query(f"SELECT count() AS n FROM {name}")[0]["n"] == 4


def test_span_attributes_are_read_from_the_exporter_map_by_key(exporter_db):
    """`spans.attributes` is the exporter's SpanAttributes map itself: a key is looked up, not parsed
    out of JSON, so keys with dots or quotes and values JSON would escape read as stored."""
    store = exporter_db
    store.transport.command(r"""INSERT INTO otel_traces (Timestamp, TraceId, SpanId, ParentSpanId, SpanName,
        SpanKind, ServiceName, ResourceAttributes, SpanAttributes, Duration, StatusCode) VALUES
        (fromUnixTimestamp64Nano(toInt64(1767225700000000000)), '0c000000000000000000000000000003',
         'c000000000000001', '', 'GET /odd', 'Server', 'odd', {'service.name':'odd','k8s.pod.name':'p\'1'},
         {'http.route':'/a"b\\c','we"ird':'q','note':'FROM spans -- {}','json.like':'{"x": [1]}'},
         1000, 'Unset')""")
    sql = store.sql
    types = store.query("SELECT toTypeName(attributes) AS a, toTypeName(resource_attributes) AS r FROM spans LIMIT 1")
    assert types == [{"a": "Map(LowCardinality(String), String)", "r": "Map(LowCardinality(String), String)"}]
    row = store.query(f"""SELECT {sql.attr('attributes', 'http.route')} AS route, {sql.attr('attributes', 'we"ird')} AS w,
        {sql.attr('attributes', 'note')} AS note, {sql.attr('attributes', 'json.like')} AS j,
        {sql.attr('attributes', 'gone')} AS gone, {sql.attr('resource_attributes', 'k8s.pod.name')} AS pod
        FROM spans WHERE service = 'odd'""")[0]
    assert row == {"route": '/a"b\\c', "w": "q", "note": "FROM spans -- {}", "j": '{"x": [1]}', "gone": None,
                   "pod": "p'1"}
    (root,) = queries.trace(store, "0c000000000000000000000000000003").roots
    assert json.loads(root.attributes) == {"http.route": '/a"b\\c', 'we"ird': "q", "note": "FROM spans -- {}",
                                              "json.like": '{"x": [1]}'}
    assert json.loads(root.resource_attributes)["k8s.pod.name"] == "p'1"
    found = queries.traces(store, attributes={"http.route": '/a"b\\c', "k8s.pod.name": "p'1"})
    assert [t.trace_id for t in found] == ["0c000000000000000000000000000003"]


def test_interplay_writes_what_the_exporter_would(tmp_path):
    """Spans Interplay stores land in otel_traces in the newer exporter spelling, attributes as strings."""
    from interplay.otlp.columns import ColumnBuilder
    from interplay.otlp.jsonmap import add_request
    from interplay.testing import TraceBuilder, traces_request
    t = TraceBuilder(T0, seed=7)
    root = t.span("frontend", "GET /", duration_ms=50, attributes={"http.response.status_code": 200})
    root.child("db", "SELECT", kind="CLIENT", duration_ms=10, error=True, message="boom")
    b = ColumnBuilder()
    add_request("traces", traces_request([t]), b, "test")
    store = ClickHouseStore.chdb(str(tmp_path / "ch"))
    try:
        store.append(b.build())
        rows = store.transport.query_arrow(
            "SELECT SpanKind, StatusCode, StatusMessage, ParentSpanId, Duration, SpanAttributes, "
            "ResourceAttributes['service.version'] AS v FROM otel_traces ORDER BY Timestamp, Duration DESC").to_pylist()
        assert [(r["SpanKind"], r["StatusCode"], r["ParentSpanId"] == "") for r in rows] == \
            [("Server", "Unset", True), ("Client", "Error", False)]
        assert rows[0]["Duration"] == 50_000_000 and rows[0]["v"] == "1.0.0"
        assert dict(rows[0]["SpanAttributes"]) == {"http.response.status_code": "200"}
    finally:
        store.close()


@pytest.fixture(scope="module")
def clickhouse_server_url(tmp_path_factory):
    """A real server's URL from INTERPLAY_TEST_CLICKHOUSE_URL, else the chDB-backed HTTP interface's."""
    url = os.environ.get("INTERPLAY_TEST_CLICKHOUSE_URL")
    if url:
        yield url
        return
    import clickhouse_connect  # noqa: F401

    from chdb_http_server import ShimProcess
    shim = ShimProcess(tmp_path_factory.mktemp("chdb-http"))
    yield shim.url("default")
    shim.stop()


@pytest.mark.integration
def test_clickhouse_server_transport(clickhouse_server_url):
    base = clickhouse_server_url.rstrip("/")
    url = base.rsplit("/", 1)[0] if base.count("/") > 2 else base
    db = f"interplay_test_{uuid.uuid4().hex[:8]}"
    store = open_store(f"{url}/{db}")
    try:
        store.transport.command(FIXTURE.read_text())
        assert store.counts()["spans"] == 11
        assert {s.service for s in queries.services(store)} == {"frontend", "payments", "recs", "audit"}
        assert queries.trace(store, "0a000000000000000000000000000001").spans == 4
        assert store.delete_before(T0 + 60 * 10**9)["spans"] == 4
    finally:
        store.transport.command(f"DROP DATABASE IF EXISTS `{db}`")
        store.close()


def _exporter_incident_sql() -> str:
    """Thirty minutes of checkout traffic as exporter INSERTs, the two exporter generations
    alternating by trace; from minute 20 payments fails a third of its charges on its own (its
    database answers) and frontend passes the error on."""
    import random
    rng = random.Random(3)
    kinds = [{"SERVER": "SPAN_KIND_SERVER", "CLIENT": "SPAN_KIND_CLIENT"}, {"SERVER": "Server", "CLIENT": "Client"}]
    codes = [{"UNSET": "STATUS_CODE_UNSET", "ERROR": "STATUS_CODE_ERROR"}, {"UNSET": "Unset", "ERROR": "Error"}]
    rows = []
    for n in range(360):
        start = T0 + n * 5 * 10**9
        gen = n % 2
        trace = f"{n + 1:032x}"
        fail = start >= T0 + 20 * 60 * 10**9 and rng.random() < 1 / 3
        spans = [  # (span, parent, service, name, kind, offset ms, duration ms, error, attributes)
            (1, 0, "frontend", "GET /checkout", "SERVER", 0, 60, fail,
             {"http.response.status_code": "500" if fail else "200"}),
            (2, 1, "frontend", "GET /cart", "CLIENT", 1, 8, False, {"server.address": "cart"}),
            (3, 2, "cart", "GET /cart", "SERVER", 2, 6, False, {}),
            (4, 1, "frontend", "POST /charge", "CLIENT", 10, 40, fail, {"server.address": "payments"}),
            (5, 4, "payments", "POST /charge", "SERVER", 11, 38, fail, {}),
            (6, 5, "payments", "INSERT charges", "CLIENT", 12, 5, False, {"db.system": "postgresql"}),
        ]
        for sid, parent, service, name, kind, off, dur, err, attrs in spans:
            ts = start + off * 10**6 + rng.randrange(10**6)
            attr_map = "{" + ",".join(f"'{k}':'{v}'" for k, v in attrs.items()) + "}"
            rows.append(
                f"(fromUnixTimestamp64Nano(toInt64({ts})), '{trace}', '{n + 1:012x}{sid:04x}', "
                f"'{f'{n + 1:012x}{parent:04x}' if parent else ''}', '', '{name}', '{kinds[gen][kind]}', '{service}', "
                f"{{'service.name':'{service}'}}, 'io.opentelemetry.http', '1.0', {attr_map}, "
                f"{int((dur + rng.random()) * 10**6)}, '{codes[gen]['ERROR' if err else 'UNSET']}', "
                f"'{'card declined by processor' if err and service == 'payments' else ''}', "
                "[], [], [], [], [], [], [])")
    return FIXTURE.read_text().split("VALUES")[0] + "VALUES\n" + ",\n".join(rows)


def test_investigation_over_exporter_rows(tmp_path):
    """Rows the exporter wrote (both generations of spellings), investigated with no re-ingest:
    payments is the cause, the chain reaches frontend, and the baseline is the healthy 20 minutes."""
    store = ClickHouseStore.chdb(str(tmp_path / "ch"))
    try:
        store.transport.command(_exporter_incident_sql())
        assert store.counts()["spans"] == 360 * 6
        from interplay.rca import investigate
        r = to_json(investigate(store))
        top = r["root_causes"][0]
        assert top["service"] == "payments", [c["service"] for c in r["root_causes"]]
        assert "frontend" in json.dumps(top["chain"])
        assert 18 <= (int(r["onset"][14:16])) <= 22  # the onset minute, as the clock shows it
    finally:
        store.close()
