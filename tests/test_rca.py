"""Investigation traps on small hand-built incidents: the answer must be the origin, not the loudest."""
from __future__ import annotations

from interplay.model import TimeRange
from interplay.model_results import to_json
from test_rca_helpers import MIN, ONSET, T0, jitter, load, logs_request, requests


def top(result):
    return [c["service"] for c in result["root_causes"]]


def chain_cart_errors(tb, t, bad, rng):
    """frontend → cart → redis; after the onset cart fails on its own; frontend retries once."""
    root = tb.span("frontend", "GET /cart", duration_ms=jitter(rng, 30))
    attempts = 2 if bad else 1
    for i in range(attempts):
        fail = bad and rng.random() < 0.5
        c = root.child("frontend", "GET /cart", kind="CLIENT", offset_ms=1 + 10 * i, duration_ms=8, error=fail)
        s = c.child("cart", "GET /cart", kind="SERVER", offset_ms=0.5, duration_ms=7,
                    exception="RuntimeError" if fail else None)
        s.child("cart", "GET", kind="CLIENT", offset_ms=1, duration_ms=1, attributes={"db.system": "redis"})
        if not fail:
            break
    root.error = fail  # the failure of the last attempt is passed on


def test_most_errors_upstream_is_not_root(tmp_path):
    ip = load(tmp_path, requests(chain_cart_errors))
    r = to_json(ip.investigate())
    assert top(r)[0] == "cart"
    errors = ip.store.query("SELECT service, count(*) AS n FROM spans WHERE status_code = 'ERROR' "
                            "GROUP BY service ORDER BY n DESC")
    assert errors[0]["service"] == "frontend"  # the trap: the loudest service is upstream
    chain = r["root_causes"][0]["chain"]
    assert chain[0]["service"] == "cart" and chain[-1]["service"] == "frontend"
    assert any(e["type"] == "error_origin" for e in r["root_causes"][0]["evidence"])


def slow_callee(tb, t, bad, rng):
    root = tb.span("frontend", "GET /product", duration_ms=0)
    self_ms = jitter(rng, 300 if bad else 5)
    c = root.child("frontend", "GET /product", kind="CLIENT", offset_ms=2, duration_ms=self_ms + 6)
    s = c.child("catalog", "GET /product", kind="SERVER", offset_ms=0.5, duration_ms=self_ms + 5)
    s.child("catalog", "SELECT products", kind="CLIENT", offset_ms=self_ms, duration_ms=jitter(rng, 4),
            attributes={"db.system": "postgresql", "server.address": "postgres"})
    root.end_ns = c.end_ns + int(2e6)


def test_slow_caller_is_slow_because_of_its_callee(tmp_path):
    ip = load(tmp_path, requests(slow_callee))
    r = to_json(ip.investigate(symptom="frontend"))
    assert top(r)[0] == "catalog"
    ev = [e for e in r["root_causes"][0]["evidence"] if e["type"] == "self_time"]
    assert ev and ev[0]["after"] > 10 * ev[0]["before"]
    assert abs(r["root_causes"][0]["score"]) > 0.5
    # the onset was found without being told
    assert abs(to_json(ip.investigate())["windows"]["incident"]["since_ns"] - ONSET) < 2 * MIN


def fan_out(tb, t, bad, rng):
    """frontend calls a (100 ms) and b (10 ms) concurrently; after the onset b slows to 80 ms, still
    off the critical path, while frontend's own work after the calls grows by 150 ms."""
    root = tb.span("frontend", "GET /", duration_ms=0)
    end = 0.0
    for svc, ms in (("a", 100), ("b", 80 if bad else 10)):
        d = jitter(rng, ms) if svc == "b" else 100
        c = root.child("frontend", f"GET {svc}", kind="CLIENT", offset_ms=1, duration_ms=d + 1)
        c.child(svc, "GET /x", kind="SERVER", offset_ms=0.5, duration_ms=d)
        end = max(end, d + 2)
    own = jitter(rng, 150) if bad else jitter(rng, 2)
    root.end_ns = root.start_ns + int((end + own) * 1e6)


def test_concurrent_fan_out_blames_the_critical_path(tmp_path):
    ip = load(tmp_path, requests(fan_out))
    r = to_json(ip.investigate(symptom="frontend:GET /"))
    ranked = top(r)
    assert ranked[0] == "frontend"
    assert "b" not in ranked[:1]
    b = next((c for c in r["root_causes"] if c["service"] == "b"), None)
    assert b is None or b["score"] < 0.2


def test_deploy_twenty_minutes_before_is_a_decoy(tmp_path):
    changes = [{"time": (ONSET - 20 * MIN) / 1e9, "service": "frontend", "kind": "deploy",
                "description": "deploy frontend 2.0", "version": "2.0"}]
    ip = load(tmp_path, requests(slow_callee), changes=changes)
    r = to_json(ip.investigate())
    assert top(r)[0] == "catalog"
    decoy = [e for c in r["root_causes"] for e in c["evidence"] if e["type"] == "change"]
    assert all(e["weight"] < 0.01 for e in decoy)


def test_close_deploy_is_evidence(tmp_path):
    changes = [{"time": (ONSET - 30 * 10**9) / 1e9, "service": "cart", "kind": "deploy",
                "description": "deploy cart 1.1", "version": "1.1"}]
    ip = load(tmp_path, requests(chain_cart_errors), changes=changes)
    r = to_json(ip.investigate())
    assert top(r)[0] == "cart"
    assert any(e["type"] == "change" and e["weight"] > 0.03 for e in r["root_causes"][0]["evidence"])


def test_orphan_spans_do_not_crash_and_lower_completeness(tmp_path):
    def with_orphans(tb, t, bad, rng):
        slow_callee(tb, t, bad, rng)
        if rng.random() < 0.3:
            tb.span("catalog", "GET /orphan", kind="SERVER", parent="00000000000000ff", duration_ms=3)
    ip = load(tmp_path, requests(with_orphans))
    r = to_json(ip.investigate())
    assert top(r)[0] == "catalog"
    assert r["data_completeness"]["complete_share"] < 0.9


def agent_loop(tb, t, bad, rng):
    """Users call web → inventory; a batch caller ('agent') loops on inventory after the onset,
    and inventory slows under the load."""
    load_factor = 6 if bad else 1
    root = tb.span("web", "GET /item", duration_ms=0)
    d = jitter(rng, 5 * load_factor)
    c = root.child("web", "GET /items", kind="CLIENT", offset_ms=1, duration_ms=d + 1)
    c.child("inventory", "GET /items", kind="SERVER", offset_ms=0.3, duration_ms=d)
    root.end_ns = c.end_ns + int(1e6)
    if rng.random() < 0.5:
        a = tb.span("agent", "invoke_agent", kind="INTERNAL", offset_ms=500, duration_ms=0)
        for i in range(12 if bad else 1):
            ac = a.child("agent", "GET /items", kind="CLIENT", offset_ms=1 + i * 40, duration_ms=d + 1)
            ac.child("inventory", "GET /items", kind="SERVER", offset_ms=0.3, duration_ms=d)
        a.end_ns = ac.end_ns + int(1e6)


def test_load_from_a_looping_caller_is_blamed_on_the_caller(tmp_path):
    ip = load(tmp_path, requests(agent_loop))
    r = to_json(ip.investigate(symptom="web"))
    assert top(r)[0] == "agent"
    assert r["load_moves"] and r["load_moves"][0]["to"] == "agent"
    assert any(e["type"] == "rate_shift" for c in r["root_causes"] for e in c["evidence"])


def saturated(tb, t, bad, rng):
    root = tb.span("web", "GET /a" if rng.random() < 0.5 else "GET /b", duration_ms=0)
    d = jitter(rng, 40 if bad else 4)
    op = "GET /a" if rng.random() < 0.5 else "GET /b"
    c = root.child("web", op, kind="CLIENT", offset_ms=1, duration_ms=d + 1)
    c.child("api", op, kind="SERVER", offset_ms=0.3, duration_ms=d)
    root.end_ns = c.end_ns + int(1e6)


def test_saturation_and_log_templates_and_metrics(tmp_path):
    records = [("api", T0 + i * 10**9, 9, f"served request {i} in {i % 7} ms") for i in range(0, 2400, 7)]
    records += [("api", ONSET + i * 10**9, 17, f"worker pool exhausted: {i % 5} queued, pid 0x{i:x}")
                for i in range(0, 600, 3)]
    ip = load(tmp_path, requests(saturated), logs=logs_request(records))
    metrics = {"resourceMetrics": [{"resource": {"attributes": [{"key": "service.name",
                                                                 "value": {"stringValue": "api"}}]},
               "scopeMetrics": [{"metrics": [{"name": "cpu.utilization", "gauge": {"dataPoints": [
                   {"timeUnixNano": str(T0 + m * MIN), "asDouble": 0.95 if T0 + m * MIN >= ONSET else 0.2 + m % 3 * 0.01}
                   for m in range(40)]}}]}]}]}
    import json
    p = tmp_path / "m.jsonl"
    p.write_text(json.dumps(metrics) + "\n")
    ip.ingest_file(p)
    r = to_json(ip.investigate(symptom="web"))
    assert top(r)[0] == "api"
    types = {e["type"] for e in r["root_causes"][0]["evidence"]}
    assert {"self_time", "saturation", "log_template", "metric_shift"} <= types


def test_given_time_and_window(tmp_path):
    ip = load(tmp_path, requests(slow_callee))
    r = to_json(ip.investigate(symptom="frontend", at_ns=ONSET, window=TimeRange(T0 + 10 * MIN, T0 + 40 * MIN)))
    assert r["onset_source"] == "given"
    assert r["windows"]["baseline"]["since_ns"] == T0 + 10 * MIN
    assert top(r)[0] == "catalog"


def shared_slow_db(tb, t, bad, rng):
    """frontend calls catalog on every request and reports on a few; both query postgres, which slows."""
    root = tb.span("frontend", "GET /page", duration_ms=0)
    end = root.start_ns
    callers = ["catalog"] + (["reports"] if rng.random() < 0.1 else [])
    for i, service in enumerate(callers):
        slower = (3.0 if bad else 0.5) if service == "reports" else 1.0
        db_ms = jitter(rng, 400 if bad else 4) * slower
        c = root.child("frontend", f"GET /{service}", kind="CLIENT", offset_ms=1 + i, duration_ms=db_ms + 4)
        s = c.child(service, f"GET /{service}", kind="SERVER", offset_ms=0.5, duration_ms=db_ms + 3)
        s.child(service, "SELECT items", kind="CLIENT", offset_ms=1, duration_ms=db_ms,
                attributes={"db.system": "postgresql", "server.address": "postgres"})
        end = max(end, c.end_ns)
    root.end_ns = end + int(1e6)


def test_chain_follows_the_caller_the_incident_hurt_most(tmp_path):
    ip = load(tmp_path, requests(shared_slow_db))
    r = to_json(ip.investigate(symptom="frontend"))
    cause = r["root_causes"][0]
    assert cause["service"] == "postgres"
    # reports slowed far more per call (×600 against ×100), but catalog carried most of the harm
    assert [hop["service"] for hop in cause["chain"]] == ["postgres", "catalog", "frontend"]


def test_new_service_version_without_a_change_event_is_evidence(tmp_path):
    """A deploy nobody announced shows as a service.version first seen just before the onset; a
    version that was already running in the baseline is not one."""
    def build(tb, t, bad, rng):
        root = tb.span("frontend", "GET /cart", duration_ms=jitter(rng, 30), version="7.0.0")
        late = t >= ONSET - 2 * MIN  # cart 1.5.0 rolls out two minutes before the errors start
        c = root.child("frontend", "GET /cart", kind="CLIENT", offset_ms=1, duration_ms=8, error=bad)
        c.child("cart", "GET /cart", kind="SERVER", offset_ms=0.5, duration_ms=7, error=bad,
                version="1.5.0" if late else "1.4.0")
        root.error = bad
    r = to_json(load(tmp_path, requests(build)).investigate())
    assert top(r)[0] == "cart"
    seen = [e for c in r["root_causes"] for e in c["evidence"] if e.get("kind") == "version"]
    assert [(e["service"], e["version"]) for e in seen] == [("cart", "1.5.0")]
    assert 1.5 <= seen[0]["minutes_before_onset"] <= 2.5 and seen[0]["weight"] > 0.03


def test_blame_hands_its_shares_to_the_extractors_without_writing_into_the_blame():
    import copy

    from interplay.rca._attribution import Blame, NodeBlame, NodeShare, Period
    from interplay.rca._context import Context
    from interplay.rca._evidence import error_origin
    from interplay.rca._rank import blame_shares
    node = ("cart", "GET /cart", "SERVER")
    blame = Blame(nodes={node: NodeBlame(incident={"error": 30.0}, exemplar="ab" * 16)},
                  units={Period.BASELINE: {"sampled": 100, "error_units": 0, "slow_units": 0},
                         Period.INCIDENT: {"sampled": 100, "error_units": 30, "slow_units": 0}})
    ctx = Context(None, TimeRange(0, 1), TimeRange(1, 2), 1, [], blame=blame)  # type: ignore[arg-type]
    before = copy.deepcopy(blame.nodes)
    services, shares = blame_shares(ctx)
    assert blame.nodes == before  # the hand-off is the returned value, not keys written into the blame
    assert shares.nodes == {node: NodeShare(error=1.0, latency=0.0, exemplar="ab" * 16)}
    assert services["cart"]["error"] == 1.0
    [e] = error_origin(ctx, shares)
    assert (e.service, e.operation, e.weight, e.details["exemplar_trace"]) == ("cart", "GET /cart", 1.0, "ab" * 16)


def test_blame_names_its_periods(tmp_path):
    """The store's 'b' / 'i' rows are read once into named periods: units, each node's weights and its
    self time are the baseline's and the incident's by name, and the slow callee is blamed in the incident."""
    from interplay.rca._attribution import NodeBlame, Period, attribute
    ip = load(tmp_path, requests(slow_callee))
    blame = attribute(ip.store, [{"service": "frontend", "operation": "GET /product", "threshold_ns": 40 * 10**6}],
                      TimeRange(T0, ONSET), TimeRange(ONSET, T0 + 40 * MIN))
    assert set(blame.units) == {Period.BASELINE, Period.INCIDENT}
    assert blame.units[Period.INCIDENT]["anomalous"] > blame.units[Period.BASELINE]["anomalous"]
    node = blame.nodes[("catalog", "GET /product", "SERVER")]
    assert type(node) is NodeBlame and node.exemplar
    assert node.incident["latency"] > 1000 * abs(node.baseline.get("latency", 0.0))  # excess time, ns
    st = blame.self_time[("catalog", "GET /product", "SERVER")]
    assert st[Period.INCIDENT]["p90_self_ms"] > 10 * st[Period.BASELINE]["p90_self_ms"]
    ip.close()
