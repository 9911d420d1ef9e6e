"""End to end: OTLP over HTTP into a real `interplay serve`, then POST /api/investigations; and the CLI
on a database file."""
from __future__ import annotations

import json

from conftest import run_cli, start_server
from interplay.testing import traces_request
from test_rca import slow_callee
from test_rca_helpers import ONSET, requests


def test_server_investigation(tmp_path):
    srv = start_server(tmp_path / "srv.duckdb", grpc=False)
    try:
        traces = requests(slow_callee, minutes=40, every_s=3.0)
        for i in range(0, len(traces), 200):
            r = srv.post("/v1/traces", json=traces_request(traces[i:i + 200]))
            assert r.status_code == 200, r.text
        r = srv.post("/api/investigations", json={"symptom": "frontend"})
        assert r.status_code == 201, r.text
        result = r.json()
        assert result["root_causes"][0]["service"] == "catalog"
        assert abs(result["windows"]["incident"]["since_ns"] - ONSET) < 3 * 60 * 10**9
        again = srv.get(f"/api/investigations/{result['id']}")
        assert again.status_code == 200 and again.json()["onset"] == result["onset"]
        assert srv.post("/api/investigations", json={"at": "not a time"}).status_code == 400
        assert srv.get("/api/investigations/nope").status_code == 404
        g = srv.get("/api/graph").json()
        assert {("frontend", "catalog"), ("catalog", "postgres")} <= {(e["caller"], e["callee"]) for e in g["edges"]}
        imp = srv.get("/api/impact", params={"target": "postgres"}).json()
        assert imp["entry_points"][0]["service"] == "frontend" and imp["entry_points"][0]["share"] == 1.0
        # the CLI against the running server (found beside the db file)
        out = run_cli("investigate", "--db", str(srv.db), "--format", "json")
        assert json.loads(out.stdout)["root_causes"][0]["service"] == "catalog"
    finally:
        srv.stop()


def test_cli_investigate_on_a_file(tmp_path):
    path = tmp_path / "case.jsonl"
    traces = requests(slow_callee, minutes=40, every_s=3.0)
    with open(path, "w") as f:
        for i in range(0, len(traces), 200):
            f.write(json.dumps(traces_request(traces[i:i + 200])) + "\n")
    db = str(tmp_path / "cli.duckdb")
    run_cli("ingest", str(path), "--db", db)
    result = json.loads(run_cli("investigate", "--db", db, "--format", "json").stdout)
    assert result["root_causes"][0]["service"] == "catalog"
    text = run_cli("investigate", "--db", db, "--symptom", "frontend").stdout
    assert "Most likely root cause: catalog" in text and "Causal chain" in text
    html = run_cli("investigate", "--db", db, "--format", "html").stdout
    assert html.startswith("<!doctype html>")
    dot = run_cli("graph", "--db", db, "--format", "dot").stdout
    assert '"frontend" -> "catalog"' in dot
    impact = json.loads(run_cli("impact", "postgres", "--db", db, "--format", "json").stdout)
    assert impact["direct_callers"][0]["service"] == "catalog"
    bad = run_cli("investigate", "--db", db, "--at", "yesterday-ish", check=False)
    assert bad.returncode == 1 and "error:" in bad.stderr
