"""File ingest: every format by content, atomic per file, errors naming file and line."""
from __future__ import annotations

import gzip
import json

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from conftest import cli_json, run_cli
from interplay.api import Interplay
from interplay.model import InvalidInput
from interplay.testing import TraceBuilder, traces_request

T0 = 1_767_225_600 * 10**9


def _doc(n: int, seed: int = 0) -> dict:
    traces = []
    for i in range(n):
        t = TraceBuilder(T0 + i * 10**9, seed=seed * 10_000 + i)
        t.span("api", "GET /items", duration_ms=20).child("db", "SELECT", kind="CLIENT", duration_ms=5)
        traces.append(t)
    return traces_request(traces)


LOGS = {"resourceLogs": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "api"}}]},
                          "scopeLogs": [{"logRecords": [{"timeUnixNano": str(T0), "severityNumber": 17,
                                                         "severityText": "ERROR",
                                                         "body": {"stringValue": "db timeout after 30s"}}]}]}]}
METRICS = {"resourceMetrics": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "api"}}]},
                                "scopeMetrics": [{"metrics": [{"name": "cpu", "gauge": {"dataPoints": [
                                    {"timeUnixNano": str(T0), "asDouble": 0.93}]}}]}]}]}
CHANGE = {"time": "2026-01-01T00:00:00Z", "service": "api", "kind": "deploy", "description": "v2", "version": "2.0"}


@pytest.fixture
def ip():
    hub = Interplay.open(":memory:")
    yield hub
    hub.close()


def test_collector_jsonl_with_all_signals_and_changes(ip, tmp_path):
    f = tmp_path / "export.jsonl"
    f.write_text("\n".join(json.dumps(d) for d in (_doc(3), LOGS, METRICS, CHANGE)) + "\n\n")
    result = ip.ingest_file(f)
    assert (result.spans, result.logs, result.metric_points, result.changes) == (6, 1, 1, 1)
    assert ip.counts() == {"spans": 6, "logs": 1, "metrics": 1, "changes": 1}


def test_gzip_and_pretty_single_message_and_protobuf(ip, tmp_path):
    gz = tmp_path / "a.jsonl.gz"
    gz.write_bytes(gzip.compress(json.dumps(_doc(2, 1)).encode()))
    pretty = tmp_path / "b.json"
    pretty.write_text(json.dumps(_doc(2, 2), indent=2))
    pb = tmp_path / "c.bin"
    doc = _doc(2, 3)
    for rs in doc["resourceSpans"]:  # the protobuf JSON parser wants base64 ids
        for s in rs["scopeSpans"][0]["spans"]:
            for k in ("traceId", "spanId", "parentSpanId"):
                if k in s:
                    import base64
                    s[k] = base64.b64encode(bytes.fromhex(s[k])).decode()
    pb.write_bytes(json_format.ParseDict(doc, ExportTraceServiceRequest()).SerializeToString())
    pbgz = tmp_path / "d.pb.gz"
    pbgz.write_bytes(gzip.compress(pb.read_bytes()))
    for f in (gz, pretty, pb, pbgz):
        assert ip.ingest_file(f).spans == 4, f
    assert ip.counts()["spans"] == 16
    ids = {r.trace_id for r in ip.traces(limit=100)}
    assert len(ids) == 6  # c.bin and d.pb.gz hold the same two traces


def test_bad_line_rolls_back_whole_file_and_names_file_and_line(ip, tmp_path):
    ip.ingest_file(_write(tmp_path / "first.jsonl", [_doc(1, 9)]))
    bad = _write(tmp_path / "bad.jsonl", [_doc(2), _doc(2, 1)], extra='{"resourceSpans": [oops\n')
    with pytest.raises(InvalidInput, match=r"bad\.jsonl:3: invalid JSON"):
        ip.ingest_file(bad)
    assert ip.counts()["spans"] == 2  # only the earlier file


def test_invalid_span_names_line_and_field(ip, tmp_path):
    doc = _doc(1)
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["spanId"] = "abc"
    f = _write(tmp_path / "ids.jsonl", [_doc(1, 5), doc])
    with pytest.raises(InvalidInput, match=r"ids\.jsonl:2 resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\]\): span_id"):
        ip.ingest_file(f)
    assert ip.counts()["spans"] == 0


def test_skip_invalid_keeps_the_rest_and_reports(ip, tmp_path):
    doc = _doc(1)
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["endTimeUnixNano"] = "1"
    f = _write(tmp_path / "mixed.jsonl", [_doc(2, 1), doc, {"what": "is this"}], extra="not json\n")
    result = ip.ingest_file(f, skip_invalid=True)
    assert result.spans == 5
    reasons = " | ".join(r.reason for r in result.rejected)
    assert "mixed.jsonl:2" in reasons and "mixed.jsonl:3" in reasons and "mixed.jsonl:4" in reasons
    assert result.rejected_count == 3


def test_change_event_validation(ip, tmp_path):
    f = _write(tmp_path / "changes.jsonl", [CHANGE, {**CHANGE, "kind": "yolo"}])
    with pytest.raises(InvalidInput, match=r"changes\.jsonl:2: change event 'kind' is 'yolo'"):
        ip.ingest_file(f)
    f = _write(tmp_path / "changes2.jsonl", [{**CHANGE, "time": "not a time"}])
    with pytest.raises(InvalidInput, match="not an RFC3339 time"):
        ip.ingest_file(f)


def test_not_telemetry(ip, tmp_path):
    f = tmp_path / "random.bin"
    f.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(InvalidInput, match="not a valid OTLP protobuf"):
        ip.ingest_file(f)
    g = tmp_path / "corrupt.jsonl.gz"
    g.write_bytes(gzip.compress((json.dumps(CHANGE) + "\n").encode() * 5000)[:300])
    with pytest.raises(InvalidInput, match="corrupt or truncated gzip"):
        ip.ingest_file(g)


def test_cli_ingest_and_queries(tmp_path):
    db = str(tmp_path / "cli.duckdb")
    f = _write(tmp_path / "x.jsonl", [_doc(5), CHANGE])
    out = cli_json("ingest", str(f), "--db", db)
    assert out["total"]["spans"] == 10 and out["total"]["changes"] == 1
    services = cli_json("services", "--db", db)
    assert {s["service"] for s in services} == {"api", "db"}
    api = next(s for s in services if s["service"] == "api")
    assert api["spans"] == 5 and api["p50_ms"] == 20.0 and api["error_rate"] == 0
    assert len(cli_json("traces", "--db", db, "--min-duration", "10ms", "--limit", "3")) == 3
    assert cli_json("traces", "--db", db, "--min-duration", "1s") == []
    assert cli_json("changes", "--db", db)[0]["version"] == "2.0"
    text = run_cli("services", "--db", db).stdout
    assert "api" in text and "p99 ms" in text


def test_cli_errors_are_one_line(tmp_path):
    r = run_cli("services", "--db", str(tmp_path / "none.duckdb"), check=False)
    assert r.returncode == 1 and r.stderr.startswith("error: no database at") and "Traceback" not in r.stderr
    bad = _write(tmp_path / "bad.jsonl", [], extra="{nope\n")
    r = run_cli("ingest", str(bad), "--db", str(tmp_path / "b.duckdb"), check=False)
    assert r.returncode == 1 and "bad.jsonl" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("trace", "xyz", "--db", str(tmp_path / "b.duckdb"), check=False)
    assert r.returncode == 1 and "32 hex" in r.stderr


def test_cli_reports_what_holds_the_database(make_server, tmp_path):
    server = make_server(grpc=False)
    import os

    from interplay.discovery import server_file
    os.unlink(server_file(server.db))  # pretend the server did not leave its note
    r = run_cli("services", "--db", str(server.db), check=False)
    assert r.returncode == 1 and "is held by process" in r.stderr and "--url" in r.stderr


def _write(path, docs, extra: str = ""):
    path.write_text("".join(json.dumps(d) + "\n" for d in docs) + extra)
    return path


def test_parallel_decode_matches_serial_and_keeps_line_numbers(tmp_path, monkeypatch):
    from interplay.otlp import files
    monkeypatch.setattr(files, "PARALLEL_MIN_BYTES", 0)
    docs = [_doc(3, seed=i) for i in range(40)]
    f = _write(tmp_path / "many.jsonl", docs)
    serial, parallel = Interplay.open(":memory:"), Interplay.open(":memory:")
    assert serial.ingest_file(f).spans == parallel.ingest_file(f, workers=2).spans == 240
    q = "SELECT trace_id, span_id, service, start_ns, attributes FROM spans ORDER BY span_id"
    assert serial.store.query(q) == parallel.store.query(q)
    bad = _write(tmp_path / "bad-late.jsonl", docs, extra="{broken\n")
    with pytest.raises(InvalidInput, match=r"bad-late\.jsonl:41: invalid JSON"):
        parallel.ingest_file(bad, workers=2, )
    assert parallel.counts()["spans"] == 240


def test_cli_ingest_rcaeval_csv_then_investigate(tmp_path):
    rows = ["time,checkout_latency-90,checkout_cpu,cart_cpu"]
    for i in range(120):
        bad = i >= 90
        rows.append(f"{1700000000 + i * 10},{(1.5 if bad else 0.2) + (i % 3) * 0.01},{0.3 + (i % 4) * 0.01},"
                    f"{0.25 + (i % 5) * 0.01}")
    csv = tmp_path / "metrics.csv"
    csv.write_text("\n".join(rows) + "\n")
    db = str(tmp_path / "m.duckdb")
    assert "360 metric points" in run_cli("ingest", "--input-format", "rcaeval", str(csv), "--db", db).stdout
    result = cli_json("investigate", "--db", db)
    assert result["method"].startswith("metrics") and result["root_causes"][0]["service"] == "checkout"
    broken = tmp_path / "broken.csv"
    broken.write_text("when,x\n1,2\n")
    r = run_cli("ingest", "--format", "rcaeval", str(broken), "--db", db, check=False)
    assert r.returncode == 1 and "broken.csv" in r.stderr and "Traceback" not in r.stderr


def test_bulk_ingest_leaves_no_staging_tables_even_after_a_crash(tmp_path):
    db = tmp_path / "s.duckdb"
    ip = Interplay.open(db)
    bad = _write(tmp_path / "bad.jsonl", [_doc(3)], extra="{oops\n")
    with pytest.raises(InvalidInput):
        ip.ingest_file(bad)
    ip.ingest_file(_write(tmp_path / "ok.jsonl", [_doc(2)]))
    stages = "SELECT count(*) AS n FROM duckdb_tables() WHERE starts_with(table_name, '_interplay_stage_')"
    assert ip.store.query(stages)[0]["n"] == 0 and ip.counts()["spans"] == 4
    # a process killed mid-ingest leaves a staging table behind: the next open drops it
    ip.store._con.execute("CREATE TABLE _interplay_stage_dead_spans AS SELECT * FROM spans")
    ip.close()
    ip = Interplay.open(db)
    assert ip.store.query(stages)[0]["n"] == 0 and ip.counts()["spans"] == 4
    ip.close()
