"""A corpus of small simulated cases with ground truth: the accuracy benchmark's input."""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from ._simulate import simulate
from ._topology import TOPOLOGIES, check_fault, get_topology

DEFAULT_SEEDS = (0, 1, 2)


def simulate_corpus(out_dir: Path | str, seeds=DEFAULT_SEEDS, topologies=None, faults=None,
                    duration_s: float = 1200, rate_per_s: float = 1.5, workers: int | None = None,
                    compress: bool = True) -> list[dict]:
    """Simulate every (topology, applicable fault, seed) case into `out_dir`; return their truths.

    Each case is `<topology>-<fault>-s<seed>.jsonl[.gz]` with its `.changes.jsonl` and `.truth.json`;
    `index.json` lists all truths.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = []
    for name in topologies or TOPOLOGIES:
        topo = get_topology(name)
        for fault in faults or topo.faults:
            if faults and fault not in topo.targets:
                continue
            check_fault(topo, fault)
            for seed in seeds:
                suffix = ".jsonl.gz" if compress else ".jsonl"
                jobs.append((name, fault, seed, str(out_dir / f"{name}-{fault}-s{seed}{suffix}"),
                             duration_s, rate_per_s))
    began = time.perf_counter()
    workers = workers or min(len(jobs), os.cpu_count() or 1) or 1
    if workers == 1:
        truths = [_case(job) for job in jobs]
    else:
        with ProcessPoolExecutor(workers) as pool:
            truths = list(pool.map(_case, jobs))
    index = {"cases": truths, "seconds": round(time.perf_counter() - began, 2),
             "spans": sum(t["spans"] for t in truths)}
    (out_dir / "index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    return truths


def _case(job) -> dict:
    name, fault, seed, out, duration_s, rate = job
    return simulate(name, fault, seed, out, duration_s=duration_s, rate_per_s=rate)
