"""HTTP routes of investigations: POST /api/investigations, GET /api/investigations/{id},
GET /api/symptom-series, GET /api/graph, GET /api/impact."""
from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from ..api import Interplay
from ..model import InterplayError, InvalidInput, TimeRange
from ..model_results import to_json
from ..otlp.sanitize import load_json
from ..timeutil import parse_time_ns
from .openapi import WINDOW, api_route, ok, op, param
from .params import answer, error_response, int_param, window_of
from .state import state_of


async def _create(request: Request) -> Response:
    """Run an investigation and keep it (in the hub's table, through the writer): 201 with its id."""
    state = state_of(request)
    try:
        body, _ = load_json(await request.body() or b"{}")
        if not isinstance(body, dict):
            raise InvalidInput("body: expected a JSON object {symptom, at, since, until}")
        symptom = body.get("symptom") or None
        if symptom is not None and not isinstance(symptom, str):
            raise InvalidInput("symptom: expected 'service' or 'service:operation'")
        at = _time(body.get("at"), "at")
        window = TimeRange(_time(body.get("since"), "since"), _time(body.get("until"), "until"))
        result = await run_in_threadpool(state.interplay.investigate, symptom, at, window)
        result_id = await state.write(lambda hub: hub.keep_investigation(result, source="api", symptom=symptom,
                                                                         at_ns=at))
    except InterplayError as exc:
        return error_response(exc)
    return JSONResponse({"id": result_id, **to_json(result)}, status_code=201)


async def _get(request: Request) -> Response:
    investigation_id = request.path_params["id"]

    def run(hub: Interplay, q: QueryParams) -> Any:
        result = hub.kept_investigation(investigation_id).result
        return {"id": investigation_id, **(to_json(result) if result is not None else {})}
    return await answer(request, run)


async def _symptom_series(request: Request) -> Response:
    """The charts' data for an investigation's symptom (report_charts): entry=SERVICE[:OPERATION], repeated."""
    def run(hub: Interplay, q: QueryParams) -> Any:
        entry = [dict(zip(("service", "operation"), e.split(":", 1))) for e in q.getlist("entry") if e]
        return to_json(hub.symptom_series(entry, window_of(q), int_param(q.get("buckets"), 60, "buckets", hi=500)))
    return await answer(request, run)


async def _graph(request: Request) -> Response:
    return await answer(request, lambda hub, q: to_json(hub.graph(window_of(q))))


async def _impact(request: Request) -> Response:
    def run(hub: Interplay, q: QueryParams) -> Any:
        if not q.get("target"):
            raise InvalidInput("target: expected service or service:operation")
        return to_json(hub.impact(q["target"], window_of(q)))
    return await answer(request, run)


def _time(value: Any, name: str) -> int | None:
    if value in (None, ""):
        return None
    return parse_time_ns(value, where=name)


ROUTES: list[BaseRoute] = [
    api_route("/api/investigations", _create, {"post": op(
        "Run an investigation: ranked root causes with causal chains and evidence", [],
        ok("The investigation (kept: fetch it again by id)", "Investigation"),
        tag="investigation", code="201", errors=("400", "404"),
        body={"required": False, "content": {"application/json": {"schema": {
            "type": "object", "properties": {
                "symptom": {"type": "string", "nullable": True,
                            "description": "service or service:operation; omitted: find it"},
                "at": {"type": "string", "nullable": True,
                       "description": "Onset time (RFC3339, unix, relative); omitted: detect it"},
                "since": {"type": "string", "nullable": True}, "until": {"type": "string", "nullable": True}}}}}})}),
    api_route("/api/investigations/{id}", _get, {"get": op(
        "A kept investigation's result by id (from POST /api/investigations, MCP or an alert)",
        [param("id", "Investigation id from POST /api/investigations.", where="path")],
        ok("The investigation", "Investigation"), tag="investigation", errors=("404",))}),
    api_route("/api/symptom-series", _symptom_series, {"get": op(
        "Requests, errors and p90 latency of a symptom's entry points per time bucket, and the change events "
        "in the window (the HTML report's charts)",
        WINDOW + [{**param("entry", "SERVICE or SERVICE:OPERATION; repeat for several.",
                             schema={"type": "array", "items": {"type": "string"}}),
                    "style": "form", "explode": True},
                   param("buckets", "Number of buckets (1-500, default 60).", schema={"type": "integer"})],
        ok("Series", "SymptomSeries"), tag="investigation")}),
    api_route("/api/graph", _graph, {"get": op(
        "The interaction graph: services and resources, caller→callee edges with rate, errors, latency",
        WINDOW, ok("Graph", "Graph"), tag="investigation")}),
    api_route("/api/impact", _impact, {"get": op(
        "Blast radius of a service, operation or resource: its callers and affected entry points",
        WINDOW + [param("target", "service, service:operation, or a resource name.", required=True)],
        ok("Impact", "Impact"), tag="investigation")}),
]
