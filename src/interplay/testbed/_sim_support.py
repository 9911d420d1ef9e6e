"""Pieces the simulator leans on: seeded ids, per-service SDK providers, load model, metrics."""

from __future__ import annotations

import random
from collections import defaultdict

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from ._faults import NS

SCOPE = "interplay.testbed"
SCOPE_VERSION = "0.1.0"
_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)


class SeededIdGenerator(IdGenerator):
    """Trace and span ids from a seeded PRNG, so a seed always yields the same bytes."""

    def __init__(self, seed: int):
        self._rng = random.Random(f"ids-{seed}")

    def generate_span_id(self) -> int:
        return self._rng.getrandbits(64) or 1

    def generate_trace_id(self) -> int:
        return self._rng.getrandbits(128) or 1


def resource(service: str, version: str, host: str, namespace: str) -> Resource:
    # Built by hand (not Resource.create) so environment variables cannot change the output.
    return Resource({
        "service.name": service, "service.version": version, "service.namespace": namespace,
        "host.name": host, "deployment.environment.name": "production",
        "telemetry.sdk.language": "python", "telemetry.sdk.name": "opentelemetry",
        "telemetry.sdk.version": "1.45.2",
    })


class Providers:
    """One TracerProvider and LoggerProvider per (service, version): a restart gets a new resource."""

    def __init__(self, seed: int, namespace: str, span_processor, log_processor):
        self.ids = SeededIdGenerator(seed)
        self.rng = random.Random(f"hosts-{seed}")
        self.namespace = namespace
        self.span_processor = span_processor
        self.log_processor = log_processor
        self.cache: dict[tuple[str, str], tuple] = {}
        self.resources: dict[tuple[str, str], Resource] = {}

    def get(self, service: str, version: str):
        key = (service, version)
        hit = self.cache.get(key)
        if hit is None:
            host = f"{service}-{self.rng.getrandbits(32):08x}-{self.rng.getrandbits(20):05x}"
            res = resource(service, version, host, self.namespace)
            tp = TracerProvider(resource=res, id_generator=self.ids, shutdown_on_exit=False)
            tp.add_span_processor(self.span_processor)
            lp = LoggerProvider(resource=res, shutdown_on_exit=False)
            lp.add_log_record_processor(self.log_processor)
            hit = (tp.get_tracer(SCOPE, SCOPE_VERSION), lp.get_logger(SCOPE, SCOPE_VERSION))
            self.cache[key] = hit
            self.resources[key] = res
        return hit


class Load:
    """Load-dependent slowdown: a service slows down when its call rate outgrows its capacity.

    Capacity calibrates itself on the first minutes of traffic (baseline utilisation RHO0), so
    the model works at any request rate.
    """

    RHO0 = 0.28
    BUCKET_NS = 15 * NS

    def __init__(self, start_ns: int, calibrate_s: float):
        self.start = start_ns
        self.calibrate_end = start_ns + int(calibrate_s * NS)
        self.counts: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self.capacity: dict[str, float] = {}

    def hit(self, name: str, t: int, n: int = 1) -> float:
        """Count `n` calls to `name` at `t`; return the latency multiplier (>= 1)."""
        b = (t - self.start) // self.BUCKET_NS
        counts = self.counts[name]
        counts[b] += n
        if t < self.calibrate_end:
            return 1.0
        cap = self.capacity.get(name)
        if cap is None:
            buckets = max(1, (self.calibrate_end - self.start) // self.BUCKET_NS)
            rate = sum(counts.get(i, 0) for i in range(buckets)) / (buckets * self.BUCKET_NS / NS)
            cap = self.capacity[name] = max(rate, 0.5) / self.RHO0
        rate = max(counts.get(b - 1, 0), counts[b]) / (self.BUCKET_NS / NS)
        rho = min(rate / cap, 0.97)
        return max(1.0, (1 - self.RHO0) / (1 - rho))

    def rho(self, name: str, t: int) -> float:
        cap = self.capacity.get(name)
        if cap is None:
            return self.RHO0
        b = (t - self.start) // self.BUCKET_NS
        counts = self.counts[name]
        return min(max(counts.get(b - 1, 0), counts.get(b, 0)) / (self.BUCKET_NS / NS) / cap, 1.0)


class Metrics:
    """Per-minute request duration histograms, CPU utilisation and consumer lag per service."""

    def __init__(self, start_ns: int):
        self.start = start_ns
        self.hist: dict[tuple[str, str, int], list] = {}
        self.busy: dict[tuple[str, str, int], float] = defaultdict(float)
        self.lag: dict[tuple[str, str, int], float] = {}
        self.cpu_pin: dict[tuple[str, str, int], float] = {}
        self.topics: dict[str, str] = {}  # consumer -> the topic it lags on

    def minute(self, t: int) -> int:
        return (t - self.start) // (60 * NS)

    def request(self, service: str, version: str, t: int, seconds: float, error: bool, busy_s: float) -> None:
        key = (service, version, self.minute(t))
        h = self.hist.get(key)
        if h is None:
            h = self.hist[key] = [0, 0.0, [0] * (len(_BOUNDS) + 1), seconds, seconds, 0]
        h[0] += 1
        h[1] += seconds
        i = 0
        while i < len(_BOUNDS) and seconds > _BOUNDS[i]:
            i += 1
        h[2][i] += 1
        h[3] = min(h[3], seconds)
        h[4] = max(h[4], seconds)
        h[5] += error
        self.busy[key] += busy_s

    def consumer_lag(self, service: str, version: str, t: int, lag_s: float, topic: str = "orders") -> None:
        self.topics[service] = topic
        key = (service, version, self.minute(t))
        self.lag[key] = max(self.lag.get(key, 0.0), lag_s)

    def pin_cpu(self, service: str, version: str, t: int) -> None:
        self.cpu_pin[(service, version, self.minute(t))] = 1.0

    def data(self, resources: dict[tuple[str, str], Resource], end_ns: int) -> MetricsData:
        """All minutes that ended before `end_ns`, one ResourceMetrics per (service, version)."""
        per_res: dict[tuple[str, str], list] = defaultdict(lambda: [[], [], []])
        last = self.minute(end_ns)
        for (svc, ver, m), h in sorted(self.hist.items()):
            if m >= last:
                continue
            t0, t1 = self.start + m * 60 * NS, self.start + (m + 1) * 60 * NS
            hist, cpu, _ = per_res[(svc, ver)]
            hist.append(HistogramDataPoint({}, t0, t1, h[0], h[1], list(h[2]), list(_BOUNDS), h[3], h[4]))
            util = 0.97 + 0.02 * ((m * 7919) % 10) / 10 if (svc, ver, m) in self.cpu_pin else \
                min(0.9, 0.05 + self.busy[(svc, ver, m)] / 60.0 / 4)
            cpu.append(NumberDataPoint({"cpu.mode": "user"}, t0, t1, round(util, 4)))
        for (svc, ver, m), lag in sorted(self.lag.items()):
            if m < last:
                t0, t1 = self.start + m * 60 * NS, self.start + (m + 1) * 60 * NS
                per_res[(svc, ver)][2].append(NumberDataPoint({"messaging.destination.name": self.topics[svc]}, t0,
                                                              t1, round(lag, 3)))
        out = []
        for key, (hist, cpu, lag) in per_res.items():
            metrics = [Metric("http.server.request.duration", "Duration of HTTP server requests.", "s",
                              Histogram(hist, AggregationTemporality.DELTA)),
                       Metric("process.cpu.utilization", "CPU utilisation of the process.", "1", Gauge(cpu))]
            if lag:
                metrics.append(Metric("messaging.kafka.consumer.lag", "Max consumer lag in the minute.", "s",
                                      Gauge(lag)))
            scope = InstrumentationScope(SCOPE, SCOPE_VERSION)
            out.append(ResourceMetrics(resources[key], [ScopeMetrics(scope, metrics, "")], ""))
        return MetricsData(out)


__all__ = ["Sum", "Providers", "Load", "Metrics", "SeededIdGenerator", "resource"]
