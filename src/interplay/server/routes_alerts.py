"""HTTP routes of alerts and kept investigations: POST /api/alerts/alertmanager, POST /api/alerts,
GET /api/investigations (the list; `?id=` for one record with its result).

An alert is acknowledged (202) once its investigation record is written; the investigation runs
after the response, in a worker thread, and its result is written through the writer queue (one
DuckDB writer). `?wait=true` answers only when it is done (scripts, tests).
"""
from __future__ import annotations

import functools
import logging
from typing import Any

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from .. import alerts
from ..api import Interplay
from ..model import InterplayError, Overloaded
from ..model_results import FailedInvestigation, Investigation, KeptInvestigation, to_json
from ..otlp.sanitize import load_json
from . import otlp_http
from .openapi import OBJ, WAIT, api_route, limit_param, ok, op, param, wrapped
from .params import answer, error_response, int_param
from .state import ServerState, state_of

log = logging.getLogger("interplay.alerts")


async def _alertmanager(request: Request) -> Response:
    return await _receive(request, lambda doc: [alerts.parse_alertmanager(doc)])


async def _generic(request: Request) -> Response:
    return await _receive(request, alerts.parse_generic)


async def _receive(request: Request, parse) -> Response:
    state = state_of(request)
    try:
        body = await otlp_http.read_body(request.stream(), request.headers.get("content-encoding"),
                                         state.max_body)
        doc, _ = load_json(body or b"null")  # lone surrogates repaired: text is only shown
        groups = parse(doc)
        recorded = []
        for group in groups:
            rec, action = await state.write(functools.partial(_record, group=group))
            recorded.append((group, rec, action))
    except Overloaded as exc:
        return error_response(exc, retry_after=2)
    except InterplayError as exc:
        return error_response(exc)
    answer = {"investigations": [{"id": rec.id if rec else None, "group_key": g.group_key,
                                  "service": g.service, "action": action,
                                  "status": rec.status if rec else None} for g, rec, action in recorded]}
    if request.query_params.get("wait", "").lower() in ("1", "true", "yes"):
        done = await _follow_up(state, recorded)
        for item, rec in zip(answer["investigations"], done):
            if rec:
                item.update(status=rec.status, summary=rec.summary)
        return JSONResponse(answer)
    return JSONResponse(answer, status_code=202, background=BackgroundTask(_follow_up, state, recorded))


_EVENTS = {"opened": "opened", "reopened": "opened", "restarted": "updated", "resolved": "resolved"}


async def _follow_up(state: ServerState, recorded: list) -> list[KeptInvestigation | None]:
    """Run the investigations the alerts need, store their results, forward notifications."""
    url = state.notify_url
    out = []
    for group, rec, action in recorded:
        try:
            if action in alerts.NEEDS_RUN:
                result = await run_in_threadpool(alerts.investigate, state.interplay, group)
                rec = await state.write(functools.partial(_finish, inv_id=rec.id, group=group, result=result))
            event = _EVENTS.get(action)  # a repeated notification of the same group changes nothing
            if url and event:
                alerts.notifier(url).send(alerts.notification(event, rec))
        except Exception:  # the alert is already acknowledged: log, keep going
            log.exception("alert group %s: follow-up failed", group.group_key)
        out.append(rec)
    return out


def _record(hub: Interplay, group: alerts.AlertGroup) -> tuple[KeptInvestigation | None, str]:
    return alerts.record(hub.kept, group)


def _finish(hub: Interplay, inv_id: str, group: alerts.AlertGroup,
            result: Investigation | FailedInvestigation) -> KeptInvestigation:
    return alerts.finish(hub.kept, inv_id, group, result)


async def _list(request: Request) -> Response:
    def run(hub: Interplay, q: QueryParams) -> Any:
        if q.get("id"):
            return to_json(hub.kept_investigation(q["id"]))
        return {"investigations": to_json(hub.investigations(
            status=q.get("status") or None, source=q.get("source") or None, service=q.get("service") or None,
            limit=int_param(q.get("limit"), 50)))}
    return await answer(request, run)


ROUTES: list[BaseRoute] = [
    api_route("/api/alerts/alertmanager", _alertmanager, {"post": op(
        "Alertmanager webhook: record (or update) one investigation per alert group and run it",
        [WAIT], ok("Recorded investigations (202: running after the answer; 200 with wait=true)",
                     "AlertAnswer"), tag="alerts", code="202", errors=("400", "413", "503"),
        body={"required": True, "content": {"application/json": {"schema": {
            **OBJ, "description": "Alertmanager webhook payload (version 4)"}}}})}),
    api_route("/api/alerts", _generic, {"post": op(
        "A generic alert {service, started_at, summary[, status, key]} or a list of them",
        [WAIT], ok("Recorded investigations", "AlertAnswer"), tag="alerts", code="202",
        errors=("400", "413", "503"), body={"required": True, "content": {"application/json": {"schema": {
            "oneOf": [{"$ref": "#/components/schemas/GenericAlert"},
                      {"type": "array", "items": {"$ref": "#/components/schemas/GenericAlert"}}]}}}})}),
    api_route("/api/investigations", _list, {"get": op(
        "Kept investigations (from alerts and runs), newest first; ?id= for one record with its result",
        [param("id", "One record, with its full result."), param("status", "Only this status."),
         param("source", "Only this source (alertmanager, generic, ...)."),
         param("service", "Only this service."), limit_param(50)],
        ok("Records", {"oneOf": [wrapped("investigations", "InvestigationSummary"),
                                 {"$ref": "#/components/schemas/KeptInvestigation"}]}),
        tag="investigation")}),
]
