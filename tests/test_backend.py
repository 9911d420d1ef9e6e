"""The hub contract: `Interplay` and `RemoteInterplay` both implement every method of `Backend`, with the
same parameters, and a server answers as the file it holds would (charts and kept investigations too)."""
from __future__ import annotations

import inspect
import json

import pytest
from starlette.testclient import TestClient

from interplay.api import Interplay
from interplay.backend import Backend
from interplay.client import RemoteInterplay
from interplay.model import TimeRange
from interplay.model_results import Impact, Investigation, TopCause, to_json
from interplay.model_telemetry import Change, Service, ServiceOperation, TraceSummary
from interplay.report_charts import charts_html
from interplay.server.app import ServerState, create_app
from interplay.server.writer import Writer
from test_model_results import slow_catalog

T0 = 1_767_225_600 * 10**9
SEC = 10**9
METHODS = sorted(name for name, _ in inspect.getmembers(Backend, inspect.isfunction) if not name.startswith("_"))


@pytest.mark.parametrize("hub", [Interplay, RemoteInterplay], ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", METHODS)
def test_every_hub_implements_every_method_with_the_contracts_parameters(hub, name):
    wanted = inspect.signature(getattr(Backend, name)).parameters
    got = inspect.signature(getattr(hub, name)).parameters
    missing = [p for p in wanted if p not in got and not any(q.kind is q.VAR_KEYWORD for q in got.values())]
    assert not missing, f"{hub.__name__}.{name} lacks {missing}"


@pytest.fixture
def hubs(tmp_path):
    ip = Interplay.open(tmp_path / "b.duckdb")
    ip.ingest_file(slow_catalog(tmp_path))
    writer = Writer(ip)
    remote = RemoteInterplay("http://127.0.0.1")
    with TestClient(create_app(ServerState(ip, writer)), base_url="http://127.0.0.1",
                    headers={"X-Interplay-Client": "cli"}) as http:
        remote._http = http
        yield ip, remote
    writer.close()
    ip.close()


def test_a_server_answers_as_the_file_it_holds(hubs):
    local, remote = hubs
    window = TimeRange(T0, T0 + 120 * SEC)
    assert remote.services(window) == local.services(window)
    assert remote.series("frontend", "GET /", window, buckets=6) == local.series("frontend", "GET /", window, 6)
    assert remote.operations("frontend", window) == local.operations("frontend", window)
    assert remote.anomalies(window) == local.anomalies(window)
    entry = [{"service": "frontend", "operation": "GET /"}]
    series = local.symptom_series(entry, window, 6)
    assert remote.symptom_series(entry, window, 6) == series and sum(b.requests for b in series.buckets) == 120
    assert remote.agent_load(window) == local.agent_load(window)
    assert remote.agent_runs_touching("frontend", window) == local.agent_runs_touching("frontend", window)


def test_a_server_answers_services_changes_operations_and_impact_as_the_records_of_the_file_it_holds(hubs):
    """RemoteInterplay rebuilds services, changes, operations, impact and anomalies from the server's JSON: equal to the
    local records, with the keys the API has always written."""
    local, remote = hubs
    local.add_changes([{"service": "catalog", "kind": "deploy", "description": "v2", "version": "2.0",
                        "time": str(T0 // SEC + 79), "attributes": {"ticket": "OPS-1"}},
                       {"service": "frontend", "kind": "flag", "description": "on", "time": str(T0 // SEC + 1)}])
    services = local.services()
    assert [s.service for s in services] == ["catalog", "frontend"] and isinstance(services[0], Service)
    assert remote.services() == services and services[1].requests == 120
    changes = local.changes()
    assert remote.changes() == changes and [c.description for c in changes] == ["v2", "on"]
    assert isinstance(changes[0], Change) and json.loads(changes[0].attributes) == {"ticket": "OPS-1"}
    assert list(to_json(changes[0])) == ["time_ns", "service", "kind", "description", "version", "attributes", "time"]
    assert remote.changes(service="frontend") == local.changes(service="frontend") == changes[1:]
    ops = local.operations("catalog")
    assert remote.operations("catalog") == ops and isinstance(ops[0], ServiceOperation)
    assert (ops[0].operation, ops[0].calls, ops[0].errors, ops[0].entry) == ("SELECT", 120, 40, False)
    for target in ("catalog", "frontend", "catalog:SELECT"):
        assert remote.impact(target) == local.impact(target), target
    impact = local.impact("catalog:SELECT")
    assert isinstance(impact, Impact) and (impact.target.service, impact.target.operation) == ("catalog", "SELECT")
    (caller,) = impact.direct_callers
    assert (caller.service, caller.mode, caller.calls, caller.errors) == ("frontend", "sync", 120, 40)
    assert "retries" not in to_json(caller)  # left out when None, as the API always wrote it
    anomalies = local.anomalies()
    assert remote.anomalies() == anomalies and (anomalies.services["frontend"].kind, anomalies.services["frontend"].after) \
        == ("errors", 1.0)
    assert [(e.service, e.through, e.share, e.mode) for e in impact.entry_points] == [("frontend", 120, 1.0, "sync")]


def test_a_server_answers_traces_trees_and_logs_as_the_records_of_the_file_it_holds(hubs, tmp_path):
    """RemoteInterplay rebuilds the telemetry records from the server's JSON: equal to the local ones."""
    local, remote = hubs
    found = local.traces(limit=200)
    assert remote.traces(limit=200) == found and len(found) == 120 and isinstance(found[0], TraceSummary)
    failing = local.traces(errors_only=True, limit=5)
    assert remote.traces(errors_only=True, limit=5) == failing and all(t.errors == 2 for t in failing)
    tree = remote.trace(failing[0].trace_id)
    assert tree == local.trace(failing[0].trace_id)
    (call,) = tree.roots[0].children
    assert (call.service, call.status_code, tree.roots[0].orphan) == ("catalog", "ERROR", False)
    logs = {"resourceLogs": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "catalog"}}]},
                              "scopeLogs": [{"logRecords": [
                                  {"timeUnixNano": str(call.start_ns + 1000), "severityNumber": 17,
                                   "body": {"stringValue": "query timed out"}, "traceId": tree.trace_id,
                                   "spanId": call.span_id},
                                  {"timeUnixNano": str(call.start_ns), "severityText": "debug",
                                   "body": {"stringValue": "query sent"}}]}]}]}
    path = tmp_path / "logs.json"
    path.write_text(json.dumps(logs))
    assert local.ingest_file(path).logs == 2
    got = remote.logs()
    assert got == local.logs() and [(r.body, r.severity, r.span_id) for r in got] == [
        ("query timed out", "ERROR", call.span_id), ("query sent", "debug", None)]
    assert remote.series("catalog", buckets=4) == local.series("catalog", buckets=4)


def test_investigations_are_kept_in_one_place_and_chart_through_a_server(hubs):
    local, remote = hubs
    result = remote.investigate(symptom="frontend")
    assert result.id and remote.keep_investigation(result, source="api") == result.id
    # kept by the server in the hub's table: the local hub and the server see the same record
    for hub in (local, remote):
        record = hub.kept_investigation(result.id)
        assert isinstance(record.result, Investigation)
        assert record.source == "api" and record.result.root_causes == result.root_causes
        assert [(r.id, r.top_cause) for r in hub.investigations()] == [
            (result.id, TopCause(result.root_causes[0].service, result.root_causes[0].summary))]
    # the server's answers rebuilt as records write the same JSON as the local hub's
    assert to_json(remote.kept_investigation(result.id)) == to_json(local.kept_investigation(result.id))
    assert to_json(remote.investigations()) == to_json(local.investigations())
    html = charts_html(remote, result)
    assert "<svg" in html and html == charts_html(local, result)
