"""Server lifecycle: clean shutdown, the discovery file, file ingest through the server, gRPC errors, retention."""
from __future__ import annotations

import json
import signal
import time

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from conftest import cli_json, run_cli
from interplay.api import Interplay
from interplay.discovery import server_file
from interplay.testing import TraceBuilder, traces_request

pytestmark = pytest.mark.integration
T0 = 1_767_225_600 * 10**9


def _doc(n: int, t0: int = T0, seed: int = 0) -> dict:
    traces = []
    for i in range(n):
        t = TraceBuilder(t0 + i * 10**9, seed=seed * 1000 + i)
        t.span("api", "GET /", duration_ms=4)
        traces.append(t)
    return traces_request(traces)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly_and_keeps_data(make_server, sig):
    server = make_server(grpc=False)
    assert server_file(server.db).exists()
    assert server.post("/v1/traces", json=_doc(5)).status_code == 200
    output = server.stop(sig)
    assert server.process.returncode == 0, output
    assert "stopped" in output and "Traceback" not in output
    assert not server_file(server.db).exists()
    ip = Interplay.open(server.db, read_only=True)
    assert ip.counts()["spans"] == 5
    ip.close()


def test_prints_where_it_listens(make_server):
    server = make_server()
    out = server.stop()
    assert f"http://127.0.0.1:{server.port}" in out and f"127.0.0.1:{server.grpc_port}" in out


def test_port_in_use_is_a_clear_error(make_server, tmp_path):
    server = make_server(grpc=False)
    r = run_cli("serve", "--db", str(tmp_path / "other.duckdb"), "--port", str(server.port),
                "--grpc-port", "-1", check=False)
    assert r.returncode == 1 and "cannot listen on 127.0.0.1" in r.stderr and "Traceback" not in r.stderr


def test_ingest_and_change_add_go_through_a_running_server(make_server, tmp_path):
    server = make_server(grpc=False)
    f = tmp_path / "x.jsonl"
    f.write_text(json.dumps(_doc(7)) + "\n")
    out = cli_json("ingest", str(f), "--db", str(server.db))  # finds the server beside the db
    assert out["total"]["spans"] == 7
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(_doc(2, seed=5)) + "\n{oops\n")
    r = run_cli("ingest", str(bad), "--url", server.url, check=False)
    assert r.returncode == 1 and "bad.jsonl:2: invalid JSON" in r.stderr
    run_cli("change", "add", "--db", str(server.db), "--service", "api", "-m", "v9", "--version", "9")
    assert cli_json("changes", "--db", str(server.db))[0]["version"] == "9"
    assert sum(s["spans"] for s in cli_json("services", "--db", str(server.db))) == 7


def test_grpc_partial_success_and_token(make_server):
    server = make_server(token="tok")
    channel = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
    stub = trace_service_pb2_grpc.TraceServiceStub(channel)
    req = trace_service_pb2.ExportTraceServiceRequest()
    span = req.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name = b"\x01" * 16, b"\x02" * 7, "bad span id"
    span.start_time_unix_nano, span.end_time_unix_nano = T0, T0 + 5
    with pytest.raises(grpc.RpcError) as denied:
        stub.Export(req, timeout=10)
    assert denied.value.code() == grpc.StatusCode.UNAUTHENTICATED
    response = stub.Export(req, timeout=10, metadata=[("authorization", "Bearer tok")])
    assert response.partial_success.rejected_spans == 1
    assert "span_id must be 8 bytes" in response.partial_success.error_message
    channel.close()


def test_retention_drops_old_data_relative_to_newest(tmp_path):
    ip = Interplay.open(tmp_path / "r.duckdb")
    f = tmp_path / "old-new.jsonl"
    day = 86_400 * 10**9
    f.write_text(json.dumps(_doc(3, T0)) + "\n" + json.dumps(_doc(4, T0 + 10 * day, seed=1)) + "\n")
    ip.ingest_file(f)
    deleted = ip.apply_retention(7 * day, now_ns=T0 + 300 * day)
    assert deleted["spans"] == 3 and ip.counts()["spans"] == 4
    assert ip.apply_retention(7 * day, now_ns=T0 + 300 * day)["spans"] == 0
    ip.close()


def test_retention_runs_in_the_server(make_server, tmp_path):
    db = tmp_path / "ret.duckdb"
    ip = Interplay.open(db)
    f = tmp_path / "a.jsonl"
    day = 86_400 * 10**9
    f.write_text(json.dumps(_doc(2, T0)) + "\n" + json.dumps(_doc(2, T0 + 3 * day, seed=2)) + "\n")
    ip.ingest_file(f)
    ip.close()
    server = make_server("--retention", "1d", db=db, grpc=False)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if sum(s["spans"] for s in server.get("/api/services").json()) == 2:
            break
        time.sleep(0.2)
    assert sum(s["spans"] for s in server.get("/api/services").json()) == 2
