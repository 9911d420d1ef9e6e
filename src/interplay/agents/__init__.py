"""Agent runs from GenAI / OpenInference spans: steps, tokens, cost, loops, retries, divergence from good runs."""
from .boundary import agent_load_by_backend, runs_touching
from .runs import get_run, list_runs, parse_run_id
from .sessions import get_session, list_sessions
from .spend import spend

__all__ = ["agent_load_by_backend", "get_run", "get_session", "list_runs", "list_sessions", "parse_run_id",
           "runs_touching", "spend"]
