"""Investigations of a store holding metrics and no spans (an RCAEval-layout CSV), ingested for real.

Short one-minute series as recorded incidents have them: a few baseline points, then the fault."""
from __future__ import annotations

import random

from interplay.api import Interplay
from interplay.metrics_csv import ingest_rcaeval_csv

T0 = 1_700_000_000  # unix seconds of the first row
STEP = 60
BEFORE, AFTER = 5, 8
ONSET_NS = (T0 + BEFORE * STEP) * 10**9


def _csv(tmp_path, columns: dict[str, list[float]]):
    names = sorted(columns)
    n = len(next(iter(columns.values())))
    lines = ["time," + ",".join(names)]
    lines += [f"{T0 + i * STEP}," + ",".join(f"{columns[c][i]:.6g}" for c in names) for i in range(n)]
    path = tmp_path / "metrics.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _noisy(rng: random.Random, level: float, rel: float, n: int = BEFORE + AFTER) -> list[float]:
    return [level * (1 + rng.uniform(-rel, rel)) for _ in range(n)]


def _shifted(rng: random.Random, level: float, factor: float, rel: float = 0.08) -> list[float]:
    return _noisy(rng, level, rel, BEFORE) + _noisy(rng, level * factor, rel, AFTER)


def _services(rng: random.Random) -> dict[str, list[float]]:
    """Six services with CPU (cores) and p90 latency (s) that wander by a few percent."""
    cols = {}
    for name, cpu, lat in (("frontend", 5.0, 0.8), ("cart", 2.5, 0.005), ("catalog", 8.0, 0.02),
                           ("checkout", 1.6, 0.25), ("currency", 9.0, 0.19), ("shipping", 0.6, 0.005)):
        cols[f"{name}_cpu"] = _noisy(rng, cpu, 0.08)
        cols[f"{name}_latency-90"] = _noisy(rng, lat, 0.08)
    return cols


def _investigate(tmp_path, columns, at_ns: int | None = ONSET_NS):
    ip = Interplay.open(":memory:")
    ingest_rcaeval_csv(ip, _csv(tmp_path, columns))
    result = ip.investigate(at_ns=at_ns)
    ip.close()
    return result


def test_a_near_zero_series_that_happened_to_sit_still_does_not_outrank_a_real_cpu_rise(tmp_path):
    rng = random.Random(7)
    cols = _services(rng)
    # payment idles at 0.04 cores: its baseline sat still by chance, then it wandered as small series do
    cols["payment_cpu"] = [0.041] * BEFORE + [0.076, 0.052, 0.07, 0.045, 0.066, 0.072, 0.05, 0.068]
    cols["payment_latency-90"] = _noisy(rng, 0.0046, 0.02)
    # checkout's own CPU tripled and stayed up, out of a baseline that wandered by a tenth as CPU does
    cols["checkout_cpu"] = [1.6, 1.75, 1.45, 1.7, 1.5] + [4.6, 5.0, 4.8, 4.9, 4.7, 5.1, 4.8, 4.9]
    result = _investigate(tmp_path, cols)
    assert result.method.startswith("metrics")
    top = result.root_causes[0]
    assert top.service == "checkout", [c.summary for c in result.root_causes[:3]]
    shift = top.evidence[0]
    assert shift.type == "metric_shift" and shift.details["metric"] == "cpu" and shift.after > 2 * shift.before
    assert [c.service for c in result.root_causes].index("payment") > 2  # its move is 1% of its peers' CPU


def test_node_wide_series_and_the_front_door_slis_are_no_root_causes(tmp_path):
    rng = random.Random(11)
    cols = _services(rng)
    cols["cart_latency-90"] = _shifted(rng, 0.005, 3.0)  # cart's own requests became slow
    # every pod on cart's machine shares the node's CPU: it jumps six-fold, for all of them alike
    node = _shifted(rng, 12.0, 6.0)
    for name in ("cart", "catalog", "currency"):
        cols[f"{name}_node-cpu-rate"] = node
    # the front door's SLIs (metrics_csv's pseudo-service "entry") are the symptom
    cols["entry_latency-90"] = _shifted(rng, 0.8, 10.0)
    cols["entry_success-rate"] = [100.0] * BEFORE + [60.0, 55.0, 58.0, 61.0, 57.0, 59.0, 56.0, 60.0]
    for at_ns in (ONSET_NS, None):
        result = _investigate(tmp_path, cols, at_ns)
        ranked = [c.service for c in result.root_causes]
        assert ranked[0] == "cart", (at_ns, [c.summary for c in result.root_causes[:3]])
        assert "entry" not in ranked
        assert not any("node" in e.details["metric"] for c in result.root_causes for e in c.evidence)


def test_blind_the_onset_leaves_a_baseline_and_is_dated_by_the_slis(tmp_path):
    rng = random.Random(3)
    cols = _services(rng)
    # three baseline rows only, as in a short recorded incident; one early spike in catalog's latency
    cols = {k: v[BEFORE - 3:] for k, v in cols.items()}
    cols["catalog_latency-90"][1] = 0.2
    cols["shipping_cpu"] = [0.6, 0.62, 0.59] + [1.9, 2.1, 2.0, 1.95, 2.05, 1.9, 2.0, 2.1]
    cols["entry_latency-90"] = [0.8, 0.82, 0.79] + [2.4, 2.5, 2.6, 2.3, 2.5, 2.4, 2.6, 2.5]
    result = _investigate(tmp_path, cols, at_ns=None)
    assert result.onset_source == "detected"
    assert result.windows.incident.since_ns == (T0 + 3 * STEP) * 10**9
    assert result.root_causes and result.root_causes[0].service == "shipping", \
        [c.summary for c in result.root_causes[:3]]


def test_a_store_with_too_few_points_still_answers(tmp_path):
    cols = {"cart_cpu": [1.0, 1.1], "frontend_cpu": [2.0, 2.1]}
    result = _investigate(tmp_path, cols, at_ns=None)
    assert result.method.startswith("metrics") and result.root_causes == []
