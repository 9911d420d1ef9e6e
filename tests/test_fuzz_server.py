"""Bounded, deterministic fuzzing of a real `interplay serve` on 127.0.0.1: every route with hostile
paths, query parameters, headers and bodies; OTLP over HTTP and gRPC with hostile requests; mixed
requests whose good records must be stored. One server for the module; its memory is checked last.

No answer may be a 500 (a 503 only with Retry-After), gRPC never UNKNOWN or INTERNAL.
"""
from __future__ import annotations

import gzip
import itertools
import json
from urllib.parse import quote

import grpc
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from conftest import start_server
from fuzzing import (
    EDGE_STRINGS,
    ROUTE_BODIES,
    SIGNALS,
    fuzz_settings,
    hostile_json_request,
    hostile_proto_request,
    json_body,
    json_values,
    mixed_request,
    mutated,
    template,
    to_proto,
)
from interplay.server.app import API_ROUTES
from interplay.server.openapi import document
from test_fuzz import EXPECTED, corpus

pytestmark = pytest.mark.integration
RSS_BOUND_MB = 700  # the fuzz sends small bodies: far below the 1 GB worst case the README states
RESPONSES = {"traces": ExportTraceServiceResponse, "logs": ExportLogsServiceResponse,
             "metrics": ExportMetricsServiceResponse}
GRPC_SERVICES = {"traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                 "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
                 "metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"}


def _routes() -> list[tuple[str, str, list[str]]]:
    """(method, path template, query parameter names) of every documented route, plus /mcp."""
    out = []
    for path, ops in document(API_ROUTES)["paths"].items():
        for method, op in ops.items():
            out.append((method.upper(), path, [p["name"] for p in op.get("parameters", ()) if p["in"] == "query"]))
    out.append(("POST", "/mcp", []))
    return out


ROUTES = _routes()
_counter = itertools.count(1)


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("fuzz") / "fuzz.duckdb")
    for signal in SIGNALS:  # something for every query to find
        r = server.post(f"/v1/{signal}", content=json_body(template(signal)), headers={"Content-Type": "application/json"})
        assert r.status_code == 200, r.text
    server.client = httpx.Client(base_url=server.url, timeout=60)
    yield server
    server.client.close()
    server.stop()


def check(r: httpx.Response, what) -> None:
    assert r.status_code != 500 and (r.status_code < 500 or r.status_code == 503 and "retry-after" in r.headers
                                     or r.status_code == 501), (what, r.status_code, r.text[:500])


def _quote(text: str) -> str:
    """Percent-encoded as a hostile client sends it: lone surrogates become invalid UTF-8 (%ED%A0%80)."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


query_text = st.sampled_from([v for v in EDGE_STRINGS if len(v) < 1000] + ["x" * 3000, "-1", "0", "1d", "5m", "2026-01-01T00:00:00Z", "1e400", "nan",
                                                  "9" * 30, "'; DROP TABLE spans; --", "%00", "true"]) | st.text(max_size=20)
bodies = st.one_of(
    json_values.map(lambda v: json_body(v)),
    hostile_json_request().map(lambda case: json_body(case[1])),
    hostile_proto_request().map(lambda case: case[1]),
    st.binary(max_size=300),
    st.sampled_from([b"", b"{}", b"[]", b"null", b'{"time": "x"}', b"\x1f\x8b\x08\x00garbage"]))
content_types = st.sampled_from(["application/json", "application/x-protobuf", "text/plain", "application/octet-stream",
                                 "application/json; charset=utf-16", "multipart/form-data; boundary=x", None])


@pytest.mark.parametrize("path", sorted(ROUTE_BODIES))
def test_route_bodies_the_fuzz_starts_from_are_accepted(srv, path):
    r = srv.client.post(path, content=json_body(ROUTE_BODIES[path]), headers={
        "Content-Type": "application/json", "Accept": "application/json, text/event-stream"})
    assert r.status_code in (200, 201, 202), (path, r.status_code, r.text[:300])


@fuzz_settings(250)
@given(st.data())
def test_every_route_answers_hostile_requests_without_500(srv, data):
    method, path, params = data.draw(st.sampled_from(ROUTES))
    for name in ("trace_id", "id", "run_id"):
        path = path.replace("{" + name + "}", _quote(data.draw(query_text.filter(bool))))
    names = params + ["limit", "since", "until", "service", "x"]
    query = data.draw(st.dictionaries(st.sampled_from(names), query_text, max_size=4))
    path += "?" + "&".join(f"{_quote(k)}={_quote(v)}" for k, v in query.items()) if query else ""
    headers = {"X-Interplay-Client": "fuzz"} if data.draw(st.booleans()) else {}
    if method == "POST":
        body = data.draw(bodies | mutated(ROUTE_BODIES[path]).map(json_body) if path in ROUTE_BODIES else bodies)
        content_type = data.draw(content_types)
        if content_type:
            headers["Content-Type"] = content_type
        if data.draw(st.booleans()):
            body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
        headers["Accept"] = "application/json, text/event-stream"
        r = srv.client.post(path, content=body, headers=headers)
    else:
        r = srv.client.request(method, path, headers=headers)
    check(r, (method, path, query))


@fuzz_settings(150)
@given(st.one_of(hostile_json_request().map(lambda c: (c[0], json_body(c[1]), "application/json")),
                 hostile_proto_request().map(lambda c: (c[0], c[1], "application/x-protobuf"))),
       st.booleans())
def test_otlp_http_answers_hostile_exports_with_200_or_4xx(srv, case, gzipped):
    signal, body, media = case
    headers = {"Content-Type": media, **({"Content-Encoding": "gzip"} if gzipped else {})}
    r = srv.client.post(f"/v1/{signal}", content=gzip.compress(body) if gzipped else body, headers=headers)
    check(r, signal)
    assert r.status_code in (200, 400), (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith(media)
    if r.status_code == 200 and media == "application/x-protobuf":
        RESPONSES[signal].FromString(r.content)


@fuzz_settings(60)
@given(hostile_proto_request())
def test_otlp_grpc_answers_hostile_exports_without_unknown_or_internal(srv, case):
    signal, data = case
    with grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}") as channel:
        export = channel.unary_unary(GRPC_SERVICES[signal], request_serializer=None, response_deserializer=None)
        try:
            RESPONSES[signal].FromString(export(data, timeout=30))
        except grpc.RpcError as err:
            assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, (err.code(), err.details())


@fuzz_settings(60)
@given(st.integers(0, 2**20).map(lambda _: next(_counter)).flatmap(mixed_request))
def test_good_records_of_a_mixed_request_are_stored(srv, case):
    signal, proto, doc, good_ids, bad = case
    if proto:
        r = srv.client.post(f"/v1/{signal}", content=to_proto(doc, signal).SerializeToString(),
                            headers={"Content-Type": "application/x-protobuf"})
        assert r.status_code == 200, r.text
        partial = RESPONSES[signal].FromString(r.content).partial_success
        rejected = partial.rejected_spans if signal == "traces" else partial.rejected_log_records
    else:
        r = srv.client.post(f"/v1/{signal}", content=json.dumps(doc).encode(), headers={"Content-Type": "application/json"})
        assert r.status_code == 200, r.text
        ps = r.json().get("partialSuccess", {})
        rejected = int(ps.get("rejectedSpans" if signal == "traces" else "rejectedLogRecords", 0))
    assert rejected == bad, r.content
    for trace_id in good_ids:
        if signal == "traces":
            got = srv.client.get(f"/api/traces/{trace_id}").json()
            assert got["spans"] == 1, (trace_id, got)
        else:
            got = srv.client.get("/api/logs", params={"trace_id": trace_id}).json()
            assert len(got) == 1, (trace_id, got)


@pytest.mark.parametrize("path", corpus(), ids=lambda p: p.name)
def test_crash_corpus_over_http_and_grpc(srv, path):
    """Each input that once broke the server: a 200 with partial_success as expected, or a 400."""
    signal, expected = path.name.split("-")[0], EXPECTED[path.name]
    media = "application/x-protobuf" if path.suffix == ".pb" else "application/json"
    r = srv.client.post(f"/v1/{signal}", content=path.read_bytes(), headers={"Content-Type": media})
    assert r.status_code == (400 if expected is None else 200), r.content[:300]
    if expected is None or media != "application/x-protobuf":
        return
    rejected = _rejected(signal, RESPONSES[signal].FromString(r.content))
    assert rejected == expected[1]
    with grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}") as channel:
        export = channel.unary_unary(GRPC_SERVICES[signal], request_serializer=None, response_deserializer=None)
        assert _rejected(signal, RESPONSES[signal].FromString(export(path.read_bytes(), timeout=30))) == expected[1]


def _rejected(signal: str, response) -> int:
    field = {"traces": "rejected_spans", "logs": "rejected_log_records", "metrics": "rejected_data_points"}
    return getattr(response.partial_success, field[signal])


def test_server_memory_stayed_bounded_and_it_is_healthy(srv):
    """Last in the module: after every fuzz case above, the server's peak RSS is under the bound."""
    peak = next(int(line.split()[1]) / 1024 for line in open(f"/proc/{srv.process.pid}/status")
                if line.startswith("VmHWM:"))
    print(f"fuzzed server peak RSS: {peak:.0f} MB (bound {RSS_BOUND_MB} MB)")
    assert peak < RSS_BOUND_MB
    assert srv.client.get("/api/health").json()["status"] == "ok"
    assert srv.process.poll() is None
