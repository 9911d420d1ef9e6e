"""Root-cause accuracy over a corpus of simulated cases: AC@1, AC@3, AC@5, Avg@5.

    python bench/accuracy.py [CORPUS_DIR] [--workers N] [--make]

Reads CORPUS_DIR/index.json (from `interplay.testbed.simulate_corpus`; --make builds it first),
ingests each case into an in-memory store, investigates with no symptom and no time, and scores
the ranked services against the recorded truth. Prints overall, per fault and per topology, next
to a naive baseline (the service with the most error spans in the incident window).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def run_case(truth_path: str) -> dict:
    from interplay.api import Interplay
    truth = json.loads(Path(truth_path).read_text())
    base = Path(truth_path).parent
    ip = Interplay.open(":memory:")
    ip.ingest_file(base / truth["files"]["otlp"])
    changes = base / truth["files"]["changes"]
    if changes.exists() and changes.stat().st_size:
        ip.ingest_file(changes)
    began = time.perf_counter()
    result = ip.investigate()
    seconds = time.perf_counter() - began
    ranked = [c["service"] for c in result["root_causes"]]
    onset = result["onset"]
    naive = ip.store.query("""SELECT service, count(*) AS n FROM spans
                              WHERE status_code = 'ERROR' AND start_ns >= ? GROUP BY service
                              ORDER BY n DESC, service LIMIT 5""",
                           [result["windows"]["incident"]["since_ns"]])
    ip.close()
    return {"scenario": truth["scenario"], "fault": truth["fault"], "topology": truth["topology"],
            "truth": truth["service"], "ranked": ranked, "naive": [r["service"] for r in naive],
            "onset": onset, "injected_at": truth["injected_at"], "seconds": round(seconds, 3)}


def ac(results: list[dict], k: int, key: str = "ranked") -> float:
    return sum(r["truth"] in r[key][:k] for r in results) / max(len(results), 1)


def summary(results: list[dict], key: str = "ranked") -> dict:
    acs = {f"AC@{k}": round(ac(results, k, key), 3) for k in (1, 2, 3, 4, 5)}
    return {"n": len(results), "AC@1": acs["AC@1"], "AC@3": acs["AC@3"], "AC@5": acs["AC@5"],
            "Avg@5": round(sum(acs.values()) / 5, 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus", nargs="?", default="/tmp/interplay-corpus")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--make", action="store_true", help="simulate the corpus first")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    corpus = Path(args.corpus)
    if args.make or not (corpus / "index.json").exists():
        from interplay.testbed import simulate_corpus
        simulate_corpus(corpus, compress=False)
    truths = sorted(str(p) for p in corpus.glob("*.truth.json"))
    with ProcessPoolExecutor(args.workers) as pool:
        results = list(pool.map(run_case, truths))
    report = {"overall": summary(results), "naive": summary(results, "naive"),
              "per_fault": {}, "per_topology": {}, "cases": results}
    for field, out in (("fault", report["per_fault"]), ("topology", report["per_topology"])):
        groups = defaultdict(list)
        for r in results:
            groups[r[field]].append(r)
        for name, rs in sorted(groups.items()):
            out[name] = {"interplay": summary(rs), "naive": summary(rs, "naive")}
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        return
    print(f"{'':24} {'n':>3} {'AC@1':>6} {'AC@3':>6} {'AC@5':>6} {'Avg@5':>6}   naive AC@1 AC@3")
    def line(name, s, n):
        print(f"{name:24} {s['n']:>3} {s['AC@1']:>6} {s['AC@3']:>6} {s['AC@5']:>6} {s['Avg@5']:>6}"
              f"   {n['AC@1']:>10} {n['AC@3']:>4}")
    line("overall", report["overall"], report["naive"])
    for name, v in report["per_fault"].items():
        line(f"fault {name}", v["interplay"], v["naive"])
    for name, v in report["per_topology"].items():
        line(f"topology {name}", v["interplay"], v["naive"])
    misses = [r for r in results if r["truth"] not in r["ranked"][:1]]
    for r in misses:
        print(f"  miss {r['scenario']}: truth {r['truth']}, ranked {r['ranked'][:5]}, onset {r['onset']}"
              f" (injected {r['injected_at']})")
    print(f"mean investigate time {sum(r['seconds'] for r in results) / len(results):.2f} s")


if __name__ == "__main__":
    main()
