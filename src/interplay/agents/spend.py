"""What agents spent, per agent and model: calls, tokens and cost over a window.

The cost of a model call is the instrumentation's (`llm.cost.total`) where it sent one, else its
tokens × the price table (cached-input discounts are applied per step in `agents show`, not here).

    >>> from interplay.api import Interplay
    >>> spend(Interplay.open(":memory:").store)
    []
"""
from __future__ import annotations

from ..model import TimeRange
from ..model_agents import AgentSpend
from ..store.agent_runs import spend_rows
from ..store.base import Store
from .cost import PriceTable


def spend(store: Store, window: TimeRange = TimeRange(), prices: PriceTable | None = None) -> list[AgentSpend]:
    """Per (agent, model): runs, model calls, input/output tokens and USD, most expensive first."""
    prices = prices or PriceTable.load()
    out = []
    for r in spend_rows(store, window):
        price = prices.price(r["model"])
        usd = r["cost_sent"] or 0.0
        tin, tout = r["in_unpriced"] or 0, r["out_unpriced"] or 0
        if price is not None:
            usd += (tin * price["input"] + tout * price["output"]) / 1e6
        priced = price is not None or r["calls_with_cost"] == r["calls"]
        total = round(usd, 6) if priced or usd else None
        source = ("instrumentation" if r["calls_with_cost"] == r["calls"] else
                  "price_table" if not r["calls_with_cost"] else "instrumentation+price_table") \
            if total is not None else None
        out.append(AgentSpend(r["agent"], r["model"], r["runs"], r["calls"], r["input_tokens"], r["output_tokens"],
                              r["calls_with_cost"], total, source))
    return sorted(out, key=lambda s: (-(s.usd or 0), s.agent, s.model or ""))
