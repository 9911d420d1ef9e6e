"""`interplay demo`: a real server, a live failing system, and the investigation next to the truth."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from .api import Interplay
from .model import InterplayError


def run_demo(scenario: str | None = None, *, baseline_s: float = 35.0, incident_s: float = 25.0,
             workdir: str | Path | None = None, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Start `interplay serve` on a scratch database, run a live scenario against it, investigate.

    Returns {"scenario", "truth", "investigation", "services", "db"}.
    """
    from .testbed import _live
    name = scenario or _live.DEFAULT_SCENARIO
    if name not in _live.SCENARIOS:
        raise InterplayError(f"unknown scenario {name!r}; try one of: {', '.join(_live.SCENARIOS)}")
    folder = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="interplay-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "demo.duckdb"
    port = _free_port()
    say(f"starting interplay serve on 127.0.0.1:{port} with {db}")
    server = subprocess.Popen([sys.executable, "-m", "interplay", "serve", "--db", str(db), "--port", str(port),
                               "--grpc-port", "-1", "--retention", "0"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(server, url)
        say(f"running scenario {name}: {_live.SCENARIOS[name].description}")
        truth = _live.run_scenario(name, url, baseline_s=baseline_s, incident_s=incident_s, on_progress=say)
    finally:
        _stop(server)
    hub = Interplay.open(db, read_only=True)
    try:
        services = hub.services()
        investigation = hub.investigate()
    finally:
        hub.close()
    return {"scenario": name, "truth": {"service": truth["service"], "fault": truth["fault"],
                                        "injected_at": truth["injected_at"]},
            "investigation": investigation, "services": services, "db": str(db)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(server: subprocess.Popen, url: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            detail = server.stderr.read().strip() if server.stderr else ""
            raise InterplayError(f"interplay serve exited early: {detail}")
        try:
            if httpx.get(url + "/api/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise InterplayError(f"interplay serve did not answer at {url} within {timeout_s:.0f} s")


def _stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


__all__ = ["run_demo", "os"]
