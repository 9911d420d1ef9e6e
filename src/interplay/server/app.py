"""The ASGI app: OTLP/HTTP receiver, change events, and the JSON query API."""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..api import Interplay, changes_batch
from ..model import InterplayError, InvalidInput, Overloaded, PayloadTooLarge
from ..timeutil import parse_duration_ns
from . import otlp_http, zipkin_http
from .params import error_response, int_param, window_of
from .writer import Writer

log = logging.getLogger("interplay.server")


@dataclass
class ServerState:
    interplay: Interplay
    writer: Writer
    token: str | None = None
    max_body: int = otlp_http.DEFAULT_MAX_BODY
    notify_url: str | None = None   # where alert investigations are forwarded (routes_alerts)


def create_app(state: ServerState) -> Starlette:
    routes = [Route(f"/v1/{signal}", _otlp_endpoint(signal), methods=["POST"])
              for signal in ("traces", "logs", "metrics")]
    routes += [
        Route("/v1/changes", _changes_post, methods=["POST"]),
        Route(zipkin_http.PATH, zipkin_http.spans_endpoint, methods=["POST"]),
        Route("/api/health", _health),
        Route("/api/services", _services),
        Route("/api/traces", _traces),
        Route("/api/traces/{trace_id}", _trace),
        Route("/api/logs", _logs),
        Route("/api/changes", _changes_get, methods=["GET"]),
        Route("/api/changes", _changes_post, methods=["POST"]),
        Route("/api/ingest", _ingest_file, methods=["POST"]),
    ]
    routes += _area_routes()
    mcp = _mcp_endpoint(state)
    routes += mcp.routes if mcp else []
    app = Starlette(routes=routes, lifespan=mcp.lifespan if mcp else None)
    app.state.interplay_state = state
    app.add_middleware(_TokenMiddleware, state=state)
    return app


def _area_routes() -> list:
    """Routes of the areas built in parallel (investigations, agents, web UI), once they exist.

    Each such module defines ROUTES; its handlers reach the hub through `state_of(request)`.
    """
    import importlib
    routes: list = []
    for name in ("interplay.server.routes_investigate", "interplay.server.routes_agents",
                 "interplay.server.routes_alerts", "interplay.server.web"):
        try:
            routes += importlib.import_module(name).ROUTES
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return routes


def _mcp_endpoint(state: ServerState):
    """MCP over streamable HTTP at /mcp, behind the token middleware like every other path.

    Its session manager runs in the app's lifespan, so uvicorn must run with lifespan="on".
    """
    try:
        from .mcp import mcp_endpoint
    except ModuleNotFoundError as exc:
        if exc.name != "mcp":  # the SDK is missing: serve everything else
            raise
        log.warning("the mcp package is not installed: no MCP endpoint at /mcp")
        return None
    return mcp_endpoint(state)


def state_of(request: Request) -> ServerState:
    return request.app.state.interplay_state


def _state(request: Request) -> ServerState:
    return request.app.state.interplay_state


def _needs_token(path: str) -> bool:
    """The UI page and its static files hold no data; the API, the receivers and MCP do."""
    return path.startswith(("/api/", "/v1/", "/mcp")) and path != "/api/health"


class _TokenMiddleware:
    """Bearer-token check for /api/, /v1/ and /mcp (except the health probe), when a token is set."""

    def __init__(self, app, state: ServerState) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and self.state.token and _needs_token(scope["path"]):
            headers = dict(scope.get("headers") or [])
            given = headers.get(b"authorization", b"").decode("latin-1")
            if not hmac.compare_digest(given.encode(), f"Bearer {self.state.token}".encode()):
                response = JSONResponse({"error": "missing or wrong bearer token"}, status_code=401,
                                        headers={"WWW-Authenticate": "Bearer"})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


# -- OTLP ----------------------------------------------------------------------------------------
def _otlp_endpoint(signal: str):
    async def endpoint(request: Request) -> Response:
        state = _state(request)
        media = otlp_http.JSON
        try:
            media = otlp_http.media_type(request.headers.get("content-type"))
            body = await otlp_http.read_body(request.stream(), request.headers.get("content-encoding"),
                                             state.max_body)
            batch = otlp_http.decode(signal, body, media)
            result = await asyncio.wrap_future(state.writer.submit(batch))
        except Overloaded as exc:
            return otlp_http.error_response(503, str(exc), media, retry_after=2)
        except InterplayError as exc:
            log.info("rejected /v1/%s: %s", signal, exc)
            return otlp_http.error_response(exc.http_status, str(exc), media)
        return otlp_http.export_response(signal, result, media)
    return endpoint


async def _changes_post(request: Request) -> Response:
    state = _state(request)
    try:
        body = await otlp_http.read_body(request.stream(), request.headers.get("content-encoding"),
                                         state.max_body)
        try:
            doc = json.loads(body)
        except ValueError as exc:
            raise InvalidInput(f"body is not valid JSON: {exc}") from None
        batch = changes_batch(doc)
        result = await asyncio.wrap_future(state.writer.submit(batch))
    except Overloaded as exc:
        return error_response(exc, retry_after=2)
    except InterplayError as exc:
        return error_response(exc)
    return JSONResponse(result.to_dict())


# -- queries -------------------------------------------------------------------------------------
async def _health(request: Request) -> Response:
    return JSONResponse({"status": "ok", "pending_writes": _state(request).writer.pending})


async def _services(request: Request) -> Response:
    return await _query(request, lambda ip, q: ip.services(window_of(q)))


async def _traces(request: Request) -> Response:
    def run(ip: Interplay, q) -> Any:
        min_ms = q.get("min_duration")
        return ip.traces(window_of(q), service=q.get("service") or None,
                         operation=q.get("operation") or None,
                         errors_only=q.get("errors", "").lower() in ("1", "true", "yes"),
                         min_duration_ns=parse_duration_ns(min_ms) if min_ms else None,
                         limit=int_param(q.get("limit"), 20, "limit"))
    return await _query(request, run)


async def _trace(request: Request) -> Response:
    trace_id = request.path_params["trace_id"]
    return await _query(request, lambda ip, q: ip.trace(trace_id))


async def _logs(request: Request) -> Response:
    return await _query(request, lambda ip, q: ip.logs(
        window_of(q), service=q.get("service") or None, severity=q.get("severity") or None,
        text=q.get("text") or None, trace_id=q.get("trace_id") or None, span_id=q.get("span_id") or None,
        similar_to=q.get("similar_to") or None, limit=int_param(q.get("limit"), 100, "limit")))


async def _changes_get(request: Request) -> Response:
    return await _query(request, lambda ip, q: ip.changes(
        window_of(q), service=q.get("service") or None, limit=int_param(q.get("limit"), 200, "limit")))


async def _query(request: Request, fn) -> Response:
    from starlette.concurrency import run_in_threadpool
    try:
        result = await run_in_threadpool(fn, _state(request).interplay, request.query_params)
    except InterplayError as exc:
        return error_response(exc)
    return JSONResponse(result)


MAX_FILE_UPLOAD = 8 * 1024 * 1024 * 1024


async def _ingest_file(request: Request) -> Response:
    """A whole telemetry file (any format `interplay ingest` reads), stored atomically."""
    import tempfile

    from starlette.concurrency import run_in_threadpool
    state = _state(request)
    name = request.query_params.get("name") or "upload"
    skip_invalid = request.query_params.get("skip_invalid", "").lower() in ("1", "true", "yes")
    tmp = tempfile.NamedTemporaryFile(prefix="interplay-ingest-", delete=False)
    try:
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > MAX_FILE_UPLOAD:
                return error_response(PayloadTooLarge(f"file over {MAX_FILE_UPLOAD} bytes"))
            await run_in_threadpool(tmp.write, chunk)
        tmp.close()
        job = lambda ip: ip.ingest_file(tmp.name, skip_invalid=skip_invalid, name=name)  # noqa: E731
        result = await asyncio.wrap_future(state.writer.submit(job))
    except Overloaded as exc:
        return error_response(exc, retry_after=2)
    except InterplayError as exc:
        return error_response(exc)
    finally:
        tmp.close()
        import os
        os.unlink(tmp.name)
    return JSONResponse(result.to_dict())
