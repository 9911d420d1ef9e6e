"""Faults that live between spans or leave no span status, and the background noise of real systems.

The simulator asks this module how long a network exchange waits, whether a worker is free, how long
a consumer idles, whether a return value changed; every answer is neutral (and draws no random
number) unless the fault plan or the noisy profile calls for it, so older cases keep their bytes.
"""

from __future__ import annotations

import random

from opentelemetry.trace import SpanKind

from ._faults import NS, FaultPlan
from ._topology import Topology

MS = 1_000_000
_BACKGROUND = [
    ("FlagRefreshError",
     "failed to refresh feature flags from config-service: connection refused; using cached values"),
    ("ExportError", "failed to export metrics batch: context deadline exceeded"),
    ("ValidationError", "request validation failed: field 'currency_code' missing, defaulting to USD"),
    ("CacheError", "redis GET timed out after 50 ms; falling back to origin"),
    ("DeprecationError", "client used deprecated API version v1; please upgrade"),
]


class Interactions:
    """State and answers for network delay, worker pools, consumer lag, changed returns and noise."""

    def __init__(self, topo: Topology, plan: FaultPlan, seed: int, start: int, noisy: bool):
        self.topo, self.plan, self.start = topo, plan, start
        self.noisy = noisy
        self.msg = {}  # consumer -> [messages seen, first publish, last publish] (its arrival rate)
        self.pool = _Pool(plan, start) if plan.fault == "pool_cascade" else None
        self.amp_ms = _max_timeout(topo, plan.target) * 1.6 if plan.fault == "timeout_amplification" else 0.0
        self.background: dict[str, tuple[float, tuple[str, str]]] = {}
        self.spiky = ""
        if noisy:
            rng = random.Random(f"noise-{topo.name}-{plan.fault}-{seed}")
            names = [s for s in topo.services if s not in (topo.agent_service, topo.llm_service)]
            for name in rng.sample(names, rng.choice((1, 2, 2, 3))):
                self.background[name] = (rng.uniform(0.02, 0.12), rng.choice(_BACKGROUND))
            self.spiky = rng.choice(names)

    # -- network delay -----------------------------------------------------------------------------

    def net(self, sim, caller: str, callee: str, t: int) -> int:
        """Extra ns a request from `caller` to `callee` spends between the client span and the server span.

        The delay sits on the faulty service's network path to other services (its sidecar or ingress):
        every request to it waits; with variant "both", its own requests to other services wait too.
        Database and cache connections bypass it.
        """
        plan = self.plan
        if plan.fault not in ("network_delay", "network_loss") or t < plan.start_ns:
            return 0
        if callee != plan.target and not (caller == plan.target and plan.variant == "both"):
            return 0
        if plan.fault == "network_loss":
            return self._retransmits(sim)
        return int(sim._lognormal(plan.delay_ms * plan.magnitude, 0.25) * MS)

    def _retransmits(self, sim) -> int:
        """A lost segment waits for TCP's retransmission timeout (200 ms at least), doubling each time
        the retransmit is lost too: most exchanges pass untouched, a few wait hundreds of ms or seconds."""
        extra, rto = 0.0, 200.0
        while rto <= 3200 and sim.rng.random() < min(0.5, self.plan.loss * self.plan.magnitude):
            extra += rto * sim.rng.uniform(1.0, 1.15)
            rto *= 2
        return int(extra * MS)

    # -- timeouts ----------------------------------------------------------------------------------

    def amplified(self, target: str, t: int) -> bool:
        """True when calls to `target` at `t` should time out and be retried once."""
        return self.plan.fault == "timeout_amplification" and self.plan.on(target, t)

    # -- worker pool -------------------------------------------------------------------------------

    def timeout_ms(self, caller: str, target: str, timeout_ms: float) -> float:
        """The pooled caller has no client timeout toward the slow callee: that is why its pool fills."""
        pool = self.pool
        return 30_000.0 if pool and caller == pool.victim and target == self.plan.target else timeout_ms

    # -- consumer lag ------------------------------------------------------------------------------

    def idle_after(self, sim, consumer: str, published: int, begin: int) -> int:
        """Time the consumer spends on nothing after a message: its throughput fell below the arrival rate."""
        seen = self.msg.setdefault(consumer, [0, published, published])
        if begin < self.plan.start_ns:
            seen[0] += 1
            seen[2] = published
        if self.plan.fault != "consumer_lag" or not self.plan.on(consumer, begin):
            return 0
        gap = (seen[2] - seen[1]) / max(seen[0] - 1, 1) if seen[0] > 1 else 10 * NS
        return int(sim.rng.expovariate(1.0) * gap * 1.7 * self.plan.magnitude)

    # -- changed return value ----------------------------------------------------------------------

    def changed_return(self, sim, target: str, t: int) -> bool:
        plan = self.plan
        return (plan.fault == "code_return" and plan.on(target, t)
                and sim.rng.random() < min(0.95, 0.7 * plan.magnitude))

    # -- noise -------------------------------------------------------------------------------------

    def spike(self, sim, svc: str) -> float:
        """Ordinary variance: one service pauses now and then (GC, noisy host), all day long."""
        if not self.noisy or svc != self.spiky or sim.rng.random() >= 0.03:
            return 0.0
        return sim._lognormal(150, 0.5) * MS

    def background_error(self, sim, svc: str, span, t: int) -> None:
        """Errors some services log all day long, before the onset too: caught, status left unset."""
        hit = self.background.get(svc)
        if not hit or sim.rng.random() >= hit[0]:
            return
        exc_type, message = hit[1]
        if sim.rng.random() < 0.5:
            sim._event(span, t, exc_type, message)
        sim._log(svc, t, span, "ERROR", f"{exc_type}: {message}")


class _Pool:
    """The victim's worker pool: requests wait for a free worker inside their server span.

    Its size comes from the fault plan; the slow callee's extra latency is set once, half way through
    the baseline, so that the pool runs at `plan.rho` during the incident at whatever request rate.
    """

    def __init__(self, plan: FaultPlan, start: int):
        self.plan, self.victim, self.start = plan, plan.victim, start
        self.calibrate_at = start + (plan.start_ns - start) // 2
        self.free: list[int] | None = None  # worker free times; None until sized
        self.requests, self.busy_ns, self.calls = 0, 0, 0
        self.extra_ms = 3000.0

    def acquire(self, sim, span, t: int) -> tuple[int, int]:
        """(worker index, time the work starts) for a request arriving at `t`."""
        if self.free is None and t >= self.calibrate_at:
            self._size(t)
        if self.free is None:
            begin, idx = t, -1
        else:
            idx = min(range(len(self.free)), key=self.free.__getitem__)
            begin = max(t, self.free[idx])
            self.free[idx] = 1 << 62  # busy until released
        if self.plan.variant == "span":
            wait = sim._start(self.victim, "wait for worker", SpanKind.INTERNAL, t, span,
                              {"thread.pool.name": "http-workers", "thread.pool.size": self.plan.workers})
            wait.end(end_time=max(begin, t + 20_000))
            begin = max(begin, t + 20_000)
        return idx, begin

    def release(self, idx: int, begin: int, end: int) -> None:
        if idx >= 0:
            self.free[idx] = end
        else:  # still measuring the baseline
            self.requests += 1
            self.busy_ns += end - begin

    def note_call(self) -> None:
        """The victim called the slow callee (counted while measuring the baseline)."""
        if self.free is None:
            self.calls += 1

    def _size(self, t: int) -> None:
        plan = self.plan
        seconds = max((t - self.start) / NS, 1.0)
        rate = self.requests / seconds
        base = self.busy_ns / max(self.requests, 1) / NS
        share = self.calls / max(self.requests, 1)
        if rate > 0 and share > 0:
            self.extra_ms = 1000 * min(8.0, max(0.5, (plan.rho * plan.workers / rate - base) / share))
        self.free = [0] * plan.workers


def _max_timeout(topo: Topology, target: str | None) -> float:
    timeouts = [c.timeout_ms for s in topo.services.values() for ep in s.endpoints for c in ep.calls
                if c.kind == "http" and c.target == target]
    timeouts += [tool.call.timeout_ms for tool in topo.tools.values() if tool.call.target == target]
    return max(timeouts, default=1000.0)
