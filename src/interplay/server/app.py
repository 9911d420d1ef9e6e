"""The ASGI app: OTLP/HTTP receiver, change events, and the JSON query API."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from ..api import Interplay, changes_batch
from ..model import InterplayError, Overloaded
from ..model_results import to_json
from ..otlp.sanitize import load_json
from ..store.telemetry import parse_attributes
from ..timeutil import parse_duration_ns
from . import otlp_http, routes_agents, routes_alerts, routes_investigate, web, zipkin_http
from .admission import CLIENT_HEADER, AdmissionMiddleware
from .bodies import BodyGuard, InflatedSize
from .mcp import mcp_endpoint
from .openapi import BINARY, CHANGE_BODY, LIST, OBJ, OTLP_BODY, WINDOW, api_route, limit_param, ok, op, param, records
from .params import answer, error_response, int_param, window_of
from .state import ServerState, state_of

__all__ = ["ServerState", "create_app", "state_of"]

log = logging.getLogger("interplay.server")


def create_app(state: ServerState) -> Starlette:
    routes = list(API_ROUTES)
    # MCP's session manager runs in the app's lifespan, so uvicorn must run with lifespan="on".
    mcp = mcp_endpoint(state)
    routes += mcp.routes
    app = Starlette(routes=routes, lifespan=mcp.lifespan)
    app.state.interplay_state = state
    admission = state.admission
    assert admission is not None  # ServerState.__post_init__ makes one
    if admission.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=sorted(admission.cors_origins),
                           allow_methods=["GET", "POST"], allow_headers=[
                               "authorization", "content-type", "content-encoding", CLIENT_HEADER])
    app.add_middleware(AdmissionMiddleware, admission=admission, error_response=_guard_error)
    app.add_middleware(BodyGuard, limits=state.limits, error_response=_guard_error)  # outermost
    return app


def _guard_error(scope, exc: InterplayError) -> Response:
    """A refused request, answered the way its route answers errors (OTLP Status on /v1/ receivers)."""
    path = scope["path"]
    if path.startswith("/v1/") and path != "/v1/changes":
        content_type = dict(scope.get("headers") or []).get(b"content-type", b"").decode("latin-1")
        media = otlp_http.PROTOBUF if "protobuf" in content_type else otlp_http.JSON
        return otlp_http.error_response(exc.http_status, str(exc), media)
    return error_response(exc)


# -- OTLP ----------------------------------------------------------------------------------------
def _otlp_endpoint(signal: str):
    async def endpoint(request: Request) -> Response:
        state = state_of(request)
        media = otlp_http.JSON
        try:
            media = otlp_http.media_type(request.headers.get("content-type"))
            body = await otlp_http.read_body(request.stream(), request.headers.get("content-encoding"),
                                             state.max_body)
            batch, held = await otlp_http.decode_off_loop(signal, body, media)
            del body  # held while the batch waits for the writer otherwise
            try:
                result = await asyncio.wrap_future(state.writer.submit(batch))
            finally:
                otlp_http.DECODED.release(held)
        except Overloaded as exc:
            return otlp_http.error_response(503, str(exc), media, retry_after=2)
        except InterplayError as exc:
            log.info("rejected /v1/%s: %s", signal, exc)
            return otlp_http.error_response(exc.http_status, str(exc), media)
        return otlp_http.export_response(signal, result, media)
    return endpoint


async def _changes_post(request: Request) -> Response:
    state = state_of(request)
    try:
        body = await otlp_http.read_body(request.stream(), request.headers.get("content-encoding"),
                                         state.max_body)
        doc, warnings = load_json(body)
        batch = changes_batch(doc)
        batch.warnings += warnings
        result = await asyncio.wrap_future(state.writer.submit(batch))
    except Overloaded as exc:
        return error_response(exc, retry_after=2)
    except InterplayError as exc:
        return error_response(exc)
    return JSONResponse(result.to_dict())


# -- queries -------------------------------------------------------------------------------------
async def _health(request: Request) -> Response:
    return JSONResponse({"status": "ok", "pending_writes": state_of(request).writer.pending})


async def _services(request: Request) -> Response:
    return await answer(request, lambda ip, q: to_json(ip.services(window_of(q))))


async def _traces(request: Request) -> Response:
    def run(ip: Interplay, q) -> Any:
        min_ms = q.get("min_duration")
        return to_json(ip.traces(window_of(q), service=q.get("service") or None,
                                 operation=q.get("operation") or None,
                                 errors_only=q.get("errors", "").lower() in ("1", "true", "yes"),
                                 min_duration_ns=parse_duration_ns(min_ms) if min_ms else None,
                                 attributes=parse_attributes(q.getlist("attr"), "attr"),
                                 limit=int_param(q.get("limit"), 20, "limit")))
    return await answer(request, run)


async def _trace(request: Request) -> Response:
    trace_id = request.path_params["trace_id"]
    return await answer(request, lambda ip, q: to_json(ip.trace(trace_id)))


async def _logs(request: Request) -> Response:
    return await answer(request, lambda ip, q: to_json(ip.logs(
        window_of(q), service=q.get("service") or None, severity=q.get("severity") or None,
        text=q.get("text") or None, trace_id=q.get("trace_id") or None, span_id=q.get("span_id") or None,
        similar_to=q.get("similar_to") or None, limit=int_param(q.get("limit"), 100, "limit"))))


async def _changes_get(request: Request) -> Response:
    return await answer(request, lambda ip, q: to_json(ip.changes(
        window_of(q), service=q.get("service") or None, limit=int_param(q.get("limit"), 200, "limit"))))


async def _ingest_file(request: Request) -> Response:
    """A whole telemetry file (any format `interplay ingest` reads), streamed to disk, stored atomically.

    BodyGuard caps the upload at `limits.max_upload`; the same cap bounds what it decompresses to,
    and no single line or document may exceed `max_body`.
    """
    import os
    import tempfile

    from starlette.concurrency import run_in_threadpool
    state = state_of(request)
    limits = state.limits
    name = request.query_params.get("name") or "upload"
    skip_invalid = request.query_params.get("skip_invalid", "").lower() in ("1", "true", "yes")
    tmp = tempfile.NamedTemporaryFile(prefix="interplay-ingest-", delete=False)
    inflated = InflatedSize(limits.max_upload, name)

    def write(chunk: bytes) -> None:
        inflated.feed(chunk)
        tmp.write(chunk)
    try:
        async for chunk in request.stream():
            await run_in_threadpool(write, chunk)
        tmp.close()
        job = lambda ip: ip.ingest_file(tmp.name, skip_invalid=skip_invalid, name=name,  # noqa: E731
                                        max_bytes=limits.max_upload, max_record=limits.max_body)
        result = await asyncio.wrap_future(state.writer.submit(job))
    except Overloaded as exc:
        return error_response(exc, retry_after=2)
    except InterplayError as exc:
        return error_response(exc)
    finally:
        tmp.close()
        os.unlink(tmp.name)
    return JSONResponse(result.to_dict())


ROUTES: list[BaseRoute] = [
    *(api_route(f"/v1/{signal}", _otlp_endpoint(signal), {"post": op(
        f"OTLP/HTTP {signal} receiver", [],
        {"description": "OTLP export response (partial success lists rejected records)",
         "content": {"application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
                     "application/json": {"schema": OBJ}}},
        tag="ingest", body=OTLP_BODY, errors=("400", "413", "415", "503"))})
      for signal in ("traces", "logs", "metrics")),
    api_route("/v1/changes", _changes_post, {"post": op(
        "Record change events (same as POST /api/changes)", [],
        ok("Stored counts", "IngestResult"), tag="ingest", body=CHANGE_BODY, errors=("400", "413", "503"))}),
    api_route(zipkin_http.PATH, zipkin_http.spans_endpoint, {"post": op(
        "Zipkin v2 spans, JSON or protobuf (as a Zipkin collector takes them), optionally gzip", [],
        {"description": "Accepted (stored before the answer)"}, tag="ingest", code="202",
        body={"required": True, "content": {"application/json": {"schema": LIST}, "application/x-protobuf": {
            "schema": {"type": "string", "format": "binary"}}}},
        errors=("400", "413", "415", "503"))}),
    api_route("/api/health", _health, {"get": {
        **op("Liveness probe (no token needed)", [], ok("Server is up", OBJ), tag="meta", errors=()),
        "security": []}}),
    api_route("/api/services", _services, {"get": op(
        "Services seen in the window, with request rate, error rate and latency", WINDOW,
        ok("Services", records("Service")),
        tag="telemetry")}),
    api_route("/api/traces", _traces, {"get": op(
        "Traces matching the filters, newest first",
        WINDOW + [param("service", "Traces touching this service."),
                  param("operation", "Traces with a span of this name."),
                  param("errors", "true: only traces with an error span matching the filters.",
                        schema={"type": "boolean"}),
                  param("min_duration", "Only traces at least this long, e.g. 500ms."),
                  {**param("attr", "KEY=VALUE: a span (or its resource) carries this attribute; "
                                   "repeat for several, all on one span.",
                           schema={"type": "array", "items": {"type": "string"}}),
                   "style": "form", "explode": True}, limit_param(20)],
        ok("Traces", records("TraceSummary")),
        tag="telemetry")}),
    api_route("/api/traces/{trace_id}", _trace, {"get": op(
        "One trace as a span tree with self time; orphans (parent never arrived) are roots",
        [param("trace_id", "32 hex characters.", where="path")], ok("The trace", "Trace"),
        tag="telemetry", errors=("400", "404"))}),
    api_route("/api/logs", _logs, {"get": op(
        "Log records matching the filters, newest first",
        WINDOW + [param("service", "Only this service's records."),
                  param("severity", "At least this severity: TRACE, DEBUG, INFO, WARN, ERROR, FATAL."),
                  param("text", "Only records whose body contains this text (any case)."),
                  param("trace_id", "Only the records of this trace (32 hex characters)."),
                  param("span_id", "Only the records of this span (16 hex characters)."),
                  param("similar_to", "A log line: only records with its template (numbers, ids and "
                                      "quoted strings masked)."), limit_param(100)],
        ok("Log records", records("LogRecord")),
        tag="telemetry")}),
    api_route("/api/changes", _changes_get, {"get": op(
        "Change events, newest first", WINDOW + [param("service", "Only this service."), limit_param(200)],
        ok("Change events", records("Change")),
        tag="telemetry")}),
    api_route("/api/changes", _changes_post, {"post": op(
        "Record change events (deploy, config, flag, infra, commit)", [],
        ok("Stored counts", "IngestResult"), tag="ingest", body=CHANGE_BODY, errors=("400", "413", "503"))}),
    api_route("/api/ingest", _ingest_file, {"post": op(
        "Store a whole telemetry file (any format `interplay ingest` reads) atomically",
        [param("name", "File name, used in error messages."),
         param("skip_invalid", "true: store the valid records and report the rest.", schema={"type": "boolean"})],
        ok("Stored counts", "IngestResult"), tag="ingest", body={"required": True, **BINARY},
        errors=("400", "413", "503"))}),
]
# Each area's module declares its routes with their OpenAPI operations; handlers reach the hub through
# `state_of(request)`.
API_ROUTES: list[BaseRoute] = [*ROUTES, *routes_investigate.ROUTES, *routes_agents.ROUTES, *routes_alerts.ROUTES,
                              *web.ROUTES]
