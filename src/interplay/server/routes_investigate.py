"""HTTP routes of investigations: POST /api/investigations, GET /api/investigations/{id},
GET /api/graph, GET /api/impact."""
from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..api import Interplay
from ..model import InterplayError, InvalidInput, NotFound, TimeRange
from ..otlp.sanitize import load_json
from ..timeutil import parse_time_ns
from .params import answer, error_response, window_of
from .state import state_of

_KEEP = 50
_results: OrderedDict[str, dict[str, Any]] = OrderedDict()
_lock = threading.Lock()


async def _create(request: Request) -> Response:
    try:
        body, _ = load_json(await request.body() or b"{}")
        if not isinstance(body, dict):
            raise InvalidInput("body: expected a JSON object {symptom, at, since, until}")
        symptom = body.get("symptom") or None
        if symptom is not None and not isinstance(symptom, str):
            raise InvalidInput("symptom: expected 'service' or 'service:operation'")
        at = _time(body.get("at"), "at")
        window = TimeRange(_time(body.get("since"), "since"), _time(body.get("until"), "until"))
        ip = state_of(request).interplay
        result = await run_in_threadpool(ip.investigate, symptom, at, window)
    except InterplayError as exc:
        return error_response(exc)
    result_id = uuid.uuid4().hex[:16]
    result = {"id": result_id, **result}
    with _lock:
        _results[result_id] = result
        while len(_results) > _KEEP:
            _results.popitem(last=False)
    return JSONResponse(result, status_code=201)


async def _get(request: Request) -> Response:
    with _lock:
        result = _results.get(request.path_params["id"])
    if result is None:
        return error_response(NotFound(f"investigation {request.path_params['id']} not found (kept in memory)"))
    return JSONResponse(result)


async def _graph(request: Request) -> Response:
    return await answer(request, lambda hub, q: hub.graph(window_of(q)))


async def _impact(request: Request) -> Response:
    def run(hub: Interplay, q: QueryParams) -> Any:
        if not q.get("target"):
            raise InvalidInput("target: expected service or service:operation")
        return hub.impact(q["target"], window_of(q))
    return await answer(request, run)


def _time(value: Any, name: str) -> int | None:
    if value in (None, ""):
        return None
    return parse_time_ns(value, where=name)


ROUTES = [
    Route("/api/investigations", _create, methods=["POST"]),
    Route("/api/investigations/{id}", _get, methods=["GET"]),
    Route("/api/graph", _graph, methods=["GET"]),
    Route("/api/impact", _impact, methods=["GET"]),
]
