"""Where agent runs meet the rest of the system: for investigations that cross the boundary.

`runs_touching` names the agent runs involved in a causal chain through a service;
`agent_load_by_backend` shows how much of a backend's traffic each agent sends it, so an
investigation can tell an agent's loop saturating a backend shared with users.
"""
from __future__ import annotations

from ..model import TimeRange
from ..model_agents import BackendLoad
from ..store import agent_runs
from ..store.agent_runs import load_rows, served_requests
from ..store.base import Store


def runs_touching(store: Store, service: str, window: TimeRange = TimeRange(), limit: int = 1000) -> list[str]:
    """Ids of agent runs with a span in `service` that started in the window, earliest first."""
    return agent_runs.runs_touching(store, service, window, limit)


def runs_touching_each(store: Store, services: list[str], window: TimeRange = TimeRange(),
                       limit: int = 1000) -> dict[str, list[str]]:
    """`runs_touching` for several services at once (one pass over the window)."""
    return agent_runs.runs_touching_each(store, services, window, limit)


def agent_load_by_backend(store: Store, window: TimeRange = TimeRange()) -> list[BackendLoad]:
    """Per (agent, backend): calls its runs made in the window, errors, runs, and share of the backend's load.

    A backend is a service entered by a SERVER/CONSUMER span of the run (other than the agent's own
    service), or, when the callee sends no spans, the `server.address` of a leaf CLIENT span
    (`instrumented: false`). `share` = calls / all requests the backend served in the window
    (None for uninstrumented backends).
    """
    rows = load_rows(store, window)
    if not rows:
        return []
    served = served_requests(store, window, sorted({r["backend"] for r in rows if r["instrumented"]}))
    out = []
    for r in rows:
        total = served.get(r["backend"]) if r["instrumented"] else None
        out.append(BackendLoad(r["agent"], r["backend"], r["instrumented"], r["calls"], r["errors"], r["runs"],
                               total, round(r["calls"] / total, 4) if total else None))
    return out
