"""Simulated mode: hours of traffic in seconds, through the real OpenTelemetry SDK, to OTLP JSON lines."""

from __future__ import annotations

import json
import math
import random
import time
from datetime import UTC, datetime
from pathlib import Path

from opentelemetry._logs import SeverityNumber
from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanKind, Status, StatusCode, set_span_in_context

from ._bare import TraceSpanProcessor, bare_logs, bare_spans, statusless
from ._codes import GRPC_SERVICES, codes_spans, grpc_name
from ._faults import NS, FaultPlan, base_ns, export_mode, make_plan, rfc3339, scenario_name, symptom
from ._late import TraceWindow
from ._late import trace_lead_s as seeded_lead
from ._otlp_json import BufferingLogProcessor, BufferingSpanProcessor, OtlpJsonWriter, open_output
from ._sim_interactions import Interactions
from ._sim_support import Load, Metrics, Providers
from ._topology import NEW_FAULTS, Call, Topology, check_fault, get_topology

MS = 1_000_000
_NOISE = [("ValueError", "invalid literal for int() with base 10: ''"),
          ("TimeoutError", "read timed out"),
          ("KeyError", "'session'")]
_SEV = {"INFO": SeverityNumber.INFO, "WARN": SeverityNumber.WARN, "ERROR": SeverityNumber.ERROR}


def simulate(topology: str, fault: str | None, seed: int, out: Path | str, duration_s: float = 1800,
             fault_at_s: float | None = None, rate_per_s: float = 20.0, max_spans: int | None = None,
             bare: bool = False, export: str | None = None, late: bool = False,
             trace_lead_s: float | None = None) -> dict:
    """Simulate `duration_s` of traffic with `fault` injected at `fault_at_s`; return the ground truth.

    Writes OTLP JSON lines (traces, logs, metrics) to `out`, change events to `<out>.changes.jsonl`
    and the truth to `<out>.truth.json`. The same seed gives the same bytes.

    `export` says how spans look: "normal"; "bare" (`bare=True` says the same), like much real
    telemetry (see `_bare`): no span status, no protocol attributes, kinds inferred, no metrics, and by
    default the fault 60-120 s after the data begins; "codes" (see `_codes`): no span status but HTTP
    and gRPC status codes kept, otherwise as normal (the same simulation as the normal case).

    `late` starts the trace and log export `trace_lead_s` before the onset (0-10 s by seed unless
    given; giving it implies `late`), see `_late`: the same simulation, its baseline cut from the
    traces; metrics still cover the whole duration, and a late bare case exports them too. Its onset
    defaults to 50-70% of the duration in every mode, so the metrics have a baseline.
    """
    topo = get_topology(topology)
    check_fault(topo, fault)
    export = export_mode(export, bare)
    bare = export == "bare"
    late = late or trace_lead_s is not None
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(f"onset-{seed}")
    if fault_at_s is None:
        fault_at_s = round(rng.uniform(60, 120)) if bare and not late else round(duration_s * rng.uniform(0.5, 0.7))
    start = base_ns(seed)
    plan = make_plan(topo, fault, seed, start, start + int(duration_s * NS), start + int(fault_at_s * NS), bare)
    window = None
    if late:
        lead = seeded_lead(topology, fault, seed) if trace_lead_s is None else float(trace_lead_s)
        window = TraceWindow(max(start, start + int((fault_at_s - lead) * NS)))
    began = time.perf_counter()
    with open_output(out) as stream:
        sim = _Sim(topo, plan, seed, start, duration_s, OtlpJsonWriter(stream), rate_per_s, max_spans, export,
                   window)
        sim.run()
    elapsed = time.perf_counter() - began
    truth = {
        "service": plan.target, "fault": fault, "injected_at": rfc3339(plan.start_ns) if fault else None,
        "topology": topology, "seed": seed, "scenario": scenario_name(topology, fault, seed, export, late),
        "bare": bare, "export": export, "late": late, "symptom": symptom(topo, plan),
        "mode": "simulate", "start": rfc3339(start), "end": rfc3339(sim.last_ns), "duration_s": duration_s,
        "fault_at_s": fault_at_s if fault else None, "rate_per_s": rate_per_s,
        "target_kind": "resource" if plan.target in topo.resources else "service",
        "spans": sim.spans, "logs": sim.writer.logs, "seconds": round(elapsed, 3),
        "files": {"otlp": out.name, "changes": out.name + ".changes.jsonl", "truth": out.name + ".truth.json"},
    }
    if plan.endpoint:
        truth["operation"] = plan.endpoint
    if export == "codes":
        truth["grpc_services"] = sorted(set(GRPC_SERVICES.get(topology, ())) & set(topo.services))
        if plan.endpoint and plan.target:
            truth["operation"] = grpc_name(topology, plan.target, plan.endpoint) or plan.endpoint
    if window is not None:  # what was exported: the simulation ran (and metrics cover) the whole duration
        truth.update({"trace_lead_s": round((plan.start_ns - window.cut) / NS, 3) if fault else None,
                      "traces_start": rfc3339(window.cut), "metrics_start": rfc3339(start),
                      "spans": sim.writer.spans})
    if plan.agent:
        truth["agent"] = plan.agent
    if plan.victim:
        truth["victim"] = plan.victim
    if plan.variant:
        truth["variant"] = plan.variant
    if plan.exception[0]:
        truth["exception"] = plan.exception[0]
    with open(str(out) + ".changes.jsonl", "w") as f:
        for change in plan.changes:
            f.write(json.dumps(change, sort_keys=True) + "\n")
    Path(str(out) + ".truth.json").write_text(json.dumps(truth, indent=2, sort_keys=True) + "\n")
    return truth


class _Sim:
    """Walk the topology for each arriving request and emit its spans with explicit timestamps."""

    def __init__(self, topo: Topology, plan: FaultPlan, seed: int, start: int, duration_s: float,
                 writer: OtlpJsonWriter, rate: float, max_spans: int | None, export: str = "normal",
                 window: TraceWindow | None = None):
        self.topo, self.plan, self.seed, self.writer = topo, plan, seed, writer
        self.rng = random.Random(f"traffic-{topo.name}-{seed}")
        self.start, self.end = start, start + int(duration_s * NS)
        self.rate, self.max_spans = rate, max_spans or (1 << 62)
        self.bare = bare = export == "bare"
        # Real data without a trace baseline still has per-service metrics scraped all along.
        self.metrics_out = not bare or window is not None
        self.span_proc = TraceSpanProcessor(writer) if bare else BufferingSpanProcessor(writer)
        if bare:
            writer.span_transform, writer.log_transform = bare_spans, bare_logs
        elif export == "codes":
            writer.span_transform = codes_spans(topo.name)
        elif plan.fault == "code_exception":
            writer.span_transform = statusless({plan.target})
        self.ix = Interactions(topo, plan, seed, start, noisy=bare or plan.fault in NEW_FAULTS)
        self.log_proc = BufferingLogProcessor(writer)
        self.span_proc.window = self.log_proc.window = window
        self.providers = Providers(seed, topo.name, self.span_proc, self.log_proc)
        self.load = Load(start, min(180.0, max(30.0, (plan.start_ns - start) / NS * 0.4)))
        self.metrics = Metrics(start)
        self.versions = self._version_timeline()
        self.err_base = {s: self.rng.uniform(0.002, 0.008) for s in topo.services}
        self.consumer_free: dict[str, int] = {}
        self.spans = 0
        self.last_ns = start
        self.last_lag_log: dict[str, int] = {}

    # -- driver ------------------------------------------------------------------------------------

    def run(self) -> None:
        t = self.start
        next_batch = self.start + int(self.rng.uniform(20, 90) * NS)
        agent_rate = self.rate * 0.08
        next_agent = self.start + self._gap(agent_rate) if self.topo.agents else self.end
        weights = [w for _, _, w in self.topo.entries]
        while self.spans < self.max_spans:
            t += self._gap(self.rate)
            while next_batch <= t and next_batch < self.end:
                self._batch_job(next_batch)
                next_batch += self.topo.batch[2] * NS
            while next_agent <= t and next_agent < self.end:
                self._agent_run(next_agent)
                next_agent += self._gap(agent_rate)
            if t >= self.end:
                break
            svc, ep, _ = self.rng.choices(self.topo.entries, weights)[0]
            self._serve(svc, ep, t, None)
            self.last_ns = t
        self.span_proc.shutdown()
        self.log_proc.force_flush()
        if self.metrics_out:
            self.writer.write_metrics(self.metrics.data(self.providers.resources, self.last_ns + 60 * NS))

    def _gap(self, rate: float) -> int:
        return int(self.rng.expovariate(rate) * NS) + 1

    # -- spans -------------------------------------------------------------------------------------

    def _version(self, svc: str, t: int) -> str:
        version = self.topo.services[svc].version
        for at, v in self.versions.get(svc, ()):
            if t >= at:
                version = v
        return version

    def _start(self, svc: str, name: str, kind: SpanKind, t: int, parent, attrs: dict, links=None):
        self.spans += 1
        tracer, _ = self.providers.get(svc, self._version(svc, t))
        ctx = set_span_in_context(parent) if parent is not None else Context()
        return tracer.start_span(name, context=ctx, kind=kind, attributes=attrs, start_time=t, links=links)

    def _fail(self, span, t: int, exc_type: str, message: str) -> None:
        span.set_status(Status(StatusCode.ERROR, f"{exc_type}: {message}"))
        self._event(span, t, exc_type, message)

    def _event(self, span, t: int, exc_type: str, message: str) -> None:
        """An exception event without status: caught, or recorded by instrumentation that sets none."""
        span.add_event("exception", {"exception.type": exc_type, "exception.message": message,
                                     "exception.stacktrace": f"Traceback (most recent call last):\n  ...\n"
                                                             f"{exc_type}: {message}"}, timestamp=t)

    def _log(self, svc: str, t: int, span, severity: str, body: str, attrs: dict | None = None) -> None:
        _, logger = self.providers.get(svc, self._version(svc, t))
        logger.emit(timestamp=t, observed_timestamp=t, context=set_span_in_context(span) if span else Context(),
                    severity_number=_SEV[severity], severity_text=severity, body=body, attributes=attrs)

    def _lognormal(self, median_ms: float, sigma: float = 0.35) -> float:
        return median_ms * math.exp(self.rng.gauss(0.0, sigma))

    # -- services ----------------------------------------------------------------------------------

    def _serve(self, svc_name: str, ep_key: str, t: int, parent, status_hint: int = 0, drop_after: int = 0):
        """Handle one request at `svc_name`; return (end_ns, http status).

        With `drop_after`, the server span is never exported if it ends later (the request was abandoned
        by its client and the process lost it)."""
        svc = self.topo.services[svc_name]
        ep = svc.endpoint(ep_key)
        plan = self.plan
        path = ep.route.replace("{id}", str(self.rng.randint(1, 5000)))
        span = self._start(svc_name, ep_key, SpanKind.SERVER, t, parent, {
            "http.request.method": ep.method, "http.route": ep.route, "url.path": path, "url.scheme": "http",
            "server.address": svc_name, "server.port": 8080, "network.protocol.version": "1.1"})
        factor = self.load.hit(svc_name, t) * self._self_factor(svc_name, ep_key, t)
        own = self._lognormal(ep.self_ms) * factor * MS + self.ix.spike(self, svc_name)
        pool = self.ix.pool if self.ix.pool and svc_name == self.ix.pool.victim else None
        worker, work = pool.acquire(self, span, t) if pool else (-1, t)
        cur = work + int(own * 0.6)
        status, failure = 200, None
        if ep.calls:
            cur, failure = self._calls(svc_name, ep, cur, span)
        if failure and failure[0] == "client":  # a changed return value made it answer 4xx: not an error
            status, failure = failure[1], None
        elif failure:
            status = 504 if failure[0] == "timeout" else (503 if failure[0] == "pool" else 502)
        else:
            status, failure = self._own_error(svc_name, ep_key, t)
        end = cur + int(own * 0.4) + 1000
        span.set_attribute("http.response.status_code", status)
        if status >= 500 or (failure and failure[0] == "caught"):
            if status >= 500:
                span.set_attribute("error.type", str(status))
            code = failure[0] in ("code", "caught")
            if not code or "event" in self.plan.variant:
                self._fail(span, end - 500, failure[1], failure[2])
            if not code or "log" in self.plan.variant:
                self._log(svc_name, end - 500, span, "ERROR", failure[3], {"http.route": ep.route})
        elif self.rng.random() < 0.03:
            self._log(svc_name, end, span, "INFO",
                      f"{ep.method} {path} completed in {(end - t) // MS} ms status={status}")
        if self.ix.noisy:
            self.ix.background_error(self, svc_name, span, end - 800)
        if pool:
            pool.release(worker, work, end)
        if drop_after and end > drop_after:
            self.span_proc.skip(span)
        span.end(end_time=end)
        self.metrics.request(svc_name, self._version(svc_name, t), t, (end - t) / NS, status >= 500, own / 1e9)
        if plan.fault == "cpu" and plan.on(svc_name, t):
            self.metrics.pin_cpu(svc_name, self._version(svc_name, t), t)
        return end, status

    def _self_factor(self, svc: str, ep_key: str, t: int) -> float:
        plan = self.plan
        if not plan.on(svc, t):
            return 1.0
        if plan.fault == "latency":
            return 1.0 + self._lognormal(320 * plan.magnitude, 0.4) / self.topo.services[svc].endpoint(ep_key).self_ms
        if plan.fault == "cpu":
            return 9.0 * plan.magnitude
        if plan.fault == "bad_deploy":
            return 1.6 if ep_key == plan.endpoint else 1.1
        if plan.fault == "llm_slow":
            return 6.0 * plan.magnitude
        if plan.fault == "timeout_amplification":
            extra = self._lognormal(self.ix.amp_ms * plan.magnitude, 0.35)
            return 1.0 + extra / self.topo.services[svc].endpoint(ep_key).self_ms
        if plan.fault == "pool_cascade":
            extra = self._lognormal(self.ix.pool.extra_ms, 0.35)
            return 1.0 + extra / self.topo.services[svc].endpoint(ep_key).self_ms
        return 1.0

    def _own_error(self, svc: str, ep_key: str, t: int):
        """(status, failure) for errors that originate in this service itself."""
        plan, r = self.plan, self.rng.random()
        if plan.on(svc, t):
            p = {"errors": 0.4 * plan.magnitude, "bad_deploy": 0.35 if ep_key == plan.endpoint else 0.0,
                 "retry_storm": min(0.9, 0.25 * plan.magnitude + 2.0 * max(0.0, self.load.rho(svc, t) - 0.3)),
                 }.get(plan.fault, 0.0)
            if r < p:
                if plan.fault == "retry_storm":
                    return 503, ("own", "ServiceUnavailable", "server overloaded, try again later",
                                 "rejecting request: too many in-flight requests")
                et, msg = plan.exception
                return 500, ("own", et, msg, f"unhandled exception in {ep_key}: {et}: {msg}")
            if plan.fault == "code_exception" and ep_key == plan.endpoint and r < 0.5 * plan.magnitude:
                et, msg = plan.exception
                if self.rng.random() < 0.3:  # caught and logged: the request still succeeds, degraded
                    return 200, ("caught", et, msg, f"error handling {ep_key}, serving fallback: {et}: {msg}")
                return 500, ("code", et, msg, f"unhandled exception in {ep_key}: {et}: {msg}")
            r = self.rng.random()
        if r < self.err_base[svc]:
            et, msg = self.rng.choice(_NOISE)
            return 500, ("own", et, msg, f"unhandled exception in {ep_key}: {et}: {msg}")
        return 200, None

    def _calls(self, svc: str, ep, cur: int, span):
        """Run the endpoint's calls (in parallel for fan-out endpoints); return (end, first critical failure)."""
        parallel = ep.method == "GET" and len(ep.calls) > 2 and all(c.kind == "http" for c in ep.calls)
        start, end, failure = cur, cur, None
        for call in ep.calls:
            if call.p < 1.0 and self.rng.random() > call.p:
                continue
            at = start + int(self.rng.uniform(0.02, 0.3) * MS) if parallel else end + 20_000
            done, fail = self._call(svc, call, at, span)
            end = max(end, done)
            if fail and call.critical:
                failure = failure or fail
                if not parallel:
                    break
            if not parallel and not fail and call.kind == "http" and self.ix.changed_return(self, call.target, at):
                # e.g. an empty cart, a zero price, an anonymous session: the rest of the work is skipped
                if ep.method == "POST":
                    failure = ("client", 422)
                break
        return end, failure

    def _call(self, svc: str, call: Call, t: int, parent):
        if call.kind == "http":
            return self._http(svc, call, t, parent)
        if call.kind == "db":
            return self._db(svc, call, t, parent)
        if call.kind == "cache":
            return self._cache(svc, call, t, parent), None
        return self._produce(svc, call, t, parent), None

    def _http(self, svc: str, call: Call, t: int, parent):
        target = call.target
        method, route = call.route.split(" ", 1)
        storm = self.plan.fault == "retry_storm" and self.plan.on(target, t)
        attempts = 1 + (4 if storm else 2)
        timeout_ms = self.ix.timeout_ms(svc, target, call.timeout_ms)
        if self.ix.pool and svc == self.ix.pool.victim and target == self.plan.target:
            self.ix.pool.note_call()
        for attempt in range(attempts):
            span = self._start(svc, call.route, SpanKind.CLIENT, t, parent, {
                "http.request.method": method, "server.address": target, "server.port": 8080,
                "url.full": f"http://{target}:8080{route}", "url.template": route})
            if attempt:
                span.set_attribute("http.request.resend_count", attempt)
            deadline = t + int(timeout_ms * MS)
            amplified = self.ix.amplified(target, t)
            drop = deadline if amplified and self.rng.random() < 0.3 else 0
            arrive = t + int(self.rng.uniform(0.2, 0.6) * MS) + self.ix.net(self, svc, target, t)
            done, status = self._serve(target, call.route, arrive, span, drop_after=drop)
            done += int(self.rng.uniform(0.2, 0.6) * MS)
            if done > deadline:
                self._fail(span, deadline, "TimeoutError", f"request to {target} timed out after "
                                                           f"{timeout_ms:.0f} ms")
                span.set_attribute("error.type", "timeout")
                span.end(end_time=deadline)
                if amplified and attempt == 0:  # the client retries a timeout once: twice the load
                    t = deadline + int(self.rng.uniform(20, 60) * MS)
                    continue
                return deadline, ("timeout", "UpstreamTimeout", f"{target} timed out",
                                  f"request to {target} timed out after {timeout_ms:.0f} ms")
            span.set_attribute("http.response.status_code", status)
            if status < 500:
                span.end(end_time=done)
                return done, (("client", status) if status >= 400 else None)
            span.set_attribute("error.type", str(status))
            self._fail(span, done, "HTTPStatusError", f"{status} from {target}")
            span.end(end_time=done)
            failure = ("http", "UpstreamError", f"{target} returned {status}",
                       f"request to {target} failed: status={status}")
            if status != 503:
                return done, failure
            t = done + int((0 if storm else self.rng.uniform(20, 60)) * MS)
        return done, failure

    def _db(self, svc: str, call: Call, t: int, parent):
        plan = self.plan
        if plan.fault == "pool_exhaustion" and plan.on(svc, t):
            wait = self._lognormal(380 * plan.magnitude, 0.6)
            if wait > 1000:
                self._log(svc, t + 1000 * MS, parent, "ERROR", "timed out acquiring connection from pool after "
                          f"1000 ms (size={self.topo.services[svc].pool_size}, in use="
                          f"{self.topo.services[svc].pool_size})")
                return t + 1000 * MS, ("pool", "PoolTimeout", "timed out acquiring connection from pool",
                                       "database unavailable: connection pool exhausted")
            if wait > 200 and self.rng.random() < 0.2:
                self._log(svc, t, parent, "WARN", f"waited {int(wait)} ms for a database connection")
            t += int(wait * MS)
        stmt, db = call.op, call.target
        op = stmt.split()[0]
        table = _table(stmt)
        res = self.topo.resources[db]
        span = self._start(svc, f"{op} {table}", SpanKind.CLIENT, t, parent, {
            "db.system": res["db.system"], "db.system.name": res["db.system"], "db.namespace": self.topo.name,
            "db.statement": stmt, "db.query.text": stmt, "db.operation.name": op, "db.collection.name": table,
            "server.address": db, "server.port": res["server.port"]})
        dur = self._lognormal(2.5 if op == "SELECT" else 4.0, 0.5) * self.load.hit(db, t) * MS
        if plan.fault == "latency" and plan.on(db, t):
            dur += self._lognormal(420 * plan.magnitude, 0.5) * MS
        end = t + int(dur)
        if self.rng.random() < 0.0005:
            self._fail(span, end, "DeadlockDetected", "deadlock detected")
            span.end(end_time=end)
            return end, ("db", "DeadlockDetected", "deadlock detected", "database error: deadlock detected")
        span.end(end_time=end)
        return end, None

    def _cache(self, svc: str, call: Call, t: int, parent) -> int:
        key = f"{svc}:{self.rng.randint(1, 999)}"
        span = self._start(svc, call.op, SpanKind.CLIENT, t, parent, {
            "db.system": "redis", "db.system.name": "redis", "db.operation.name": call.op,
            "db.query.text": f"{call.op} {key}", "server.address": "redis", "server.port": 6379})
        end = t + int(self._lognormal(0.4, 0.4) * MS)
        span.end(end_time=end)
        return end

    def _produce(self, svc: str, call: Call, t: int, parent) -> int:
        topic = call.target
        span = self._start(svc, f"send {topic}", SpanKind.PRODUCER, t, parent, {
            "messaging.system": "kafka", "messaging.destination.name": topic, "messaging.operation.type": "send",
            "messaging.operation.name": "send", "server.address": "kafka", "server.port": 9092,
            "messaging.kafka.message.key": f"order-{self.rng.getrandbits(32):08x}"})
        end = t + int(self._lognormal(1.2, 0.3) * MS)
        span.end(end_time=end)
        for consumer in self.topo.services.values():
            if consumer.consumes == topic:
                self._consume(consumer, span, end)
        return end

    def _consume(self, svc, producer_span, published: int) -> None:
        """Process one message: a single worker per consumer, so a slow consumer builds lag."""
        plan = self.plan
        begin = max(published + int(self._lognormal(3, 0.3) * MS), self.consumer_free.get(svc.name, 0))
        if begin >= self.end:
            return
        proc = self._lognormal(svc.consume_ms, 0.4)
        if plan.on(svc.name, begin) and plan.fault in ("queue_lag", "cpu", "latency"):
            proc *= {"queue_lag": 40.0, "cpu": 9.0, "latency": 15.0}[plan.fault] * plan.magnitude
        lag = (begin - published) / NS
        topic = producer_span.attributes["messaging.destination.name"]
        attrs = {"messaging.system": "kafka", "messaging.destination.name": topic,
                 "messaging.operation.type": "process", "messaging.operation.name":
            "process", "messaging.consumer.group.name": svc.name, "server.address": "kafka", "server.port": 9092}
        link_only = svc.consume_linked
        links = [Link(producer_span.get_span_context())] if link_only else None
        span = self._start(svc.name, f"process {attrs['messaging.destination.name']}", SpanKind.CONSUMER, begin,
                           None if link_only else producer_span, attrs, links)
        cur = begin + int(proc * 0.7 * MS)
        for call in svc.consume_calls:
            cur, _ = self._call(svc.name, call, cur, span)
        end = cur + int(proc * 0.3 * MS)
        span.end(end_time=end)
        self.consumer_free[svc.name] = end + self.ix.idle_after(self, svc.name, published, begin)
        version = self._version(svc.name, begin)
        self.metrics.consumer_lag(svc.name, version, begin, lag, topic)
        self.metrics.request(svc.name, version, begin, (end - begin) / NS, False, proc / 1000)
        if lag > 5 and begin - self.last_lag_log.get(svc.name, 0) > 30 * NS:
            self.last_lag_log[svc.name] = begin
            self._log(svc.name, begin, span, "WARN", f"consumer group {svc.name} is lagging on topic {topic}: "
                                                     f"{lag:.1f} s behind")

    # -- background --------------------------------------------------------------------------------

    def _batch_job(self, t: int) -> None:
        svc, job, _, stmt = self.topo.batch
        root = self._start(svc, job, SpanKind.INTERNAL, t, None, {"job.name": job, "job.trigger": "cron"})
        cur = t + 2 * MS
        for _ in range(self.rng.randint(30, 60)):
            cur, _f = self._db(svc, Call("db", self.topo.database, op=stmt), cur, root)
            self.load.hit(self.topo.database, cur, 3)
            cur += int(self.rng.uniform(1, 4) * MS)
        self._log(svc, cur, root, "INFO", f"batch job {job} finished in {(cur - t) // MS} ms")
        root.end(end_time=cur)

    def _version_timeline(self) -> dict[str, list[tuple[int, str]]]:
        out: dict[str, list[tuple[int, str]]] = {}
        for change in self.plan.changes:
            if change["kind"] == "deploy" and change["service"] in self.topo.services:
                at = _parse_ns(change["time"])
                out.setdefault(change["service"], []).append((at, change["version"]))
        return out

    # -- agents ------------------------------------------------------------------------------------

    def _agent_run(self, t: int) -> None:
        from ._sim_agents import agent_run

        agent_run(self, t)


def _table(stmt: str) -> str:
    """The table a SQL statement reads or writes."""
    if stmt.startswith("UPDATE "):
        return stmt.split()[1]
    return stmt.split(" FROM " if " FROM " in stmt else " INTO ")[1].split()[0]


def _parse_ns(text: str) -> int:
    dt = datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    return int(dt.timestamp()) * NS + int(text[20:23]) * MS
