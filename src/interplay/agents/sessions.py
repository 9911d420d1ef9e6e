"""Agent runs grouped by conversation or session (`gen_ai.conversation.id`, OpenInference `session.id`).

A session is every run whose conversation id is the same, in start order. Within a session, a
failed run is also compared with the successful runs of the same agent earlier or later in that
session: where it left the path they took is often where the conversation went wrong.

    >>> from interplay.api import Interplay
    >>> list_sessions(Interplay.open(":memory:").store)
    []
"""
from __future__ import annotations

from dataclasses import replace

from ..model import InvalidInput, NotFound, TimeRange
from ..model_agents import AgentRun, Divergence, Session
from ..store.agent_runs import runs_in_traces, session_rows, session_traces
from ..store.base import Store
from .cost import PriceTable
from .divergence import Baseline, first_divergence
from .runs import MAX_LIMIT, _finish

MAX_RUNS = 500  # runs of one session shown


def list_sessions(store: Store, window: TimeRange = TimeRange(), limit: int = 50,
                  prices: PriceTable | None = None) -> list[Session]:
    """Sessions with a GenAI span in the window, most recently active first: runs, agents, failures, tokens, cost."""
    if limit < 1 or limit > MAX_LIMIT:
        raise InvalidInput(f"limit {limit}: must be between 1 and {MAX_LIMIT}")
    found = session_rows(store, window, limit)
    if not found:
        return []
    runs = _runs_of(store, sorted({t for f in found for t in f["traces"]}), prices)
    out = []
    for f in found:
        mine = [r for r in runs if r.conversation_id == f["conv"]]
        if mine:
            out.append(_summary(f["conv"], mine))
    return out


def get_session(store: Store, session_id: str, prices: PriceTable | None = None) -> Session:
    """One session: its runs in start order, each with failure modes, and divergence within the session."""
    session_id = session_id.strip()
    if not session_id:
        raise InvalidInput("session id: empty")
    runs = [r for r in _runs_of(store, session_traces(store, session_id), prices) if r.conversation_id == session_id]
    if not runs:
        raise NotFound(f"session {session_id} not found (no agent run carries it as its conversation or session id)")
    runs = runs[:MAX_RUNS]
    # every run is compared with the session's runs as found, not with ones already marked
    runs = [replace(r, session_divergence=_within_session(r, runs)) for r in runs]
    return replace(_summary(session_id, runs), runs=runs)


def _runs_of(store: Store, traces: list[str], prices: PriceTable | None) -> list[AgentRun]:
    """Every run in these traces, oldest first, finished (steps, cost, failure modes)."""
    if not traces:
        return []
    return _finish(store, runs_in_traces(store, traces), prices=prices)


def _within_session(run: AgentRun, runs: list[AgentRun]) -> Divergence | None:
    """For a failed run: where it left the paths of the same agent's successful runs in this session."""
    if run.status != "error":
        return None
    good = [r.path for r in runs if r.agent == run.agent and r.status == "ok"]
    found = first_divergence(run.path, Baseline(good_paths=good), min_runs=1)
    return replace(found, compared_with_session_runs=len(good)) if found else None


def _summary(session_id: str, runs: list[AgentRun]) -> Session:
    costs = [r.cost.usd for r in runs if r.cost]
    tokens = [r.tokens.total for r in runs if r.tokens.total is not None]
    return Session(
        session_id=session_id, runs_count=len(runs),
        failed_runs=sum(r.status == "error" for r in runs),
        agents=sorted({r.agent for r in runs}),
        users=sorted({r.user_id for r in runs if r.user_id}),
        started=runs[0].started, last_started=runs[-1].started,
        tokens=sum(tokens) if tokens else None,
        cost_usd=round(sum(costs), 6) if costs else None,
        failure_modes=sorted({m.mode for r in runs for m in r.failure_modes}),
        run_ids=[r.run_id for r in runs],
    )
