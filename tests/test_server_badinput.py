"""Bad input gets a clear error (or a counted rejection), and what was stored before stays intact."""
from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time

import duckdb
import httpx
import pytest
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from conftest import INTERPLAY, cli_json, spans_stored, start_server
from interplay.testing import TraceBuilder, traces_request

pytestmark = pytest.mark.integration
T0 = 1_767_225_600 * 10**9
JSON = {"Content-Type": "application/json"}
PROTO = {"Content-Type": "application/x-protobuf"}


def _good(n: int = 3, seed: int = 1) -> dict:
    traces = []
    for i in range(n):
        t = TraceBuilder(T0 + i * 10**9, seed=seed * 1000 + i)
        t.span("frontend", "GET /", duration_ms=10).child("cart", "GET /cart", kind="CLIENT", duration_ms=5)
        traces.append(t)
    return traces_request(traces)


def _span_doc(**overrides) -> dict:
    span = {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174", "name": "op",
            "kind": 2, "startTimeUnixNano": str(T0), "endTimeUnixNano": str(T0 + 10**6)}
    span.update(overrides)
    return {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name",
                                                            "value": {"stringValue": "svc"}}]},
                               "scopeSpans": [{"spans": [span]}]}]}


@pytest.fixture
def server(module_server):
    return module_server


@pytest.fixture
def seeded(server):
    """The module's server plus 6 good spans; each test checks they survive its bad input."""
    server.base = spans_stored(server, ("frontend", "cart"))
    assert server.post("/v1/traces", json=_good(), headers=JSON).status_code == 200
    return server


def _assert_intact(server, spans: int = 6):
    """The frontend and cart spans are the `spans` this test expects on top of what it found."""
    assert spans_stored(server, ("frontend", "cart")) == server.base + spans


def test_malformed_protobuf(seeded):
    r = seeded.post("/v1/traces", content=b"\x0a\xff\xff\xff\xff\x0f garbage", headers=PROTO)
    assert r.status_code == 400
    status = status_pb2.Status.FromString(r.content)
    assert "not a valid OTLP protobuf ExportTraceServiceRequest" in status.message
    _assert_intact(seeded)


def test_invalid_json(seeded):
    r = seeded.post("/v1/traces", content=b'{"resourceSpans": [', headers=JSON)
    assert r.status_code == 400 and "not valid JSON" in r.json()["message"]
    r = seeded.post("/v1/traces", json={"resourceSpans": "nope"}, headers=JSON)
    assert r.status_code == 400 and "malformed OTLP/JSON" in r.json()["message"]
    _assert_intact(seeded)


def test_wrong_signal_for_endpoint(seeded):
    r = seeded.post("/v1/logs", json=_good(), headers=JSON)
    assert r.status_code == 400 and "sent to /v1/logs" in r.json()["message"]


def test_wrong_content_type(seeded):
    r = seeded.post("/v1/traces", content=b"hello", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and "text/plain" in r.json()["message"]
    _assert_intact(seeded)


def test_oversized_body(make_server):
    server = make_server("--max-body", "64KiB")
    big = json.dumps(_good(400)).encode()
    assert len(big) > 64 * 1024
    r = server.post("/v1/traces", content=big, headers=JSON)
    assert r.status_code == 413


def test_gzip_bomb_is_refused_cheaply(seeded):
    bomb = gzip.compress(b"{" + b" " * (200 * 1024 * 1024) + b"}", compresslevel=9)
    assert len(bomb) < 1024 * 1024  # under the compressed limit: only decompression can catch it
    r = seeded.post("/v1/traces", content=bomb, headers={**JSON, "Content-Encoding": "gzip"})
    assert r.status_code == 413 and "decompressed body over" in r.json()["message"]
    _assert_intact(seeded)


def test_gzip_body_accepted_and_corrupt_gzip_rejected(seeded):
    r = seeded.post("/v1/traces", content=gzip.compress(json.dumps(_good(2, seed=7)).encode()),
                    headers={**JSON, "Content-Encoding": "gzip"})
    assert r.status_code == 200
    r = seeded.post("/v1/traces", content=b"\x1f\x8b\x08\x00broken", headers={**JSON, "Content-Encoding": "gzip"})
    assert r.status_code == 400 and "gzip" in r.json()["message"]
    _assert_intact(seeded, spans=10)


@pytest.mark.parametrize("override, reason", [
    ({"traceId": "abcd"}, "trace_id must be 16 bytes"),
    ({"spanId": "0011"}, "span_id must be 8 bytes"),
    ({"traceId": "0" * 32}, "trace_id is all zeros"),
    ({"endTimeUnixNano": str(T0 - 10**9)}, "before start time"),
    ({"startTimeUnixNano": "5", "endTimeUnixNano": "10"}, "outside 2000..2100"),
    ({"startTimeUnixNano": str(10**20), "endTimeUnixNano": str(10**20 + 1)}, "outside 2000..2100"),
])
def test_invalid_span_is_a_counted_rejection(seeded, override, reason):
    doc = _good(1, seed=9)
    bad = _span_doc(**override)
    doc["resourceSpans"] += bad["resourceSpans"]
    r = seeded.post("/v1/traces", json=doc, headers=JSON)
    assert r.status_code == 200
    partial = r.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "1" and reason in partial["errorMessage"]
    assert "spans[0]" in partial["errorMessage"]  # says where
    _assert_intact(seeded, spans=8)  # the valid spans of the same request are kept


def test_partial_success_over_protobuf(seeded):
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    span = rs.scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name = b"\x01" * 3, b"\x02" * 8, "short id"
    span.start_time_unix_nano, span.end_time_unix_nano = T0, T0 + 1
    r = seeded.post("/v1/traces", content=req.SerializeToString(), headers=PROTO)
    assert r.status_code == 200
    response = ExportTraceServiceResponse.FromString(r.content)
    assert response.partial_success.rejected_spans == 1
    assert "trace_id must be 16 bytes" in response.partial_success.error_message


def test_hostile_strings_and_huge_attributes_are_stored_as_data(seeded):
    hostile = "<img src=x onerror=alert(1)>'; DROP TABLE spans; --\x1b[31m\x00"
    doc = _span_doc(name=hostile, attributes=[{"key": "huge", "value": {"stringValue": "x" * 1_000_000}},
                                              {"key": hostile, "value": {"stringValue": hostile}}])
    doc["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"] = hostile
    r = seeded.post("/v1/traces", json=doc, headers=JSON)
    assert r.status_code == 200 and "partialSuccess" not in r.json()
    traces = seeded.get("/api/traces", params={"service": hostile}).json()
    tree = cli_json("trace", traces[0]["trace_id"], "--url", seeded.url)
    span = tree["roots"][0]
    assert span["operation"] == hostile and span["service"] == hostile
    attrs = json.loads(span["attributes"])
    assert attrs[hostile] == hostile
    assert len(attrs["huge"]) < 40_000 and attrs["huge"].endswith("chars]")  # truncated, said so
    _assert_intact(seeded)
    # Text output shows control characters escaped, not interpreted by the terminal.
    text = subprocess.run([INTERPLAY, "traces", "--url", seeded.url], capture_output=True, text=True).stdout
    assert "\x1b" not in text and "\\x1b" in text


def test_unknown_fields_are_tolerated(seeded):
    doc = _span_doc(futureField={"x": 1})
    doc["resourceSpans"][0]["futureResourceField"] = 3
    r = seeded.post("/v1/traces", json=doc, headers=JSON)
    assert r.status_code == 200 and "partialSuccess" not in r.json()


def test_change_events_endpoint_validates(seeded):
    ok = {"time": "2026-01-01T00:00:00Z", "service": "cart", "kind": "deploy", "description": "v2", "version": "2"}
    before = len(seeded.get("/api/changes").json())
    assert seeded.post("/v1/changes", json=ok).json()["changes"] == 1
    r = seeded.post("/v1/changes", json=[ok, {**ok, "kind": "reboot"}])
    assert r.status_code == 400 and "body[1]" in r.json()["error"] and "reboot" in r.json()["error"]
    r = seeded.post("/v1/changes", json={**ok, "time": "yesterday-ish"})
    assert r.status_code == 400 and "RFC3339" in r.json()["error"]
    assert len(seeded.get("/api/changes").json()) == before + 1  # the bad list stored nothing


def test_token_protects_everything_but_health(make_server):
    server = make_server(token="s3cret")
    assert httpx.get(server.url + "/api/health").status_code == 200
    assert httpx.get(server.url + "/api/services").status_code == 401
    assert httpx.post(server.url + "/v1/traces", json=_good(), headers=JSON).status_code == 401
    assert server.post("/v1/traces", json=_good(), headers=JSON).status_code == 200
    assert server.get("/api/services").status_code == 200


def test_refuses_public_address_without_token(tmp_path):
    r = subprocess.run([INTERPLAY, "serve", "--db", str(tmp_path / "x.duckdb"), "--host", "0.0.0.0",
                        "--port", "0", "--grpc-port", "-1"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "without a token" in r.stderr and "Traceback" not in r.stderr


def test_kill_9_keeps_every_acknowledged_batch(tmp_path):
    db = tmp_path / "durable.duckdb"
    server = start_server(db, grpc=False)
    acknowledged: set[str] = set()
    writer = subprocess.Popen([sys.executable, "-c", _STREAM, server.url], stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    for line in writer.stdout:  # each line: a trace id the server acknowledged with 200
        acknowledged.add(line.strip())
        if len(acknowledged) >= 40 or time.monotonic() > deadline:
            break
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait()
    writer.kill()
    writer.wait()
    for line in writer.stdout:
        acknowledged.add(line.strip())
    acknowledged.discard("")
    assert len(acknowledged) >= 40
    # After the crash the database opens and holds every acknowledged batch.
    con = duckdb.connect(str(db), read_only=True)
    stored = {r[0] for r in con.execute("SELECT DISTINCT trace_id FROM spans").fetchall()}
    con.close()
    assert acknowledged <= stored
    restarted = start_server(db, grpc=False)
    try:
        assert restarted.post("/v1/traces", json=_good(1, seed=99), headers=JSON).status_code == 200
    finally:
        restarted.stop()


_STREAM = r"""
import sys, httpx
from interplay.testing import TraceBuilder, traces_request
url = sys.argv[1]
for i in range(10_000):
    t = TraceBuilder(1_767_225_600 * 10**9 + i * 10**6, seed=i)
    root = t.span("frontend", "GET /", duration_ms=3)
    for j in range(20):
        root.child("cart", f"op{j}", kind="CLIENT", duration_ms=1)
    r = httpx.post(url + "/v1/traces", json=traces_request([t]), timeout=30)
    if r.status_code == 200:
        print(t.trace_id, flush=True)
"""
