"""bench/scale.py: its synthetic incident is investigated to the right cause, not only timed."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_scale_benchmarks_incident_names_payments_or_its_database(tmp_path):
    """200k spans through the benchmark's own command line (ingest in one process, queries in
    another, as at 10M). Its spans have two children of other services started together: a wait
    for one of them is no time on the wire of the other (it named cart or email when it was)."""
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "scale.py"), "--backends", "duckdb",
                          "--spans", "200000", "--workdir", str(tmp_path)],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    named = [line.split()[-1] for line in run.stdout.splitlines() if line.startswith("top cause")]
    assert len(named) == 2 and set(named) <= {"payments", "postgresql"}, run.stdout[-1500:]
