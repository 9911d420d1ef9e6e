"""A short live scenario end to end against a tiny OTLP receiver started in the test."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections import Counter

import pytest
import uvicorn
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from interplay.testbed import _live, run_scenario

pytestmark = pytest.mark.integration


class Receiver:
    """OTLP/HTTP receiver that decodes spans with opentelemetry-proto and counts what arrives."""

    def __init__(self):
        self.spans: list[tuple[str, object]] = []
        self.paths: Counter = Counter()
        self.changes: list = []
        app = Starlette(routes=[Route("/v1/{kind}", self.receive, methods=["POST"])])
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    async def receive(self, request: Request) -> Response:
        kind = request.path_params["kind"]
        body = await request.body()
        self.paths[kind] += 1
        if kind == "traces":
            msg = ExportTraceServiceRequest()
            msg.ParseFromString(body)
            for rs in msg.resource_spans:
                svc = next(a.value.string_value for a in rs.resource.attributes if a.key == "service.name")
                self.spans.extend((svc, span) for ss in rs.scope_spans for span in ss.spans)
        elif kind == "changes":
            import json
            self.changes.extend(json.loads(body))
        return Response(b"", media_type="application/x-protobuf")

    def __enter__(self):
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(5)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is gone for our purposes
        return f.read().split()[2] != "Z"


@pytest.fixture
def spawned(monkeypatch):
    pids: list[int] = []
    real = _live._Fleet.spawn

    def spawn(self, name, version, fault=None):
        real(self, name, version, fault)
        pids.append(self.procs[name].pid)

    monkeypatch.setattr(_live._Fleet, "spawn", spawn)
    return pids


def test_live_scenario_end_to_end(spawned):
    with Receiver() as rx:
        began = time.monotonic()
        truth = run_scenario("shop-bad-deploy", f"http://127.0.0.1:{rx.port}", baseline_s=6, incident_s=5)
        elapsed = time.monotonic() - began
    assert elapsed < 40
    assert truth["service"] == "catalog" and truth["fault"] == "bad_deploy" and truth["injected_at"]
    services = Counter(svc for svc, _ in rx.spans)
    assert len(services) >= 6, services
    by_id = {span.span_id: (svc, span) for svc, span in rx.spans}
    cross = {(by_id[s.parent_span_id][0], svc) for svc, s in rx.spans
             if s.kind == 2 and s.parent_span_id in by_id and by_id[s.parent_span_id][1].kind == 3}
    assert ("frontend", "catalog") in cross and len(cross) >= 4
    assert any(c["service"] == "catalog" and c["kind"] == "deploy" for c in rx.changes)
    assert rx.paths["logs"] > 0
    assert spawned and not any(_alive(pid) for pid in spawned)


def test_processes_are_cleaned_up_when_the_scenario_raises(spawned, monkeypatch):
    def boom(*a, **kw):
        raise RuntimeError("injection failed")

    monkeypatch.setattr(_live, "_inject", boom)
    with pytest.raises(RuntimeError, match="injection failed"):
        run_scenario("agent-llm-rate-limit", "http://127.0.0.1:9", baseline_s=1, incident_s=1)
    assert len(spawned) >= 9 and not any(_alive(pid) for pid in spawned)
