"""Root-cause accuracy over a corpus of simulated cases: AC@1, AC@3, AC@5, Avg@5.

    python bench/accuracy.py [CORPUS_DIR] [--workers N] [--make] [--guided] [--baselines [--baseline-methods M,...]]
    python bench/accuracy.py --real ../shared/realdata/nezha-ob [--baselines]

Reads CORPUS_DIR/index.json (from `interplay.testbed.simulate_corpus`; --make builds it first),
ingests each case into an in-memory store, investigates with no symptom and no time, and scores
the ranked services against the recorded truth. Prints overall, per fault, per topology and per
export mode (normal, bare, codes, each maybe -late: see bench/corpus.py), next to a naive baseline
(the service with the most error spans in the incident window); with more than one mode in the
corpus, also per fault and mode. --guided investigates each case a second time with the symptom
an alert would name and the injected time (the truth's), and prints those rows beside the blind ones.

--baselines also runs RCAEval's methods (BARO, NSigma, CIRCA, PC-PageRank, ... ; DESIGN.md's
anchors) on the same cases in the same run: each case's spans and metrics become an RCAEval metrics
CSV (bench/rcaeval_baselines.py), which the runner scores inside its own venv (made by
bench/rcaeval_setup.sh: RCAEval pins numpy<2 and wants torch, so never the project's venv). Their
rows follow Interplay's in each group of the table; a method that crashes on a case counts as a miss.

--real DIR scores recorded incidents instead: each folder under DIR holds `traces.jsonl.gz`,
`metrics.csv` (RCAEval layout, ingested beside the traces) and `truth.json` (`root_cause_service`,
`fault`, `inject_time`). Every case is investigated twice, blind and with --at set to the
injection time; the RCAEval methods (with --baselines) read the case's own metrics.csv.
"""
from __future__ import annotations

import argparse
import json
import math
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


def case_mode(truth: dict) -> str:
    """normal | bare | codes, with -late when the traces start at the onset (older truths: the bare flag)."""
    mode = truth.get("export") or ("bare" if truth.get("bare") else "normal")
    return mode + ("-late" if truth.get("late") else "")


def run_case(truth_path: str, csv_dir: str | None = None, guided: bool = False) -> dict:
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
    ranked = [c.service for c in result.root_causes]
    onset = result.onset
    ranked_at = None
    if guided:  # told the symptom an alert would name and the injected time
        from interplay.timeutil import parse_time_ns
        at = parse_time_ns(truth["injected_at"], where="truth injected_at") if truth["injected_at"] else None
        ranked_at = [c.service for c in ip.investigate(symptom=truth["symptom"], at_ns=at).root_causes]
    naive = ip.store.query("""SELECT service, count(*) AS n FROM spans
                              WHERE status_code = 'ERROR' AND start_ns >= ? GROUP BY service
                              ORDER BY n DESC, service LIMIT 5""",
                           [result.windows.incident.since_ns])
    export = None
    if csv_dir:  # the same case as an RCAEval metrics CSV, for the baselines
        sys.path.insert(0, str(BENCH))
        from rcaeval_baselines import export_metrics
        export = export_metrics(ip, truth, Path(csv_dir) / f"{truth['scenario']}.csv")
    ip.close()
    out = {"scenario": truth["scenario"], "fault": truth["fault"], "topology": truth["topology"],
           "truth": truth["service"], "ranked": ranked, "naive": [r["service"] for r in naive],
           "onset": onset, "injected_at": truth["injected_at"], "seconds": round(seconds, 3),
           "mode": case_mode(truth)}
    if ranked_at is not None:
        out["ranked_at"] = ranked_at
    if export:
        out["rcaeval_csv"] = export
    return out


def run_real_case(case_dir: str, csv_dir: str | None = None) -> dict:
    """One recorded incident, investigated blind and at its injection time."""
    from interplay.api import Interplay
    from interplay.metrics_csv import ingest_rcaeval_csv
    from interplay.timeutil import parse_time_ns
    base = Path(case_dir)
    truth = json.loads((base / "truth.json").read_text())
    ip = Interplay.open(":memory:")
    ip.ingest_file(base / "traces.jsonl.gz")
    if (base / "metrics.csv").exists():
        ingest_rcaeval_csv(ip, base / "metrics.csv")
    at_ns = parse_time_ns(truth["inject_time"], where="truth.json inject_time")
    out = {"scenario": base.name, "fault": truth["fault"], "topology": truth.get("system", base.parent.name),
           "truth": truth["root_cause_service"], "injected_at": truth["inject_time"]}
    for key, at in (("ranked", None), ("ranked_at", at_ns)):
        began = time.perf_counter()
        result = ip.investigate(at_ns=at)
        out["seconds" if at is None else "seconds_at"] = round(time.perf_counter() - began, 3)
        out[key] = [c.service for c in result.root_causes]
        out["chain" if at is None else "chain_at"] = [h.service for h in result.root_causes[0].chain] \
            if result.root_causes else []
        if at is None:
            out["onset"] = result.onset
    # naive: the service with the most error spans after the injection (no status here: often empty)
    out["naive"] = [r["service"] for r in ip.store.query(
        """SELECT service, count(*) AS n FROM spans WHERE status_code = 'ERROR' AND start_ns >= ?
           GROUP BY service ORDER BY n DESC, service LIMIT 5""", [at_ns])]
    ip.close()
    if csv_dir and (base / "metrics.csv").exists():
        out["rcaeval_csv"] = {"csv": str(base / "metrics.csv"), "inject_time": at_ns // 10**9,
                              "sli": "frontend_latency-90" if truth.get("system") == "OnlineBoutique" else None}
    return out


def _rank_of(truth: str, ranked: list[str]) -> int | float:
    """1-based rank of the truth in a ranking; infinity where it is not ranked."""
    return ranked.index(truth) + 1 if truth in ranked else math.inf


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
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    parser.add_argument("--real", default=None, metavar="DIR",
                        help="score the recorded incidents under DIR (blind and at the injection time)")
    parser.add_argument("--guided", action="store_true",
                        help="simulated cases: also investigate with the truth's symptom and injected time")
    args = parser.parse_args()
    two = bool(args.real or args.guided)  # a second ranking per case: "ranked_at"
    told = "--at" if args.real else "guided"
    corpus = Path(args.corpus)
    if args.real:
        truths = sorted(str(p.parent) for p in Path(args.real).glob("*/truth.json"))
        case_runner = run_real_case
    else:
        if args.make or not (corpus / "index.json").exists():
            from interplay.testbed import simulate_corpus
            simulate_corpus(corpus, compress=False)
        truths = sorted(str(p) for p in corpus.glob("*.truth.json"))
        case_runner = partial(run_case, guided=args.guided)
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
        results = list(pool.map(partial(case_runner, csv_dir=csv_dir), truths))
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
              **({"overall_at": summary(results, "ranked_at")} if two else {}),
              "per_fault": {}, "per_topology": {}, "per_mode": {}, "per_fault_mode": {}, "cases": results}
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
    several_modes = len({r.get("mode") for r in results}) > 1
    for field, out in (("fault", report["per_fault"]), ("topology", report["per_topology"]),
                       ("mode", report["per_mode"]), ("fault mode", report["per_fault_mode"])):
        if field == "fault mode" and not several_modes or field == "mode" and args.real:
            continue
        groups = defaultdict(list)
        for r in results:
            groups[" ".join(str(r.get(f)) for f in field.split())].append(r)
        for name, rs in sorted(groups.items()):
            out[name] = {"interplay": summary(rs), "naive": summary(rs, "naive")}
            if two:
                out[name]["interplay_at"] = summary(rs, "ranked_at")
            for m in methods:
                out[name][m] = summary(baseline_view(rs, m))
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        return
    print(f"{'':44} {'n':>3} {'AC@1':>6} {'AC@3':>6} {'AC@5':>6} {'Avg@5':>6}   naive AC@1 AC@3")
    def line(name, s, n):
        print(f"{name:44} {s['n']:>3} {s['AC@1']:>6} {s['AC@3']:>6} {s['AC@5']:>6} {s['Avg@5']:>6}"
              f"   {n['AC@1']:>10} {n['AC@3']:>4}")
    def baseline_lines(group):  # RCAEval's methods on the same cases, under Interplay's row
        for m in methods:
            s = group[m] if m in group else summary(baseline_view(results, m))
            print(f"{'  ' + baseline_run['labels'][m]:44} {s['n']:>3} {s['AC@1']:>6} {s['AC@3']:>6} {s['AC@5']:>6}"
                  f" {s['Avg@5']:>6}")
    line("overall" + (" blind" if two else ""), report["overall"], report["naive"])
    if two:
        line(f"overall {told}", report["overall_at"], report["naive"])
    baseline_lines({})
    groups = [("fault", report["per_fault"]), ("topology", report["per_topology"])]
    if several_modes:
        groups += [("mode", report["per_mode"]), ("", report["per_fault_mode"])]
    for label, group in groups:
        for name, v in group.items():
            line(f"{label} {name}".strip() + (" blind" if two else ""), v["interplay"], v["naive"])
            if two:
                line(f"{label} {name} {told}".strip(), v["interplay_at"], v["naive"])
            baseline_lines(v)
    for key in ("ranked", "ranked_at") if two else ("ranked",):
        for r in (r for r in results if r["truth"] not in r[key][:1]):
            print(f"  miss{' ' + told if key == 'ranked_at' else ''} {r['scenario']}: truth {r['truth']}, "
                  f"ranked {r[key][:5]}, onset {r['onset']} (injected {r['injected_at']})")
    if two:  # more information should never hurt: cases whose truth ranks lower when told
        worse = [r for r in results if _rank_of(r["truth"], r["ranked_at"]) > _rank_of(r["truth"], r["ranked"])]
        print(f"ranked worse {told} than blind: {len(worse)} of {len(results)}")
        for r in worse:
            print(f"  worse {told} {r['scenario']}: truth {r['truth']} at rank {_rank_of(r['truth'], r['ranked'])} "
                  f"blind, {_rank_of(r['truth'], r['ranked_at'])} {told}")
    if args.real:
        for r in results:
            print(f"  chain {r['scenario']}: {' <- '.join(r['chain']) or '-'}")
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
