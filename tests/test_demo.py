"""`interplay demo`: a live failing system against a real `interplay serve`, investigated end to end."""
from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest

from conftest import INTERPLAY, ROOT

pytestmark = pytest.mark.integration


def test_demo_json_shows_truth_and_investigation(tmp_path):
    r = subprocess.run([INTERPLAY, "demo", "--scenario", "shop-db-latency", "--baseline", "12",
                        "--incident", "10", "--workdir", str(tmp_path), "--format", "json"],
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["scenario"] == "shop-db-latency"
    assert result["truth"]["service"] == "postgres" and result["truth"]["fault"] == "latency"
    causes = result["investigation"]["root_causes"]
    assert causes and all("service" in c for c in causes)
    assert causes[0]["service"] == "postgres", causes[:3]
    # The database the server wrote holds what the services sent, and the server is gone.
    services = json.loads(subprocess.run([INTERPLAY, "services", "--db", str(tmp_path / "demo.duckdb"),
                                          "--format", "json"], capture_output=True, text=True).stdout)
    assert {"frontend", "checkout", "payment"} <= {s["service"] for s in services}
    import duckdb
    con = duckdb.connect(str(tmp_path / "demo.duckdb"), read_only=True)
    kinds = dict(con.execute("SELECT type, count(*) FROM metrics GROUP BY type").fetchall())
    logs = con.execute("SELECT count(*) FROM logs").fetchone()[0]
    con.close()
    assert kinds.get("histogram", 0) > 0 and kinds.get("gauge", 0) > 0 and logs > 0  # all three signals
    assert not (tmp_path / "demo.duckdb.server.json").exists()
    ps = subprocess.run(["pgrep", "-f", "interplay.testbed._live"], capture_output=True, text=True)
    assert ps.stdout.strip() == "", "testbed processes left behind"


def test_demo_unknown_scenario_is_a_clear_error():
    r = subprocess.run([INTERPLAY, "demo", "--scenario", "nope"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "unknown scenario 'nope'" in r.stderr and "shop-db-latency" in r.stderr


def test_demo_text_ends_with_commands_that_run_as_printed(tmp_path):
    """From the repository, with .venv/bin not on PATH (as after `make demo`): the hint names the command by
    the path that works, points to `serve` for the UI, and its `services` line runs as printed."""
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                           if os.path.dirname(INTERPLAY) != p)
    r = subprocess.run([INTERPLAY, "demo", "--scenario", "shop-db-latency", "--baseline", "10",
                        "--incident", "8", "--workdir", str(tmp_path)], capture_output=True, text=True,
                       timeout=240, cwd=ROOT, env={**os.environ, "PATH": path})
    assert r.returncode == 0, r.stderr
    hint = r.stdout[r.stdout.index("Database kept at"):].splitlines()
    serve = next(line for line in hint if " serve --db " in line)
    assert "http://127.0.0.1:4318/" in serve and "UI" in serve
    services = next(line for line in hint if " services --db " in line).strip()
    argv = shlex.split(services)
    assert argv[0] == "interplay" or (ROOT / argv[0]).resolve() == Path(INTERPLAY).resolve(), argv[0]
    again = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=ROOT,
                           env={**os.environ, "PATH": path} if argv[0] != "interplay" else None)
    assert again.returncode == 0 and "frontend" in again.stdout, again.stderr
