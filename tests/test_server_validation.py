"""Hostile numbers, text and ids against a real `interplay serve`, over OTLP/HTTP (JSON and protobuf)
and OTLP/gRPC: the bad record is dropped and named in `partial_success`, the good ones in the same
request are stored, nothing answers 500 (or gRPC UNKNOWN/INTERNAL)."""
from __future__ import annotations

import copy
import json

import grpc
import httpx
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from conftest import run_cli, spans_stored
from interplay.testing import TraceBuilder, traces_request

pytestmark = pytest.mark.integration
T0 = 1_767_225_600 * 10**9
JSON = {"Content-Type": "application/json"}
PROTO = {"Content-Type": "application/x-protobuf"}
U64_BIG = 2**64 - 1


def spans(n: int = 2, seed: int = 1) -> dict:
    traces = []
    for i in range(n):
        t = TraceBuilder(T0 + i * 10**9, seed=seed * 1000 + i)
        t.span("frontend", "GET /", duration_ms=10)
        traces.append(t)
    return traces_request(traces)


def with_bad_span(**overrides) -> dict:
    doc = spans(2)
    bad = copy.deepcopy(doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0])
    bad.update({"traceId": "ab" * 16, "spanId": "cd" * 8, **overrides})
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"].append(bad)
    return doc


def logs(*records: dict) -> dict:
    base = {"timeUnixNano": str(T0), "severityNumber": 9, "body": {"stringValue": "fine"}}
    return {"resourceLogs": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "logsvc"}}]},
        "scopeLogs": [{"scope": {"name": "s"}, "logRecords": [base, *[{**base, **r} for r in records]]}]}]}


def gauge_points(*points: dict) -> dict:
    base = {"timeUnixNano": str(T0), "asDouble": 1.5}
    return {"resourceMetrics": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "metricsvc"}}]},
        "scopeMetrics": [{"metrics": [{"name": "g", "gauge": {"dataPoints": [base, *[{**base, **p} for p in points]]}}]}]}]}


def histogram(count: int) -> dict:
    point = {"timeUnixNano": str(T0), "count": str(count), "sum": 1.0, "bucketCounts": [str(count)],
             "explicitBounds": []}
    return {"resourceMetrics": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "metricsvc"}}]},
        "scopeMetrics": [{"metrics": [{"name": "h", "histogram": {"aggregationTemporality": 2, "dataPoints": [
            {**point, "count": "3", "bucketCounts": ["3"]}, point]}}]}]}]}


def to_proto(doc: dict, cls):
    """An OTLP/JSON dict (hex ids) as a protobuf message (the proto JSON mapping wants base64 ids)."""
    import base64

    def fix(v):
        if isinstance(v, dict):
            return {k: base64.b64encode(bytes.fromhex(x)).decode() if k in ("traceId", "spanId", "parentSpanId")
                    and isinstance(x, str) and x else fix(x) for k, x in v.items()}
        return [fix(x) for x in v] if isinstance(v, list) else v
    return json_format.ParseDict(fix(doc), cls())


_RESPONSES = {"traces": trace_service_pb2.ExportTraceServiceResponse, "logs": logs_service_pb2.ExportLogsServiceResponse,
              "metrics": metrics_service_pb2.ExportMetricsServiceResponse}


def post(server, signal: str, doc: dict | bytes, proto: bool = False) -> httpx.Response:
    if proto:
        cls = {"traces": trace_service_pb2.ExportTraceServiceRequest, "logs": logs_service_pb2.ExportLogsServiceRequest,
               "metrics": metrics_service_pb2.ExportMetricsServiceRequest}[signal]
        r = server.post(f"/v1/{signal}", content=to_proto(doc, cls).SerializeToString(), headers=PROTO)
        # the answer comes in the request's encoding: re-read it as JSON for the checks
        message = _RESPONSES[signal].FromString(r.content) if r.status_code == 200 else None
        return httpx.Response(r.status_code, json=json_format.MessageToDict(message) if message else {})
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return server.post(f"/v1/{signal}", content=body, headers=JSON)


def partial(r: httpx.Response) -> tuple[int, str]:
    assert r.status_code == 200, r.text
    ps = r.json().get("partialSuccess", {})
    rejected = next((int(v) for k, v in ps.items() if k.startswith("rejected")), 0)
    return rejected, ps.get("errorMessage", "")


@pytest.fixture
def server(module_server):
    return module_server


def count(server) -> int:
    return spans_stored(server)


@pytest.mark.parametrize("override, reason", [
    ({"traceId": "z" * 32}, "is neither hex nor base64"),
    ({"spanId": "g" * 16}, "is neither hex nor base64"),
    ({"name": "bad \ud800 name"}, None),  # repaired, not rejected
    ({"startTimeUnixNano": str(U64_BIG)}, "outside 2000..2100"),
    ({"startTimeUnixNano": "1" * 400}, "not an integer in range"),
    ({"kind": {"x": 1}}, None),  # an unknown kind is stored as UNSPECIFIED
    ({"attributes": [{"key": "n", "value": {"intValue": str(2**70)}}]}, "outside"),
    ({"attributes": [{"key": 5, "value": {"stringValue": "x"}}]}, "attribute key must be a string"),
    ({"status": "broken"}, "has no attribute"),
    ({"events": [{"timeUnixNano": "-1", "name": "e"}]}, "event time -1 is outside"),
    ({"events": [{"timeUnixNano": str(U64_BIG), "name": "e"}]}, "events[0] time"),  # found by the fuzz
])
def test_bad_span_is_dropped_with_its_path_and_the_rest_stored(server, override, reason):
    before = count(server)
    r = post(server, "traces", with_bad_span(**override))
    rejected, message = partial(r)
    if reason is None:
        assert rejected == 0
        assert count(server) == before + 3
        return
    assert rejected == 1 and reason in message, message
    assert "resourceSpans[0].scopeSpans[0].spans[2]" in message
    assert count(server) == before + 2


def test_lone_surrogates_are_repaired_and_reported(server):
    doc = with_bad_span(name="GET /\ud800", traceId="ef" * 16)
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"] = [
        {"key": "k\udfff", "value": {"stringValue": "v\ud800"}}]
    r = post(server, "traces", json.dumps(doc).encode())  # json.dumps escapes them as \ud800
    rejected, message = partial(r)
    assert rejected == 0 and "lone surrogate" in message and "spans[2].name" in message
    assert server.get("/api/traces/" + "ef" * 16).json()["roots"][0]["operation"] == "GET /\ufffd"
    r = server.post("/v1/traces", content=b'{"resourceSpans": []}\xff', headers=JSON)
    assert r.status_code == 400  # invalid UTF-8 bytes, once repaired, leave trailing garbage: not JSON
    r = server.post("/api/changes", headers=JSON, content=json.dumps(
        {"time": "2026-01-01T00:00:00Z", "service": "s\ud800", "kind": "deploy", "description": "d\ud800"}))
    assert r.status_code == 200 and "lone surrogate" in r.json()["warnings"][0]
    r = server.post("/api/alerts", headers=JSON, content=json.dumps({"service": "a\ud800", "summary": "s\udc00"}))
    assert r.status_code == 202, r.text


def _invalid_utf8_request() -> bytes:
    """Three spans; the third's name and an attribute value are not UTF-8 (protobuf refuses that)."""
    message = to_proto(with_bad_span(traceId="fe" * 16), trace_service_pb2.ExportTraceServiceRequest)
    bad = message.resource_spans[0].scope_spans[0].spans[2]
    bad.name = "@@NAME@@"
    bad.attributes.add(key="k").value.string_value = "@@VALUE@"
    return message.SerializeToString().replace(b"@@NAME@@", b"GET /\xff\xfe!").replace(b"@@VALUE@", b"v\xed\xa0\x80\xc0\x80ok")


def test_protobuf_with_invalid_utf8_is_repaired_and_reported(server):
    before = count(server)
    r = server.post("/v1/traces", content=_invalid_utf8_request(), headers=PROTO)
    assert r.status_code == 200, r.content
    ps = trace_service_pb2.ExportTraceServiceResponse.FromString(r.content).partial_success
    assert ps.rejected_spans == 0 and "invalid UTF-8 repaired with U+FFFD" in ps.error_message
    assert "spans[2].name" in ps.error_message and "spans[2].attributes[0].value.stringValue" in ps.error_message
    assert count(server) == before + 3
    root = server.get("/api/traces/" + "fe" * 16).json()["roots"][0]
    assert root["operation"] == "GET /\ufffd\ufffd!"
    assert json.loads(root["attributes"])["k"].startswith("v\ufffd")
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        raw = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                                  request_serializer=None, response_deserializer=None)
        response = trace_service_pb2.ExportTraceServiceResponse.FromString(raw(_invalid_utf8_request(), timeout=10))
    assert "spans[2].name" in response.partial_success.error_message
    assert count(server) == before + 6


def test_protobuf_names_the_bad_data_point(server):
    r = post(server, "metrics", gauge_points({}, {"startTimeUnixNano": str(U64_BIG)}), proto=True)
    rejected, message = partial(r)
    assert rejected == 1 and "metrics[0].dataPoints[2]" in message and "start time" in message


def test_scope_name_not_a_string_rejects_only_its_scope(server):
    doc = spans(2)
    other = copy.deepcopy(doc["resourceSpans"][0])
    other["scopeSpans"][0]["scope"] = {"name": {"not": "a string"}}
    doc["resourceSpans"].append(other)
    before = count(server)
    rejected, message = partial(post(server, "traces", doc))
    assert rejected == 2 and "scope.name must be a string" in message and "resourceSpans[1].scopeSpans[0]" in message
    assert count(server) == before + 2


def test_deep_nesting_is_refused_or_rejected_never_500(server):
    deep = "[" * 5000 + "]" * 5000
    r = server.post("/v1/traces", content=('{"resourceSpans": ' + deep + "}").encode(), headers=JSON)
    assert r.status_code == 400 and "nested too deeply" in r.json()["message"]
    value: dict = {"stringValue": "leaf"}
    for _ in range(40):
        value = {"kvlistValue": {"values": [{"key": "k", "value": value}]}}
    rejected, message = partial(post(server, "traces", with_bad_span(attributes=[{"key": "deep", "value": value}])))
    assert rejected == 1 and "nested deeper than 32" in message
    for path in ("/api/changes", "/api/alerts", "/api/investigations"):
        r = server.post(path, content=deep.encode(), headers=JSON)
        assert r.status_code == 400 and "nested too deeply" in r.json()["error"], path


@pytest.mark.parametrize("proto", [False, True])
def test_huge_uint64_and_enum_values_in_logs_and_metrics(server, proto):
    r = post(server, "logs", logs({"observedTimeUnixNano": str(U64_BIG)}, {"severityNumber": 2**70 if not proto else 2**30}),
             proto=proto)
    rejected, message = partial(r)
    assert rejected == 2 and "observed time" in message and "everity" in message
    r = post(server, "metrics", gauge_points({"startTimeUnixNano": str(U64_BIG)}), proto=proto)
    rejected, message = partial(r)
    assert rejected == 1 and "start time" in message and "metrics[0]" in message
    rejected, message = partial(post(server, "metrics", histogram(2**63 + 5), proto=proto))
    assert rejected == 1 and "count" in message
    assert server.get("/api/health").status_code == 200


def test_grpc_hostile_values_get_partial_success_and_garbage_invalid_argument(server):
    channel = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
    try:
        logs_stub = logs_service_pb2_grpc.LogsServiceStub(channel)
        request = json_format.ParseDict(logs({"observedTimeUnixNano": str(U64_BIG)}),
                                        logs_service_pb2.ExportLogsServiceRequest())
        response = logs_stub.Export(request, timeout=10)
        assert response.partial_success.rejected_log_records == 1
        assert "observed time" in response.partial_success.error_message
        metrics_stub = metrics_service_pb2_grpc.MetricsServiceStub(channel)
        response = metrics_stub.Export(json_format.ParseDict(histogram(2**63 + 5),
                                                             metrics_service_pb2.ExportMetricsServiceRequest()), timeout=10)
        assert response.partial_success.rejected_data_points == 1
        raw = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                                  request_serializer=None, response_deserializer=None)
        with pytest.raises(grpc.RpcError) as err:
            raw(b"\x0a\xff\xff\xff\xff\x0f garbage", timeout=10)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "not a valid OTLP protobuf" in err.value.details()
        trace_stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        good = to_proto(spans(1, seed=4), trace_service_pb2.ExportTraceServiceRequest)
        assert not trace_stub.Export(good, timeout=10).HasField("partial_success")
    finally:
        channel.close()


@pytest.mark.parametrize("path, param", [
    ("/api/traces?limit=-1", "limit"), ("/api/traces?limit=99999999999999999999999", "limit"),
    ("/api/traces?since=" + "9" * 400, "since"), ("/api/traces?until=" + "1" * 30, "until"),
    ("/api/traces?since=-99999999999999999999d", "since"), ("/api/traces?min_duration=1e400", "duration"),
    ("/api/changes?limit=0", "limit"), ("/api/services?since=nan", "since"),
    ("/api/investigations?limit=-5", "limit"), ("/api/agents/runs?limit=-1", "limit"),
    ("/api/series?service=x&buckets=-1", "buckets"), ("/api/graph?since=" + "9" * 5000, "since"),
])
def test_bad_query_parameters_are_400_naming_the_parameter(server, path, param):
    r = server.get(path)
    assert r.status_code == 400, (path, r.status_code, r.text[:300])
    assert param in r.json()["error"]


def test_cli_direct_mode_gives_one_line_errors(tmp_path):
    db = tmp_path / "direct.duckdb"
    run_cli("ingest", "--db", str(db), str(_write(tmp_path, spans(1))))
    for args in (["traces", "--limit", "-1"], ["traces", "--since", "9" * 400],
                 ["changes", "--since", "-99999999999999999999d"], ["traces", "--min-duration", "1e400"]):
        r = run_cli(*args, "--db", str(db), check=False)
        assert r.returncode != 0 and "Traceback" not in r.stderr, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) <= 6, r.stderr


def _write(tmp_path, doc) -> object:
    path = tmp_path / "one.json"
    path.write_text(json.dumps(doc))
    return path


def test_future_dated_data_is_bounded_by_retention(tmp_path):
    from interplay.api import Interplay
    day = 86_400 * 10**9
    now = T0 + 30 * day
    ip = Interplay.open(tmp_path / "future.duckdb")
    f = tmp_path / "future.jsonl"
    far = TraceBuilder(T0 + 300 * day, seed=8)  # months ahead of "now": a bad clock or a hostile sender
    far.span("future", "GET /", duration_ms=5)
    near = TraceBuilder(now - day, seed=9)
    near.span("present", "GET /", duration_ms=5)
    f.write_text(json.dumps(traces_request([far])) + "\n" + json.dumps(traces_request([near])) + "\n")
    ip.ingest_file(f)
    deleted = ip.apply_retention(7 * day, now_ns=now)
    assert deleted["spans"] == 1 and [r.service for r in ip.services()] == ["present"]
    ip.close()


def test_markdown_report_escapes_html_from_telemetry():
    from interplay.model_results import Investigation, from_json
    from interplay.report import render
    result = from_json(Investigation, {
        "symptom": {"given": "<img src=x onerror=alert(1)>"}, "onset": "t", "onset_source": "given",
        "windows": {"baseline": {"since": "a", "until": "b", "since_ns": 1, "until_ns": 2},
                    "incident": {"since": "c", "until": "d", "since_ns": 3, "until_ns": 4}},
        "method": "traces", "load_moves": [],
        "root_causes": [{"rank": 1, "service": "<script>alert(2)</script>", "operation": None,
                         "kind": "latency", "score": 1.0, "summary": "a <b>bold</b> & claim",
                         "chain": [], "evidence": []}],
        "data_completeness": {"traces": 0, "spans": 0, "complete_traces": 0}})
    text = render(result, "markdown")
    assert "<script>" not in text and "<img" not in text and "&lt;script&gt;" in text
    assert "&amp; claim" in text
    html = render(result, "html")
    assert "<script>alert" not in html and "&lt;script&gt;" in html and "&amp;lt;" not in html
