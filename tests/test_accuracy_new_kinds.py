"""Accuracy on every simulated fault kind, normal and bare export, blind and guided (issue 17).

One case per (topology, applicable kind, export mode) on a seed the benchmark never uses; each is
investigated blind (no symptom, no time) and guided (the symptom an alert would name, and the
injected time). The issue's targets are AC@1 >= 0.90 and AC@3 >= 0.97 in both modes; the method does
not meet them yet (seed 13: blind 0.76 / 0.85, guided 0.80 / 0.96), so this guards floors just under
what it reaches, and that being told the symptom and the time never makes the answer worse.
The benchmark's own corpus of these kinds: `python bench/corpus.py --kinds all --bare both`.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import pytest

from interplay.api import Interplay
from interplay.model_results import to_json
from interplay.testbed import DEFAULT_TOPOLOGIES, FAULTS, simulate_corpus

pytestmark = [pytest.mark.integration, pytest.mark.timeout(2400)]  # 54 cases, 108 investigations
SEED = 13  # the benchmark corpus uses seeds 0-2; tests/test_accuracy_corpus.py uses 11
TARGET = {"AC@1": 0.90, "AC@3": 0.97}  # the issue's
FLOOR = {"blind": (0.72, 0.83), "guided": (0.75, 0.92)}  # what the method holds today (AC@1, AC@3)


@pytest.fixture(scope="module")
def ranks(tmp_path_factory) -> dict[str, dict]:
    """scenario -> {fault, bare, truth, blind, guided}: the truth's rank (None: not ranked) each way."""
    out = tmp_path_factory.mktemp("corpus-all")
    cases = simulate_corpus(out, seeds=(SEED,), faults=FAULTS, bare=(False, True), duration_s=900,
                            rate_per_s=1.5, compress=False)
    result = {}
    for case in cases:
        ip = Interplay.open(":memory:")
        ip.ingest_file(out / case["files"]["otlp"])
        if (out / case["files"]["changes"]).stat().st_size:
            ip.ingest_file(out / case["files"]["changes"])
        blind = [c["service"] for c in to_json(ip.investigate())["root_causes"]]
        guided = [c["service"] for c in to_json(ip.investigate(symptom=case["symptom"],
                                                       at_ns=_ns(case["injected_at"])))["root_causes"]]
        ip.close()
        result[case["scenario"]] = {"fault": case["fault"], "bare": case["bare"], "truth": case["service"],
                                    "blind": _rank(blind, case["service"]), "guided": _rank(guided, case["service"])}
    return result


def test_covers_every_kind_in_both_export_modes(ranks):
    covered = {(r["fault"], r["bare"]) for r in ranks.values()}
    assert covered == {(f, bare) for f in FAULTS for bare in (False, True)}
    assert {name.split("-")[0] for name in ranks} == set(DEFAULT_TOPOLOGIES)


@pytest.mark.parametrize("mode", ["blind", "guided"])
def test_accuracy(ranks, mode):
    n = len(ranks)
    at1 = sum(r[mode] == 1 for r in ranks.values()) / n
    at3 = sum(r[mode] is not None and r[mode] <= 3 for r in ranks.values()) / n
    ac1, ac3 = FLOOR[mode]
    assert at1 >= ac1 and at3 >= ac3, f"{mode}: AC@1 {at1:.2f}, AC@3 {at3:.2f}\n{_table(ranks, mode)}"


def test_more_information_never_hurts(ranks):
    n = len(ranks)
    blind = sum(r["blind"] == 1 for r in ranks.values()) / n
    guided = sum(r["guided"] == 1 for r in ranks.values()) / n
    assert guided >= blind, f"guided AC@1 {guided:.2f} < blind {blind:.2f}\n{_table(ranks, 'guided')}"


def _table(ranks: dict[str, dict], mode: str) -> str:
    """Misses by kind, for the failure message."""
    by_kind = defaultdict(list)
    for name, r in sorted(ranks.items()):
        if r[mode] != 1:
            by_kind[r["fault"]].append(f"{name} (truth {r['truth']}: rank {r[mode]})")
    return "\n".join(f"  {kind}: {', '.join(misses)}" for kind, misses in sorted(by_kind.items()))


def _rank(ranked: list[str], truth: str) -> int | None:
    return ranked.index(truth) + 1 if truth in ranked else None


def _ns(rfc3339: str) -> int:
    dt = datetime.fromisoformat(rfc3339.replace("Z", "+00:00"))
    return int(dt.timestamp()) * 1_000_000_000 + dt.microsecond * 1000
