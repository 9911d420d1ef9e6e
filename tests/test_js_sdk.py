"""The OpenTelemetry JS SDK, from npm, pointed at a real `interplay serve`: OTLP/HTTP JSON (the JS
exporters' default) and protobuf, the Zipkin exporter at /api/v2/spans, a log record with an event name
and an exponential histogram (tests/js/send.mjs). Needs Node.js and npm; `npm ci` installs the SDK from
tests/js/package-lock.json on first use."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from interplay.api import Interplay

pytestmark = pytest.mark.integration
JS = Path(__file__).parent / "js"


@pytest.fixture(scope="module")
def node() -> str:
    """Node.js with the SDK installed; a machine without Node fails here rather than skip."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.fail("Node.js and npm are needed for the JS SDK tests (apt-get install nodejs npm)")
    lock = JS / "package-lock.json"
    stamp = JS / "node_modules" / ".package-lock.json"
    if not stamp.exists() or stamp.stat().st_mtime < lock.stat().st_mtime:
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=JS, check=True, capture_output=True, timeout=600)
    return node


def _send(node: str, server) -> dict:
    done = subprocess.run([node, "send.mjs", server.url], cwd=JS, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _depth(nodes) -> int:
    return 1 + max((_depth(n["children"]) for n in nodes), default=-1) if nodes else 0


def test_what_the_js_sdk_sends_comes_back_whole(node, make_server):
    server = make_server()
    sent = _send(node, server)

    services = {s["service"]: s for s in server.get("/api/services").json()}
    assert set(services) == {"frontend-js", "payments-js", "shipping-js"}
    assert services["payments-js"]["errors"] == 1 and services["shipping-js"]["errors"] == 1

    tree = server.get(f"/api/traces/{sent['trace_id']}").json()  # OTLP/HTTP JSON and protobuf, one trace
    assert tree["spans"] == 4 and _depth(tree["roots"]) == 4
    (root,) = tree["roots"]
    assert (root["service"], root["kind"], root["status_code"], root["orphan"]) == \
        ("frontend-js", "SERVER", "ERROR", True)  # its parent is upstream
    assert (root["trace_state"], root["scope_name"], root["scope_version"]) == ("vendor=abc", "shop.http", "3.1.0")
    assert json.loads(root["resource_attributes"]) == {"service.name": "frontend-js", "service.version": "5.0.0"}
    (event,) = json.loads(root["events"])
    assert (event["name"], event["attributes"]) == ("cart.loaded", {"items": 3})
    (link,) = json.loads(root["links"])
    assert (link["trace_id"], link["span_id"], link["attributes"]) == \
        ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", {"link.reason": "batch"})
    pay = root["children"][0]["children"][0]
    assert (pay["service"], pay["kind"], pay["status_message"], pay["scope_name"]) == \
        ("payments-js", "SERVER", "card declined", "shop.payments")

    zipkin = server.get(f"/api/traces/{sent['zipkin_trace_id']}").json()  # the JS Zipkin exporter's JSON
    (ship,) = zipkin["roots"]
    assert (ship["service"], ship["kind"], ship["status_code"], ship["status_message"]) == \
        ("shipping-js", "SERVER", "ERROR", "carrier down")
    assert json.loads(ship["resource_attributes"])["service.version"] == "5.0.0"
    assert "service.name" not in json.loads(ship["attributes"])  # the exporter's resource tags go back to the resource
    # Zipkin has no INTERNAL kind and the JS exporter leaves it out: unspecified, as the Collector reads it
    assert [(c["operation"], c["kind"]) for c in ship["children"]] == [("label.render", "UNSPECIFIED")]
    server.stop()

    ip = Interplay.open(server.db, read_only=True)
    try:
        p = sent["point"]
        (m,) = ip.store.query("SELECT * FROM metrics WHERE name = 'checkout.latency'")
        assert (m["type"], m["count"], m["scale"], m["zero_count"]) == \
            ("exponential_histogram", p["count"], p["scale"], p["zeroCount"])
        assert (m["positive_offset"], json.loads(m["positive_bucket_counts"])) == \
            (p["positive"]["offset"], p["positive"]["bucketCounts"])
        assert (m["negative_offset"], json.loads(m["negative_bucket_counts"])) == \
            (p["negative"]["offset"], p["negative"]["bucketCounts"])
        assert (m["min"], m["max"], m["sum"]) == (p["min"], p["max"], pytest.approx(p["sum"]))
        assert (m["description"], m["unit"], m["scope_name"], m["scope_version"]) == \
            ("time to check out", "ms", "shop.metrics", "0.3.0")
        (log,) = ip.store.query("SELECT * FROM logs")
        assert (log["event_name"], log["trace_flags"], log["trace_id"], log["span_id"]) == \
            ("checkout.order_placed", 1, sent["trace_id"], sent["span_id"])
        assert (log["scope_name"], log["scope_version"], log["severity_text"]) == ("shop.audit", "2.0.1", "INFO")
    finally:
        ip.close()
