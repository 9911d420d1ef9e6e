"""queries.traces: newest first by looking back from the newest match, equal to grouping everything."""
from __future__ import annotations

import json
import random

import pytest

from interplay.api import Interplay
from interplay.store import telemetry as queries
from interplay.store.open import open_store
from interplay.testing import TraceBuilder, traces_request

T0 = 1_767_225_600 * 10**9
SEC = 10**9


def _traces() -> list[TraceBuilder]:
    """Dense traffic for an hour, then sparse over two days; one long trace that began early and
    has a span near the end (it must sort by its start, not its last span)."""
    rng = random.Random(5)
    out, t = [], T0
    while t < T0 + 3600 * SEC:
        out.append(t)
        t += int(rng.uniform(2, 30) * SEC)
    out += [T0 + 3600 * SEC + k * 5 * 3600 * SEC for k in range(1, 10)]  # every 5 hours after
    traces = []
    for i, start in enumerate(out):
        tb = TraceBuilder(start, seed=i)
        svc = ("cart", "search", "payments")[i % 3]
        root = tb.span("frontend", f"GET /{svc}", duration_ms=20, error=i % 7 == 0)
        root.child(svc, f"GET /{svc}", kind="SERVER", offset_ms=2, duration_ms=10, error=i % 7 == 0)
        traces.append(tb)
    long = TraceBuilder(T0 + 1800 * SEC, seed=999)
    root = long.span("batch", "nightly", duration_ms=1000)
    root.child("payments", "settle", kind="SERVER", offset_ms=(out[-1] - T0 - 1800 * SEC) / 1e6 + 1000,
               duration_ms=5)
    traces.append(long)
    return traces


def _brute(rows: list[dict], limit: int, **match) -> list[str]:
    """The newest `limit` traces with a span matching `match`, straight from the span rows."""
    by: dict[str, list[dict]] = {}
    for r in rows:
        by.setdefault(r["trace_id"], []).append(r)
    hit = [(min(s["start_ns"] for s in spans), tid) for tid, spans in by.items()
           if any(all(s[k] == v for k, v in match.items()) for s in spans)]
    return [tid for _, tid in sorted(hit, key=lambda x: (-x[0], x[1]))[:limit]]


@pytest.mark.parametrize("backend", ["duckdb", "chdb"])
def test_traces_newest_first_equals_full_grouping(tmp_path, backend):
    if backend == "chdb":
        import chdb  # noqa: F401
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps(traces_request(_traces())) + "\n")
    url = f"duckdb:{tmp_path / 'q.duckdb'}" if backend == "duckdb" else f"chdb:{tmp_path / 'q-ch'}"
    ip = Interplay(open_store(url))
    try:
        ip.ingest_file(path)
        rows = ip.store.query("SELECT trace_id, service, status_code, start_ns FROM spans")
        for limit, filters, match in [
            (5, {}, {}),                                   # inside the sparse tail: widens several times
            (12, {}, {}),                                  # reaches back into the dense hour
            (3, {"service": "payments"}, {"service": "payments"}),
            (4, {"errors_only": True}, {"status_code": "ERROR"}),
            (10_000, {}, {}),                              # more than there are: everything
        ]:
            got = [t.trace_id for t in queries.traces(ip.store, limit=limit, **filters)]
            assert got == _brute(rows, limit, **match), (limit, filters)
        # the long trace began at T0+30min: it sorts there, not among the newest
        newest = queries.traces(ip.store, limit=12)
        assert all(t.root_service != "batch" for t in newest)
        assert any(t.root_service == "batch"
                   for t in queries.traces(ip.store, service="payments", limit=10_000))
        assert queries.traces(ip.store, service="nobody") == []
    finally:
        ip.close()
