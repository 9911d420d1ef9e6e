"""Time agent-run listing, one run, and agent load by backend on the agentic testbed (~470k spans).

    python bench/agents_speed.py [--db /tmp/agents/a.duckdb] [--rev REV] [--dump out.json]

Simulates `agentic` / `agent_tool_loop` for 30 minutes (cached in the database file; ~2 minutes
the first time), then times each call on a read-only store. `--rev REV` also times the agents
package as it was at git revision REV (run in a subprocess on `git archive` of that revision) and
checks that both give the same answers. `--dump` writes every answer as JSON, for comparisons.

Targets on a loaded 2-core machine: `agents --limit 20` < 2 s, `agents show RUN` < 1 s,
`agent_load_by_backend` < 1.5 s. Measured with `--rev 52f740f --repeat 2` (the code before the
rewrite) on the 695k-span store this simulates, same machine and run, answers identical:

    call                                now       52f740f
    list_runs(limit=20)                 0.54 s    2.75 s
    list_runs(failed, limit=20)         0.64 s    2.97 s
    agent_load_by_backend()             0.42 s    0.95 s
    list_runs(limit=2000)               3.09 s    5.77 s
    get_run(failed)                     0.36 s    1.34 s   (0.07 s with baselines cached)
    CLI agents --limit 20               0.91 s    3.40 s
    CLI agents show RUN                 0.75 s    1.88 s

(Timings swing 2-3x with the machine's load: under heavier load the old listing took 7-9 s.)
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default="/tmp/agents/a.duckdb")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rev", default=None, help="also time this git revision and compare answers")
    parser.add_argument("--dump", default=None, help="write every answer to this JSON file")
    parser.add_argument("--quick", action="store_true", help="skip the slowest calls (limit 2000)")
    parser.add_argument("--_json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    db = Path(args.db)
    if not db.exists():
        _simulate(db)
    times, answers = _measure(db, args.repeat, args.quick)
    if args._json:  # child process of --rev: hand results back to the parent
        print(json.dumps({"times": times, "answers": answers}, default=str))
        return
    if args.dump:
        Path(args.dump).write_text(json.dumps(answers, indent=1, sort_keys=True, default=str))
    old = _at_revision(args.rev, db, args.repeat, args.quick) if args.rev else None
    print(f"{'call':38} {'now (best)':>11}" + (f" {args.rev[:10]:>11} {'ratio':>6}" if old else ""))
    for name, t in times.items():
        line = f"{name:38} {t:10.2f}s"
        if old:
            before = old["times"].get(name)
            line += f" {before:10.2f}s {before / t:5.1f}x" if before else ""
        print(line)
    if old:
        same = json.loads(json.dumps(answers, default=str)) == old["answers"]
        print("answers identical" if same else "ANSWERS DIFFER: " + ", ".join(
            k for k in answers if json.loads(json.dumps(answers[k], default=str)) != old["answers"].get(k)))


def _measure(db: Path, repeat: int, quick: bool) -> tuple[dict[str, float], dict[str, Any]]:
    from interplay.agents import agent_load_by_backend, get_run, list_runs, runs_touching
    from interplay.api import Interplay
    ip = Interplay.open(db, read_only=True)
    store = ip.store
    calls: dict[str, Any] = {
        "list_runs(limit=20)": lambda: list_runs(store, limit=20),
        "list_runs(limit=8)": lambda: list_runs(store, limit=8),
        "list_runs(failed, limit=20)": lambda: list_runs(store, failed=True, limit=20),
        "list_runs(agent=support-agent, 20)": lambda: list_runs(store, agent="support-agent", limit=20),
        "agent_load_by_backend()": lambda: agent_load_by_backend(store),
        "runs_touching(orders)": lambda: runs_touching(store, "orders"),
    }
    if not quick:
        calls["list_runs(limit=2000)"] = lambda: list_runs(store, limit=2000)
    times: dict[str, float] = {}
    answers: dict[str, Any] = {}
    for name, call in calls.items():
        times[name], answers[name] = _best(call, repeat)
        answers[name] = _as_json(answers[name])  # records (or, at older revisions, dicts) as the API writes them
    newest = answers["list_runs(limit=20)"]
    failed = answers["list_runs(failed, limit=20)"]
    for label, run in (("get_run(newest)", newest[0] if newest else None),
                       ("get_run(failed)", failed[0] if failed else None)):
        if run:
            times[label], answers[label] = _best(lambda r=run: get_run(store, r["run_id"]), repeat)
            answers[label] = _as_json(answers[label])
    if failed:
        times["get_run(failed), baselines cached"], _ = _best(lambda: get_run(store, failed[0]["run_id"]),
                                                              repeat, cold=False)
    ip.close()
    cli = [sys.executable, "-m", "interplay", "agents"]
    times["CLI agents --limit 20"], _ = _best(lambda: _run(cli + ["--db", str(db), "--limit", "20"]), repeat)
    if failed:
        times["CLI agents show RUN"], _ = _best(
            lambda: _run(cli + ["show", failed[0]["run_id"], "--db", str(db)]), repeat)
    return times, answers


def _as_json(answer: Any) -> Any:
    try:
        from interplay.model_results import to_json
    except ImportError:  # a revision from before typed results: its answers are dicts already
        return answer
    return to_json(answer)


def _best(call, repeat: int, cold: bool = True) -> tuple[float, Any]:
    """Best of `repeat` calls; cold: each without baselines cached in this process (as the CLI runs)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        if cold:
            _forget_baselines()
        began = time.perf_counter()
        result = call()
        best = min(best, time.perf_counter() - began)
    return best, result


def _forget_baselines() -> None:
    from interplay.agents import divergence
    cache = getattr(divergence, "_cache", None)
    if cache is not None:
        cache.clear()


def _run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


def _at_revision(rev: str, db: Path, repeat: int, quick: bool) -> dict[str, Any]:
    """Run this bench against `src/` as of `rev`, in a subprocess; its times and answers."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src"], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        env = {**os.environ, "PYTHONPATH": str(Path(tmp) / "src")}
        cmd = [sys.executable, __file__, "--db", str(db), "--repeat", str(repeat), "--_json"]
        done = subprocess.run(cmd + (["--quick"] if quick else []), env=env, check=True,
                              capture_output=True, text=True)
        return json.loads(done.stdout)


def _simulate(db: Path) -> None:
    from interplay.api import Interplay
    from interplay.testbed import simulate
    out = db.with_suffix(".jsonl")
    began = time.perf_counter()
    simulate("agentic", "agent_tool_loop", 1, out, duration_s=1800)
    print(f"simulated in {time.perf_counter() - began:.0f} s")
    ip = Interplay.open(db)
    ip.ingest_file(out)
    ip.close()


if __name__ == "__main__":
    main()
