"""HTTP API for agent runs: GET /api/agents/runs, /api/agents/runs/{run_id}[?full=true], /api/agents/sessions,
/api/agents/sessions/{session_id}, /api/agents/spend, /api/agents/load, /api/agents/touching?service=."""
from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ..model_results import to_json
from .openapi import WINDOW, api_route, limit_param, ok, op, param, wrapped
from .params import answer, flag, int_param, required, window_of


async def _runs(request: Request) -> Response:
    def run(hub, q) -> Any:
        return {"runs": to_json(hub.agent_runs(agent=q.get("agent") or None, failed=flag(q.get("failed")),
                                               window=window_of(q), limit=int_param(q.get("limit"), 100, "limit")))}
    return await answer(request, run)


async def _run(request: Request) -> Response:
    run_id = request.path_params["run_id"]
    return await answer(request, lambda hub, q: to_json(hub.agent_run(run_id, full=flag(q.get("full")))))


async def _sessions(request: Request) -> Response:
    return await answer(request, lambda hub, q: {"sessions": to_json(hub.agent_sessions(
        window=window_of(q), limit=int_param(q.get("limit"), 50, "limit")))})


async def _session(request: Request) -> Response:
    session_id = request.path_params["session_id"]
    return await answer(request, lambda hub, q: to_json(hub.agent_session(session_id)))


async def _spend(request: Request) -> Response:
    return await answer(request, lambda hub, q: {"spend": to_json(hub.agent_spend(window=window_of(q)))})


async def _load(request: Request) -> Response:
    return await answer(request, lambda hub, q: {"load": to_json(hub.agent_load(window_of(q)))})


async def _touching(request: Request) -> Response:
    def run(hub, q) -> Any:
        service = required(q, "service")
        return {"service": service, "runs": hub.agent_runs_touching(service, window_of(q),
                                                                 limit=int_param(q.get("limit"), 1000, "limit"))}
    return await answer(request, run)


ROUTES: list[BaseRoute] = [
    api_route("/api/agents/runs", _runs, {"get": op(
        "Agent runs, newest first, with steps, tokens and failure modes",
        WINDOW + [param("agent", "Only this agent."),
                   param("failed", "true: only failed runs.", schema={"type": "boolean"}), limit_param(100)],
        ok("Runs", wrapped("runs", "AgentRun")),
        tag="agents")}),
    api_route("/api/agents/runs/{run_id}", _run, {"get": op(
        "One agent run with its ordered steps (steps_detail: input, output, cost, errors)",
        [param("run_id", "Run id (trace_id:span_id) from /api/agents/runs.", where="path"),
         param("full", "true: whole step contents (else each text is cut at 2000 characters) and "
                        "tracebacks.", schema={"type": "boolean"})],
        ok("The run", "AgentRun"), tag="agents", errors=("400", "404"))}),
    api_route("/api/agents/sessions", _sessions, {"get": op(
        "Agent runs grouped by conversation / session id, most recently active first",
        WINDOW + [limit_param(50)],
        ok("Sessions", wrapped("sessions", "Session")), tag="agents")}),
    api_route("/api/agents/sessions/{session_id}", _session, {"get": op(
        "One session: its runs in start order, with divergence from the session's successful runs",
        [param("session_id", "gen_ai.conversation.id or session.id.", where="path")],
        ok("The session", "Session"),
        tag="agents", errors=("400", "404"))}),
    api_route("/api/agents/spend", _spend, {"get": op(
        "Model calls, tokens and cost (USD) per agent and model in the window", WINDOW,
        ok("Spend", wrapped("spend", "AgentSpend")), tag="agents")}),
    api_route("/api/agents/load", _load, {"get": op(
        "Agent load per backend (LLM providers, tools, services) in the window", WINDOW,
        ok("Load", wrapped("load", "BackendLoad")), tag="agents")}),
    api_route("/api/agents/touching", _touching, {"get": op(
        "Agent runs whose steps reached a service",
        WINDOW + [param("service", "The service.", required=True), limit_param(1000)],
        ok("Runs", {"type": "object", "required": ["service", "runs"], "properties": {
            "service": {"type": "string"}, "runs": {"type": "array", "items": {"type": "string"}}}}),
        tag="agents")}),
]
