"""The web UI's server side, in-process: page and static files, OpenAPI coverage, /api/series."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from interplay.api import Interplay
from interplay.model_results import to_json
from interplay.server.app import ServerState, create_app
from interplay.server.web import STATIC
from interplay.server.writer import Writer
from interplay.store.telemetry import series
from interplay.testing import TraceBuilder, traces_request

T0 = 1_767_225_600 * 10**9


@pytest.fixture
def client(tmp_path):
    ip = Interplay.open(tmp_path / "w.duckdb")
    writer = Writer(ip)
    app = create_app(ServerState(ip, writer))
    with TestClient(app, base_url="http://127.0.0.1") as c:
        c.hub = ip
        yield c
    writer.close()
    ip.close()


def _load(ip: Interplay, tmp_path: Path, traces: list[TraceBuilder]) -> None:
    path = tmp_path / "t.json"
    path.write_text(json.dumps(traces_request(traces)))
    ip.ingest_file(path)


def test_index_and_static_files_are_served_with_a_strict_csp(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert '<script type="module" src="/static/js/main.js">' in page.text
    js = client.get("/static/js/main.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert "content-security-policy" in js.headers
    assert client.get("/static/app.css").status_code == 200
    assert client.get("/static/nope.js").status_code == 404


def test_every_module_the_page_imports_exists():
    for path in STATIC.rglob("*.js"):
        for target in re.findall(r'from "(\.[^"]+)"', path.read_text()):
            assert (path.parent / target).resolve().is_file(), f"{path.name} imports missing {target}"


def test_ui_never_inserts_markup_from_strings():
    """Telemetry is untrusted: the UI builds DOM nodes, never HTML from strings."""
    banned = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function")
    for path in STATIC.rglob("*.js"):
        if "vendor" in path.parts:
            continue
        hits = [line for line in path.read_text().splitlines() if banned.search(line)]
        assert not hits, f"{path.name}: {hits}"


def test_openapi_documents_every_api_route(client):
    doc = client.get("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    served = set()
    # every area's routes, whether or not server/app.py includes that area yet
    import importlib
    import pkgutil

    import interplay.server as server_pkg
    routes = list(client.app.routes)
    for info in pkgutil.iter_modules(server_pkg.__path__):
        if info.name.startswith("routes_"):
            routes += importlib.import_module(f"interplay.server.{info.name}").ROUTES
    for route in routes:
        path = getattr(route, "path", "")
        if path.startswith(("/api/", "/v1/")):
            served |= {(path, m) for m in (route.methods or ()) if m != "HEAD"}
    assert served - documented == set(), "routes missing from /api/openapi.json"
    assert documented - served == set(), "documented routes the server does not have"
    refs = re.findall(r'"#/components/(\w+)/(\w+)"', json.dumps(doc))
    for section, name in refs:
        assert name in doc["components"][section], f"dangling $ref {section}/{name}"


def test_series_buckets_errors_and_latency(client, tmp_path):
    traces = []
    for i in range(20):
        t = TraceBuilder(T0 + i * 10**9, seed=i)
        slow, bad = i >= 10, i % 5 == 0
        t.span("web", "GET /", duration_ms=300 if slow else 10, error=bad)
        traces.append(t)
    _load(client.hub, tmp_path, traces)
    got = client.get("/api/series", params={"service": "web", "buckets": "4"}).json()
    assert [p["requests"] for p in got["points"]] == [5, 5, 5, 5]
    assert [p["errors"] for p in got["points"]] == [1, 1, 1, 1]
    assert got["points"][0]["p95_ms"] == pytest.approx(10, rel=0.01)
    assert got["points"][3]["p95_ms"] == pytest.approx(300, rel=0.01)
    empty_bucket = series(client.hub.store, "web", "GET /", _window(T0, T0 + 40 * 10**9), buckets=4)
    assert to_json(empty_bucket.points[3]) == {"t_ns": T0 + 30 * 10**9, "requests": 0, "rate": 0.0, "errors": 0,
                                               "error_rate": None, "p50_ms": None, "p95_ms": None, "p99_ms": None}
    assert empty_bucket.points[0].rate == 1.0  # 10 requests in a 10 s bucket


def test_series_rejects_bad_input_with_json_errors(client):
    missing = client.get("/api/series")
    assert missing.status_code == 400 and "service" in missing.json()["error"]
    assert client.get("/api/series", params={"service": "x", "buckets": "0"}).status_code == 400
    assert client.get("/api/series", params={"service": "x", "since": "yesterday"}).status_code == 400
    assert client.get("/api/series", params={"service": "nobody"}).json()["points"] == []


def _window(lo: int, hi: int):
    from interplay.model import TimeRange
    return TimeRange(lo, hi)


def test_operations_of_a_service(client, tmp_path):
    traces = []
    for i in range(10):
        t = TraceBuilder(T0 + i * 10**9, seed=i)
        root = t.span("web", "GET /", duration_ms=50, error=i == 0)
        root.child("web", "render", duration_ms=5)
        traces.append(t)
    _load(client.hub, tmp_path, traces)
    ops = client.get("/api/operations", params={"service": "web"}).json()
    assert [(o["operation"], o["kind"], o["calls"], o["entry"]) for o in ops] == [
        ("GET /", "SERVER", 10, True), ("render", "INTERNAL", 10, False)]
    assert ops[0]["error_rate"] == 0.1 and ops[0]["p50_ms"] == pytest.approx(50)
    missing = client.get("/api/operations", params={"service": "nobody"})
    assert missing.status_code == 404 and "nobody" in missing.json()["error"]


def test_anomalies_flag_a_shift_by_the_investigations_statistics(client, tmp_path):
    traces = []
    for i in range(400):
        t = TraceBuilder(T0 + i * 10**9 // 2, seed=i)
        late = i >= 320
        t.span("web", "GET /", duration_ms=20, error=late and i % 3 == 0)
        t.span("api", "GET /x", duration_ms=400 if late else 10 + i % 3)
        t.span("steady", "GET /y", duration_ms=10 + i % 5, error=i % 50 == 0)
        traces.append(t)
    _load(client.hub, tmp_path, traces)
    got = client.get("/api/anomalies").json()
    assert set(got["services"]) == {"web", "api"}
    assert got["services"]["web"]["kind"] == "errors" and got["services"]["web"]["z"] >= 3
    assert got["services"]["web"]["reason"].startswith("errors 0% → ")  # the late fifth fails a third
    assert got["services"]["api"]["kind"] == "latency" and "p95" in got["services"]["api"]["reason"]
    assert "two-proportion" in got["method"]


def _closed_json_schema(doc: dict, schema: dict) -> dict:
    """An OpenAPI 3.0 schema of `doc` as JSON Schema (nullable: null allowed too), each object with named
    properties closed to any other key: an answer validates only if the document names exactly its keys."""
    def convert(s: dict) -> dict:
        if "$ref" in s:
            return {"$ref": s["$ref"].replace("#/components/schemas/", "#/$defs/")}
        s = dict(s)
        nullable = s.pop("nullable", False)
        for key in ("items", "additionalProperties"):
            if isinstance(s.get(key), dict):
                s[key] = convert(s[key])
        for key in ("allOf", "oneOf"):
            if key in s:
                s[key] = [convert(x) for x in s[key]]
        if "properties" in s:
            s["properties"] = {k: convert(v) for k, v in s["properties"].items()}
            s.setdefault("additionalProperties", False)
        return {"anyOf": [s, {"type": "null"}]} if nullable else s
    return {**convert(schema), "$defs": {name: convert(s) for name, s in doc["components"]["schemas"].items()}}


def test_graph_and_telemetry_answers_are_what_the_openapi_document_describes(client, tmp_path):
    """The schemas of the graph (nodes of both shapes, operations, stats per window) and of traces, a trace,
    logs and series are read off the records: each answer has exactly the keys and types they name."""
    import jsonschema
    traces = []
    for i in range(6):
        t = TraceBuilder(T0 + i * 10**9, seed=i)
        root = t.span("web", "GET /", duration_ms=40, error=i == 0)
        call = root.child("web", "GET /cart", kind="CLIENT", offset_ms=1, duration_ms=20)
        call.child("cart", "GET /cart", kind="SERVER", offset_ms=1, duration_ms=18).child(
            "cart", "SELECT", kind="CLIENT", offset_ms=1, duration_ms=5,
            attributes={"db.system": "postgresql", "server.address": "db"})
        traces.append(t)
    _load(client.hub, tmp_path, traces)
    log = {"resourceLogs": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "web"}}]},
                             "scopeLogs": [{"logRecords": [{"timeUnixNano": str(T0), "severityNumber": 17,
                                                            "body": {"stringValue": "boom"},
                                                            "traceId": traces[0].trace_id}]}]}]}
    (tmp_path / "l.json").write_text(json.dumps(log))
    client.hub.ingest_file(tmp_path / "l.json")
    doc = client.get("/api/openapi.json").json()
    graph = client.get("/api/graph").json()
    assert {n["id"] for n in graph["nodes"]} == {"web", "cart", "db"}  # services and a resource
    answers = {"/api/graph": graph, "/api/traces": client.get("/api/traces").json(),
               "/api/traces/{trace_id}": client.get(f"/api/traces/{traces[0].trace_id}").json(),
               "/api/logs": client.get("/api/logs").json(),
               "/api/series": client.get("/api/series", params={"service": "web", "buckets": "3"}).json()}
    assert answers["/api/logs"] and answers["/api/traces"] and answers["/api/series"]["points"]
    for path, answer in answers.items():
        schema = doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        jsonschema.validate(answer, _closed_json_schema(doc, schema))
    node = doc["components"]["schemas"]["Node"]["properties"]
    assert node["stats"]["additionalProperties"] == {"$ref": "#/components/schemas/NodeStats"}
    assert doc["components"]["schemas"]["Edge"]["properties"]["mode"]["enum"] == ["sync", "async"]
    # a key the records do not write fails: the schemas are closed, not loose objects
    graph["nodes"][0]["stats"]["window"]["extra"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(graph, _closed_json_schema(doc, {"$ref": "#/components/schemas/Graph"}))


def _agent_run(i: int) -> TraceBuilder:
    """An agent run: a chat, then a tool whose call reaches the `orders` service; every third fails."""
    t = TraceBuilder(T0 + i * 10**9, seed=100 + i)
    root = t.span("agent-svc", "invoke_agent support", kind="INTERNAL", duration_ms=500, error=i % 3 == 0,
                  message="ValueError: bad order" if i % 3 == 0 else "",
                  attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "support",
                              "gen_ai.conversation.id": f"c{i % 2}"})
    root.child("agent-svc", "chat gpt-4o", kind="CLIENT", offset_ms=1, duration_ms=50,
               attributes={"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                           "gen_ai.provider.name": "openai", "gen_ai.usage.input_tokens": 100,
                           "gen_ai.usage.output_tokens": 20, "gen_ai.response.finish_reasons": ["tool_calls"]})
    tool = root.child("agent-svc", "execute_tool get_order", offset_ms=60, duration_ms=30,
                      attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_order",
                                  "gen_ai.tool.call.arguments": '{"id": 7}'})
    tool.child("agent-svc", "call orders", kind="CLIENT", offset_ms=1, duration_ms=20,
               attributes={"server.address": "orders"}).child("orders", "GET /orders/{id}", kind="SERVER",
                                                              offset_ms=1, duration_ms=15)
    return t


def test_query_investigation_and_agent_answers_are_what_the_openapi_document_describes(client, tmp_path):
    """Services, operations, changes, anomalies, a symptom's series, impact, an investigation (as run and as
    kept) and agent runs, sessions, spend and load: each answer has exactly the keys and types the records'
    schemas name."""
    import jsonschema
    traces = []
    for i in range(100):  # web → cart → db; from 60 s on cart's query is slow and a third of requests fail
        t = TraceBuilder(T0 + i * 10**9, seed=i)
        late = i >= 60
        root = t.span("web", "GET /", duration_ms=300 if late else 40, error=late and i % 3 == 0)
        call = root.child("web", "GET /cart", kind="CLIENT", offset_ms=1, duration_ms=280 if late else 20)
        call.child("cart", "GET /cart", kind="SERVER", offset_ms=1, duration_ms=270 if late else 18).child(
            "cart", "SELECT", kind="CLIENT", offset_ms=1, duration_ms=260 if late else 5,
            attributes={"db.system": "postgresql", "server.address": "db"})
        traces.append(t)
    _load(client.hub, tmp_path, traces + [_agent_run(i) for i in range(6)])
    change = {"service": "cart", "kind": "deploy", "description": "cart v2", "version": "2.0",
              "time": str((T0 + 59 * 10**9) // 10**9), "attributes": {"ticket": "OPS-1"}}
    posted = client.post("/v1/changes", json=[change, {"service": "web", "kind": "flag", "description": "flag on",
                                                       "time": str((T0 + 61 * 10**9) // 10**9)}],
                         headers={"X-Interplay-Client": "cli"})
    assert posted.status_code == 200, posted.text
    doc = client.get("/api/openapi.json").json()
    created = client.post("/api/investigations", json={"symptom": "web", "at": str(T0 + 60 * 10**9)},
                          headers={"X-Interplay-Client": "cli"})
    assert created.status_code == 201, created.text
    # an alert long before the data: both attempts fail, so its record keeps an error instead of a result
    alerted = client.post("/api/alerts?wait=true", json={"service": "web", "started_at": "1990-01-01T00:00:00Z",
                                                         "summary": "old", "key": "k1"})
    assert alerted.status_code == 200, alerted.text
    failed_id = alerted.json()["investigations"][0]["id"]
    run_id = client.get("/api/agents/runs").json()["runs"][0]["run_id"]
    answers = {
        ("/api/services", "get", "200"): client.get("/api/services").json(),
        ("/api/operations", "get", "200"): client.get("/api/operations", params={"service": "cart"}).json(),
        ("/api/changes", "get", "200"): client.get("/api/changes").json(),
        ("/api/anomalies", "get", "200"): client.get("/api/anomalies").json(),
        ("/api/symptom-series", "get", "200"): client.get("/api/symptom-series", params={
            "entry": "web:GET /", "since": str(T0), "until": str(T0 + 100 * 10**9), "buckets": "5"}).json(),
        ("/api/impact", "get", "200"): client.get("/api/impact", params={"target": "db"}).json(),
        ("/api/investigations", "post", "201"): created.json(),
        ("/api/investigations/{id}", "get", "200"): client.get(f"/api/investigations/{created.json()['id']}").json(),
        ("/api/agents/runs", "get", "200"): client.get("/api/agents/runs").json(),
        ("/api/agents/runs/{run_id}", "get", "200"): client.get(f"/api/agents/runs/{run_id}",
                                                                params={"full": "true"}).json(),
        ("/api/agents/sessions", "get", "200"): client.get("/api/agents/sessions").json(),
        ("/api/agents/sessions/{session_id}", "get", "200"): client.get("/api/agents/sessions/c0").json(),
        ("/api/agents/spend", "get", "200"): client.get("/api/agents/spend").json(),
        ("/api/agents/load", "get", "200"): client.get("/api/agents/load").json(),
        ("/api/agents/touching", "get", "200"): client.get("/api/agents/touching",
                                                           params={"service": "orders"}).json(),
    }
    operation_impact = client.get("/api/impact", params={"target": "cart:GET /cart"}).json()
    assert [c["service"] for c in operation_impact["direct_callers"]] == ["web"]
    jsonschema.validate(operation_impact, _closed_json_schema(doc, {"$ref": "#/components/schemas/Impact"}))
    # each answer holds what its schema describes (not an empty list that validates trivially)
    assert {s["service"] for s in answers["/api/services", "get", "200"]} == {"web", "cart", "agent-svc", "orders"}
    assert [c["description"] for c in answers["/api/changes", "get", "200"]] == ["flag on", "cart v2"]
    assert answers["/api/impact", "get", "200"]["direct_callers"][0]["service"] == "cart"
    assert answers["/api/anomalies", "get", "200"]["services"]["web"]["kind"] == "errors"
    charts = answers["/api/symptom-series", "get", "200"]
    assert [b["requests"] for b in charts["buckets"]] == [20] * 5 and len(charts["changes"]) == 2
    assert answers["/api/investigations", "post", "201"]["root_causes"]
    assert answers["/api/agents/runs/{run_id}", "get", "200"]["steps_detail"]
    assert answers["/api/agents/sessions/{session_id}", "get", "200"]["runs"]
    assert answers["/api/agents/spend", "get", "200"]["spend"] and answers["/api/agents/load", "get", "200"]["load"]
    # kept investigations: the list (one entry with a top cause, one with an error) and each record by id
    kept = [client.get("/api/investigations").json(),
            client.get("/api/investigations", params={"id": created.json()["id"]}).json(),
            client.get("/api/investigations", params={"id": failed_id}).json()]
    assert [("top_cause" in r, r.get("error", "")[:6]) for r in kept[0]["investigations"]] == [
        (False, "--at 1"), (True, "")]
    assert kept[1]["result"]["root_causes"] and kept[2]["result"]["error"].startswith("--at 1")
    for (path, method, code), answer in [*answers.items(), *((("/api/investigations", "get", "200"), k)
                                                             for k in kept)]:
        schema = doc["paths"][path][method]["responses"][code]["content"]["application/json"]["schema"]
        jsonschema.validate(answer, _closed_json_schema(doc, schema))
    listed = _closed_json_schema(doc, doc["paths"]["/api/investigations"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"])
    kept[0]["investigations"][1]["top_cause"]["extra"] = 1  # the list's entries are closed too
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(kept[0], listed)
    kept[2]["result"]["extra"] = 1  # and so is a kept error
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(kept[2], listed)
    schemas = doc["components"]["schemas"]
    assert schemas["Caller"]["properties"]["mode"]["enum"] == ["sync", "async"]
    assert "retries" not in schemas["Caller"]["required"]  # left out when None, never null
    # a key the records do not write fails
    cause = answers["/api/investigations", "post", "201"]["root_causes"][0]
    cause["chain"][0]["extra"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(answers["/api/investigations", "post", "201"],
                            _closed_json_schema(doc, {"$ref": "#/components/schemas/Investigation"}))
