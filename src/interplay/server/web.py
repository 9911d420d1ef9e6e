"""The web UI (GET /, /static/*), the OpenAPI description (GET /api/openapi.json, gathered from every
route's declaration by `server.openapi`) and the time series the UI's charts draw (GET /api/series).

The UI is plain ES modules and SVG drawn by our own code: no build step, no CDN, works offline.
The page and its static files hold no telemetry; every number comes from /api/ calls, which carry
the bearer token when the server has one.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ..api import Interplay
from ..model_results import to_json
from .openapi import OBJ, WINDOW, api_route, document, ok, op, param, records
from .params import answer, int_param, required, window_of

STATIC = Path(__file__).with_name("static")
# The page may load only our own files; data is never inserted as HTML (the JS builds DOM nodes).
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
_HEADERS = {"Content-Security-Policy": _CSP, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}
MAX_BUCKETS = 500


async def _index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", headers=_HEADERS)


async def _openapi(request: Request) -> Response:
    return JSONResponse(document(request.app.routes))


async def _series(request: Request) -> Response:
    def run(hub: Interplay, q: QueryParams) -> Any:
        service = required(q, "service")
        buckets = int_param(q.get("buckets"), 60, "buckets", hi=MAX_BUCKETS)
        return to_json(hub.series(service, q.get("operation") or None, window_of(q), buckets))
    return await answer(request, run)


async def _anomalies(request: Request) -> Response:
    return await answer(request, lambda hub, q: to_json(hub.anomalies(window_of(q))))


async def _operations(request: Request) -> Response:
    return await answer(request, lambda hub, q: to_json(hub.operations(required(q, "service"), window_of(q))))


class _Static(StaticFiles):
    """Static files with the same security headers as the page."""

    async def get_response(self, path: str, scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(_HEADERS)
        return response


ROUTES: list[BaseRoute] = [
    Route("/", _index, methods=["GET", "HEAD"]),
    api_route("/api/openapi.json", _openapi, {"get": op("This description", [], ok("OpenAPI 3 document", OBJ),
                                     tag="meta", errors=())}),
    api_route("/api/series", _series, {"get": op(
        "Requests, rate, error rate and p50/p95/p99 latency of a service's entry spans per time bucket",
        WINDOW + [param("service", "The service.", required=True),
                   param("operation", "Only this operation."),
                   param("buckets", f"Number of buckets (1-{MAX_BUCKETS}, default 60).",
                          schema={"type": "integer"})],
        ok("Series", "Series"), tag="telemetry")}),
    api_route("/api/operations", _operations, {"get": op(
        "A service's operations (span name and kind): calls, errors, error rate, p50/p95/p99 latency",
        WINDOW + [param("service", "The service.", required=True)],
        ok("Operations", records("ServiceOperation")), tag="telemetry", errors=("400", "404"))}),
    api_route("/api/anomalies", _anomalies, {"get": op(
        "Services whose latest quarter of the window shifted from its first half (error rate by a "
        "two-proportion z test, p95 by a robust z, as investigations judge shifts), each with its reason",
        WINDOW, ok("Anomalous services", "Anomalies"),
        tag="investigation")}),
    Mount("/static", app=_Static(directory=STATIC), name="static"),
]
