"""A corpus of small simulated cases with ground truth: the accuracy benchmark's input."""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from ._faults import scenario_name
from ._simulate import simulate
from ._topology import CLASSIC_FAULTS, TOPOLOGIES, check_fault, get_topology

DEFAULT_SEEDS = (0, 1, 2)


def simulate_corpus(out_dir: Path | str, seeds=DEFAULT_SEEDS, topologies=None, faults=None,
                    duration_s: float = 1200, rate_per_s: float = 1.5, workers: int | None = None,
                    compress: bool = True, bare=(False,), bare_duration_s: float = 480,
                    bare_rate_per_s: float = 0.7) -> list[dict]:
    """Simulate every (topology, applicable fault, seed, export mode) case into `out_dir`; return their truths.

    `faults` defaults to CLASSIC_FAULTS (the 48-case benchmark corpus); pass NEW_FAULTS or FAULTS for
    more. `bare` lists the export modes: (False,) normal, (True,) bare, (False, True) both; bare cases
    run `bare_duration_s` at `bare_rate_per_s` with the fault 60-120 s in. Each case is
    `<topology>-<fault>[-bare]-s<seed>.jsonl[.gz]` with its `.changes.jsonl` and `.truth.json`;
    `index.json` lists all truths.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    bare = (bare,) if isinstance(bare, bool) else tuple(bare)
    jobs = []
    for name in topologies or TOPOLOGIES:
        topo = get_topology(name)
        for fault in faults or [f for f in topo.faults if f in CLASSIC_FAULTS]:
            if faults and fault not in topo.targets:
                continue
            check_fault(topo, fault)
            for is_bare in bare:
                for seed in seeds:
                    suffix = ".jsonl.gz" if compress else ".jsonl"
                    path = str(out_dir / f"{scenario_name(name, fault, seed, is_bare)}{suffix}")
                    jobs.append((name, fault, seed, path, bare_duration_s if is_bare else duration_s,
                                 bare_rate_per_s if is_bare else rate_per_s, is_bare))
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
    name, fault, seed, out, duration_s, rate, bare = job
    return simulate(name, fault, seed, out, duration_s=duration_s, rate_per_s=rate, bare=bare)
