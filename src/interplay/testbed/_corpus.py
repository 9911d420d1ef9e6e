"""A corpus of small simulated cases with ground truth: the accuracy benchmark's input."""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from ._faults import export_mode, scenario_name
from ._simulate import simulate
from ._topology import CLASSIC_FAULTS, DEFAULT_TOPOLOGIES, check_fault, get_topology

DEFAULT_SEEDS = (0, 1, 2)


def simulate_corpus(out_dir: Path | str, seeds=DEFAULT_SEEDS, topologies=None, faults=None,
                    duration_s: float = 1200, rate_per_s: float = 1.5, workers: int | None = None,
                    compress: bool = True, bare=(False,), bare_duration_s: float = 480,
                    bare_rate_per_s: float = 0.7, exports=None, late=(False,)) -> list[dict]:
    """Simulate every (topology, applicable fault, export mode, late or not, seed) case into `out_dir`;
    return their truths.

    `topologies` defaults to DEFAULT_TOPOLOGIES (shop and agentic; name "travel" for the holdout).
    `faults` defaults to CLASSIC_FAULTS (the 48-case benchmark corpus); pass NEW_FAULTS or FAULTS for
    more. `exports` lists the export modes ("normal", "bare", "codes"; see `simulate`); without it,
    `bare` does: (False,) normal, (True,) bare, (False, True) both. Bare cases run `bare_duration_s`
    at `bare_rate_per_s` with the fault 60-120 s in; normal and codes cases `duration_s` at
    `rate_per_s`. `late` lists (False,), (True,) or both: late cases start their traces 0-10 s before
    the onset (metrics still cover the whole duration). Each case is
    `<topology>-<fault>[-bare|-codes][-late]-s<seed>.jsonl[.gz]` with its `.changes.jsonl` and
    `.truth.json`; `index.json` lists all truths.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    bare = (bare,) if isinstance(bare, bool) else tuple(bare)
    exports = (exports,) if isinstance(exports, str) else tuple(exports or ())
    modes = tuple(export_mode(e) for e in exports) or tuple(export_mode(None, b) for b in bare)
    late = (late,) if isinstance(late, bool) else tuple(late)
    jobs = []
    for name in topologies or DEFAULT_TOPOLOGIES:
        topo = get_topology(name)
        for fault in faults or [f for f in topo.faults if f in CLASSIC_FAULTS]:
            if faults and fault not in topo.targets:
                continue
            check_fault(topo, fault)
            for export in modes:
                for is_late in late:
                    for seed in seeds:
                        suffix = ".jsonl.gz" if compress else ".jsonl"
                        path = str(out_dir / f"{scenario_name(name, fault, seed, export, is_late)}{suffix}")
                        light = export == "bare"
                        jobs.append((name, fault, seed, path, bare_duration_s if light else duration_s,
                                     bare_rate_per_s if light else rate_per_s, export, is_late))
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
    name, fault, seed, out, duration_s, rate, export, late = job
    return simulate(name, fault, seed, out, duration_s=duration_s, rate_per_s=rate, export=export, late=late)
