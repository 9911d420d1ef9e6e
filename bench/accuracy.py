"""Root-cause accuracy over a corpus of simulated cases: AC@1, AC@3, AC@5, Avg@5.

    python bench/accuracy.py [CORPUS_DIR] [--workers N] [--make] [--baselines [--baseline-methods M,...]]

Reads CORPUS_DIR/index.json (from `interplay.testbed.simulate_corpus`; --make builds it first),
ingests each case into an in-memory store, investigates with no symptom and no time, and scores
the ranked services against the recorded truth. Prints overall, per fault and per topology, next
to a naive baseline (the service with the most error spans in the incident window).

--baselines also runs RCAEval's methods (BARO, NSigma, CIRCA, PC-PageRank, ... ; DESIGN.md's
anchors) on the same cases in the same run: each case's spans and metrics become an RCAEval metrics
CSV (bench/rcaeval_baselines.py), which the runner scores inside its own venv (made by
bench/rcaeval_setup.sh: RCAEval pins numpy<2 and wants torch, so never the project's venv). Their
rows follow Interplay's in each group of the table; a method that crashes on a case counts as a miss.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RCAEVAL_PYTHON = BENCH / ".venv-rcaeval" / "bin" / "python"


def run_case(truth_path: str, csv_dir: str | None = None) -> dict:
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
    export = None
    if csv_dir:  # the same case as an RCAEval metrics CSV, for the baselines
        sys.path.insert(0, str(BENCH))
        from rcaeval_baselines import export_metrics
        export = export_metrics(ip, truth, Path(csv_dir) / f"{truth['scenario']}.csv")
    ip.close()
    out = {"scenario": truth["scenario"], "fault": truth["fault"], "topology": truth["topology"],
           "truth": truth["service"], "ranked": ranked, "naive": [r["service"] for r in naive],
           "onset": onset, "injected_at": truth["injected_at"], "seconds": round(seconds, 3)}
    if export:
        out["rcaeval_csv"] = export
    return out


def ac(results: list[dict], k: int, key: str = "ranked") -> float:
    return sum(r["truth"] in r[key][:k] for r in results) / max(len(results), 1)


def summary(results: list[dict], key: str = "ranked") -> dict:
    acs = {f"AC@{k}": round(ac(results, k, key), 3) for k in (1, 2, 3, 4, 5)}
    return {"n": len(results), "AC@1": acs["AC@1"], "AC@3": acs["AC@3"], "AC@5": acs["AC@5"],
            "Avg@5": round(sum(acs.values()) / 5, 3)}


def run_baselines(results: list[dict], csv_dir: str, python: Path, methods: str | None,
                  timeout: float) -> dict:
    """Score every exported case with the RCAEval methods in one runner process; fill
    r["baselines"][method] = {"ranked", "error", "seconds"} and return the runner's header."""
    manifest = [{"case": r["scenario"], **r.pop("rcaeval_csv")} for r in results]
    (Path(csv_dir) / "manifest.json").write_text(json.dumps(manifest))
    out = Path(csv_dir) / "baselines.json"
    cmd = [str(python), str(BENCH / "rcaeval_baselines.py"), str(Path(csv_dir) / "manifest.json"),
           str(out), "--timeout", str(timeout)] + (["--methods", methods] if methods else [])
    began = time.perf_counter()
    done = subprocess.run(cmd, stdout=sys.stderr)  # progress on stderr; stdout stays the report's
    if done.returncode or not out.exists():
        return {"error": f"runner exited {done.returncode}: {' '.join(cmd)}"}
    ran = json.loads(out.read_text())
    for r in results:
        per = ran["results"].get(r["scenario"], {})
        r["baselines"] = {m: {"ranked": per[m]["services"] if m in per else [],
                              "error": per[m]["error"] if m in per else "not run",
                              "seconds": per[m]["seconds"] if m in per else 0.0}
                          for m in ran["methods"]}
    return {"versions": ran["versions"], "methods": ran["methods"], "labels": ran["labels"],
            "unavailable": ran["unavailable"],
            "wall_seconds": round(time.perf_counter() - began, 1)}


def baseline_view(results: list[dict], method: str) -> list[dict]:
    return [{"truth": r["truth"], "ranked": r["baselines"][method]["ranked"]} for r in results]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus", nargs="?", default="/tmp/interplay-corpus")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--make", action="store_true", help="simulate the corpus first")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--baselines", action="store_true",
                        help="also run RCAEval's methods on the same cases (bench/rcaeval_setup.sh)")
    parser.add_argument("--baseline-methods", default=None,
                        help="comma-separated RCAEval methods (default: the runner's DEFAULT_METHODS)")
    parser.add_argument("--baseline-timeout", type=float, default=120.0,
                        help="seconds per method per case; past it the case is a miss")
    parser.add_argument("--rcaeval-python", default=os.environ.get("RCAEVAL_PYTHON", str(RCAEVAL_PYTHON)),
                        help="the python of the RCAEval venv")
    parser.add_argument("--csv-dir", default=None, help="keep the exported RCAEval CSVs here")
    args = parser.parse_args()
    corpus = Path(args.corpus)
    if args.make or not (corpus / "index.json").exists():
        from interplay.testbed import simulate_corpus
        simulate_corpus(corpus, compress=False)
    truths = sorted(str(p) for p in corpus.glob("*.truth.json"))
    python = Path(args.rcaeval_python)
    baseline_note = None
    if args.baselines and not python.exists():
        baseline_note = (f"RCAEval baselines not run: no RCAEval venv at {python}; "
                         f"create it with `bash bench/rcaeval_setup.sh` (or pass --rcaeval-python)")
    temp = None
    csv_dir = None
    if args.baselines and baseline_note is None:
        if args.csv_dir:
            csv_dir = args.csv_dir
            Path(csv_dir).mkdir(parents=True, exist_ok=True)
        else:
            temp = tempfile.TemporaryDirectory(prefix="rcaeval-csv-")
            csv_dir = temp.name
    with ProcessPoolExecutor(args.workers) as pool:
        results = list(pool.map(partial(run_case, csv_dir=csv_dir), truths))
    baseline_run = None
    if csv_dir:
        baseline_run = run_baselines(results, csv_dir, python, args.baseline_methods,
                                     args.baseline_timeout)
        if "error" in baseline_run:
            baseline_note = f"RCAEval baselines failed: {baseline_run['error']}"
            baseline_run = None
        if temp:
            temp.cleanup()
    methods = baseline_run["methods"] if baseline_run else []
    report = {"overall": summary(results), "naive": summary(results, "naive"),
              "per_fault": {}, "per_topology": {}, "cases": results}
    if baseline_run:
        report["baselines"] = {**baseline_run, "overall": {}}
        for m in methods:
            report["baselines"]["overall"][m] = {
                **summary(baseline_view(results, m)),
                "crashed": sum(bool(r["baselines"][m]["error"]) for r in results),
                "mean_seconds": round(sum(r["baselines"][m]["seconds"] for r in results)
                                      / max(len(results), 1), 3)}
    elif baseline_note:
        report["baselines"] = {"error": baseline_note}
    for field, out in (("fault", report["per_fault"]), ("topology", report["per_topology"])):
        groups = defaultdict(list)
        for r in results:
            groups[r[field]].append(r)
        for name, rs in sorted(groups.items()):
            out[name] = {"interplay": summary(rs), "naive": summary(rs, "naive")}
            for m in methods:
                out[name][m] = summary(baseline_view(rs, m))
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        return
    print(f"{'':24} {'n':>3} {'AC@1':>6} {'AC@3':>6} {'AC@5':>6} {'Avg@5':>6}   naive AC@1 AC@3")
    def line(name, s, n):
        print(f"{name:24} {s['n']:>3} {s['AC@1']:>6} {s['AC@3']:>6} {s['AC@5']:>6} {s['Avg@5']:>6}"
              f"   {n['AC@1']:>10} {n['AC@3']:>4}")
    def baseline_lines(group):  # RCAEval's methods on the same cases, under Interplay's row
        for m in methods:
            s = group[m] if m in group else summary(baseline_view(results, m))
            print(f"{'  ' + baseline_run['labels'][m]:24} {s['n']:>3} {s['AC@1']:>6} {s['AC@3']:>6} {s['AC@5']:>6}"
                  f" {s['Avg@5']:>6}")
    line("overall", report["overall"], report["naive"])
    baseline_lines({})
    for name, v in report["per_fault"].items():
        line(f"fault {name}", v["interplay"], v["naive"])
        baseline_lines(v)
    for name, v in report["per_topology"].items():
        line(f"topology {name}", v["interplay"], v["naive"])
        baseline_lines(v)
    misses = [r for r in results if r["truth"] not in r["ranked"][:1]]
    for r in misses:
        print(f"  miss {r['scenario']}: truth {r['truth']}, ranked {r['ranked'][:5]}, onset {r['onset']}"
              f" (injected {r['injected_at']})")
    print(f"mean investigate time {sum(r['seconds'] for r in results) / len(results):.2f} s")
    if baseline_run:
        v = baseline_run["versions"]
        print(f"rcaeval baselines: RCAEval {v.get('RCAEval', '?')} (numpy {v.get('numpy', '?')}, "
              f"torch {v.get('torch', 'none')}), on 10 s bucketed rate/err/p90 latency per service "
              f"and resource + gauges; runner wall {baseline_run['wall_seconds']} s")
        for m, s in report["baselines"]["overall"].items():
            errors = sorted({r["baselines"][m]["error"] for r in results if r["baselines"][m]["error"]})
            print(f"  {baseline_run['labels'][m]}: crashed on {s['crashed']}/{s['n']} cases (counted as misses), "
                  f"mean {s['mean_seconds']:.2f} s/case" + (f"; e.g. {errors[0]}" if errors else ""))
        for m, why in baseline_run["unavailable"].items():
            print(f"  {m}: not available ({why})")
    elif baseline_note:
        print(baseline_note)


if __name__ == "__main__":
    main()
