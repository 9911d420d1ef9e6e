"""A small slice of the accuracy corpus in CI: seeds the benchmark does not use, every fault once.

The full benchmark (bench/accuracy.py, 40+ cases) reports AC@k; this guards against regressions
on cases the method was never tuned on.
"""
from __future__ import annotations

import pytest

from interplay.api import Interplay
from interplay.testbed import CLASSIC_FAULTS, TOPOLOGIES, simulate_corpus

pytestmark = pytest.mark.integration
SEED = 11  # the benchmark corpus uses seeds 0-2


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    return out, simulate_corpus(out, seeds=(SEED,), duration_s=900, rate_per_s=1.5, compress=False)


def test_corpus_covers_every_topology_and_fault(corpus):
    _, cases = corpus
    assert {c["topology"] for c in cases} == set(TOPOLOGIES)
    assert {c["fault"] for c in cases} == set(CLASSIC_FAULTS)


def test_root_cause_in_top_3_for_every_case_and_first_for_most(corpus):
    out, cases = corpus
    ranks = {}
    for case in cases:
        ip = Interplay.open(":memory:")
        otlp = out / case["files"]["otlp"]
        ip.ingest_file(otlp)
        ip.ingest_file(out / case["files"]["changes"])
        services = [c["service"] for c in ip.investigate()["root_causes"]]
        ip.close()
        ranks[case["scenario"]] = services.index(case["service"]) + 1 if case["service"] in services else None
    top3 = [name for name, rank in ranks.items() if rank is not None and rank <= 3]
    first = [name for name, rank in ranks.items() if rank == 1]
    assert len(top3) == len(ranks), ranks
    assert len(first) >= 0.85 * len(ranks), ranks
