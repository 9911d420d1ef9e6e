"""The ClickHouse server transport (HttpTransport, clickhouse-connect over HTTP), end to end.

The server is `chdb_http_server.py`: ClickHouse's HTTP interface in a subprocess, the engine behind
it chDB, so the SQL, formats and errors are ClickHouse's own; only the HTTP layer is a test double.
The same data through chDB in this process and through the HTTP transport must answer alike.
"""
from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from pathlib import Path

import chdb  # noqa: F401  (not installed: these tests fail, never skip)
import clickhouse_connect  # noqa: F401  (not installed: these tests fail, never skip)
import pytest

from chdb_http_server import ShimProcess
from conftest import free_port, run_cli, start_server
from interplay.api import Interplay
from interplay.migrate import migrate
from interplay.model import StoreUnavailable
from interplay.model_results import to_json
from interplay.store import telemetry as queries
from interplay.store._ch_transport import ClickHouseError
from interplay.store.open import open_store

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def clickhouse_http(tmp_path_factory):
    shim = ShimProcess(tmp_path_factory.mktemp("chdb-http"))
    yield shim
    shim.stop()


def _db() -> str:
    return f"interplay_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def http_store(clickhouse_http):
    store = open_store(clickhouse_http.url(_db()))
    yield store
    store.close()


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    from interplay.testbed import simulate
    out = tmp_path_factory.mktemp("sim") / "case.jsonl"
    simulate("shop", "errors", seed=2, out=out, duration_s=600, rate_per_s=3)
    return out


def _ingest(url: str, path: Path) -> Interplay:
    ip = Interplay(open_store(url))
    ip.ingest_file(path)
    ip.ingest_file(Path(str(path) + ".changes.jsonl"))
    return ip


# -- the same answers as chDB in process ----------------------------------------------------------
def test_queries_and_investigation_equal_to_chdb(tmp_path, clickhouse_http, simulated):
    http = _ingest(clickhouse_http.url(_db()), simulated)
    local = _ingest(f"chdb:{tmp_path / 'ch'}", simulated)
    try:
        assert http.counts() == local.counts() and http.counts()["logs"] and http.counts()["metrics"]
        assert http.services() == local.services()
        assert http.changes() == local.changes() and http.changes()
        for kw in ({}, {"errors_only": True}, {"service": "payment"}):
            assert http.traces(limit=50, **kw) == local.traces(limit=50, **kw)
        tid = http.traces(limit=1, errors_only=True)[0].trace_id
        assert http.trace(tid) == local.trace(tid)
        got, want = to_json(http.investigate()), to_json(local.investigate())
        assert got["root_causes"] == want["root_causes"] and got["root_causes"][0]["service"] == "payment"
    finally:
        http.close()
        local.close()


def test_migrate_streams_through_http(tmp_path, clickhouse_http, simulated):
    """DuckDB → server → DuckDB (`interplay migrate`): stream_arrow reads the server in ArrowStream
    batches of at most batch_rows."""
    duck = _ingest(f"duckdb:{tmp_path / 'src.duckdb'}", simulated)
    url = clickhouse_http.url(_db())
    server = open_store(url)
    try:
        copied = migrate(duck.store, server, batch_rows=1000)
        assert copied == duck.counts() == server.counts()
        sizes = [b.num_rows for b in server.stream_arrow("spans", batch_rows=1000)]
        assert sum(sizes) == copied["spans"] and len(sizes) > 1 and max(sizes) <= 1000
        back = tmp_path / "back.duckdb"
        doc = json.loads(run_cli("migrate", "--from", url, "--to", f"duckdb:{back}", "--batch-rows", "1000",
                                 "--format", "json").stdout)
        assert doc["copied"] == copied
        back_store = open_store(back)
        assert queries.services(back_store) == duck.services()
        assert queries.changes(back_store) == duck.changes()
        back_store.close()
    finally:
        duck.close()
        server.close()


# -- the transport itself -------------------------------------------------------------------------
def test_threads_get_their_own_sessions(http_store):
    """One client (one server session) per thread: threads query at once, and a TEMPORARY table
    lives in the session of the thread that made it, as Interplay's investigation relies on."""
    http_store.query(http_store.sql.create_temp_table("_mine", "SELECT 1 AS x"))
    assert http_store.query("SELECT sum(x) AS s FROM _mine") == [{"s": 1}]
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(10):
                assert http_store.counts()["spans"] == 0
            with pytest.raises(ClickHouseError, match="UNKNOWN_TABLE"):
                http_store.query("SELECT * FROM _mine")
        except BaseException as exc:  # noqa: BLE001  (reported in the test's own thread)
            errors.append(exc)
    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    http_store.query("DROP TABLE _mine")


def test_one_statement_per_request(http_store):
    """A server refuses a second statement (chDB in process would run it): the schema and every
    query Interplay sends are single statements."""
    with pytest.raises(ClickHouseError, match="Multi-statements are not allowed"):
        http_store.transport.command("SELECT 1; SELECT 2")
    assert http_store.query("SELECT ';' AS s -- ;\n") == [{"s": ";"}]


def test_refused_statement_is_clickhouses_message(http_store):
    with pytest.raises(ClickHouseError, match=r"^ClickHouse: Code: 60\. DB::Exception: Unknown table .*"
                                              r"\(UNKNOWN_TABLE\) \(in: SELECT \* FROM nope\)$"):
        http_store.query("SELECT * FROM nope")
    with pytest.raises(ClickHouseError, match=r"Code: 62\..*\(SYNTAX_ERROR\) \(in: SELEC 1\)"):
        http_store.transport.command("SELEC 1")


def test_stream_errors_are_clickhouse_errors(http_store):
    http_store.transport.command("DROP TABLE otel_logs")
    with pytest.raises(ClickHouseError, match="UNKNOWN_TABLE"):
        list(http_store.stream_arrow("logs"))


def test_unreachable_or_refusing_server_is_named(tmp_path, clickhouse_http):
    port = free_port()  # nothing listens there
    with pytest.raises(StoreUnavailable, match=f"^cannot reach clickhouse://127.0.0.1:{port}/x: Connection refused$"):
        open_store(f"clickhouse://127.0.0.1:{port}/x")
    with pytest.raises(StoreUnavailable, match=f"^cannot connect to clickhouse://127.0.0.1:{clickhouse_http.port}/x: "
                                               r"Code: 516\. .*Authentication failed"):
        open_store(clickhouse_http.url("x", password="wrong"))
    other = ShimProcess(tmp_path / "gone")
    store = open_store(other.url("x"))
    other.stop()
    with pytest.raises(StoreUnavailable, match=f"^cannot reach clickhouse://127.0.0.1:{other.port}/x: "):
        store.counts()
    store.close()
    r = run_cli("services", "--store", f"clickhouse://127.0.0.1:{port}/x", check=False)
    assert (r.returncode, r.stderr) == (1, f"error: cannot reach clickhouse://127.0.0.1:{port}/x: Connection refused\n")


# -- interplay serve on a ClickHouse server, fed by the real OpenTelemetry SDK ----------------------
def test_serve_stores_sdk_telemetry_on_clickhouse(clickhouse_http):
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.trace import SpanKind, Status, StatusCode

    url = clickhouse_http.url(_db())
    server = start_server(url, grpc=False)
    try:
        resource = Resource.create({"service.name": "checkout", "service.version": "2.1.0"})
        tracing = TracerProvider(resource=resource)
        tracing.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{server.url}/v1/traces")))
        logging_ = LoggerProvider(resource=resource)
        logging_.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{server.url}/v1/logs")))
        logger = logging.getLogger("clickhouse-http-serve")
        logger.propagate = False
        handler = LoggingHandler(logger_provider=logging_)
        logger.addHandler(handler)
        tracer = tracing.get_tracer("test")
        with tracer.start_as_current_span("POST /checkout", kind=SpanKind.SERVER,
                                          attributes={"retries": 3, "tags": ["a", "b"]}) as root:
            with tracer.start_as_current_span("SELECT orders", kind=SpanKind.CLIENT) as child:
                child.set_status(Status(StatusCode.ERROR, "deadlock detected"))
                child.record_exception(RuntimeError("deadlock"))
                logger.warning("deadlock on order %s", "A-17")
        tracing.shutdown()
        logging_.shutdown()
        logger.removeHandler(handler)
        services = server.get("/api/services").json()  # read back by the running server, over HTTP
        assert [(s["service"], s["spans"]) for s in services] == [("checkout", 2)]
    finally:
        server.stop()
    store = open_store(url)
    try:
        rows = store.query("SELECT * FROM spans ORDER BY start_ns")
        assert [(r["operation"], r["kind"], r["status_code"]) for r in rows] == \
            [("POST /checkout", "SERVER", "UNSET"), ("SELECT orders", "CLIENT", "ERROR")]
        parent, kid = rows
        assert parent["trace_id"] == f"{root.get_span_context().trace_id:032x}"
        assert (parent["start_ns"], parent["end_ns"]) == (root.start_time, root.end_time)
        assert kid["parent_span_id"] == parent["span_id"] and kid["status_message"] == "deadlock detected"
        assert parent["service_version"] == "2.1.0"
        assert dict(parent["attributes"]) == {"retries": "3", "tags": '["a","b"]'}  # the exporter's map
        text = store.query(f"SELECT {store.sql.attrs_text('attributes')} AS a FROM spans WHERE span_id = ?",
                           [parent["span_id"]])[0]["a"]
        assert json.loads(text) == {"retries": "3", "tags": '["a","b"]'}
        assert json.loads(kid["events"])[0]["attributes"]["exception.type"] == "RuntimeError"
        (log,) = store.query("SELECT body, severity_text, span_id, service FROM logs")
        assert log == {"body": "deadlock on order A-17", "severity_text": "WARN", "span_id": kid["span_id"],
                       "service": "checkout"}
    finally:
        store.close()


def test_query_commands_leave_an_exporter_database_untouched(clickhouse_http):
    """The CLI's query commands, pointed at a server database an older exporter filled, answer and
    create nothing: no views, no changes table, no database of Interplay's own."""
    from test_clickhouse_generations import OLD, _rows
    db = _db()
    admin = clickhouse_connect.get_client(host="127.0.0.1", port=clickhouse_http.port)
    admin.command(f"CREATE DATABASE {db}")
    admin.close()
    client = clickhouse_connect.get_client(host="127.0.0.1", port=clickhouse_http.port, database=db)
    try:
        for ddl in OLD:
            client.command(ddl)
        spans, _ = _rows("old")
        client.command("INSERT INTO otel_traces FORMAT JSONEachRow\n" + "\n".join(json.dumps(r) for r in spans[:200]))
        snapshot = ("SELECT database, name, total_rows FROM system.tables WHERE database IN "
                    f"('{db}', 'interplay_{db}', 'interplay') ORDER BY database, name")
        before = client.query(snapshot).result_rows
        url = clickhouse_http.url(db)
        services = json.loads(run_cli("services", "--store", url, "--format", "json").stdout)
        assert {s["service"] for s in services} == {"frontend", "cart", "payments"}
        traces = json.loads(run_cli("traces", "--store", url, "--format", "json").stdout)
        assert traces and run_cli("trace", traces[0]["trace_id"], "--store", url).returncode == 0
        assert run_cli("changes", "--store", url).returncode == 0
        assert client.query(snapshot).result_rows == before
        # only the exporter's own tables, nothing of Interplay's
        made = sorted(re.search(r"CREATE TABLE (?:IF NOT EXISTS )?`?(\w+)", ddl).group(1) for ddl in OLD)
        assert [r[1] for r in before] == made and "otel_traces" in made
        assert not client.command(f"SELECT count() FROM system.databases WHERE name = 'interplay_{db}'")
    finally:
        client.command(f"DROP DATABASE IF EXISTS {db}")
        client.close()
