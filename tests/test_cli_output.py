"""What the CLI prints: percentages, units and headers everywhere, clear errors, the version flag."""
from __future__ import annotations

import json

import pytest

from conftest import cli_json, run_cli
from interplay.api import Interplay
from interplay.testing import TraceBuilder, traces_request

T0 = 1_767_225_600 * 10**9
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    """web → api GET /items (1 in 4 fails) and api POST /items; a worker calls api GET /items too."""
    tmp = tmp_path_factory.mktemp("cli")
    traces = []
    for i in range(40):
        t = TraceBuilder(T0 + i * 10**9, seed=i)
        root = t.span("web", "GET /", duration_ms=30)
        call = root.child("web", "GET api", kind="CLIENT", offset_ms=1, duration_ms=20)
        call.child("api", "GET /items", kind="SERVER", offset_ms=1, duration_ms=18, error=i % 4 == 0,
                   attributes={"http.response.status_code": 500 if i % 4 == 0 else 200, "tenant": f"t{i % 3}"})
        if i % 2:
            post = root.child("web", "POST api", kind="CLIENT", offset_ms=22, duration_ms=5)
            post.child("api", "POST /items", kind="SERVER", offset_ms=1, duration_ms=4)
        traces.append(t)
        w = TraceBuilder(T0 + i * 10**9 + 5 * 10**8, seed=100 + i)
        job = w.span("worker", "sync", kind="INTERNAL", duration_ms=10)
        job.child("worker", "GET api", kind="CLIENT", duration_ms=5).child("api", "GET /items", duration_ms=4,
                                                                          kind="SERVER")
        traces.append(w)
    (tmp / "t.json").write_text(json.dumps(traces_request(traces)))
    ip = Interplay.open(tmp / "c.duckdb")
    ip.ingest_file(tmp / "t.json")
    ip.close()
    return str(tmp / "c.duckdb")


def test_version_flag():
    assert run_cli("-V").stdout.startswith("interplay, version ")
    assert run_cli("--version").stdout == run_cli("-V").stdout


def test_rates_read_as_percentages(db):
    text = run_cli("services", "--db", db).stdout
    assert "errors" in text and "10%" in text  # api: 10 failures in 100 requests
    assert "req/s, errors, p50/p99: of the requests a service serves" in text  # the legend
    assert "0.1 " not in text
    impact = run_cli("impact", "api", "--db", db).stdout
    assert "100%" in impact and "share:" in impact  # the legend under the entry-point table


def test_impact_of_an_operation_lists_that_operations_callers(db):
    whole = cli_json("impact", "api", "--db", db)
    assert {c["service"] for c in whole["direct_callers"]} == {"web", "worker"}
    post = cli_json("impact", "api:POST /items", "--db", db)
    assert [(c["service"], c["calls"]) for c in post["direct_callers"]] == [("web", 20)]
    assert [(e["service"], e["through"]) for e in post["entry_points"]] == [("web", 20)]


def test_impact_of_unknown_targets_fails_with_a_clear_error(db):
    r = run_cli("impact", "nosuch", "--db", db, check=False)
    assert r.returncode == 1 and "no service or resource 'nosuch'" in r.stderr and "api" in r.stderr
    r = run_cli("impact", "api:DELETE /items", "--db", db, check=False)
    assert r.returncode == 1 and "api has no operation 'DELETE /items'" in r.stderr and "POST /items" in r.stderr


def test_filters_by_an_unknown_service_fail_with_the_known_ones_named(db):
    for command in ("traces", "logs"):
        bad = run_cli(command, "--db", db, "--service", "apii", check=False)
        assert bad.returncode == 1, command
        assert "no service 'apii' seen (services: api, web, worker)" in bad.stderr
    # a known service with nothing in the window is no error
    quiet = run_cli("traces", "--db", db, "--service", "worker", "--errors")
    assert "no traces match" in quiet.stdout


def test_graph_mermaid_labels_carry_errors_and_latency(db):
    text = run_cli("graph", "--db", db, "--format", "mermaid").stdout
    assert "err 16.7%" in text or "err 25.0%" in text
    assert "p95" in text and " ms" in text


def test_testbed_list_has_a_header_and_explains_the_mark():
    lines = run_cli("testbed", "list").stdout.splitlines()
    assert lines[0].split() == ["SCENARIO", "TOPOLOGY", "FAULT", "DESCRIPTION"]
    assert any(line.startswith("* ") for line in lines[1:-1])
    assert lines[-1].startswith("* the default")


def test_ingest_input_format_is_separate_from_the_report_format(tmp_path):
    csv = tmp_path / "m.csv"
    csv.write_text("time,cart_cpu,cart_mem\n" + "".join(f"{1767225600 + i},{i % 5},{i}\n" for i in range(10)))
    target = str(tmp_path / "r.duckdb")
    assert "20 metric points" in run_cli("ingest", "--input-format", "rcaeval", str(csv), "--db", target).stdout
    assert "--input-format" in run_cli("ingest", "--help").stdout


def test_traces_by_attribute(db, make_server):
    failed = cli_json("traces", "--db", db, "--attr", "http.response.status_code=500", "--limit", "100")
    assert len(failed) == 10 and all(t["errors"] == 1 for t in failed)
    both = cli_json("traces", "--db", db, "--attr", "http.response.status_code=500", "--attr", "tenant=t0",
                    "--limit", "100")
    assert len(both) == 4  # i in 0, 12, 24, 36
    srv = make_server(db=__import__("pathlib").Path(db))
    assert cli_json("traces", "--url", srv.url, "--attr", "http.response.status_code=500",
                    "--attr", "tenant=t0", "--limit", "100") == both
    assert srv.get("/api/traces", params=[("attr", "tenant=t1"), ("limit", "100")]).status_code == 200
    bad = run_cli("traces", "--db", db, "--attr", "tenant", check=False)
    assert bad.returncode != 0 and "expected KEY=VALUE" in bad.stderr
    bad = srv.get("/api/traces", params={"attr": "x');DROP TABLE spans;--=1"})
    assert bad.status_code == 400 and "attribute key" in bad.json()["error"]


@pytest.fixture(scope="module")
def traces_db(tmp_path_factory):
    """A producer trace, a consumer trace linking to it and to a trace never stored, and a 1,101-span trace."""
    tmp = tmp_path_factory.mktemp("trace-text")
    producer = TraceBuilder(T0, seed=1)
    sent = producer.span("shop", "publish orders", kind="PRODUCER", duration_ms=2)
    elsewhere = TraceBuilder(T0, seed=2).span("other", "lost", duration_ms=1)
    consumer = TraceBuilder(T0 + 10**9, seed=3)
    take = consumer.span("mailer", "process orders", kind="CONSUMER", duration_ms=30, links=[sent, elsewhere])
    take.events.append({"timeUnixNano": str(take.start_ns + 5 * 10**6), "name": "cache.miss",
                        "attributes": [{"key": "key", "value": {"stringValue": "order:7"}}]})
    take.child("mailer", "send", offset_ms=6, duration_ms=20, exception="SMTPError", message="relay refused")
    big = TraceBuilder(T0 + 2 * 10**9, seed=4)
    root = big.span("batch", "nightly", duration_ms=5000)
    for i in range(100):
        item = root.child("batch", "work item", offset_ms=i * 45, duration_ms=40)
        for q in range(10):
            item.child("batch", "SELECT rows", kind="CLIENT", offset_ms=q * 4, duration_ms=3,
                       error=(i, q) == (57, 3), message="deadlock detected" if (i, q) == (57, 3) else "")
    (tmp / "t.json").write_text(json.dumps(traces_request([producer, consumer, big])))
    ip = Interplay.open(tmp / "t.duckdb")
    ip.ingest_file(tmp / "t.json")
    ip.close()
    return {"db": str(tmp / "t.duckdb"), "producer": producer.trace_id, "consumer": consumer.trace_id,
            "elsewhere": elsewhere.trace.trace_id, "big": big.trace_id}


def test_trace_shows_events_links_resources_and_scope(traces_db):
    text = run_cli("trace", traces_db["consumer"], "--db", traces_db["db"]).stdout
    assert "• cache.miss +5.00 ms  key=order:7" in text
    assert "• exception +20.00 ms  SMTPError: relay refused" in text
    assert f"link to trace {traces_db['producer']}" in text
    assert f"(stored: interplay trace {traces_db['producer']})" in text
    assert f"link to trace {traces_db['elsewhere']}" in text and "(not stored here)" in text
    resources = text[text.index("Resources"):]
    assert "mailer: service.version=1.0.0" in resources and "scope" in resources
    with_attrs = run_cli("trace", traces_db["producer"], "--db", traces_db["db"], "--attributes").stdout
    assert "publish orders" in with_attrs and "Resources" in with_attrs


def test_a_big_trace_prints_folded(traces_db):
    text = run_cli("trace", traces_db["big"], "--db", traces_db["db"]).stdout
    lines = text.splitlines()
    assert "(1101 spans, 1 services)" in lines[0]
    assert len(lines) < 20, text
    # repeated calls fold as ×N on either side of the failing one, which stays in sight with its queries
    assert "work item ×57" in text and "570 spans below them" in text and "work item ×42" in text
    assert "✗ batch SELECT rows" in text and "deadlock detected" in text and "SELECT rows ×6" in text
    everything = run_cli("trace", traces_db["big"], "--db", traces_db["db"], "--all").stdout
    assert everything.count("SELECT rows") == 1000
    shallow = run_cli("trace", traces_db["big"], "--db", traces_db["db"], "--depth", "0").stdout
    assert "[+1100 spans below, 1 with errors]" in shallow and "1 subtree folded below depth 0" in shallow


def test_agents_show_folds_a_tool_loop(tmp_path):
    from interplay.testbed import simulate
    simulate("agentic", "agent_tool_loop", seed=1, out=tmp_path / "a.jsonl", duration_s=300, rate_per_s=0.5,
             fault_at_s=60)
    ip = Interplay.open(tmp_path / "a.duckdb")
    ip.ingest_file(tmp_path / "a.jsonl")
    ip.close()
    db = str(tmp_path / "a.duckdb")
    longest = max(cli_json("agents", "--db", db, "--failed", "--limit", "200")["runs"], key=lambda r: r["steps"])
    assert longest["steps"] > 50
    text = run_cli("agents", "show", longest["run_id"], "--db", db).stdout
    assert len(text.splitlines()) < 20, text
    assert "tool:search_products ×" in text and "(--all-steps for each)" in text
    every = run_cli("agents", "show", longest["run_id"], "--db", db, "--all-steps").stdout
    assert len(every.splitlines()) > longest["steps"]
