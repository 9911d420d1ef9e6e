"""The single writer: group commit, all-or-nothing batches, and back-pressure when full."""
from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from interplay.api import Interplay, changes_batch
from interplay.model import Overloaded
from interplay.server.app import ServerState, create_app
from interplay.server.writer import Writer


def _change(service: str) -> dict:
    return {"time": "2026-01-01T00:00:00Z", "service": service, "kind": "deploy", "description": "d"}


def test_full_queue_is_refused_and_http_says_retry_after(tmp_path):
    ip = Interplay.open(tmp_path / "w.duckdb")
    writer = Writer(ip, max_pending=1)
    ip.store._write_lock.acquire()  # keep the writer busy inside its first commit
    try:
        first = writer.submit(changes_batch(_change("a")))
        import time
        while writer.pending:  # the writer took the first batch and is now blocked
            time.sleep(0.01)
        second = writer.submit(changes_batch(_change("b")))
        with pytest.raises(Overloaded):
            writer.submit(changes_batch(_change("c")))
        client = TestClient(create_app(ServerState(ip, writer)), base_url="http://127.0.0.1")
        r = client.post("/v1/changes", content=json.dumps(_change("d")), headers={"Content-Type": "application/json"})
        assert r.status_code == 503 and r.headers["Retry-After"] == "2"
        r = client.post("/v1/traces", content=b"{}", headers={"Content-Type": "application/json"})
        assert r.status_code == 503 and r.headers["Retry-After"] == "2"
    finally:
        ip.store._write_lock.release()
    assert first.result(10).changes == 1 and second.result(10).changes == 1
    writer.close()
    assert sorted(r.service for r in ip.changes()) == ["a", "b"]


def test_close_commits_everything_queued(tmp_path):
    ip = Interplay.open(tmp_path / "w.duckdb")
    writer = Writer(ip, max_pending=1000)
    futures = [writer.submit(changes_batch(_change(f"s{i}"))) for i in range(200)]
    writer.close()
    assert all(f.done() for f in futures)
    assert ip.counts()["changes"] == 200


def test_jobs_run_on_the_writer_thread_in_order(tmp_path):
    ip = Interplay.open(tmp_path / "w.duckdb")
    writer = Writer(ip)
    writer.submit(changes_batch(_change("x")))
    counted = writer.submit(lambda hub: hub.counts()["changes"])
    assert counted.result(10) == 1
    writer.close()
