"""Telemetry records: a trace tree, traces found, log records and series, as JSON and back."""
from __future__ import annotations

import json

from interplay.api import Interplay
from interplay.model_results import from_json, to_json
from interplay.model_telemetry import Trace, TraceSpan, TraceSummary
from interplay.store.telemetry import build_tree
from interplay.testing import TraceBuilder, traces_request

T0 = 1_767_225_600 * 10**9
SPAN_KEYS = ["span_id", "parent_span_id", "service", "operation", "kind", "start_ns", "end_ns", "duration_ns",
             "status_code", "status_message", "service_version", "scope_name", "scope_version", "trace_state",
             "resource_attributes", "attributes", "events", "links", "children"]


def test_a_trace_tree_writes_the_keys_it_always_did_and_round_trips(tmp_path):
    t = TraceBuilder(T0, seed=1)
    root = t.span("web", "GET /", duration_ms=50)
    root.child("web", "GET /cart", kind="CLIENT", offset_ms=10, duration_ms=20, error=True)
    t.span("cart", "GET /lost", kind="SERVER", parent="00000000000000aa", duration_ms=5)
    path = tmp_path / "t.json"
    path.write_text(json.dumps(traces_request([t])))
    ip = Interplay.open(":memory:")
    ip.ingest_file(path)
    tree = ip.trace(t.trace_id)
    data = to_json(tree)
    # roots say whether their parent is missing; other spans carry no orphan key at all
    assert [list(r) for r in data["roots"]] == [SPAN_KEYS + ["orphan", "self_ns"]] * 2
    assert list(data["roots"][0]["children"][0]) == SPAN_KEYS + ["self_ns"]
    assert [(r.operation, r.orphan) for r in tree.roots] == [("GET /", False), ("GET /lost", True)]
    assert tree.roots[0].self_ns == 30_000_000  # 50 ms less the 20 ms child
    assert from_json(Trace, json.loads(json.dumps(data))) == tree
    (found,) = ip.traces()
    assert isinstance(found, TraceSummary) and (found.spans, found.errors, found.complete) == (3, 1, True)


def test_a_deep_trace_nests_without_recursion():
    rows = [{"span_id": f"{i:016x}", "parent_span_id": f"{i - 1:016x}" if i else None, "service": "s",
             "operation": "op", "kind": "INTERNAL", "start_ns": i, "end_ns": 10_000 - i, "duration_ns": 10_000 - 2 * i,
             "status_code": "UNSET", "status_message": None, "service_version": None, "scope_name": None,
             "scope_version": None, "trace_state": None, "resource_attributes": "{}", "attributes": "{}",
             "events": None, "links": None} for i in range(3000)]
    (root,) = build_tree(rows)
    node: TraceSpan = root
    depth = 1
    while node.children:
        (node,) = node.children
        depth += 1
    assert depth == 3000 and root.self_ns == 2 and node.self_ns == node.duration_ns
