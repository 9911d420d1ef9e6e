"""Shared fixtures: a real `interplay serve` subprocess on 127.0.0.1 with its own database."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
INTERPLAY = str(Path(sys.executable).with_name("interplay"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen
    db: Path
    port: int
    grpc_port: int
    token: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def get(self, path: str, **kw) -> httpx.Response:
        return httpx.get(self.url + path, headers=self.headers(), timeout=30, **kw)

    def post(self, path: str, **kw) -> httpx.Response:
        headers = {**self.headers(), **kw.pop("headers", {})}
        return httpx.post(self.url + path, headers=headers, timeout=30, **kw)

    def stop(self, sig: int = signal.SIGTERM) -> str:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.stdout.read() if self.process.stdout else ""


def start_server(db: Path, *extra: str, token: str | None = None, grpc: bool = True) -> Server:
    port, grpc_port = free_port(), free_port()
    args = [INTERPLAY, "serve", "--db", str(db), "--port", str(port),
            "--grpc-port", str(grpc_port if grpc else -1), *extra]
    if token:
        args += ["--token", token]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    server = Server(process, db, port, grpc_port, token)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"interplay serve exited: {process.stdout.read()}")
        try:
            if httpx.get(server.url + "/api/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError("interplay serve did not become ready in 30 s")


@pytest.fixture
def server(tmp_path):
    srv = start_server(tmp_path / "t.duckdb")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def module_server(tmp_path_factory):
    """One server for a whole test module: for tests that need no fresh database (each asserts on
    what it added, not on totals). A module opts in with `def server(module_server)`."""
    srv = start_server(tmp_path_factory.mktemp("module") / "t.duckdb")
    yield srv
    srv.stop()


def spans_stored(server: Server, services: tuple[str, ...] | None = None) -> int:
    """Spans the server holds (of the given services), read over HTTP (no CLI process to start)."""
    rows = server.get("/api/services").json()
    return sum(r["spans"] for r in rows if services is None or r["service"] in services)


@pytest.fixture
def make_server(tmp_path):
    started: list[Server] = []

    def make(*extra: str, db: Path | None = None, **kw) -> Server:
        srv = start_server(db or tmp_path / "t.duckdb", *extra, **kw)
        started.append(srv)
        return srv
    yield make
    for srv in started:
        srv.stop()


def run_cli(*args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    result = subprocess.run([INTERPLAY, *args], capture_output=True, text=True, timeout=120, **kw)
    if check and result.returncode != 0:
        raise AssertionError(f"interplay {' '.join(args)} failed ({result.returncode}):\n"
                             f"{result.stdout}\n{result.stderr}")
    return result


def cli_json(*args: str):
    return json.loads(run_cli(*args, "--format", "json").stdout)


# -- the browser (Playwright driving Debian's Chromium) ------------------------------------------
CHROMIUM = os.environ.get("INTERPLAY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def launch_chromium(playwright, extra_args: list[str] = ()):
    """Headless Chromium, or a test failure (never a skip: CI must not pass without the browser tests)."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} missing: the browser tests need it (apt-get install chromium; "
                    ".ci/run installs .ci/apt-packages)", pytrace=False)
    return playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args])


def sync_playwright():
    """playwright.sync_api.sync_playwright, or a test failure when the package is missing."""
    try:
        from playwright.sync_api import sync_playwright as sp
    except ImportError:
        pytest.fail("the playwright package is missing: make install (it is a test dependency)", pytrace=False)
    return sp()


# What a person must never read on a page: a stringified DOM node or array, or a missing value.
UNREADABLE = re.compile(r"\[object |\bundefined\b|\bnull\b|\bNaN\b|Invalid Date")


def assert_readable(text: str, where: str = "page") -> None:
    """The visible text (innerText) holds no `[object …]`, `null`, `undefined`, `NaN` or `Invalid Date`."""
    bad = UNREADABLE.search(text)
    if bad:
        lo = max(bad.start() - 80, 0)
        raise AssertionError(f"{where} shows {bad.group(0)!r}: …{text[lo:bad.end() + 80]}…")
