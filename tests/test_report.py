from interplay.metrics_csv import ingest_rcaeval_csv, split_column
from interplay.model_results import Edge, EdgeStats, Graph, GraphWindow, Investigation, Node, from_json, to_json
from interplay.report import render, render_graph

RESULT = from_json(Investigation, {
    "symptom": {"given": None, "entry_points": [{"service": "frontend", "operation": "GET /<b>x</b>",
                                                 "baseline": {}, "incident": {}}]},
    "onset": "2026-01-01T00:30:00.000Z", "onset_source": "detected",
    "windows": {"baseline": {"since": "a", "until": "b", "since_ns": 1, "until_ns": 2},
                "incident": {"since": "b", "until": "c", "since_ns": 2, "until_ns": 3}},
    "method": "traces", "load_moves": [],
    "root_causes": [{"rank": 1, "service": "<script>alert(1)</script>", "operation": "q", "kind": "service",
                     "score": 0.9, "summary": "p90 self-time 4 ms → 480 ms",
                     "chain": [{"service": "db", "operation": None, "effect": "slow"},
                               {"service": "frontend", "operation": None, "effect": "5xx 0.2% → 31%"}],
                     "evidence": [{"service": "db", "operation": None, "type": "self_time",
                                   "summary": "<img src=x onerror=alert(1)>"}]}],
    "data_completeness": {"traces": 10, "complete_traces": 9, "complete_share": 0.9, "spans": 40, "logs": 0,
                          "metric_points": 0, "changes": 1},
    "exemplars": {"failing": "ab" * 16, "healthy": "cd" * 16},
})


def test_text_reads_like_a_writeup():
    text = render(RESULT, "text")
    assert text.index("Most likely root cause") < text.index("Causal chain") < text.index("Evidence")
    assert "→ frontend: 5xx 0.2% → 31%" in text and "ab" * 16 in text and "90% complete" in text


def test_markdown_and_json():
    assert render(RESULT, "markdown").startswith("# Investigation")
    assert '"rank": 1' in render(RESULT, "json")


def test_html_escapes_telemetry():
    page = render(RESULT, "html")
    assert "<script>" not in page and "<img" not in page and "<b>x" not in page
    assert "&lt;script&gt;" in page


def test_graph_formats():
    g = Graph({"window": GraphWindow(None, None, 1.0)},
              nodes=[Node('a"b', "service"), Node("pg", "database")],
              edges=[Edge('a"b', "pg", "database", "sync", {"window": EdgeStats(1, 0, 1.0, 0.1, 1, 2)})])
    assert '"a\\"b" -> "pg"' in render_graph(g, "dot")
    assert "graph LR" in render_graph(g, "mermaid")
    assert "a\"b → pg" in render_graph(g, "text")


def test_rcaeval_csv_and_metric_investigation(tmp_path):
    from interplay.api import Interplay
    assert split_column("ts-auth-service_cpu") == ("ts-auth-service", "cpu")
    assert split_column("frontend_latency-50") == ("frontend", "latency-50")
    assert split_column("time") is None
    rows = ["time,cartservice_cpu,cartservice_mem_usage,frontend_latency-50,label"]
    for i in range(120):
        bad = i >= 80
        rows.append(f"{1700000000 + i},{0.9 if bad else 0.2 + (i % 3) * 0.01},{100 + i % 4},"
                    f"{(0.3 if bad else 0.1) + (i % 5) * 0.05},x")
    p = tmp_path / "metrics.csv"
    p.write_text("\n".join(rows) + "\n")
    ip = Interplay.open(":memory:")
    result = ingest_rcaeval_csv(ip, p)
    assert result.metric_points == 360
    names = ip.store.query("SELECT DISTINCT service, name FROM metrics ORDER BY 1, 2")
    assert [(r["service"], r["name"]) for r in names] == [("cartservice", "cpu"), ("cartservice", "mem_usage"),
                                                         ("frontend", "latency-50")]
    r = to_json(ip.investigate())
    assert r["method"].startswith("metrics")
    assert r["root_causes"][0]["service"] == "cartservice"
    assert r["onset"].startswith("2023-11-14T22:14:")  # unix 1700000080


def test_text_says_the_top_cause_once_explains_scores_and_units():
    r = to_json(RESULT)  # a copy to edit
    top = r["root_causes"][0]
    top["chain"][0]["effect"] = top["summary"]
    top["evidence"] = [{"service": "db", "operation": None, **e} for e in [
        {"type": "self_time", "summary": top["summary"], "weight": 0.7},
        {"type": "metric_shift", "summary": "db cpu: 0.05 → 0.9", "metric": "cpu", "unit": "1",
         "before": 0.05, "after": 0.9, "weight": 0.02},
        {"type": "metric_shift", "summary": "db latency: 0.00784 → 0.438", "metric": "lat",
         "unit": "s", "before": 0.00784, "after": 0.438, "weight": 0.02},
        {"type": "metric_shift", "summary": "db queue: 3 → 9", "metric": "q", "unit": "{message}",
         "before": 3, "after": 9, "weight": 0.02},
        {"type": "log_template", "summary": "new template", "weight": 0.0}]]
    r["data_completeness"]["changes"] = 1
    text = render(from_json(Investigation, r), "text")
    assert text.count(top["summary"]) == 1
    assert "it is not a probability" in text
    assert "db cpu: 0.05 → 0.9 (5% → 90%)" in text
    assert "db latency: 0.00784 → 0.438 (7.84 ms → 438 ms)" in text
    assert "db queue: 3 → 9 (unit: message)" in text
    assert "new template (context, not scored)" in text
    assert "1 change event" in text and "1 change events" not in text
