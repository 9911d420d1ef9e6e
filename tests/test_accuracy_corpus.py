"""A small slice of the accuracy corpus in CI: seeds the benchmark does not use, every classic fault once,
investigated blind (no symptom, no time) and guided (the symptom an alert would name, and the onset).

The full benchmark (bench/accuracy.py, 40+ cases) reports AC@k; this guards against regressions
on cases the method was never tuned on. The kinds of issue 17 and the bare export are in
tests/test_accuracy_new_kinds.py once the method meets the issue's targets there.
"""
from __future__ import annotations

from datetime import datetime

import pytest

from interplay.api import Interplay
from interplay.model_results import to_json
from interplay.testbed import CLASSIC_FAULTS, DEFAULT_TOPOLOGIES, simulate_corpus

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]  # a corpus and 32 investigations
SEED = 11  # the benchmark corpus uses seeds 0-2


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    return out, simulate_corpus(out, seeds=(SEED,), duration_s=900, rate_per_s=1.5, compress=False)


@pytest.fixture(scope="module")
def ranks(corpus) -> dict[str, dict[str, int | None]]:
    """scenario -> {"blind": rank, "guided": rank} of the true root cause (None: not ranked)."""
    out, cases = corpus
    result = {}
    for case in cases:
        ip = Interplay.open(":memory:")
        ip.ingest_file(out / case["files"]["otlp"])
        ip.ingest_file(out / case["files"]["changes"])
        blind = [c["service"] for c in to_json(ip.investigate())["root_causes"]]
        onset = datetime.fromisoformat(case["injected_at"].replace("Z", "+00:00"))
        guided = [c["service"] for c in to_json(ip.investigate(symptom=case["symptom"],
                                                       at_ns=int(onset.timestamp() * 1e6) * 1000))["root_causes"]]
        ip.close()
        truth = case["service"]
        result[case["scenario"]] = {mode: ranked.index(truth) + 1 if truth in ranked else None
                                    for mode, ranked in (("blind", blind), ("guided", guided))}
    return result


def test_corpus_covers_every_topology_and_fault(corpus):
    _, cases = corpus
    assert {c["topology"] for c in cases} == set(DEFAULT_TOPOLOGIES)
    assert {c["fault"] for c in cases} == set(CLASSIC_FAULTS)


@pytest.mark.parametrize("mode", ["blind", "guided"])
def test_root_cause_in_top_3_for_every_case_and_first_for_most(ranks, mode):
    got = {name: r[mode] for name, r in ranks.items()}
    top3 = [name for name, rank in got.items() if rank is not None and rank <= 3]
    first = [name for name, rank in got.items() if rank == 1]
    assert len(top3) == len(got), got
    assert len(first) >= 0.85 * len(got), got
