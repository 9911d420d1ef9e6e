"""bench/transplant.py: a known fault put into the healthy part of a recorded incident."""
from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

from interplay.testing import TraceBuilder, traces_request
from interplay.timeutil import format_time, parse_time_ns

ROOT = Path(__file__).resolve().parents[1]
T0 = 1_767_225_600 * 10**9


def _recorded(folder: Path, traces: int = 60) -> None:
    """frontend calls ad and, at the same time, catalog, whose answer comes after ad's: one trace a second."""
    folder.mkdir(parents=True)
    out = []
    for i in range(traces):
        tb = TraceBuilder(T0 + i * 10**9, seed=i)
        root = tb.span("frontend", "GET /", duration_ms=50)
        ad = root.child("frontend", "call ad", kind="CLIENT", offset_ms=1, duration_ms=10)
        ad.child("ad", "GetAds", kind="SERVER", offset_ms=1, duration_ms=8)
        catalog = root.child("frontend", "call catalog", kind="CLIENT", offset_ms=2, duration_ms=38)
        catalog.child("catalog", "ListProducts", kind="SERVER", offset_ms=1, duration_ms=36)
        out.append(tb)
    with gzip.open(folder / "traces.jsonl.gz", "wt") as f:
        f.write(json.dumps(traces_request(out)) + "\n")
    (folder / "truth.json").write_text(json.dumps({"root_cause_service": "catalog",
                                                   "inject_time": format_time(T0 + (traces + 5) * 10**9)}))


def _spans(path: Path) -> list[dict]:
    with gzip.open(path, "rt") as f:
        return [s for line in f for rs in json.loads(line)["resourceSpans"] for ss in rs["scopeSpans"]
                for s in ss["spans"]]


def _ms(span: dict) -> float:
    return (int(span["endTimeUnixNano"]) - int(span["startTimeUnixNano"])) / 1e6


def test_a_delay_holds_up_the_callers_waiting_not_a_call_made_beside_it(tmp_path):
    _recorded(tmp_path / "src" / "case")
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "transplant.py"), str(tmp_path / "src"),
                          str(tmp_path / "out"), "--per-service", "1", "--kinds", "delay"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    case = tmp_path / "out" / "case-ad-delay"
    truth = json.loads((case / "truth.json").read_text())
    assert truth["root_cause_service"] == "ad" and truth["fault"] == "transplant_delay"
    fault_at = parse_time_ns(truth["inject_time"])
    by_name: dict[str, list[dict]] = {}
    for s in _spans(case / "traces.jsonl.gz"):
        if int(s["startTimeUnixNano"]) >= fault_at:
            by_name.setdefault(s["name"], []).append(s)
    assert len(by_name["call ad"]) >= 20
    # ad's answers leave 60-180 ms late: the call waiting for them, and the page, last that much longer
    assert all(70 - 0.01 <= _ms(s) <= 190 + 0.01 for s in by_name["call ad"])
    assert all(_ms(s) >= 110 - 0.01 for s in by_name["GET /"])
    assert all(abs(_ms(s) - 8) < 0.01 for s in by_name["GetAds"])
    # the call to catalog, made beside it and open across that moment, is not held up, nor what it calls
    assert all(abs(_ms(s) - 38) < 0.01 for s in by_name["call catalog"])
    assert all(abs(_ms(s) - 36) < 0.01 for s in by_name["ListProducts"])
