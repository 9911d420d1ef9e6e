"""Live mode: real HTTP services on 127.0.0.1, a load generator, a fault at runtime, ground truth."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import httpx

from ._faults import DESCRIPTIONS, NS, rfc3339
from ._topology import get_topology


@dataclass(frozen=True)
class Scenario:
    name: str
    topology: str
    fault: str
    target: str
    description: str
    extra: tuple[tuple[str, str], ...] = ()


SCENARIOS = {s.name: s for s in (
    Scenario("shop-db-latency", "shop", "latency", "postgres",
             "postgres gets slow → catalog requests exceed the frontend's timeout → frontend 504s"),
    Scenario("shop-payment-errors", "shop", "errors", "payment",
             "payment fails 40% of charges → checkout fails → frontend checkout errors"),
    Scenario("shop-bad-deploy", "shop", "bad_deploy", "catalog",
             "catalog restarts with a new version whose product page crashes; a decoy deploy 20 min earlier",
             (("endpoint", "GET /products/{id}"),)),
    Scenario("shop-cpu", "shop", "cpu", "currency",
             "currency burns CPU: every operation of it slows together, frontend latency rises"),
    Scenario("shop-pool-exhaustion", "shop", "pool_exhaustion", "catalog",
             "catalog leaks database connections; requests wait for the pool and time out"),
    Scenario("shop-retry-storm", "shop", "retry_storm", "currency",
             "currency sheds load with 503s; callers' retries multiply the load"),
    Scenario("shop-queue-lag", "shop", "queue_lag", "email",
             "the email consumer slows down; lag on topic orders grows"),
    Scenario("agent-tool-loop", "agentic", "agent_tool_loop", "agent",
             "catalog-curator loops on search_products with the same arguments; search slows for web users",
             (("agent", "catalog-curator"), ("tool", "search_products"))),
    Scenario("agent-llm-rate-limit", "agentic", "llm_rate_limit", "llm-provider",
             "the LLM provider answers 429; agent runs retry and fail"),
    Scenario("agent-llm-slow", "agentic", "llm_slow", "llm-provider",
             "the LLM provider slows down 6x; agent runs take much longer"),
)}
DEFAULT_SCENARIO = "shop-db-latency"


def list_scenarios() -> list[dict]:
    """Live scenarios: name, topology, fault, description."""
    return [{"name": s.name, "topology": s.topology, "fault": s.fault, "description": s.description}
            for s in SCENARIOS.values()]


def run_scenario(name: str, url: str, baseline_s: float = 35, incident_s: float = 25, on_progress=None,
                 rate_per_s: float = 12.0) -> dict:
    """Run live scenario `name`, exporting OTLP/HTTP to `url`; return the ground truth.

    Services run as child processes (each its own process group) and are killed on the way out,
    whatever happens.
    """
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; valid: {', '.join(SCENARIOS)}")
    if baseline_s + incident_s > 85:
        raise ValueError("a live scenario must fit in 90 s: baseline_s + incident_s <= 85")
    scenario = SCENARIOS[name]
    say = on_progress or (lambda msg: None)
    url = url.rstrip("/")
    fleet = _Fleet(scenario.topology, url)
    began = time.monotonic()
    try:
        fleet.start_all()
        say(f"started {len(fleet.procs)} processes in {time.monotonic() - began:.1f} s; baseline {baseline_s:.0f} s")
        load = _LoadGen(fleet, rate_per_s)
        load.start()
        time.sleep(baseline_s)
        injected_ns = time.time_ns()
        changes = _inject(fleet, scenario, url, injected_ns, say)
        say(f"injected {scenario.fault} into {scenario.target}; incident {incident_s:.0f} s")
        time.sleep(incident_s)
        load.stop()
        fleet.flush()
        say(f"load: {load.summary()}")
    finally:
        fleet.stop_all()
    return {"service": scenario.target, "fault": scenario.fault, "injected_at": rfc3339(injected_ns),
            "topology": scenario.topology, "seed": None, "scenario": name, "mode": "live",
            "target_kind": "resource" if scenario.target == "postgres" else "service",
            "baseline_s": baseline_s, "incident_s": incident_s, "requests": load.sent,
            "changes": changes, "seconds": round(time.monotonic() - began, 2)}


def _inject(fleet: _Fleet, scenario: Scenario, url: str, now_ns: int, say) -> list[dict]:
    fault = {"fault": scenario.fault, **dict(scenario.extra)}
    topo = get_topology(scenario.topology)
    others = [s for s in topo.services if s not in (scenario.target, topo.llm_service)]
    decoy = random.Random(scenario.name).choice(others)
    changes = [{"time": rfc3339(now_ns - 20 * 60 * NS), "service": decoy, "kind": "deploy",
                "description": f"deploy {decoy}", "version": topo.services[decoy].version,
                "attributes": {"author": "alice"}}]
    if scenario.fault == "bad_deploy":
        svc = topo.services[scenario.target]
        major, minor, _ = svc.version.split(".")
        version = f"{major}.{int(minor) + 1}.0"
        fleet.restart(scenario.target, version, fault)
        changes.append({"time": rfc3339(now_ns), "service": scenario.target, "kind": "deploy",
                        "description": f"deploy {scenario.target} {version}", "version": version,
                        "attributes": {"author": "dave"}})
    else:
        fleet.control(scenario.target, fault)
    try:
        httpx.post(url + "/v1/changes", json=changes, timeout=5).raise_for_status()
    except httpx.HTTPError as exc:
        say(f"could not post change events to {url}/v1/changes: {exc}")
    return changes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Fleet:
    """The processes of one topology (plus the database) and their ports."""

    def __init__(self, topology: str, url: str):
        self.topo = get_topology(topology)
        self.url = url
        self.names = ["postgres", *self.topo.services]
        self.ports = {n: _free_port() for n in self.names}
        self.procs: dict[str, subprocess.Popen] = {}

    def config(self, name: str, version: str, fault: dict | None = None) -> dict:
        workers = 2 if name == "search" else 4
        return {"topology": self.topo.name, "service": name, "port": self.ports[name], "ports": self.ports,
                "url": self.url, "version": version, "fault": fault or {}, "workers": workers}

    def spawn(self, name: str, version: str, fault: dict | None = None) -> None:
        cfg = json.dumps(self.config(name, version, fault))
        env = {**os.environ, "OTEL_SDK_DISABLED": "false", "PYTHONUNBUFFERED": "1"}
        self.procs[name] = subprocess.Popen([sys.executable, "-m", "interplay.testbed._live_service", cfg],
                                            start_new_session=True, env=env, stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL)

    def start_all(self) -> None:
        for name in self.names:
            self.spawn(name, self.topo.services[name].version if name in self.topo.services else "16.4")
        for name in self.names:
            self.wait_ready(name)

    def wait_ready(self, name: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.procs[name].poll() is not None:
                raise RuntimeError(f"testbed service {name} exited with code {self.procs[name].returncode}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.ports[name]}/_health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"testbed service {name} not ready after {timeout:.0f} s")

    def control(self, name: str, fault: dict) -> None:
        httpx.post(f"http://127.0.0.1:{self.ports[name]}/_control/fault", json=fault, timeout=5).raise_for_status()

    def restart(self, name: str, version: str, fault: dict) -> None:
        """A deploy: stop the process (flushing its telemetry), start the new version on the same port."""
        self._stop(name)
        self.spawn(name, version, fault)
        self.wait_ready(name)

    def flush(self) -> None:
        for name in self.names:
            try:
                httpx.post(f"http://127.0.0.1:{self.ports[name]}/_control/flush", timeout=10)
            except httpx.HTTPError:
                pass

    def stop_all(self) -> None:
        """SIGTERM every process group at once (they flush telemetry), SIGKILL what is left after 5 s."""
        procs, self.procs = list(self.procs.values()), {}
        _signal_all(procs, signal.SIGTERM)
        deadline = time.monotonic() + 5.0
        for proc in procs:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        _signal_all(procs, signal.SIGKILL)
        for proc in procs:
            proc.wait()

    def _stop(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is not None:
            others, self.procs = self.procs, {name: proc}
            self.stop_all()
            self.procs = others


def _signal_all(procs: list[subprocess.Popen], sig: int) -> None:
    for proc in procs:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass


class _LoadGen:
    """Users hitting the entry endpoints (and agent runs being triggered) at a Poisson rate."""

    def __init__(self, fleet: _Fleet, rate: float):
        self.fleet, self.rate = fleet, rate
        self.sent = 0
        self.statuses: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(15)

    def summary(self) -> str:
        return f"{self.sent} requests, statuses {dict(sorted(self.statuses.items()))}"

    async def _run(self) -> None:
        topo, ports, rng = self.fleet.topo, self.fleet.ports, random.Random(7)
        weights = [w for _, _, w in topo.entries]
        tasks: set[asyncio.Task] = set()
        async with httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=100)) as client:
            while not self._stop.is_set():
                await asyncio.sleep(rng.expovariate(self.rate))
                if topo.agents and rng.random() < 0.15:
                    url, method = f"http://127.0.0.1:{ports[topo.agent_service]}/_trigger", "POST"
                else:
                    svc, key, _ = rng.choices(topo.entries, weights)[0]
                    method, route = key.split(" ", 1)
                    url = f"http://127.0.0.1:{ports[svc]}{route.replace('{id}', str(rng.randint(1, 5000)))}"
                task = asyncio.create_task(self._one(client, method, url))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            if tasks:
                await asyncio.wait(tasks, timeout=5)

    async def _one(self, client: httpx.AsyncClient, method: str, url: str) -> None:
        self.sent += 1
        try:
            status = str((await client.request(method, url)).status_code)
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        self.statuses[status] = self.statuses.get(status, 0) + 1


__all__ = ["DEFAULT_SCENARIO", "DESCRIPTIONS", "SCENARIOS", "list_scenarios", "run_scenario"]
