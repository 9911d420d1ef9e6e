"""Alert webhooks: Alertmanager and generic payloads start one kept investigation per group."""
from __future__ import annotations

import copy
import json
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from interplay.alerts import parse_alertmanager, parse_generic
from interplay.api import Interplay
from interplay.model import InvalidInput
from interplay.store.investigations import Investigations
from test_mcp import MCP_COMMAND, case_db, copy_db, running_app  # noqa: F401  (fixture)

# The webhook body as documented for Alertmanager's webhook_config (version 4), with values filled in.
ALERTMANAGER = {
    "version": "4",
    "groupKey": "{}/{service=\"currency\"}:{alertname=\"HighErrorRate\"}",
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "interplay",
    "groupLabels": {"alertname": "HighErrorRate"},
    "commonLabels": {"alertname": "HighErrorRate", "service": "currency", "severity": "page"},
    "commonAnnotations": {"summary": "currency 5xx above 5%"},
    "externalURL": "http://alertmanager.example:9093",
    "alerts": [
        {"status": "firing", "labels": {"alertname": "HighErrorRate", "service": "currency", "instance": "a"},
         "annotations": {"summary": "currency 5xx above 5%"}, "startsAt": "2026-01-01T01:13:30.000Z",
         "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus.example:9090/graph",
         "fingerprint": "1a30ba71cca2921f"},
        {"status": "firing", "labels": {"alertname": "HighErrorRate", "service": "currency", "instance": "b"},
         "annotations": {"summary": "currency 5xx above 5%"}, "startsAt": "2026-01-01T01:12:45.123456789Z",
         "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus.example:9090/graph",
         "fingerprint": "2b41cb82ddb3a32f"},
    ],
}


def resolved(doc: dict) -> dict:
    doc = copy.deepcopy(doc)
    doc["status"] = "resolved"
    for a in doc["alerts"]:
        a["status"] = "resolved"
        a["endsAt"] = "2026-01-01T01:30:00Z"
    return doc


class Receiver:
    """A tiny HTTP endpoint on 127.0.0.1 that keeps every JSON body POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("content-length", 0))
                outer.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait(self, n: int, timeout: float = 30) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.bodies) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.bodies

    def close(self) -> None:
        self.httpd.shutdown()


# -- parsing ------------------------------------------------------------------------------------------
def test_alertmanager_group_service_time_and_key():
    g = parse_alertmanager(ALERTMANAGER)
    assert (g.source, g.status, g.service) == ("alertmanager", "firing", "currency")
    assert g.group_key == ALERTMANAGER["groupKey"]
    assert g.started_ns == 1767229965123456000  # the earliest startsAt, 01:12:45.123456
    assert g.summary == "HighErrorRate (2 alerts): currency 5xx above 5%"
    assert g.alerts == 2


def test_alertmanager_service_label_fallbacks():
    doc = copy.deepcopy(ALERTMANAGER)
    doc["commonLabels"] = {"alertname": "X"}
    for a, job in zip(doc["alerts"], ("checkout", "cart")):
        a["labels"] = {"alertname": "X", "job": job}
    assert parse_alertmanager(doc).service == "checkout"
    doc["alerts"][0]["labels"] = {"alertname": "X", "app": "web"}
    assert parse_alertmanager(doc).service == "web"
    doc["alerts"] = [{"labels": {}, "status": "firing"}]
    assert parse_alertmanager(doc).service is None


@pytest.mark.parametrize("doc, message", [
    ([], "expected an Alertmanager webhook object"),
    ({"version": "3", "alerts": []}, "version '3'"),
    ({"version": "4", "alerts": {}}, "alerts: expected a list"),
    ({"version": "4", "alerts": [{"labels": [], "startsAt": "x"}]}, "alerts[0]"),
    ({"version": "4", "status": "firing", "alerts": [{"labels": {}, "startsAt": "yesterday"}]}, "alerts[0].startsAt"),
])
def test_alertmanager_bad_payloads_say_where(doc, message):
    with pytest.raises(InvalidInput, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_alertmanager(doc)


def test_generic_form():
    (g,) = parse_generic({"service": "checkout", "started_at": "2026-01-01T01:12:00Z", "summary": "slow"})
    assert (g.source, g.service, g.started_ns, g.status) == ("generic", "checkout", 1767229920000000000, "firing")
    two = parse_generic([{"service": "a"}, {"service": "b", "status": "resolved", "key": "k"}])
    assert [(x.service, x.status, x.group_key) for x in two] == [("a", "firing", "generic:a:alert on a"),
                                                                  ("b", "resolved", "k")]
    with pytest.raises(InvalidInput, match=r"body\.service"):
        parse_generic({"summary": "no service"})
    with pytest.raises(InvalidInput, match=r"body\[1\]\.started_at"):
        parse_generic([{"service": "a"}, {"service": "b", "started_at": "nope"}])


def test_records_dedup_by_group_and_close():
    from interplay.alerts import record
    kept = Investigations(Interplay.open(":memory:").store)
    (g,) = parse_generic({"service": "a", "summary": "x", "started_at": "2026-01-01T00:00:00Z"})
    rec, action = record(kept, g)
    assert action == "opened"
    assert record(kept, g)[1] == "updated"
    closed = parse_generic({"service": "a", "summary": "x", "status": "resolved"})[0]
    assert record(kept, closed)[1] == "resolved"
    assert record(kept, closed)[1] == "ignored"
    assert record(kept, g)[1] == "reopened"
    assert rec is not None and [(r.id, r.status, r.top_cause) for r in kept.list()] == [(rec.id, "open", None)]


# -- through a running server ---------------------------------------------------------------------------
@pytest.mark.integration
def test_alertmanager_replay_keeps_one_investigation_and_resolves_it(case_db, tmp_path):  # noqa: F811
    db = copy_db(case_db, tmp_path)
    receiver = Receiver()
    try:
        with running_app(db, notify_url=receiver.url) as url:
            first = httpx.post(url + "/api/alerts/alertmanager?wait=true", json=ALERTMANAGER, timeout=120).json()
            again = httpx.post(url + "/api/alerts/alertmanager", json=ALERTMANAGER, timeout=120)
            assert again.status_code == 202
            (opened,), (updated,) = first["investigations"], again.json()["investigations"]
            assert opened["action"] == "opened" and updated["action"] == "updated"
            assert opened["id"] == updated["id"]
            listed = httpx.get(url + "/api/investigations").json()["investigations"]
            assert len(listed) == 1
            assert listed[0]["status"] == "open" and listed[0]["source"] == "alertmanager"
            assert listed[0]["top_cause"]["service"] == "currency"
            one = httpx.get(url + "/api/investigations", params={"id": opened["id"]}).json()
            assert one["result"]["root_causes"][0]["service"] == "currency"
            assert one["group_key"] == ALERTMANAGER["groupKey"]

            done = httpx.post(url + "/api/alerts/alertmanager?wait=true", json=resolved(ALERTMANAGER), timeout=120).json()
            assert done["investigations"][0]["action"] == "resolved"
            listed = httpx.get(url + "/api/investigations").json()["investigations"]
            assert [(r["id"], r["status"]) for r in listed] == [(opened["id"], "resolved")]

            bodies = receiver.wait(3)
            events = [b["event"] for b in bodies]
            assert events[0] == "investigation.opened" and "investigation.resolved" in events
            assert bodies[0]["investigation"]["id"] == opened["id"]
            assert bodies[0]["root_causes"][0]["service"] == "currency"
            assert bodies[0]["root_causes"][0]["chain"]
    finally:
        receiver.close()
    out = subprocess.run([*_cli(), "investigations", "--db", str(db), "--format", "json"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [(r["id"], r["status"], r["service"]) for r in rows] == [(opened["id"], "resolved", "currency")]


@pytest.mark.integration
def test_generic_alert_in_the_background_and_unknown_services(case_db, tmp_path):  # noqa: F811
    db = copy_db(case_db, tmp_path)
    with running_app(db) as url:
        answer = httpx.post(url + "/api/alerts", json={"service": "frontend", "started_at": "2026-01-01T01:12:40Z",
                                                       "summary": "checkout page errors"})
        assert answer.status_code == 202
        inv_id = answer.json()["investigations"][0]["id"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            rec = httpx.get(url + "/api/investigations", params={"id": inv_id}).json()
            if rec["result"]:
                break
            time.sleep(0.2)
        assert rec["source"] == "generic" and rec["result"]["root_causes"][0]["service"] == "currency"
        assert "most likely currency" in rec["summary"]

        # wait=true holds the request for a whole investigation: seconds, more on a busy machine
        ghost = httpx.post(url + "/api/alerts?wait=true", json={"service": "ghost", "summary": "who?",
                                                               "started_at": "2026-01-01T01:12:40Z"},
                           timeout=300).json()
        rec = httpx.get(url + "/api/investigations", params={"id": ghost["investigations"][0]["id"]}).json()
        assert rec["result"] is not None  # investigated without the symptom, or the reason it could not
        assert rec["result"].get("note") or rec["result"].get("error") or rec["result"]["root_causes"]

        # Alertmanager sends application/json; a body without it is refused before it is read
        bad = httpx.post(url + "/api/alerts/alertmanager", content=b"{not json",
                         headers={"Content-Type": "application/json"})
        assert bad.status_code == 400 and "not valid JSON" in bad.json()["error"]
        assert httpx.post(url + "/api/alerts/alertmanager", content=b"{not json").status_code == 415
        assert httpx.post(url + "/api/alerts", json={"summary": "x"}).status_code == 400
        assert len(httpx.get(url + "/api/investigations").json()["investigations"]) == 2


def test_notify_failures_are_not_fatal(caplog):
    from interplay.alerts import Notifier
    n = Notifier("http://127.0.0.1:9/nowhere", timeout=1)
    n.send({"event": "x"})
    n.close()
    assert any("notify" in r.getMessage() for r in caplog.records)


def _cli() -> list[str]:
    if MCP_COMMAND[0].endswith("interplay"):
        return [MCP_COMMAND[0]]
    return MCP_COMMAND[:-1]


def test_cli_lists_nothing_kept_yet(case_db, tmp_path):  # noqa: F811
    db = copy_db(case_db, tmp_path)
    out = subprocess.run([*_cli(), "investigations", "--db", str(db)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "no investigations kept yet" in out.stdout
    assert Path(db).exists()


@pytest.mark.integration
def test_alerts_on_interplay_serve_with_notify_url(case_db, tmp_path):  # noqa: F811
    from conftest import start_server
    help_text = subprocess.run([*_cli(), "serve", "--help"], capture_output=True, text=True, timeout=60).stdout
    assert "--notify-url" in help_text
    db = copy_db(case_db, tmp_path)
    receiver = Receiver()
    server = start_server(db, "--notify-url", receiver.url, grpc=False, token="t0k")
    try:
        assert server.post("/api/alerts/alertmanager", json=ALERTMANAGER, headers={"Authorization": ""}
                           ).status_code == 401
        for _ in range(2):
            assert server.post("/api/alerts/alertmanager", json=ALERTMANAGER).status_code == 202
        body = receiver.wait(1)[0]
        assert body["event"] == "investigation.opened"
        assert body["root_causes"][0]["service"] == "currency"
        assert server.post("/api/alerts/alertmanager?wait=true", json=resolved(ALERTMANAGER)).status_code == 200
        listed = server.get("/api/investigations").json()["investigations"]
        assert [(r["status"], r["service"]) for r in listed] == [("resolved", "currency")]
        out = subprocess.run([*_cli(), "investigations", "--db", str(db), "--format", "json"],
                             capture_output=True, text=True, timeout=60)  # through the server holding the file
        assert out.returncode == 0, out.stderr
        assert [r["status"] for r in json.loads(out.stdout)] == ["resolved"]
    finally:
        server.stop()
        receiver.close()
