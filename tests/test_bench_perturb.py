"""bench/perturb.py: recorded cases copied as other tracers and hosts would record them."""
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
    traces = []
    for i in range(3):
        tb = TraceBuilder(T0 + i * 10**9, seed=i)
        root = tb.span("frontend", "GET /", duration_ms=30)
        call = root.child("frontend", "call cart", kind="CLIENT", offset_ms=1, duration_ms=20)
        call.child("cart", "GET /cart", kind="SERVER", offset_ms=2, duration_ms=15)
        traces.append(tb)
    with gzip.open(folder / "traces.jsonl.gz", "wt") as f:
        f.write(json.dumps(traces_request(traces)) + "\n")
    (folder / "truth.json").write_text('{"root_cause_service": "cart"}')


def _spans(path: Path) -> list[dict]:
    with gzip.open(path, "rt") as f:
        return [s for line in f for rs in json.loads(line)["resourceSpans"] for ss in rs["scopeSpans"]
                for s in ss["spans"]]


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "bench" / "perturb.py"), *args],
                          capture_output=True, text=True)


def test_no_clients_drops_client_spans_and_hangs_servers_under_their_callers_span(tmp_path):
    _case(tmp_path / "in" / "case-1")
    done = _run(tmp_path, "no-clients", str(tmp_path / "in"), str(tmp_path / "out"))
    assert done.returncode == 0 and "case-1: 3 CLIENT spans dropped" in done.stdout, done.stderr
    before = _spans(tmp_path / "in" / "case-1" / "traces.jsonl.gz")
    after = _spans(tmp_path / "out" / "case-1" / "traces.jsonl.gz")
    roots = {s["traceId"]: s["spanId"] for s in before if s["name"] == "GET /"}
    assert {s["name"] for s in after} == {"GET /", "GET /cart"} and len(after) == 6
    assert all(s["parentSpanId"] == roots[s["traceId"]] for s in after if s["name"] == "GET /cart")
    assert (tmp_path / "out" / "case-1" / "truth.json").read_text() == '{"root_cause_service": "cart"}'


def test_skew_shifts_each_service_by_one_offset_and_keeps_durations(tmp_path):
    _case(tmp_path / "in" / "case-1")
    done = _run(tmp_path, "skew", str(tmp_path / "in"), str(tmp_path / "out"), "--ms", "40")
    assert done.returncode == 0 and "case-1: 2 services' clocks shifted" in done.stdout, done.stderr
    before = {s["spanId"]: s for s in _spans(tmp_path / "in" / "case-1" / "traces.jsonl.gz")}
    shift: dict[str, set[int]] = {}
    for s in _spans(tmp_path / "out" / "case-1" / "traces.jsonl.gz"):
        b = before[s["spanId"]]
        moved = int(s["startTimeUnixNano"]) - int(b["startTimeUnixNano"])
        assert int(s["endTimeUnixNano"]) - int(b["endTimeUnixNano"]) == moved  # durations kept
        shift.setdefault("cart" if s["name"] == "GET /cart" else "frontend", set()).add(moved)
    assert all(len(v) == 1 and abs(next(iter(v))) <= 40_000_000 for v in shift.values()), shift
    assert shift["cart"] != shift["frontend"]


def test_raw_urls_name_roots_by_an_id_each(tmp_path):
    _case(tmp_path / "in" / "case-1")
    done = _run(tmp_path, "raw-urls", str(tmp_path / "in"), str(tmp_path / "out"), "--ids", "50")
    assert done.returncode == 0 and "case-1: 3 root spans renamed" in done.stdout, done.stderr
    names = [s["name"] for s in _spans(tmp_path / "out" / "case-1" / "traces.jsonl.gz") if not s.get("parentSpanId")]
    assert len(names) == 3 and all(n.startswith("GET /item/") and len(n) == len("GET /item/") + 10 for n in names)


def test_drop_loses_about_the_share_asked_for(tmp_path):
    _case(tmp_path / "in" / "case-1")
    done = _run(tmp_path, "drop", str(tmp_path / "in"), str(tmp_path / "out"), "--share", "1.0")
    assert done.returncode == 0 and "case-1: 9 spans lost" in done.stdout, done.stderr
    assert _spans(tmp_path / "out" / "case-1" / "traces.jsonl.gz") == []
    kept = _run(tmp_path, "drop", str(tmp_path / "in"), str(tmp_path / "kept"), "--share", "0")
    assert "case-1: 0 spans lost" in kept.stdout and len(_spans(tmp_path / "kept" / "case-1" / "traces.jsonl.gz")) == 9


def test_sample_keeps_or_drops_whole_traces(tmp_path):
    _case(tmp_path / "in" / "case-1")
    done = _run(tmp_path, "sample", str(tmp_path / "in"), str(tmp_path / "out"), "--share", "0.5")
    assert done.returncode == 0 and "traces kept" in done.stdout, done.stderr
    per_trace: dict[str, int] = {}
    for s in _spans(tmp_path / "out" / "case-1" / "traces.jsonl.gz"):
        per_trace[s["traceId"]] = per_trace.get(s["traceId"], 0) + 1
    assert all(n == 3 for n in per_trace.values()) and f"case-1: {len(per_trace)} traces kept" in done.stdout


def test_a_folder_without_cases_is_refused(tmp_path):
    done = _run(tmp_path, "skew", str(tmp_path), str(tmp_path / "out"))
    assert done.returncode != 0 and "no case folders" in done.stderr
