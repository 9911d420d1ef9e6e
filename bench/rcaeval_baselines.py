"""RCAEval baselines (BARO, NSigma, CIRCA, PC-PageRank, CausalRCA, ...) on the testbed corpus.

Two halves, for two interpreters:

* `export_metrics(ip, truth, path)` runs in the project venv (bench/accuracy.py calls it with the
  case already ingested): it turns the case's spans and metrics into an RCAEval metrics CSV —
  a `time` column (unix seconds, one row per 10 s bucket) and `<service>_<metric>` columns:
  `rate`, `err`, `latency-50`, `latency-90` (ms) of each service's entry spans (SERVER/CONSUMER
  or roots), the same of the CLIENT/PRODUCER spans to each resource (`postgres`, `redis`, a
  queue ...) as a pseudo-service, and each gauge in the metrics table (cpu, consumer lag ...).
* `main()` runs inside the RCAEval venv (bench/rcaeval_setup.sh), never the project's:

      bench/.venv-rcaeval/bin/python bench/rcaeval_baselines.py MANIFEST.json OUT.json \
          [--methods baro,nsigma,...] [--timeout 120]

  MANIFEST.json lists {"case", "csv", "inject_time", "sli"}; every method runs on every case in
  this one process (torch is imported once), preprocessed as RCAEval's main.py does (inf→NaN,
  ffill, fill 0, drop `_latency-50`, `_latency-90`→`_latency`; then columns that are exact linear
  combinations of earlier ones are dropped, see `drop_dependent`) and called as main.py calls them.
  OUT.json maps case → method → {"ranks", "services", "seconds", "error"}: `services` is the
  ranking mapped to services as RCAEval scores it (prefix before the first `_`, `-db` dropped,
  first occurrence kept). A method that raises or times out gets an `error` and no ranks (a miss):
  RCAEval's own `@rca` wrapper, which hides a failure behind the unranked column order, is
  unwrapped here so that a crash is counted as one.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import time
import traceback

BUCKET_S = 10
# Metric methods of RCAEval 1.8.1 that this runner knows how to call, in report order.
METHODS = ("baro", "nsigma", "circa", "pc_pagerank", "causalrca", "granger_pagerank",
           "lingam_pagerank", "easyrca", "microcause", "run", "rcd")
DEFAULT_METHODS = ("baro", "nsigma", "circa", "pc_pagerank", "granger_pagerank", "lingam_pagerank")
LABELS = {"baro": "BARO", "nsigma": "NSigma", "circa": "CIRCA", "pc_pagerank": "PC-PageRank",
          "causalrca": "CausalRCA", "granger_pagerank": "Granger-PageRank",
          "lingam_pagerank": "LiNGAM-PageRank", "easyrca": "EasyRCA", "microcause": "MicroCause",
          "run": "RUN", "rcd": "RCD"}


# ---------------------------------------------------------------- export (project venv)

def _clean(name: str) -> str:
    """A service name RCAEval can split back off a column: no '_' (the separator), no ','."""
    return name.replace("_", "-").replace(",", "-")


def export_metrics(ip, truth: dict, path) -> dict:
    """Write the RCAEval CSV for an ingested case; return its manifest entry (without `case`)."""
    from datetime import datetime

    from interplay.graph import ENTRY, resource_name

    def unix(s: str) -> float:
        return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()

    t0 = int(unix(truth["start"])) // BUCKET_S * BUCKET_S
    t1 = unix(truth["end"])
    step = BUCKET_S * 1_000_000_000
    n_buckets = int((t1 - t0) // BUCKET_S) + 1
    q = ip.store.query
    stats = f"""count(*) / {BUCKET_S}.0 AS rate,
                avg(CASE WHEN status_code = 'ERROR' THEN 1.0 ELSE 0.0 END) AS err,
                quantile_cont(duration_ns, 0.5) / 1e6 AS p50,
                quantile_cont(duration_ns, 0.9) / 1e6 AS p90"""
    bucket = f"(start_ns - {t0 * 1_000_000_000}) // {step}"
    rows = q(f"SELECT service AS entity, {bucket} AS b, {stats} FROM spans WHERE {ENTRY} GROUP BY ALL")
    services = {r["entity"] for r in rows}
    resources = q(f"""SELECT {resource_name(ip.store.sql)} AS entity, {bucket} AS b, {stats} FROM spans
                      WHERE kind IN ('CLIENT', 'PRODUCER') GROUP BY ALL""")
    rows += [r for r in resources if r["entity"] not in services]
    gauges = q(f"""SELECT service AS entity, name, (time_ns - {t0 * 1_000_000_000}) // {step} AS b,
                          avg(value) AS v
                   FROM metrics WHERE type = 'gauge' AND value IS NOT NULL GROUP BY ALL""")
    columns: dict[str, list] = {}

    def put(col: str, b: int, value) -> None:
        if 0 <= b < n_buckets and value is not None:
            columns.setdefault(col, [None] * n_buckets)[b] = value

    entities = sorted({r["entity"] for r in rows})
    for e in entities:  # every bucket without a call has rate 0; latency/err stay empty (ffilled)
        columns[f"{_clean(e)}_rate"] = [0.0] * n_buckets
    for r in rows:
        e, b = _clean(r["entity"]), int(r["b"])
        put(f"{e}_rate", b, r["rate"])
        put(f"{e}_err", b, r["err"])
        put(f"{e}_latency-50", b, r["p50"])
        put(f"{e}_latency-90", b, r["p90"])
    for r in gauges:
        put(f"{_clean(r['entity'])}_{r['name'].replace('_', '-')}", int(r["b"]), r["v"])
    names = sorted(columns)
    with open(path, "w") as f:
        f.write(",".join(["time"] + names) + "\n")
        for b in range(n_buckets):
            cells = [str(t0 + b * BUCKET_S)]
            for c in names:
                v = columns[c][b]
                cells.append("" if v is None else f"{v:.6g}")
            f.write(",".join(cells) + "\n")
    # The SLI a method may ask for: the latency of the busiest entry service that has roots
    # (the front door), chosen without looking at the truth.
    front = q("""SELECT service, count(*) AS n FROM spans
                  WHERE parent_span_id IS NULL OR parent_span_id = '' GROUP BY service
                  ORDER BY n DESC, service LIMIT 1""")
    sli = f"{_clean(front[0]['service'])}_latency" if front else None
    return {"csv": str(path), "inject_time": int(unix(truth["injected_at"])), "sli": sli,
            "columns": len(names), "rows": n_buckets}


def rcaeval_services(ranks: list[str]) -> list[str]:
    """A ranking of `<service>_<metric>` names as RCAEval scores it: services, first occurrence."""
    out: list[str] = []
    for r in ranks:
        s = str(r).split("_")[0].replace("-db", "")
        if s not in out:
            out.append(s)
    return out


# ---------------------------------------------------------------- runner (RCAEval venv)

class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout()


def _unwrap(func):
    """RCAEval's `@rca` wrapper returns the column order when the method fails: call the method."""
    if func.__name__ == "wrapper" and func.__closure__:
        for cell in func.__closure__:
            inner = cell.cell_contents
            if callable(inner):
                return inner
    return func


def load_method(name: str):
    import importlib
    module = {"nsigma": "RCAEval.e2e", "pc_pagerank": "RCAEval.e2e.pc_pagerank"}.get(
        name, f"RCAEval.e2e.{name}")
    return _unwrap(getattr(importlib.import_module(module), name))


def prepare(csv: str, inject_time: int):
    """The frame as RCAEval's main.py hands it to a method."""
    import numpy as np
    import pandas as pd
    data = pd.read_csv(csv)
    data = data.loc[:, ~data.columns.str.endswith("_latency-50")]
    data = data.replace([np.inf, -np.inf], np.nan).ffill().fillna(0)
    data = data.rename(columns={c: c.replace("_latency-90", "_latency")
                                for c in data.columns if c.endswith("_latency-90")})
    return drop_dependent(data)


def drop_dependent(data):
    """Drop each column that is a linear combination of the columns before it (and constants).

    The simulator's call graph is deterministic, so some request rates are exact sums of others
    (every `web` request calls `auth` once: `web_rate` == `auth_rate`). Such a column adds no
    information, and it makes the correlation matrix singular, which the Fisher-z test of the
    PC-based methods (CIRCA, PC-PageRank) rejects on every case. Real telemetry is rarely exact.
    """
    import numpy as np
    values = data.drop(columns=["time"]).astype(float)
    std = values.std()
    keep, basis = [], np.empty((len(values), 0))
    for col in values.columns:
        if not std[col] > 0:
            keep.append(col)  # constant: RCAEval's preprocess drops it itself
            continue
        z = ((values[col] - values[col].mean()) / std[col]).to_numpy()[:, None]
        trial = np.hstack([basis, z])
        if np.linalg.matrix_rank(trial, tol=1e-8 * np.sqrt(len(values))) == trial.shape[1]:
            basis = trial
            keep.append(col)
    return data[["time"] + keep]


def run_one(func, name: str, data, inject_time: int, sli, timeout: float, csv: str = "") -> dict:
    import argparse as _argparse
    began = time.perf_counter()
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet), \
                contextlib.redirect_stderr(quiet):  # progress bars and debug prints
            out = func(data.copy(), inject_time, dataset="interplay-testbed", anomalies=None,
                       dk_select_useful=False, sli=sli, verbose=False,
                       n_iter=len(data.columns) - 1,
                       args=_argparse.Namespace(root_path=os.getcwd(), data_path=csv))
        ranks = [str(r) for r in (out or {}).get("ranks") or []]
        error = None if ranks else "returned no ranks"
    except _Timeout:
        ranks, error = [], f"timed out after {timeout:g} s"
    except BaseException as exc:  # noqa: BLE001 - any failure of a baseline is a miss
        if isinstance(exc, KeyboardInterrupt):
            raise
        ranks = []
        error = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        if os.environ.get("RCAEVAL_TRACEBACK"):
            traceback.print_exc()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return {"ranks": ranks[:20], "services": rcaeval_services(ranks)[:10],
            "seconds": round(time.perf_counter() - began, 3), "error": error}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("manifest")
    parser.add_argument("out")
    parser.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                        help=f"comma-separated, from {', '.join(METHODS)}")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per method per case")
    args = parser.parse_args()
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
    import warnings
    warnings.filterwarnings("ignore")
    import numpy as np
    cases = json.load(open(args.manifest))
    methods, results, versions = {}, {}, {}
    import importlib.metadata as md
    for pkg in ("RCAEval", "numpy", "pandas", "torch", "causal-learn"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    unavailable = {}
    for name in args.methods.split(","):
        name = name.strip()
        if not name:
            continue
        try:
            methods[name] = load_method(name)
        except Exception as exc:  # noqa: BLE001
            unavailable[name] = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
    for i, case in enumerate(cases):
        data = prepare(case["csv"], case["inject_time"])
        results[case["case"]] = {}
        for name, func in methods.items():
            np.random.seed(0)
            try:
                import torch
                torch.manual_seed(0)
            except ImportError:
                pass
            r = run_one(func, name, data, case["inject_time"], case.get("sli"), args.timeout,
                        case["csv"])
            results[case["case"]][name] = r
        done = ", ".join(f"{n} {r['seconds']:.1f}s" + ("!" if r["error"] else "")
                         for n, r in results[case["case"]].items())
        print(f"[{i + 1}/{len(cases)}] {case['case']}: {done}", file=sys.stderr, flush=True)
    json.dump({"versions": versions, "unavailable": unavailable, "methods": list(methods),
               "labels": {m: LABELS.get(m, m) for m in methods},
               "results": results}, open(args.out, "w"), indent=1)


if __name__ == "__main__":
    main()
