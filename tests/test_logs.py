"""Reading logs: `interplay logs`, GET /api/logs, against a real `interplay serve` and the file."""
from __future__ import annotations

import json

import pytest

from conftest import cli_json, run_cli
from interplay.testing import TraceBuilder, traces_request

T0 = 1_767_225_600 * 10**9
pytestmark = pytest.mark.integration


def _logs_request(records: list[tuple[str, int, str, str, str]]) -> dict:
    """OTLP/JSON logs: (service, severity number, severity text, body, trace id) each, a second apart."""
    return {"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": svc}}]},
        "scopeLogs": [{"logRecords": [{
            "timeUnixNano": str(T0 + i * 10**9), "severityNumber": sev, "severityText": text,
            "body": {"stringValue": body}, **({"traceId": tid, "spanId": "00000000000000a1"} if tid else {})}]}]}
        for i, (svc, sev, text, body, tid) in enumerate(records)]}


@pytest.fixture
def loaded(server):
    trace = TraceBuilder(T0, seed=3)
    trace.span("checkout", "POST /pay", duration_ms=30)
    assert server.post("/v1/traces", json=traces_request([trace])).status_code == 200
    records = [("checkout", 9, "INFO", "order 1 placed in 12 ms", ""),
               ("checkout", 17, "ERROR", "payment 4411 failed: card declined", trace.trace_id),
               ("checkout", 17, "ERROR", "payment 9 failed: card declined", ""),
               ("catalog", 13, "WARN", "slow query took 812 ms", ""),
               ("catalog", 9, "INFO", "<script>alert(1)</script>", "")]
    assert server.post("/v1/logs", json=_logs_request(records)).status_code == 200
    return server, trace.trace_id


def test_api_filters(loaded):
    server, trace_id = loaded
    everything = server.get("/api/logs").json()
    assert [r["body"] for r in everything][0] == "<script>alert(1)</script>"  # newest first
    assert len(everything) == 5 and everything[0]["time"].startswith("2026-01-01T00:00:04")
    assert {r["body"] for r in server.get("/api/logs", params={"severity": "warn"}).json()} == {
        "payment 4411 failed: card declined", "payment 9 failed: card declined", "slow query took 812 ms"}
    assert len(server.get("/api/logs", params={"service": "catalog"}).json()) == 2
    assert len(server.get("/api/logs", params={"text": "CARD"}).json()) == 2
    assert [r["body"] for r in server.get("/api/logs", params={"trace_id": trace_id}).json()] == [
        "payment 4411 failed: card declined"]
    same = server.get("/api/logs", params={"similar_to": "payment 77 failed: card declined"}).json()
    assert len(same) == 2
    assert len(server.get("/api/logs", params={"limit": 1}).json()) == 1
    window = server.get("/api/logs", params={"since": str(T0 + 10**9), "until": str(T0 + 3 * 10**9)}).json()
    assert len(window) == 2
    bad = server.get("/api/logs", params={"severity": "loud"})
    assert bad.status_code == 400 and "severity 'loud'" in bad.json()["error"]
    assert server.get("/api/logs", params={"trace_id": "xyz"}).status_code == 400


def test_cli_reads_through_the_server_and_the_file(loaded, tmp_path):
    server, trace_id = loaded
    rows = cli_json("logs", "--url", server.url, "--severity", "ERROR")
    assert [r["severity"] for r in rows] == ["ERROR", "ERROR"]
    text = run_cli("logs", "--url", server.url).stdout.splitlines()
    assert text[0].startswith("2026-01-01T00:00:00") and "order 1 placed" in text[0]  # oldest first
    assert "<script>alert(1)</script>" in text[-1]
    assert f"[trace {trace_id}]" in text[1]
    assert run_cli("logs", "--url", server.url, "--grep", "nothing like this").stdout.strip() == "no log records match"
    failed = run_cli("logs", "--url", server.url, "--severity", "loud", check=False)
    assert failed.returncode == 1 and "expected one of TRACE" in failed.stderr
    server.stop()
    rows = cli_json("logs", "--db", str(server.db), "--trace-id", trace_id)
    assert [r["body"] for r in rows] == ["payment 4411 failed: card declined"]
    assert json.loads(run_cli("logs", "--db", str(server.db), "--format", "json", "--service", "catalog",
                              "--like", "slow query took 5 ms").stdout)[0]["severity"] == "WARN"
