"""Hostile browsers against a real `interplay serve`: DNS rebinding and cross-site writes, in a real
headless Chromium; plus the Host/Origin/content-type/token rules over plain HTTP.

A test that cannot run fails: Chromium and Playwright are required (CI installs both).
"""
from __future__ import annotations

import http.server
import json
import threading

import httpx
import pytest

from conftest import launch_chromium, spans_stored, sync_playwright
from interplay.testing import TraceBuilder, traces_request

pytestmark = pytest.mark.integration
ARGS = ["--host-resolver-rules=MAP rebind.test 127.0.0.1",
        # the page comes from Playwright, so Chromium counts it as public; rebinding happens where
        # private-network checks are absent or not enforced: simulate that
        "--disable-features=BlockInsecurePrivateNetworkRequests,PrivateNetworkAccessSendPreflights,"
        "PrivateNetworkAccessRespectPreflightResults,LocalNetworkAccessChecks"]
T0 = 1_767_225_600 * 10**9
JSON = {"Content-Type": "application/json"}
WRITES = ["/v1/changes", "/api/changes", "/api/ingest", "/api/alerts", "/api/alerts/alertmanager",
          "/api/investigations", "/v1/traces"]
CHANGE = {"time": "2026-01-01T00:00:00Z", "service": "checkout", "kind": "deploy", "description": "forged"}


def good() -> dict:
    t = TraceBuilder(T0, seed=3)
    t.span("frontend", "GET /", duration_ms=10)
    return traces_request([t])


def stored(server) -> dict:
    return {"spans": spans_stored(server), "changes": len(server.get("/api/changes").json()),
            "investigations": len(server.get("/api/investigations").json()["investigations"])}


@pytest.fixture(scope="module")
def seeded(module_server):
    """One server for the module's tests that need none of their own (each compares before/after)."""
    assert module_server.post("/v1/traces", json=good(), headers=JSON).status_code == 200
    return module_server


# -- plain HTTP ----------------------------------------------------------------------------------
def test_foreign_host_is_refused_on_every_route(seeded):
    for path in ("/", "/api/traces", "/api/services", "/static/js/api.js", "/mcp"):
        r = httpx.get(seeded.url + path, headers={"Host": f"rebind.test:{seeded.port}"})
        assert r.status_code == 403 and "rebind.test" in r.json()["error"], path
    r = httpx.post(seeded.url + "/v1/traces", json=good(), headers={"Host": "evil.example"})
    assert r.status_code == 403 and "--allowed-host" in r.json()["message"]
    for host in (f"127.0.0.1:{seeded.port}", f"localhost:{seeded.port}", "localhost"):
        assert httpx.get(seeded.url + "/api/services", headers={"Host": host}).status_code == 200


def test_allowed_host_adds_a_name(make_server):
    server = make_server("--allowed-host", "interplay.internal")
    r = httpx.get(server.url + "/api/services", headers={"Host": f"interplay.internal:{server.port}"})
    assert r.status_code == 200
    assert httpx.get(server.url + "/api/services", headers={"Host": "other.internal"}).status_code == 403


def test_simple_content_types_cannot_write(seeded):
    before = stored(seeded)
    for path in WRITES:
        for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; b=x", None):
            headers = {"Content-Type": content_type} if content_type else {}
            r = httpx.post(seeded.url + path, content=json.dumps(CHANGE), headers=headers)
            assert r.status_code == 415, (path, content_type, r.status_code)
    assert stored(seeded) == before
    # a client that says who it is (our CLI does) may send any type
    r = httpx.post(seeded.url + "/api/changes", content=json.dumps(CHANGE),
                   headers={"Content-Type": "text/plain", "X-Interplay-Client": "script"})
    assert r.status_code == 200


def test_foreign_origin_is_refused_and_no_cors_by_default(seeded):
    r = httpx.post(seeded.url + "/api/changes", json=CHANGE, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403 and "cross-origin" in r.json()["error"]
    r = httpx.get(seeded.url + "/api/traces", headers={"Origin": "http://evil.example"})
    assert r.status_code == 403 and "access-control-allow-origin" not in r.headers
    r = httpx.options(seeded.url + "/api/changes", headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
    assert r.status_code == 403 and "access-control-allow-origin" not in r.headers
    same = httpx.post(seeded.url + "/api/changes", json=CHANGE, headers={"Origin": seeded.url})
    assert same.status_code == 200


def test_cors_origin_when_configured(make_server):
    server = make_server("--cors-origin", "https://grafana.example")
    r = httpx.options(server.url + "/api/traces", headers={
        "Origin": "https://grafana.example", "Access-Control-Request-Method": "GET"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://grafana.example"
    r = httpx.get(server.url + "/api/traces", headers={"Origin": "https://grafana.example"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://grafana.example"
    assert httpx.get(server.url + "/api/traces", headers={"Origin": "https://x.example"}).status_code == 403


def test_bearer_scheme_is_case_insensitive_and_token_can_come_from_a_file(make_server, tmp_path):
    secret = tmp_path / "token"
    secret.write_text("s3cret\n")
    server = make_server("--token-file", str(secret))
    server.token = "s3cret"
    assert "s3cret" not in " ".join(server.process.args)
    for scheme in ("Bearer", "bearer", "BEARER"):
        r = httpx.get(server.url + "/api/services", headers={"Authorization": f"{scheme} s3cret"})
        assert r.status_code == 200, scheme
    assert httpx.get(server.url + "/api/services", headers={"Authorization": "Basic s3cret"}).status_code == 401
    assert httpx.get(server.url + "/api/services").status_code == 401
    assert httpx.get(server.url + "/api/health").status_code == 200


def test_grpc_bearer_scheme_is_case_insensitive(make_server):
    import grpc
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
    server = make_server(token="s3cret")
    request = json_format.ParseDict(good(), trace_service_pb2.ExportTraceServiceRequest())
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        stub.Export(request, metadata=[("authorization", "bearer s3cret")], timeout=10)
        with pytest.raises(grpc.RpcError) as err:
            stub.Export(request, metadata=[("authorization", "bearer wrong")], timeout=10)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


# -- a real browser ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:  # a missing Playwright or Chromium fails these tests, never skips them
        b = launch_chromium(p, ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    pg = context.new_page()
    pg.set_default_timeout(15000)
    yield pg
    context.close()


class _AttackerSite:
    """Another origin on this machine (http://127.0.0.1:OTHER/) serving one hostile page."""

    def __init__(self, html: str) -> None:
        body = html.encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_dns_rebinding_page_reads_and_writes_nothing(seeded, page):
    """The page loads from rebind.test (the attacker's DNS), which then resolves to 127.0.0.1:
    its same-origin fetches reach the server with `Host: rebind.test:PORT`."""
    origin = f"http://rebind.test:{seeded.port}"
    page.route(f"{origin}/", lambda route: route.fulfill(
        status=200, content_type="text/html", body="<html><body>cute cats</body></html>"), times=1)
    page.goto(f"{origin}/")
    before = stored(seeded)
    results = page.evaluate("""async () => {
        const out = {};
        for (const path of ["/api/traces", "/api/services", "/api/changes", "/"]) {
            const r = await fetch(path);
            out[path] = [r.status, (await r.text()).slice(0, 300)];
        }
        const w = await fetch("/v1/traces", {method: "POST", headers: {"Content-Type": "application/json"},
                                             body: JSON.stringify(%s)});
        out["POST /v1/traces"] = [w.status, await w.text()];
        const m = await fetch("/mcp", {method: "POST", headers: {"Content-Type": "application/json",
                                       "Accept": "application/json, text/event-stream"},
            body: JSON.stringify({jsonrpc: "2.0", id: 1, method: "tools/call",
                                  params: {name: "list_services", arguments: {}}})});
        out["POST /mcp"] = [m.status, await m.text()];
        return out;
    }""" % json.dumps(good()))  # noqa: UP031 (the JavaScript's braces rule out format())
    for what, (status, text) in results.items():
        assert status == 403, (what, status, text)
        assert "frontend" not in text
    assert stored(seeded) == before


def test_cross_site_page_cannot_forge_writes(seeded, page):
    """A page on another origin tries every simple write a browser sends without asking."""
    target = seeded.url
    forged_span = json.dumps(good()).replace("frontend", "forged")
    alert = json.dumps({"service": "frontend", "summary": "forged alert"})
    html = f"""<html><body>
    <form id="f" method="POST" action="{target}/api/changes" enctype="text/plain" target="sink">
      <input name='{{"time": "2026-01-01T00:00:00Z", "service": "checkout", "kind": "deploy", "description": "forged", "x": "' value='"}}'>
    </form><iframe name="sink"></iframe>
    <script>
    window.attack = async () => {{
      const targets = {json.dumps(WRITES)};
      const bodies = {{"/v1/traces": {json.dumps(forged_span)}, "/api/alerts": {json.dumps(alert)},
                       "/api/investigations": "{{}}"}};
      const tries = [];
      for (const path of targets) {{
        const body = bodies[path] || {json.dumps(json.dumps(CHANGE))};
        for (const type of ["text/plain", "application/x-www-form-urlencoded", null]) {{
          const init = {{method: "POST", mode: "no-cors", body}};
          if (type) init.headers = {{"Content-Type": type}};
          tries.push(fetch("{target}" + path, init).then(() => "sent", e => "error " + e));
        }}
        const fd = new FormData(); fd.append("x", body);
        tries.push(fetch("{target}" + path, {{method: "POST", mode: "no-cors", body: fd}}).then(() => "sent"));
        // with CORS (JSON): the browser must ask first, and the server does not allow it
        tries.push(fetch("{target}" + path, {{method: "POST", headers: {{"Content-Type": "application/json"}},
                                               body}}).then(r => "read " + r.status, e => "blocked"));
      }}
      const read = await fetch("{target}/api/traces").then(r => r.text()).catch(e => "blocked");
      document.getElementById("f").submit();
      return {{sent: await Promise.all(tries), read}};
    }};
    </script></body></html>"""
    site = _AttackerSite(html)
    try:
        before = stored(seeded)
        page.goto(site.url)
        result = page.evaluate("window.attack()")
        page.wait_for_timeout(1500)  # the form post lands in the iframe
    finally:
        site.close()
    assert result["read"] == "blocked"
    assert not any(s.startswith("read 2") for s in result["sent"])
    assert stored(seeded) == before  # no change, span or investigation more than before the page ran


def test_the_ui_itself_still_works_in_the_browser(seeded, page):
    page.goto(seeded.url + "/")
    result = page.evaluate("""async () => {
        const post = await fetch("/api/changes", {method: "POST", headers: {"Content-Type": "application/json"},
            body: JSON.stringify({time: "2026-01-01T00:00:00Z", service: "frontend", kind: "deploy",
                                  description: "from the UI"})});
        const traces = await fetch("/api/traces");
        return [post.status, traces.status, (await traces.json()).length];
    }""")
    assert result == [200, 200, 1]
