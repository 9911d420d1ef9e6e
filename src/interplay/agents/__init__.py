"""Agent runs from GenAI / OpenInference spans: steps, tokens, loops, retries, divergence from good runs."""
from .boundary import agent_load_by_backend, runs_touching
from .runs import get_run, list_runs, parse_run_id

__all__ = ["agent_load_by_backend", "get_run", "list_runs", "parse_run_id", "runs_touching"]
