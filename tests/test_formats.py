"""Formats users already have: Zipkin v2 JSON (made by the OpenTelemetry SDK's own Zipkin encoder)
and Jaeger UI "Download JSON", ingested as files and, for Zipkin, posted to `serve` at /api/v2/spans."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from opentelemetry.exporter.zipkin.json.v2 import JsonV2Encoder
from opentelemetry.exporter.zipkin.node_endpoint import NodeEndpoint
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from interplay.api import Interplay
from interplay.model import InvalidInput
from sdk_checkout import sdk_checkout_trace

PROTO3 = Path(__file__).parent / "fixtures" / "zipkin_proto3"
PROTO3_TRACE = "81b906352d9745bf001696f2ffd0a76c"


def _zipkin_json(spans) -> bytes:
    """What the SDK's Zipkin exporter POSTs: its own v2 JSON encoder, one batch per service."""
    out = []
    for service in ("frontend", "payments"):
        batch = [s for s in spans if s.resource.attributes["service.name"] == service]
        node = NodeEndpoint()
        node.service_name = service  # as the exporter sets it from the batch's resource
        out += json.loads(JsonV2Encoder().serialize(batch, node))
    return json.dumps(out).encode()


def _depth(nodes) -> int:
    """Levels of a span tree (a root alone is 1)."""
    return 1 + max((_depth(n["children"] if isinstance(n, dict) else n.children) for n in nodes),
                   default=-1) if nodes else 0


def test_zipkin_v2_file_from_the_sdk_encoder(tmp_path):
    exporter = InMemorySpanExporter()
    trace_id = sdk_checkout_trace(exporter)
    path = tmp_path / "zipkin.json"
    path.write_bytes(_zipkin_json(exporter.get_finished_spans()))
    ip = Interplay.open(tmp_path / "z.duckdb")
    try:
        result = ip.ingest_file(path)
        assert result.spans == 4 and not result.rejected
        by = {s.service: s for s in ip.services()}
        assert set(by) == {"frontend", "payments"}
        assert by["payments"].errors == 1 and by["frontend"].errors == 1
        tree = ip.trace(trace_id)
        (root,) = tree.roots
        assert (root.service, root.operation, root.kind, root.status_code) == \
            ("frontend", "GET /checkout", "SERVER", "ERROR")
        assert _depth(tree.roots) == 4
        pay = root.children[0].children[0]
        assert (pay.service, pay.kind, pay.status_code, pay.status_message) == \
            ("payments", "SERVER", "ERROR", "card declined")
        assert pay.service_version == "1.2.3"
        (event,) = json.loads(pay.events)
        assert event["name"] == "retry" and event["attributes"] == {"attempt": 2}
        db = pay.children[0]
        assert json.loads(db.attributes)["db.system"] == "postgresql" and db.kind == "CLIENT"
        # the graph sees frontend call payments (a CLIENT span whose child is another service's SERVER span)
        edges = {(e.caller, e.callee) for e in ip.graph().edges}
        assert {("frontend", "payments"), ("payments", "postgresql")} <= edges
    finally:
        ip.close()


def test_zipkin_brave_conventions(tmp_path):
    """Brave/Sleuth spans: 64-bit trace ids, the error message in the `error` tag, remoteEndpoint, an
    annotation; a span that repeats its own id as parent is a root."""
    spans = [
        {"traceId": "463ac35c9f6413ad", "id": "463ac35c9f6413ad", "parentId": "463ac35c9f6413ad",
         "name": "get /api", "kind": "SERVER", "timestamp": 1767225600000000, "duration": 207000,
         "localEndpoint": {"serviceName": "frontend", "ipv4": "10.0.0.1", "port": 8080},
         "tags": {"http.method": "GET", "http.path": "/api"}, "annotations": [
             {"timestamp": 1767225600100000, "value": "wr"}]},
        {"traceId": "463ac35c9f6413ad", "id": "72485a3953bb6124", "parentId": "463ac35c9f6413ad",
         "name": "get", "kind": "CLIENT", "timestamp": 1767225600010000, "duration": 150000,
         "localEndpoint": {"serviceName": "frontend"},
         "remoteEndpoint": {"serviceName": "backend", "ipv4": "10.0.0.2", "port": 9000},
         "tags": {"error": "Connection refused", "http.status_code": "503", "service.name": "frontend",
                  # a link as the Collector's Zipkin exporter writes it
                  "otlp.link.0": '0af7651916cd43dd8448eb211c80319c|b7ad6b7169203331|k=v|{"link.reason":"retry"}|0'}},
    ]
    path = tmp_path / "brave.json"
    path.write_text(json.dumps(spans))
    ip = Interplay.open(tmp_path / "b.duckdb")
    try:
        assert ip.ingest_file(path).spans == 2
        tree = ip.trace("0000000000000000463ac35c9f6413ad")
        (root,) = tree.roots
        assert root.parent_span_id is None and not root.orphan
        client = root.children[0]
        assert (client.status_code, client.status_message) == ("ERROR", "Connection refused")
        attrs = json.loads(client.attributes)
        assert attrs["peer.service"] == "backend" and attrs["server.address"] == "backend"
        assert attrs["network.peer.address"] == "10.0.0.2" and attrs["network.peer.port"] == 9000
        assert "error" not in attrs and "service.name" not in attrs and "otlp.link.0" not in attrs
        assert json.loads(client.links) == [{"trace_id": "0af7651916cd43dd8448eb211c80319c",
                                                 "span_id": "b7ad6b7169203331", "trace_state": "k=v",
                                                 "attributes": {"link.reason": "retry"}}]
        assert json.loads(client.resource_attributes) == {"service.name": "frontend"}
        assert [e["name"] for e in json.loads(root.events)] == ["wr"]
    finally:
        ip.close()


def _jaeger_ui_download() -> dict:
    """A trace as the Jaeger UI's "Download JSON" (and the query API's /api/traces/{id}) writes it."""
    t0 = 1767225600000000
    tag = lambda k, v, t="string": {"key": k, "type": t, "value": v}  # noqa: E731
    spans = [
        {"traceID": "00000000000000003a1f5c2e9b7d4e61", "spanID": "3a1f5c2e9b7d4e61", "flags": 1,
         "operationName": "HTTP GET /dispatch", "references": [], "startTime": t0, "duration": 700000,
         "tags": [tag("span.kind", "server"), tag("http.status_code", 200, "int64"),
                  tag("otel.scope.name", "net/http")], "logs": [], "processID": "p1", "warnings": None},
        {"traceID": "3a1f5c2e9b7d4e61", "spanID": "1b2c3d4e5f607182", "flags": 1,
         "operationName": "HTTP GET /customer",
         "references": [{"refType": "CHILD_OF", "traceID": "3a1f5c2e9b7d4e61", "spanID": "3a1f5c2e9b7d4e61"}],
         "startTime": t0 + 1000, "duration": 300000,
         "tags": [tag("span.kind", "client"), tag("http.status_code", 500, "int64"), tag("error", True, "bool"),
                  tag("http.status_message", "Internal Server Error")], "logs": [],
         "processID": "p1", "warnings": None},
        {"traceID": "3a1f5c2e9b7d4e61", "spanID": "2c3d4e5f60718293", "flags": 1,
         "operationName": "HTTP GET /customer",
         "references": [{"refType": "CHILD_OF", "traceID": "3a1f5c2e9b7d4e61", "spanID": "1b2c3d4e5f607182"}],
         "startTime": t0 + 2000, "duration": 290000,
         "tags": [tag("span.kind", "server"), tag("error", True, "bool")],
         "logs": [{"timestamp": t0 + 250000, "fields": [tag("event", "error"),
                                                        tag("message", "customer db timeout")]}],
         "processID": "p2", "warnings": None},
        {"traceID": "3a1f5c2e9b7d4e61", "spanID": "3d4e5f6071829304", "flags": 1,
         "operationName": "send notification",
         "references": [{"refType": "FOLLOWS_FROM", "traceID": "3a1f5c2e9b7d4e61",
                         "spanID": "3a1f5c2e9b7d4e61"}],
         "startTime": t0 + 710000, "duration": 5000, "tags": [tag("span.kind", "producer")], "logs": [],
         "processID": "p2", "warnings": None},
    ]
    return {"data": [{"traceID": "3a1f5c2e9b7d4e61", "spans": spans, "processes": {
        "p1": {"serviceName": "frontend", "tags": [tag("hostname", "web-1"), tag("jaeger.version", "Go-2.30.0")]},
        "p2": {"serviceName": "customer", "tags": [tag("ip", "10.0.0.9")]}}, "warnings": None}],
        "total": 0, "limit": 0, "offset": 0, "errors": None}


def test_jaeger_ui_download(tmp_path):
    path = tmp_path / "trace-3a1f5c2e.json"
    path.write_text(json.dumps(_jaeger_ui_download(), indent=2))  # the UI writes it pretty-printed
    ip = Interplay.open(tmp_path / "j.duckdb")
    try:
        assert ip.ingest_file(path).spans == 4
        by = {s.service: s for s in ip.services()}
        assert set(by) == {"frontend", "customer"}
        assert by["customer"].errors == 1
        tree = ip.trace("00000000000000003a1f5c2e9b7d4e61")
        assert tree.spans == 4
        (root,) = tree.roots
        assert (root.operation, root.kind, root.status_code) == ("HTTP GET /dispatch", "SERVER", "UNSET")
        assert _depth(tree.roots) == 3
        client = next(c for c in root.children if c.kind == "CLIENT")
        assert (client.status_code, client.status_message) == ("ERROR", "Internal Server Error")
        server = client.children[0]
        assert (server.service, server.status_code) == ("customer", "ERROR")
        (event,) = json.loads(server.events)
        assert event == {"time_ns": 1767225600250000000, "name": "error",
                         "attributes": {"message": "customer db timeout"}}
        # a span whose only reference is FOLLOWS_FROM hangs under it (Jaeger's rule) and links to it
        producer = next(c for c in root.children if c.operation == "send notification")
        assert producer.parent_span_id == "3a1f5c2e9b7d4e61" and producer.kind == "PRODUCER"
        (link,) = json.loads(producer.links)
        assert link["span_id"] == "3a1f5c2e9b7d4e61" and link["attributes"] == {"opentracing.ref_type": "follows_from"}
        res = json.loads(root.resource_attributes)
        assert res["host.name"] == "web-1" and res["service.name"] == "frontend"
        assert root.scope_name == "net/http"
    finally:
        ip.close()


@pytest.mark.parametrize("shape", ["trace", "list"])
def test_jaeger_trace_alone_or_listed(tmp_path, shape):
    """One trace as the query API's per-trace JSON holds it (short hex ids, a binary tag, warnings), or a
    list of traces: the shapes the Jaeger UI's JSON-file view opens. References to another trace are links;
    CHILD_OF within the trace wins over FOLLOWS_FROM for the parent."""
    t0 = 1767225600000000
    trace = {"traceID": "00000000000000a1", "warnings": ["some trace warning"], "spans": [
        {"traceID": "00000000000000a1", "spanID": "2", "operationName": "dispatch", "references": [],
         "startTime": t0, "duration": 900, "processID": "p1", "warnings": None, "logs": [],
         "tags": [{"key": "blob", "type": "binary", "value": "AAAwOQ=="},
                  {"key": "error", "type": "bool", "value": True}]},
        {"traceID": "00000000000000a1", "spanID": "4", "operationName": "route", "startTime": t0 + 10,
         "duration": 500, "processID": "p2", "warnings": ["some span warning"], "tags": [], "logs": [],
         "references": [{"refType": "CHILD_OF", "traceID": "00000000000000ff", "spanID": "ff"},
                        {"refType": "FOLLOWS_FROM", "traceID": "00000000000000a1", "spanID": "2"},
                        {"refType": "CHILD_OF", "traceID": "00000000000000a1", "spanID": "2"}]},
        {"traceID": "00000000000000a1", "spanID": "5", "operationName": "lookup", "startTime": t0 + 20,
         "duration": 100, "processID": "p2", "tags": [], "logs": [],
         "references": [{"refType": "CHILD_OF", "traceID": "00000000000000a1", "spanID": "4"}]}],
        "processes": {"p1": {"serviceName": "service-x", "tags": []},
                      "p2": {"serviceName": "service-y", "tags": []}}}
    path = tmp_path / "trace.json"
    path.write_text(json.dumps(trace if shape == "trace" else [trace]))
    ip = Interplay.open(tmp_path / "t.duckdb")
    try:
        assert ip.ingest_file(path).spans == 3
        tree = ip.trace("000000000000000000000000000000a1")
        (root,) = tree.roots
        assert (root.span_id, root.service, root.status_code) == ("0000000000000002", "service-x", "ERROR")
        assert json.loads(root.attributes) == {"blob": "AAAwOQ=="}
        assert _depth(tree.roots) == 3
        (route,) = root.children
        assert [(link["trace_id"][-2:], link["span_id"][-2:], link["attributes"]["opentracing.ref_type"])
                for link in json.loads(route.links)] == [("ff", "ff", "child_of"), ("a1", "02", "follows_from")]
    finally:
        ip.close()


def test_jaeger_api_v3_otlp_json(tmp_path):
    """Jaeger v2's query API (/api/v3/traces) answers OTLP JSON wrapped in {"result": ...}, one per line."""
    from interplay.testing import TraceBuilder, traces_request
    t = TraceBuilder(1_767_225_600 * 10**9, seed=8)
    t.span("frontend", "GET /", duration_ms=30).child("cart", "GET /cart", kind="CLIENT", duration_ms=9, error=True)
    u = TraceBuilder(1_767_225_660 * 10**9, seed=9)
    u.span("frontend", "GET /home", duration_ms=12)
    path = tmp_path / "v3.json"
    path.write_text("".join(json.dumps({"result": traces_request([x])}) + "\n" for x in (t, u)))
    ip = Interplay.open(tmp_path / "v3.duckdb")
    try:
        assert ip.ingest_file(path).spans == 3
        (root,) = ip.trace(t.trace_id).roots
        assert root.children[0].status_code == "ERROR" and ip.trace(u.trace_id).spans == 1
    finally:
        ip.close()


@pytest.mark.parametrize("doc, expected", [
    ([{"traceId": "463ac35c9f6413ad", "id": "xyz", "name": "a", "timestamp": 1767225600000000}],
     "Zipkin v2 JSON span [0]): id 'xyz' is not a hex id"),
    ([{"traceId": "463ac35c9f6413ad", "id": "463ac35c9f6413ad", "name": "a"}],
     "Zipkin v2 JSON span [0]): timestamp is missing"),
    ({"data": [{"traceID": "3a1f", "spans": [{"traceID": "3a1f", "spanID": "01", "startTime": 1767225600000000,
                                              "duration": 1, "processID": "p9"}], "processes": {}}]},
     "Jaeger JSON data[0].spans[0]): processID 'p9' is not in the trace's processes"),
    ([{"name": "x"}], "neither Zipkin v2 spans (traceId, id) nor change events"),
    ({"total": 0}, "Jaeger JSON (data: [{traceID, spans, processes}])"),
])
def test_errors_name_the_format_and_the_problem(tmp_path, doc, expected):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    ip = Interplay.open(tmp_path / "e.duckdb")
    try:
        with pytest.raises(InvalidInput) as err:
            ip.ingest_file(path)
        assert expected in str(err.value)
        assert ip.counts()["spans"] == 0
    finally:
        ip.close()


# -- the Zipkin receiver ---------------------------------------------------------------------------
@pytest.mark.integration
def test_serve_takes_what_the_sdk_zipkin_exporter_posts(make_server):
    """The OpenTelemetry SDK's Zipkin JSON exporter, pointed at `serve`, stores its spans: acknowledged
    only after commit, read back through the API."""
    from opentelemetry.exporter.zipkin.json import ZipkinExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    server = make_server()
    sent: list = []

    class Recording(ZipkinExporter):  # one exporter per service, as one per TracerProvider in production
        def export(self, spans):
            sent.append(result := super().export(spans))
            return result

    exporters = {}

    class PerService(InMemorySpanExporter):
        def export(self, spans):
            name = spans[0].resource.attributes["service.name"]
            exporters.setdefault(name, Recording(endpoint=f"{server.url}/api/v2/spans"))
            return exporters[name].export(spans)

    trace_id = sdk_checkout_trace(PerService())
    assert sent and all(r == SpanExportResult.SUCCESS for r in sent)
    tree = server.get(f"/api/traces/{trace_id}").json()
    assert tree["spans"] == 4
    (root,) = tree["roots"]
    assert root["service"] == "frontend" and root["status_code"] == "ERROR"
    pay = root["children"][0]["children"][0]
    assert (pay["service"], pay["status_message"]) == ("payments", "card declined")
    services = {s["service"]: s for s in server.get("/api/services").json()}
    assert services["payments"]["errors"] == 1


@pytest.mark.integration
def test_zipkin_receiver_limits_and_errors(make_server):
    import gzip
    server = make_server("--max-body", "4096")
    span = {"traceId": "5af7183fb1d4cf5f", "id": "6b221d5bc9e6496c", "name": "get /", "kind": "SERVER",
            "timestamp": 1767225600000000, "duration": 1000, "localEndpoint": {"serviceName": "edge"}}
    bad = {**span, "id": "nothex!!"}
    r = server.post("/api/v2/spans", content=gzip.compress(json.dumps([span, bad]).encode()),
                    headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["spans"] == 1 and body["rejected"][0]["count"] == 1
    assert "Zipkin v2 JSON span [1]" in body["rejected"][0]["reason"]
    assert server.post("/api/v2/spans", content=json.dumps([span] * 40),
                       headers={"Content-Type": "application/json"}).status_code == 413
    r = server.post("/api/v2/spans", content=b"\x0a\x05\x0a\x03abc", headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 202 and r.json()["spans"] == 0  # a span without id or timestamp: counted, dropped
    assert "Zipkin v2 protobuf span [0]" in r.json()["rejected"][0]["reason"]
    r = server.post("/api/v2/spans", content=b"\xff\xff", headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 400 and "not a zipkin.proto3.ListOfSpans" in r.json()["error"]
    assert server.post("/api/v2/spans", content=b"<spans/>", headers={"Content-Type": "text/xml"}).status_code == 415
    r = server.post("/api/v2/spans", content=json.dumps({"resourceSpans": []}),
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "/v1/traces" in r.json()["error"]
    assert server.get("/api/traces/00000000000000005af7183fb1d4cf5f").json()["spans"] == 1


@pytest.mark.integration
def test_serve_takes_zipkin_protobuf_from_the_sdk_encoder(make_server):
    """What the OpenTelemetry SDK's Zipkin protobuf exporter posts, one body per service (its own encoder
    made the files: fixtures/zipkin_proto3/make.py), stored as the same trace its JSON would be."""
    server = make_server()
    for service in ("payments", "frontend"):  # the server's half arrives first
        r = server.post("/api/v2/spans", content=(PROTO3 / f"{service}.bin").read_bytes(),
                        headers={"Content-Type": "application/x-protobuf"})
        assert r.status_code == 202 and not r.json()["rejected"], r.text
    tree = server.get(f"/api/traces/{PROTO3_TRACE}").json()
    assert tree["spans"] == 4 and _depth(tree["roots"]) == 4
    (root,) = tree["roots"]
    assert (root["service"], root["operation"], root["kind"], root["status_code"]) == \
        ("frontend", "GET /checkout", "SERVER", "ERROR")
    assert (root["scope_name"], root["scope_version"]) == ("shop.http", "0.9")
    pay = root["children"][0]["children"][0]
    assert (pay["service"], pay["kind"], pay["status_message"]) == ("payments", "SERVER", "card declined")
    assert json.loads(pay["resource_attributes"])["service.version"] == "1.2.3"
    (event,) = json.loads(pay["events"])
    assert event["name"] == "retry" and event["attributes"] == {"attempt": 2}
    services = {s["service"]: s for s in server.get("/api/services").json()}
    assert services["payments"]["errors"] == 1 and services["frontend"]["errors"] == 1


@pytest.mark.integration
def test_zipkin_receiver_needs_the_token(make_server):
    server = make_server(token="s3cret")
    span = [{"traceId": "5af7183fb1d4cf5f", "id": "6b221d5bc9e6496c", "name": "a", "timestamp": 1767225600000000,
             "duration": 5, "localEndpoint": {"serviceName": "edge"}}]
    import httpx
    assert httpx.post(f"{server.url}/api/v2/spans", json=span).status_code == 401
    assert server.post("/api/v2/spans", json=span).status_code == 202


def test_zipkin_shared_server_spans(tmp_path):
    """Brave's B3 default: the server half of an RPC reuses the client's span id (shared: true). Both
    halves are kept, the server under the client, and the server's own children under the server."""
    t0 = 1767225600000000
    base = {"traceId": "86154a4ba6e91385", "timestamp": t0}
    spans = [
        {**base, "id": "86154a4ba6e91385", "name": "get /", "kind": "SERVER", "duration": 9000,
         "localEndpoint": {"serviceName": "frontend"}},
        {**base, "id": "4d1e00c0db9010db", "parentId": "86154a4ba6e91385", "name": "get /api", "kind": "CLIENT",
         "duration": 8000, "localEndpoint": {"serviceName": "frontend"}, "remoteEndpoint": {"serviceName": "backend"}},
        {**base, "id": "4d1e00c0db9010db", "parentId": "86154a4ba6e91385", "name": "get /api", "kind": "SERVER",
         "shared": True, "duration": 7000, "localEndpoint": {"serviceName": "backend"},
         "tags": {"error": "db down"}},
        {**base, "id": "a1b2c3d4e5f60718", "parentId": "4d1e00c0db9010db", "name": "select", "kind": "CLIENT",
         "duration": 5000, "localEndpoint": {"serviceName": "backend"}, "remoteEndpoint": {"serviceName": "mysql"}},
    ]
    path = tmp_path / "shared.json"
    path.write_text(json.dumps(spans))
    ip = Interplay.open(tmp_path / "s.duckdb")
    try:
        assert ip.ingest_file(path).spans == 4
        tree = ip.trace("000000000000000086154a4ba6e91385")
        assert tree.spans == 4
        (root,) = tree.roots
        client = root.children[0]
        (server,) = client.children
        assert (client.service, server.service, server.kind) == ("frontend", "backend", "SERVER")
        assert server.span_id != client.span_id and server.parent_span_id == "4d1e00c0db9010db"
        assert [c.operation for c in server.children] == ["select"]
        assert _depth(tree.roots) == 4
        by = {s.service: s for s in ip.services()}
        assert by["backend"].requests == 1 and by["backend"].errors == 1
        edges = {(e.caller, e.callee) for e in ip.graph().edges}
        assert {("frontend", "backend"), ("backend", "mysql")} <= edges
    finally:
        ip.close()
