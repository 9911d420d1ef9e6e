"""bench/strip_clients.py: recorded cases copied without CLIENT spans, their children re-parented."""
from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

from interplay.testing import TraceBuilder, traces_request

ROOT = Path(__file__).resolve().parents[1]
T0 = 1_767_225_600 * 10**9


def _case(folder: Path) -> None:
    folder.mkdir(parents=True)
    tb = TraceBuilder(T0, seed=1)
    root = tb.span("frontend", "GET /", duration_ms=30)
    call = root.child("frontend", "call cart", kind="CLIENT", offset_ms=1, duration_ms=20)
    call.child("cart", "GET /cart", kind="SERVER", offset_ms=2, duration_ms=15)
    with gzip.open(folder / "traces.jsonl.gz", "wt") as f:
        f.write(json.dumps(traces_request([tb])) + "\n")
    (folder / "truth.json").write_text('{"root_cause_service": "cart"}')


def _spans(path: Path) -> list[dict]:
    with gzip.open(path, "rt") as f:
        return [s for line in f for rs in json.loads(line)["resourceSpans"] for ss in rs["scopeSpans"]
                for s in ss["spans"]]


def test_client_spans_are_dropped_and_servers_hang_under_their_callers_span(tmp_path):
    _case(tmp_path / "in" / "case-1")
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "strip_clients.py"), str(tmp_path / "in"),
                           str(tmp_path / "out")], capture_output=True, text=True, check=True)
    assert "case-1: 1 CLIENT spans dropped" in done.stdout
    before = {s["name"]: s for s in _spans(tmp_path / "in" / "case-1" / "traces.jsonl.gz")}
    after = {s["name"]: s for s in _spans(tmp_path / "out" / "case-1" / "traces.jsonl.gz")}
    assert set(after) == {"GET /", "GET /cart"} and "call cart" in before
    assert after["GET /cart"]["parentSpanId"] == before["GET /"]["spanId"]
    assert (tmp_path / "out" / "case-1" / "truth.json").read_text() == '{"root_cause_service": "cart"}'


def test_a_folder_without_cases_is_refused(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "strip_clients.py"), str(tmp_path),
                           str(tmp_path / "out")], capture_output=True, text=True)
    assert done.returncode != 0 and "no case folders" in done.stderr
