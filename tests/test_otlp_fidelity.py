"""Full OTLP fidelity: what the OpenTelemetry Python SDK sends to a real `interplay serve` comes back
whole (exponential histogram buckets, exemplars, metric description and scope, log event name and
trace flags, trace state, links), in DuckDB, in ClickHouse after `migrate`, and back again."""
from __future__ import annotations

import json

import pytest
from opentelemetry import trace as otel_trace
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, TraceFlags, TraceState

from interplay.api import Interplay
from interplay.migrate import migrate
from interplay.store.open import open_store

pytestmark = pytest.mark.integration
LATENCIES = [0.0, 0.7, 1.5, 3.2, 3.3, 9.0, 40.0, 41.0, 250.0, 1200.0]


def _send_everything(server) -> dict:
    """Spans, logs and an exponential histogram through the SDK's OTLP/HTTP exporters; what the SDK
    itself aggregated, for comparison."""
    resource = Resource.create({"service.name": "checkout", "service.version": "4.2.0"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{server.url}/v1/traces")))
    tracer = tracer_provider.get_tracer("shop.checkout", "1.7.0")
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{server.url}/v1/logs")))
    logger = logger_provider.get_logger("shop.audit", "2.0.1")
    local = InMemoryMetricReader()
    remote = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=f"{server.url}/v1/metrics"),
                                           export_interval_millis=3_600_000)
    meter_provider = MeterProvider(resource=resource, metric_readers=[local, remote], views=[
        View(instrument_name="checkout.latency", aggregation=ExponentialBucketHistogramAggregation(max_size=20))])
    histogram = meter_provider.get_meter("shop.metrics", "0.3.0").create_histogram(
        "checkout.latency", unit="ms", description="time to check out")

    upstream = SpanContext(0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7, is_remote=True,
                           trace_flags=TraceFlags(1), trace_state=TraceState([("vendor", "abc")]))
    linked = SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, is_remote=True,
                         trace_flags=TraceFlags(1), trace_state=TraceState([("other", "x1")]))
    with tracer.start_as_current_span("POST /checkout", kind=SpanKind.SERVER,
                                      context=otel_trace.set_span_in_context(NonRecordingSpan(upstream)),
                                      links=[Link(linked, {"link.reason": "batch"})]) as span:
        for v in LATENCIES:
            histogram.record(v, {"route": "/checkout"})  # inside a sampled span: exemplars carry its ids
        span.add_event("payment.authorized", {"amount": 42.5})
        logger.emit(body="order placed", event_name="checkout.order_placed", severity_text="INFO",
                    attributes={"order.id": "o-1"})
        span_id = format(span.get_span_context().span_id, "016x")
    expected = local.get_metrics_data().resource_metrics[0].scope_metrics[0].metrics[0].data.data_points[0]
    for p in (tracer_provider, logger_provider, meter_provider):
        p.shutdown()
    return {"point": expected, "span_id": span_id}


def _check(ip: Interplay, sent: dict) -> None:
    p = sent["point"]
    (row,) = ip.store.query("SELECT * FROM metrics WHERE name = 'checkout.latency'")
    assert row["type"] == "exponential_histogram" and row["count"] == len(LATENCIES)
    assert (row["scale"], row["zero_count"]) == (p.scale, p.zero_count)
    assert (row["positive_offset"], json.loads(row["positive_bucket_counts"])) == \
        (p.positive.offset, list(p.positive.bucket_counts))
    assert row["negative_offset"] == p.negative.offset
    assert json.loads(row["negative_bucket_counts"]) == list(p.negative.bucket_counts)
    assert sum(json.loads(row["positive_bucket_counts"])) + row["zero_count"] == len(LATENCIES)
    assert (row["min"], row["max"], row["sum"]) == (min(LATENCIES), max(LATENCIES), pytest.approx(sum(LATENCIES)))
    assert (row["description"], row["scope_name"], row["scope_version"]) == \
        ("time to check out", "shop.metrics", "0.3.0")
    exemplars = json.loads(row["exemplars"])
    assert exemplars and {e["span_id"] for e in exemplars} == {sent["span_id"]}
    assert all(e["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736" and e["value"] in LATENCIES for e in exemplars)

    (log,) = ip.store.query("SELECT * FROM logs")
    assert (log["event_name"], log["trace_flags"], log["scope_name"], log["scope_version"]) == \
        ("checkout.order_placed", 1, "shop.audit", "2.0.1")
    assert log["span_id"] == sent["span_id"]

    tree = ip.trace("4bf92f3577b34da6a3ce929d0e0e4736")
    (root,) = tree.roots
    assert root.orphan is True  # its parent lives upstream
    assert (root.trace_state, root.scope_name, root.scope_version) == ("vendor=abc", "shop.checkout", "1.7.0")
    assert json.loads(root.resource_attributes)["service.version"] == "4.2.0"
    (link,) = json.loads(root.links)  # the Python SDK's encoder leaves a link's trace state out
    assert (link["trace_id"], link["span_id"]) == ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")
    assert link["attributes"] == {"link.reason": "batch"}
    (event,) = json.loads(root.events)  # ClickHouse's attribute maps hold strings, as the exporter writes them
    assert (event["name"], str(event["attributes"]["amount"])) == ("payment.authorized", "42.5")


def test_sdk_data_comes_back_whole_in_both_stores(make_server, tmp_path):
    server = make_server()
    sent = _send_everything(server)
    (api_root,) = server.get("/api/traces/4bf92f3577b34da6a3ce929d0e0e4736").json()["roots"]
    (link,) = json.loads(api_root["links"])
    assert (link["span_id"], link["attributes"]) == ("b7ad6b7169203331", {"link.reason": "batch"})
    assert api_root["trace_state"] == "vendor=abc"
    assert json.loads(api_root["resource_attributes"])["service.version"] == "4.2.0"
    assert (api_root["scope_name"], api_root["scope_version"]) == ("shop.checkout", "1.7.0")
    (event,) = json.loads(api_root["events"])
    assert (event["name"], event["attributes"]) == ("payment.authorized", {"amount": 42.5})
    server.stop()

    duck = Interplay.open(server.db, read_only=True)
    try:
        _check(duck, sent)
        chdb_url = f"chdb:{tmp_path / 'ch'}"
        copied = migrate(duck.store, open_store(chdb_url))
        assert copied == {"spans": 1, "logs": 1, "metrics": 1, "changes": 0}
    finally:
        duck.close()
    ch = Interplay.open(chdb_url)
    try:
        _check(ch, sent)
        back = Interplay.open(tmp_path / "back.duckdb")
        try:
            migrate(ch.store, back.store)
            _check(back, sent)
        finally:
            back.close()
    finally:
        ch.close()


@pytest.mark.parametrize("store", ["duckdb", "chdb"])
def test_link_trace_state_and_log_flags_from_otlp_json(tmp_path, store):
    """What the SDK cannot send (a link's trace state), from OTLP/JSON as the Collector writes it."""
    trace_id, span_id = "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174"
    doc = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "a"}}]},
                              "scopeSpans": [{"scope": {"name": "s", "version": "9"}, "spans": [{
                                  "traceId": trace_id, "spanId": span_id, "name": "op", "kind": 2,
                                  "traceState": "k=v", "startTimeUnixNano": "1767225600000000000",
                                  "endTimeUnixNano": "1767225600100000000",
                                  "links": [{"traceId": "0af7651916cd43dd8448eb211c80319c",
                                             "spanId": "b7ad6b7169203331", "traceState": "other=x1",
                                             "attributes": [{"key": "n", "value": {"intValue": "3"}}]}]}]}]}]}
    path = tmp_path / "t.json"
    path.write_text(json.dumps(doc))
    ip = Interplay.open(f"chdb:{tmp_path / 'ch'}" if store == "chdb" else tmp_path / "d.duckdb")
    other = Interplay.open(tmp_path / "d2.duckdb" if store == "chdb" else f"chdb:{tmp_path / 'ch2'}")
    try:
        ip.ingest_file(path)
        assert migrate(ip.store, other.store)["spans"] == 1  # and into the other store
        for each in (ip, other):
            (root,) = each.trace(trace_id).roots
            (link,) = json.loads(root.links)
            assert link["trace_state"] == "other=x1" and str(link["attributes"]["n"]) == "3"
            assert (root.trace_state, root.scope_version) == ("k=v", "9")
    finally:
        other.close()
        ip.close()
