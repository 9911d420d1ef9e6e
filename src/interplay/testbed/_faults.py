"""Fault plans: which service a fault hits for a seed, how hard, and the change events around it."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ._topology import Topology

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
NS = 1_000_000_000

DESCRIPTIONS = {
    "latency": "a leaf or middle service (or the database) gets slow",
    "errors": "a middle service fails requests; its callers turn that into their own errors",
    "cpu": "CPU saturation: all operations of one service slow together",
    "pool_exhaustion": "a service's database connection pool runs dry; requests wait for connections",
    "bad_deploy": "a service restarts with a new version carrying a bug (a change event is posted, with decoys)",
    "retry_storm": "a service gets flaky under load and its callers' retries amplify the load",
    "queue_lag": "a message consumer slows down and lag on its topic grows",
    "agent_tool_loop": "one agent loops on the same tool call, overloading a backend shared with users",
    "llm_rate_limit": "the LLM provider answers 429 Too Many Requests",
    "llm_slow": "the LLM provider answers slowly",
    "network_delay": "delay on one service's network: its callers' client spans grow, its server spans do not",
    "network_loss": "packet loss on one service's network: some exchanges wait for TCP retransmits, a few time out",
    "consumer_lag": "a consumer falls behind (fewer instances): only the queue wait grows, no span gets slower",
    "timeout_amplification": "a callee gets slow; its callers time out first, retry once, and only they err",
    "pool_cascade": "a callee gets slow; its caller's worker pool fills, so all the caller's requests wait",
    "code_exception": "a code path throws: exception events and error logs, no span status in that service",
    "code_return": "a changed return value: callers take another path and skip calls, no errors, no latency",
}


@dataclass
class FaultPlan:
    """A fault, its root-cause target and its knobs, decided by the seed."""

    fault: str | None
    target: str | None
    start_ns: int  # onset; a huge value when there is no fault
    magnitude: float = 1.0
    endpoint: str = ""  # bad_deploy: the buggy endpoint
    new_version: str = ""
    agent: str = ""  # agent_tool_loop: the looping agent
    tool: str = ""
    exception: tuple[str, str] = ("", "")  # (type, message) of the fault's own errors
    changes: list[dict] = field(default_factory=list)
    victim: str = ""  # pool_cascade: the caller whose worker pool fills
    workers: int = 0  # pool_cascade: the victim's worker pool size
    rho: float = 0.0  # pool_cascade: the victim pool's utilisation aimed at during the incident
    delay_ms: float = 0.0  # network_delay: median added delay per exchange
    loss: float = 0.0  # network_loss: the share of exchanges that lose a packet (each retransmit may too)
    variant: str = ""  # code_exception: "event+log" | "event" | "log" (what the exception leaves behind);
    # network_delay, network_loss: "inbound" | "both" (its own requests wait too); pool_cascade: "span" | "self"

    def on(self, target: str, t_ns: int) -> bool:
        return t_ns >= self.start_ns and target == self.target


EXPORTS = ("normal", "bare", "codes")  # how spans are exported: see simulate()


def export_mode(export: str | None = None, bare: bool = False) -> str:
    """The export mode asked for by `export` or the older `bare` flag; ValueError when they disagree."""
    if export is None:
        return "bare" if bare else "normal"
    if export not in EXPORTS:
        raise ValueError(f"unknown export mode {export!r}; valid: {', '.join(EXPORTS)}")
    if bare and export != "bare":
        raise ValueError(f"bare=True contradicts export={export!r}")
    return export


def scenario_name(topology: str, fault: str | None, seed: int, bare: bool | str = False, late: bool = False) -> str:
    """`<topology>-<fault>[-bare|-codes][-late]-s<seed>`; `bare` is a bool or an export mode."""
    export = export_mode(None, bare) if isinstance(bare, bool) else export_mode(bare)
    mode = "" if export == "normal" else f"-{export}"
    return f"{topology}-{fault or 'none'}{mode}{'-late' if late else ''}-s{seed}"


def symptom(topo: Topology, plan: FaultPlan) -> str | None:
    """The service an alert would name: the entry point, unless the fault never reaches it."""
    if plan.fault is None:
        return None
    if plan.fault in ("queue_lag", "consumer_lag"):
        return plan.target
    if plan.fault in ("llm_rate_limit", "llm_slow"):
        return topo.agent_service
    return topo.entries[0][0]


def rfc3339(t_ns: int) -> str:
    """RFC 3339 UTC timestamp with milliseconds."""
    dt = datetime.fromtimestamp(t_ns // NS, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{(t_ns % NS) // 1_000_000:03d}Z"


def base_ns(seed: int) -> int:
    """Start of simulated time for a seed: 2026-01-01T00:00Z plus `seed` hours."""
    return int(EPOCH.timestamp()) * NS + seed * 3600 * NS


def choose_target(topology: Topology, fault: str, seed: int, bare: bool = False) -> str:
    """Root-cause target for a seed; consecutive seeds hit different candidates.

    Bare telemetry has no `db.*`/`server.*` attributes, so resources (postgres) cannot be targets there.
    """
    candidates = topology.targets[fault]
    if bare:
        candidates = tuple(c for c in candidates if c not in topology.resources) or candidates
    offset = sum(map(ord, fault + topology.name))
    return candidates[(seed + offset) % len(candidates)]


_ERRORS = {
    "errors": [("ConnectionResetError", "[Errno 104] Connection reset by peer while reading from upstream ledger"),
               ("RuntimeError", "internal state inconsistent: missing shard mapping for key"),
               ("OSError", "[Errno 24] Too many open files")],
    "bad_deploy": [("AttributeError", "'NoneType' object has no attribute 'currency_code'"),
                   ("KeyError", "'region' missing from request context"),
                   ("TypeError", "unsupported operand type(s) for *: 'Decimal' and 'float'")],
    "code_exception": [("NullPointerException", "Cannot invoke \"Money.getUnits()\" because \"price\" is null"),
                       ("IndexError", "list index out of range"),
                       ("ValueError", "could not convert string to float: 'N/A'"),
                       ("ZeroDivisionError", "division by zero in discount calculation")],
}


def make_plan(topology: Topology, fault: str | None, seed: int, start_ns: int, end_ns: int,
              onset_ns: int, bare: bool = False) -> FaultPlan:
    """The fault plan for one case, with its change events (true deploy and decoys)."""
    rng = random.Random(f"plan-{topology.name}-{fault}-{seed}")
    if fault is None:
        plan = FaultPlan(None, None, 1 << 62)
    else:
        plan = FaultPlan(fault, choose_target(topology, fault, seed, bare), onset_ns,
                         magnitude=rng.uniform(0.8, 1.3))
    if fault in _ERRORS:
        plan.exception = rng.choice(_ERRORS[fault])
    if fault == "bad_deploy":
        svc = topology.services[plan.target]
        plan.endpoint = rng.choice(svc.endpoints).key if svc.endpoints else ""
        major, minor, patch = svc.version.split(".")
        plan.new_version = f"{major}.{int(minor) + 1}.0"
    if fault == "agent_tool_loop":
        agent = topology.agents[seed % len(topology.agents)]
        plan.agent = agent.name
        plan.tool = next((t for t in agent.tools if topology.tools[t].call.kind == "http"), agent.tools[0])
    if fault in ("network_delay", "network_loss", "pool_cascade", "code_exception"):
        _plan_interaction(topology, plan, random.Random(f"plan2-{topology.name}-{fault}-{seed}"))
    plan.changes = _changes(topology, plan, rng, onset_ns)
    return plan


def _plan_interaction(topology: Topology, plan: FaultPlan, rng: random.Random) -> None:
    """Knobs of the faults that live between spans or leave no status (own rng: older plans stay as they were)."""
    if plan.fault == "network_delay":
        plan.delay_ms = rng.uniform(180, 600)
        plan.variant = rng.choice(("inbound", "inbound", "both"))
    elif plan.fault == "network_loss":
        plan.loss = rng.uniform(0.08, 0.25)
        plan.variant = rng.choice(("inbound", "inbound", "both"))
    elif plan.fault == "pool_cascade":
        plan.victim = topology.pool_victims[plan.target]
        plan.workers = rng.choice((1, 1, 2))
        plan.rho = rng.uniform(0.6, 0.85)
        plan.variant = rng.choice(("span", "self"))  # the wait as a "wait for worker" span, or as self time
    elif plan.fault == "code_exception":
        plan.endpoint = rng.choice(topology.services[plan.target].endpoints).key
        plan.variant = rng.choice(("event+log", "event+log", "event", "log"))


def _changes(topology: Topology, plan: FaultPlan, rng: random.Random, onset_ns: int) -> list[dict]:
    """Change events: decoys in every case (so their mere presence gives nothing away), plus the true deploy."""
    others = [s for s in topology.services if s != plan.target and s != topology.llm_service]
    rng.shuffle(others)
    changes = [_deploy(topology, others[0], onset_ns - int(rng.uniform(18, 22) * 60 * NS), rng)]
    if rng.random() < 0.6:
        t = onset_ns - int(rng.uniform(2, 9) * 60 * NS)
        if rng.random() < 0.5:
            changes.append(_deploy(topology, others[1], t, rng))
        else:
            changes.append({"time": rfc3339(t), "service": others[1], "kind": rng.choice(["config", "flag"]),
                            "description": rng.choice(["raise log level to debug", "enable new-checkout-banner",
                                                       "bump http client keepalive to 30s"]),
                            "attributes": {"author": rng.choice(["alice", "bob", "carol"])}})
    if plan.fault == "bad_deploy":
        changes.append({"time": rfc3339(plan.start_ns), "service": plan.target, "kind": "deploy",
                        "description": f"deploy {plan.target} {plan.new_version}", "version": plan.new_version,
                        "attributes": {"commit": f"{rng.getrandbits(28):07x}", "author": rng.choice(["dave", "erin"])}})
    changes.sort(key=lambda c: c["time"])
    return changes


def _deploy(topology: Topology, service: str, t_ns: int, rng: random.Random) -> dict:
    major, minor, patch = topology.services[service].version.split(".")
    version = f"{major}.{minor}.{int(patch) + 1}"
    return {"time": rfc3339(t_ns), "service": service, "kind": "deploy",
            "description": f"deploy {service} {version}", "version": version,
            "attributes": {"commit": f"{rng.getrandbits(28):07x}", "author": rng.choice(["alice", "bob", "carol"])}}
