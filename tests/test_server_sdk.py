"""The real OpenTelemetry SDK exports to a real `interplay serve`; we read back exactly what was sent."""
from __future__ import annotations

import json
import logging

import duckdb
import pytest
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from conftest import cli_json

pytestmark = pytest.mark.integration


def _exporters(server, protocol: str):
    if protocol == "http":
        return (HttpSpanExporter(endpoint=f"{server.url}/v1/traces"),
                HttpLogExporter(endpoint=f"{server.url}/v1/logs"),
                HttpMetricExporter(endpoint=f"{server.url}/v1/metrics"))
    target = f"127.0.0.1:{server.grpc_port}"
    return (GrpcSpanExporter(endpoint=target, insecure=True), GrpcLogExporter(endpoint=target, insecure=True),
            GrpcMetricExporter(endpoint=target, insecure=True))


def _read(server, sql: str, params=()):
    server.stop()  # the server holds the file; read it after a clean shutdown
    con = duckdb.connect(str(server.db), read_only=True)
    try:
        cur = con.execute(sql, list(params))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]
    finally:
        con.close()


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_traces_round_trip(server, protocol):
    span_exporter, _, _ = _exporters(server, protocol)
    provider = TracerProvider(resource=Resource.create({"service.name": "checkout", "service.version": "2.1.0",
                                                        "host.name": "node-7"}))
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("POST /checkout", kind=SpanKind.SERVER,
                                      attributes={"http.request.method": "POST", "retries": 3,
                                                  "ratio": 0.25, "flag": True, "tags": ["a", "b"]}) as root:
        with tracer.start_as_current_span("SELECT orders", kind=SpanKind.CLIENT,
                                          attributes={"db.system": "postgresql"}) as child:
            child.set_status(Status(StatusCode.ERROR, "deadlock detected"))
            child.record_exception(RuntimeError("deadlock"))
    provider.shutdown()
    rows = _read(server, "SELECT * FROM spans ORDER BY start_ns")
    assert [r["operation"] for r in rows] == ["POST /checkout", "SELECT orders"]
    parent, kid = rows
    ctx = root.get_span_context()
    assert parent["trace_id"] == f"{ctx.trace_id:032x}" and parent["span_id"] == f"{ctx.span_id:016x}"
    assert parent["parent_span_id"] is None
    assert kid["parent_span_id"] == parent["span_id"] and kid["trace_id"] == parent["trace_id"]
    assert (parent["kind"], kid["kind"]) == ("SERVER", "CLIENT")
    assert kid["status_code"] == "ERROR" and kid["status_message"] == "deadlock detected"
    assert parent["service"] == "checkout" and parent["service_version"] == "2.1.0"
    assert json.loads(parent["resource_attributes"])["host.name"] == "node-7"
    attrs = json.loads(parent["attributes"])
    assert attrs == {"http.request.method": "POST", "retries": 3, "ratio": 0.25, "flag": True, "tags": ["a", "b"]}
    assert parent["start_ns"] == root.start_time and parent["end_ns"] == root.end_time
    assert parent["duration_ns"] == root.end_time - root.start_time
    events = json.loads(kid["events"])
    assert events[0]["name"] == "exception"
    assert events[0]["attributes"]["exception.type"] == "RuntimeError"


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_logs_round_trip(server, protocol):
    _, log_exporter, _ = _exporters(server, protocol)
    provider = LoggerProvider(resource=Resource.create({"service.name": "payment"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))
    logger = logging.getLogger(f"roundtrip.{protocol}")
    logger.propagate = False
    handler = LoggingHandler(logger_provider=provider)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    tracer_provider = TracerProvider()
    with tracer_provider.get_tracer("t").start_as_current_span("op") as span:
        logger.warning("card declined for order %s", "A-17", extra={"order.id": "A-17"})
    logger.info("plain message")
    provider.shutdown()
    logger.removeHandler(handler)
    rows = _read(server, "SELECT * FROM logs ORDER BY time_ns")
    assert [r["body"] for r in rows] == ["card declined for order A-17", "plain message"]
    assert rows[0]["severity_text"] in ("WARN", "WARNING") and rows[0]["severity_number"] == 13
    assert rows[0]["service"] == "payment"
    assert rows[0]["trace_id"] == f"{span.get_span_context().trace_id:032x}"
    assert rows[0]["span_id"] == f"{span.get_span_context().span_id:016x}"
    assert json.loads(rows[0]["attributes"])["order.id"] == "A-17"
    assert rows[1]["trace_id"] is None


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_metrics_round_trip(server, protocol):
    _, _, metric_exporter = _exporters(server, protocol)
    reader = PeriodicExportingMetricReader(metric_exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(resource=Resource.create({"service.name": "cart"}), metric_readers=[reader])
    meter = provider.get_meter("test")
    counter = meter.create_counter("requests", unit="1")
    hist = meter.create_histogram("latency", unit="ms")
    gauge = meter.create_gauge("queue.depth")
    counter.add(5, {"route": "/cart"})
    counter.add(2, {"route": "/cart"})
    for v in (10.0, 20.0, 30.0):
        hist.record(v)
    gauge.set(42)
    provider.force_flush()
    provider.shutdown()
    rows = {r["name"]: r for r in _read(server, "SELECT * FROM metrics")}
    assert rows["requests"]["type"] == "sum" and rows["requests"]["value"] == 7.0
    assert rows["requests"]["is_monotonic"] is True and rows["requests"]["temporality"] == "cumulative"
    assert json.loads(rows["requests"]["attributes"]) == {"route": "/cart"}
    assert rows["latency"]["type"] == "histogram" and rows["latency"]["count"] == 3
    assert rows["latency"]["sum"] == 60.0 and rows["latency"]["value"] == 20.0
    assert rows["latency"]["min"] == 10.0 and rows["latency"]["max"] == 30.0
    assert sum(json.loads(rows["latency"]["bucket_counts"])) == 3
    assert rows["queue.depth"]["type"] == "gauge" and rows["queue.depth"]["value"] == 42.0
    assert {r["service"] for r in rows.values()} == {"cart"}


def test_queries_read_through_running_server(server):
    exporter, _, _ = _exporters(server, "http")
    provider = TracerProvider(resource=Resource.create({"service.name": "frontend"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    for i in range(4):
        with tracer.start_as_current_span("GET /", kind=SpanKind.SERVER) as span:
            if i == 0:
                span.set_status(Status(StatusCode.ERROR))
    provider.shutdown()
    # The server holds the file; the CLI finds it through the file beside the database.
    services = cli_json("services", "--db", str(server.db))
    assert services[0]["service"] == "frontend" and services[0]["spans"] == 4
    assert services[0]["error_rate"] == 0.25
    traces = cli_json("traces", "--db", str(server.db), "--errors")
    assert len(traces) == 1
    tree = cli_json("trace", traces[0]["trace_id"], "--url", server.url)
    assert tree["roots"][0]["status_code"] == "ERROR"


def test_status_left_unset_is_read_from_the_protocols_answer(server):
    """Instrumentation that records the HTTP/gRPC code but never sets a status: a failed request is
    still an error (as the semantic conventions define one), and an explicit status stands."""
    span_exporter, _, _ = _exporters(server, "http")
    provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    tracer = provider.get_tracer("test")
    cases = [("server 503", SpanKind.SERVER, {"http.response.status_code": 503}, None),
             ("server 404", SpanKind.SERVER, {"http.response.status_code": 404}, None),
             ("client 404", SpanKind.CLIENT, {"http.status_code": 404}, None),
             ("grpc server NOT_FOUND", SpanKind.SERVER, {"rpc.grpc.status_code": 5}, None),
             ("grpc server UNAVAILABLE", SpanKind.SERVER, {"rpc.grpc.status_code": 14}, None),
             ("grpc client NOT_FOUND", SpanKind.CLIENT, {"rpc.grpc.status_code": 5}, None),
             ("error.type timeout", SpanKind.CLIENT, {"error.type": "timeout"}, None),
             ("ok despite 500", SpanKind.SERVER, {"http.response.status_code": 500}, StatusCode.OK)]
    for name, kind, attrs, status in cases:
        with tracer.start_as_current_span(name, kind=kind, attributes=attrs) as span:
            if status is not None:
                span.set_status(Status(status))
    provider.shutdown()
    got = {r["operation"]: (r["status_code"], r["status_message"])
           for r in _read(server, "SELECT operation, status_code, status_message FROM spans")}
    assert got == {"server 503": ("ERROR", "http.response.status_code 503"),
                   "server 404": ("UNSET", ""),
                   "client 404": ("ERROR", "http.status_code 404"),
                   "grpc server NOT_FOUND": ("UNSET", ""),
                   "grpc server UNAVAILABLE": ("ERROR", "rpc.grpc.status_code 14"),
                   "grpc client NOT_FOUND": ("ERROR", "rpc.grpc.status_code 5"),
                   "error.type timeout": ("ERROR", "error.type timeout"),
                   "ok despite 500": ("OK", "")}
