"""One live testbed service: a starlette app on 127.0.0.1, instrumented with the OpenTelemetry SDK.

Run as `python -m interplay.testbed._live_service '<json config>'`. The config names the topology,
the service, every service's port, the OTLP URL, the version and an optional fault to start with.
Faults are switched at runtime with `POST /_control/fault`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import random
import sys
import time

import httpx
import uvicorn
from opentelemetry import propagate
from opentelemetry._logs import SeverityNumber
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._topology import Call, Endpoint, get_topology

LIVE_SCALE = 0.35  # LLM latencies are scaled down so a live scenario fits in 90 s


class Failure(Exception):
    def __init__(self, status: int, exc_type: str, message: str, log: str):
        super().__init__(message)
        self.status, self.exc_type, self.message, self.log = status, exc_type, message, log


class Service:
    """State of one running service: telemetry providers, clients, the active fault."""

    def __init__(self, cfg: dict):
        self.cfg = cfg
        self.topo = get_topology(cfg["topology"])
        self.name = cfg["service"]
        self.spec = self.topo.services.get(self.name)
        self.ports = cfg["ports"]
        self.rng = random.Random()
        self.fault = cfg.get("fault") or {}
        self.workers = asyncio.Semaphore(cfg.get("workers", 4))
        self.inflight = 0
        res = Resource({"service.name": self.name, "service.version": cfg["version"],
                        "service.namespace": self.topo.name, "host.name": f"{self.name}-{os.getpid()}",
                        "process.pid": os.getpid(), "telemetry.sdk.language": "python"})
        self.tp = TracerProvider(resource=res)
        self.tp.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=cfg["url"] + "/v1/traces", timeout=3),
                                                      schedule_delay_millis=500))
        self.lp = LoggerProvider(resource=res)
        log_exporter = OTLPLogExporter(endpoint=cfg["url"] + "/v1/logs", timeout=3)
        self.lp.add_log_record_processor(BatchLogRecordProcessor(log_exporter,
                                                                 schedule_delay_millis=500))
        # Metrics as a user's service sends them: request duration per route, and process CPU.
        self.mp = MeterProvider(resource=res, metric_readers=[PeriodicExportingMetricReader(
            OTLPMetricExporter(endpoint=cfg["url"] + "/v1/metrics", timeout=3), export_interval_millis=5000)])
        meter = self.mp.get_meter("interplay.testbed.live", "0.1.0")
        self.request_duration = meter.create_histogram("http.server.request.duration", unit="s")
        meter.create_observable_gauge("process.cpu.time", callbacks=[_cpu_time], unit="s")
        self.tracer = self.tp.get_tracer("interplay.testbed.live", "0.1.0")
        self.logger = self.lp.get_logger("interplay.testbed.live", "0.1.0")
        pool = self.spec.pool_size if self.spec and self.spec.pool_size else 4
        # The database connection pool: at most `pool` connections to postgres, 1 s to get one.
        # The semaphore is the pool a driver would keep; checking a connection out is separate from
        # the query, so the query's CLIENT span shows the database's time and not the wait.
        self.db_pool = asyncio.Semaphore(pool)
        self.db = httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.ports['postgres']}",
                                    limits=httpx.Limits(max_connections=pool, max_keepalive_connections=pool),
                                    timeout=httpx.Timeout(10.0, pool=1.0))
        self.http = httpx.AsyncClient(limits=httpx.Limits(max_connections=200))
        self.queue: asyncio.Queue = asyncio.Queue()
        self.leaks: list[asyncio.Task] = []

    def on(self, name: str) -> bool:
        return self.fault.get("fault") == name

    def log(self, span, severity: str, body: str) -> None:
        sev = {"INFO": SeverityNumber.INFO, "WARN": SeverityNumber.WARN, "ERROR": SeverityNumber.ERROR}[severity]
        self.logger.emit(context=set_span_in_context(span), severity_number=sev, severity_text=severity, body=body)

    async def work(self, ms: float) -> None:
        """Own work: sleep, or burn CPU for real when saturated (blocking every request of the process)."""
        async with self.workers:
            if self.on("cpu"):
                end = time.perf_counter() + ms * 8 / 1000
                while time.perf_counter() < end:
                    pass
                await asyncio.sleep(0)
            else:
                await asyncio.sleep(ms / 1000)

    def lognormal(self, median: float, sigma: float = 0.35) -> float:
        return median * math.exp(self.rng.gauss(0, sigma))


# -- request handling ------------------------------------------------------------------------------


def _cpu_time(options):
    from opentelemetry.metrics import Observation
    yield Observation(time.process_time())


def make_handler(svc: Service, ep: Endpoint):
    async def handler(request: Request) -> Response:
        ctx = propagate.extract(request.headers)
        attrs = {"http.request.method": ep.method, "http.route": ep.route, "url.path": request.url.path,
                 "url.scheme": "http", "server.address": "127.0.0.1", "server.port": svc.cfg["port"]}
        started = time.perf_counter()
        with svc.tracer.start_as_current_span(ep.key, context=ctx, kind=SpanKind.SERVER, attributes=attrs,
                                              record_exception=False, set_status_on_exception=False) as span:
            svc.inflight += 1
            try:
                status = await serve(svc, ep, span)
            finally:
                svc.inflight -= 1
            span.set_attribute("http.response.status_code", status)
            svc.request_duration.record(time.perf_counter() - started,
                                        {"http.route": ep.route, "http.response.status_code": status})
            return JSONResponse({"service": svc.name, "status": status}, status_code=status)
    return handler


async def serve(svc: Service, ep: Endpoint, span) -> int:
    own = svc.lognormal(ep.self_ms)
    if svc.on("latency"):
        own += svc.lognormal(320, 0.4)
    try:
        await svc.work(own * 0.6)
        for call in ep.calls:
            if call.p < 1.0 and svc.rng.random() > call.p:
                continue
            try:
                await do_call(svc, call, span)
            except Failure:
                if call.critical:
                    raise
        own_error(svc, ep)
        await svc.work(own * 0.4)
        return 200
    except Failure as f:
        fail(span, f.exc_type, f.message)
        span.set_attribute("error.type", str(f.status))
        svc.log(span, "ERROR", f.log)
        return f.status


def own_error(svc: Service, ep: Endpoint) -> None:
    f, r = svc.fault, svc.rng.random()
    if svc.on("errors") and r < 0.4:
        raise Failure(500, "ConnectionResetError", "[Errno 104] Connection reset by peer while reading from "
                      "upstream ledger", f"unhandled exception in {ep.key}: ConnectionResetError")
    if svc.on("bad_deploy") and ep.key == f.get("endpoint") and r < 0.35:
        raise Failure(500, "AttributeError", "'NoneType' object has no attribute 'currency_code'",
                      f"unhandled exception in {ep.key}: AttributeError: 'NoneType' object has no attribute "
                      "'currency_code'")
    if svc.on("retry_storm") and r < min(0.9, 0.3 + 0.08 * svc.inflight):
        raise Failure(503, "ServiceUnavailable", "server overloaded, try again later",
                      "rejecting request: too many in-flight requests")
    if svc.rng.random() < 0.004:
        raise Failure(500, "ValueError", "invalid literal for int() with base 10: ''",
                      f"unhandled exception in {ep.key}: ValueError")


def fail(span, exc_type: str, message: str) -> None:
    span.set_status(Status(StatusCode.ERROR, f"{exc_type}: {message}"))
    span.add_event("exception", {"exception.type": exc_type, "exception.message": message})


async def do_call(svc: Service, call: Call, parent) -> None:
    if call.kind == "http":
        await http_call(svc, call, parent)
    elif call.kind == "db":
        await db_call(svc, call.op, parent)
    elif call.kind == "cache":
        with svc.tracer.start_as_current_span(call.op, context=set_span_in_context(parent), kind=SpanKind.CLIENT,
                                              attributes={"db.system": "redis", "db.system.name": "redis",
                                                          "db.operation.name": call.op, "server.address": "redis",
                                                          "server.port": 6379}):
            await asyncio.sleep(svc.lognormal(0.4) / 1000)
    else:
        await produce(svc, call.target, parent)


@contextlib.contextmanager
def http_attempt(svc: Service, name: str, parent, attrs: dict, attempt: int):
    """One attempt of an outgoing HTTP call: its CLIENT span (with the resend count on retries) and
    the W3C headers that carry it to the callee."""
    with svc.tracer.start_as_current_span(name, context=set_span_in_context(parent), kind=SpanKind.CLIENT,
                                          attributes=attrs, record_exception=False,
                                          set_status_on_exception=False) as span:
        if attempt:
            span.set_attribute("http.request.resend_count", attempt)
        headers: dict[str, str] = {}
        propagate.inject(headers, context=set_span_in_context(span))
        yield span, headers


async def http_call(svc: Service, call: Call, parent, retries: int = 2) -> httpx.Response:
    method, route = call.route.split(" ", 1)
    path = route.replace("{id}", str(svc.rng.randint(1, 5000)))
    url = f"http://127.0.0.1:{svc.ports[call.target]}{path}"
    for attempt in range(retries + 1):
        attrs = {"http.request.method": method, "server.address": call.target, "server.port": svc.ports[call.target],
                 "url.full": url, "url.template": route}
        with http_attempt(svc, call.route, parent, attrs, attempt) as (span, headers):
            try:
                resp = await svc.http.request(method, url, headers=headers, timeout=call.timeout_ms / 1000)
            except httpx.TimeoutException:
                fail(span, "TimeoutError", f"request to {call.target} timed out after {call.timeout_ms:.0f} ms")
                span.set_attribute("error.type", "timeout")
                raise Failure(504, "UpstreamTimeout", f"{call.target} timed out",
                              f"request to {call.target} timed out after {call.timeout_ms:.0f} ms") from None
            except httpx.TransportError as exc:
                fail(span, "ConnectError", str(exc) or "connection refused")
                span.set_attribute("error.type", type(exc).__name__)
                raise Failure(502, "UpstreamError", f"{call.target} unreachable",
                              f"request to {call.target} failed: connection error") from None
            span.set_attribute("http.response.status_code", resp.status_code)
            if resp.status_code < 400:
                return resp
            span.set_attribute("error.type", str(resp.status_code))
            fail(span, "HTTPStatusError", f"{resp.status_code} from {call.target}")
        if resp.status_code not in (429, 503) or attempt == retries:
            raise Failure(502, "UpstreamError", f"{call.target} returned {resp.status_code}",
                          f"request to {call.target} failed: status={resp.status_code}")
        await asyncio.sleep(0.0 if resp.status_code == 503 else 0.5 * (attempt + 1))
    raise AssertionError("unreachable")


async def db_call(svc: Service, stmt: str, parent, hold_ms: float | None = None) -> None:
    op = stmt.split()[0]
    table = stmt.split(" FROM " if " FROM " in stmt else " INTO ")[1].split()[0]
    attrs = {"db.system": "postgresql", "db.system.name": "postgresql", "db.namespace": svc.topo.name,
             "db.statement": stmt, "db.query.text": stmt, "db.operation.name": op, "db.collection.name": table,
             "server.address": "postgres", "server.port": 5432}
    started = time.perf_counter()
    try:
        # The span starts once a pooled connection is ours: waiting for one is the caller's own time.
        try:
            await asyncio.wait_for(svc.db_pool.acquire(), timeout=1.0)
        except TimeoutError:
            raise httpx.PoolTimeout("no connection within 1 s") from None
        try:
            with svc.tracer.start_as_current_span(f"{op} {table}", context=set_span_in_context(parent),
                                                  kind=SpanKind.CLIENT, attributes=attrs):
                resp = await svc.db.get("/query", params={"ms": hold_ms or 0})
                resp.raise_for_status()
        finally:
            svc.db_pool.release()
    except httpx.PoolTimeout:
        waited = (time.perf_counter() - started) * 1000
        svc.log(parent, "ERROR", f"timed out acquiring connection from pool after {waited:.0f} ms")
        raise Failure(503, "PoolTimeout", "timed out acquiring connection from pool",
                      "database unavailable: connection pool exhausted") from None
    except httpx.HTTPError:
        raise Failure(500, "OperationalError", "database connection lost",
                      "database error: connection lost") from None


async def produce(svc: Service, topic: str, parent) -> None:
    attrs = {"messaging.system": "kafka", "messaging.destination.name": topic, "messaging.operation.type": "send",
             "messaging.operation.name": "send", "server.address": "kafka", "server.port": 9092}
    with svc.tracer.start_as_current_span(f"send {topic}", context=set_span_in_context(parent),
                                          kind=SpanKind.PRODUCER, attributes=attrs) as span:
        headers: dict[str, str] = {}
        propagate.inject(headers, context=set_span_in_context(span))
        for consumer in svc.topo.services.values():
            if consumer.consumes == topic:
                try:
                    await svc.http.post(f"http://127.0.0.1:{svc.ports[consumer.name]}/_queue/{topic}",
                                        headers=headers, timeout=1.0)
                except httpx.HTTPError:
                    pass


async def consume_loop(svc: Service) -> None:
    """Single consumer worker: a slow consumer builds lag on the topic."""
    spec = svc.spec
    while True:
        published, headers = await svc.queue.get()
        ctx = propagate.extract(headers)
        parent_ctx, links = (Context(), None) if spec.consume_linked else (ctx, None)
        if spec.consume_linked:
            from opentelemetry.trace import Link, get_current_span
            links = [Link(get_current_span(ctx).get_span_context())]
        attrs = {"messaging.system": "kafka", "messaging.destination.name": spec.consumes,
                 "messaging.operation.type": "process", "messaging.operation.name": "process",
                 "messaging.consumer.group.name": svc.name, "server.address": "kafka", "server.port": 9092}
        with svc.tracer.start_as_current_span(f"process {spec.consumes}", context=parent_ctx, links=links,
                                              kind=SpanKind.CONSUMER, attributes=attrs) as span:
            lag = time.time() - published
            if lag > 3:
                svc.log(span, "WARN", f"consumer group {svc.name} is lagging on topic {spec.consumes}: "
                                      f"{lag:.1f} s behind")
            ms = svc.lognormal(spec.consume_ms) * (40 if svc.on("queue_lag") else 1)
            await svc.work(ms * 0.7)
            for call in spec.consume_calls:
                try:
                    await do_call(svc, call, span)
                except Failure:
                    pass
            await svc.work(ms * 0.3)


# -- control ---------------------------------------------------------------------------------------


async def control_fault(svc: Service, request: Request) -> Response:
    svc.fault = await request.json() or {}
    for task in svc.leaks:
        task.cancel()
    svc.leaks = []
    if svc.on("pool_exhaustion"):
        # A connection leak: all but one pooled connection stay checked out.
        size = svc.spec.pool_size or 4
        svc.leaks = [asyncio.create_task(_leak(svc)) for _ in range(size - 1)]
    return JSONResponse({"service": svc.name, "fault": svc.fault})


async def _leak(svc: Service) -> None:
    await svc.db_pool.acquire()  # checked out and never given back while the fault lasts
    try:
        await asyncio.sleep(600)
    except asyncio.CancelledError:
        pass
    finally:
        svc.db_pool.release()


def build_postgres_app(cfg: dict) -> Starlette:
    """The database: no spans of its own (callers' CLIENT spans describe it), just latency and faults."""
    state = {"fault": {}}
    rng = random.Random()

    async def query(request: Request) -> Response:
        hold = float(request.query_params.get("ms", 0) or 0)
        ms = hold or 2.5 * math.exp(rng.gauss(0, 0.5))
        if state["fault"].get("fault") == "latency" and not hold:
            ms += 420 * math.exp(rng.gauss(0, 0.5))
        await asyncio.sleep(ms / 1000)
        return JSONResponse({"rows": 1})

    async def control(request: Request) -> Response:
        state["fault"] = await request.json() or {}
        return JSONResponse(state["fault"])

    return Starlette(routes=[Route("/_health", lambda r: JSONResponse({"ok": True})),
                             Route("/query", query), Route("/_control/fault", control, methods=["POST"]),
                             Route("/_control/flush", lambda r: JSONResponse({}), methods=["POST"])])


def build_app(cfg: dict) -> Starlette:
    """The app of one service (or of the database when `cfg["service"]` is postgres)."""
    if cfg["service"] == "postgres":
        return build_postgres_app(cfg)
    svc = Service(cfg)
    routes = [Route("/_health", lambda r: JSONResponse({"ok": True, "version": cfg["version"]})),
              Route("/_control/fault", _bind(control_fault, svc), methods=["POST"]),
              Route("/_control/flush", _bind(_flush, svc), methods=["POST"])]
    for ep in svc.spec.endpoints if svc.spec and svc.name != svc.topo.llm_service else ():
        routes.append(Route(ep.route, make_handler(svc, ep), methods=[ep.method]))
    if svc.spec and svc.spec.consumes:
        routes.append(Route(f"/_queue/{svc.spec.consumes}", _bind(_enqueue, svc), methods=["POST"]))
    if svc.name == svc.topo.agent_service:
        from ._live_agent import trigger
        routes.append(Route("/_trigger", _bind(trigger, svc), methods=["POST"]))
    if svc.name == svc.topo.llm_service:
        from ._live_agent import completions
        routes.append(Route("/v1/chat/completions", _bind(completions, svc), methods=["POST"]))

    @contextlib.asynccontextmanager
    async def lifespan(app):
        consumer = asyncio.create_task(consume_loop(svc)) if svc.spec and svc.spec.consumes else None
        yield
        if consumer:
            consumer.cancel()
        svc.tp.shutdown()
        svc.lp.shutdown()
        svc.mp.shutdown()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.svc = svc
    return app


def _bind(handler, svc: Service):
    """An async endpoint calling `handler(svc, request)` (starlette runs plain lambdas in a thread)."""
    async def endpoint(request: Request) -> Response:
        return await handler(svc, request)
    return endpoint


async def _enqueue(svc: Service, request: Request) -> Response:
    await svc.queue.put((time.time(), dict(request.headers)))
    return Response(status_code=202)


async def _flush(svc: Service, request: Request) -> Response:
    await asyncio.to_thread(svc.tp.force_flush, 5000)
    await asyncio.to_thread(svc.lp.force_flush, 5000)
    await asyncio.to_thread(svc.mp.force_flush, 5000)
    return JSONResponse({"flushed": True})


def main() -> None:
    cfg = json.loads(sys.argv[1])
    uvicorn.run(build_app(cfg), host="127.0.0.1", port=cfg["port"], log_level="warning", access_log=False,
                lifespan="on", timeout_graceful_shutdown=3)


if __name__ == "__main__":
    main()
