"""HTTP API for agent runs: GET /api/agents/runs, /api/agents/runs/{run_id}[?full=true], /api/agents/sessions,
/api/agents/sessions/{session_id}, /api/agents/spend, /api/agents/load, /api/agents/touching?service=."""
from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .params import answer, flag, int_param, required, window_of


async def _runs(request: Request) -> Response:
    def run(hub, q) -> Any:
        return {"runs": hub.agent_runs(agent=q.get("agent") or None, failed=flag(q.get("failed")),
                                       window=window_of(q), limit=int_param(q.get("limit"), 100, "limit"))}
    return await answer(request, run)


async def _run(request: Request) -> Response:
    run_id = request.path_params["run_id"]
    return await answer(request, lambda hub, q: hub.agent_run(run_id, full=flag(q.get("full"))))


async def _sessions(request: Request) -> Response:
    return await answer(request, lambda hub, q: {"sessions": hub.agent_sessions(
        window=window_of(q), limit=int_param(q.get("limit"), 50, "limit"))})


async def _session(request: Request) -> Response:
    session_id = request.path_params["session_id"]
    return await answer(request, lambda hub, q: hub.agent_session(session_id))


async def _spend(request: Request) -> Response:
    return await answer(request, lambda hub, q: {"spend": hub.agent_spend(window=window_of(q))})


async def _load(request: Request) -> Response:
    return await answer(request, lambda hub, q: {"load": hub.agent_load(window_of(q))})


async def _touching(request: Request) -> Response:
    def run(hub, q) -> Any:
        service = required(q, "service")
        return {"service": service, "runs": hub.agent_runs_touching(service, window_of(q),
                                                                 limit=int_param(q.get("limit"), 1000, "limit"))}
    return await answer(request, run)


ROUTES: list[Route] = [
    Route("/api/agents/runs", _runs, methods=["GET"]),
    Route("/api/agents/runs/{run_id}", _run, methods=["GET"]),
    Route("/api/agents/sessions", _sessions, methods=["GET"]),
    Route("/api/agents/sessions/{session_id}", _session, methods=["GET"]),
    Route("/api/agents/spend", _spend, methods=["GET"]),
    Route("/api/agents/load", _load, methods=["GET"]),
    Route("/api/agents/touching", _touching, methods=["GET"]),
]
