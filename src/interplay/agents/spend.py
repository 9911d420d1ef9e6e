"""What agents spent, per agent and model: calls, tokens and cost over a window.

The cost of a model call is the instrumentation's (`llm.cost.total`) where it sent one, else its
tokens × the price table (cached-input discounts are applied per step in `agents show`, not here).

    >>> from interplay.api import Interplay
    >>> spend(Interplay.open(":memory:").store)
    []
"""
from __future__ import annotations

from typing import Any

from ..model import TimeRange
from ..store.agent_runs import spend_rows
from ..store.base import Store
from .cost import PriceTable


def spend(store: Store, window: TimeRange = TimeRange(), prices: PriceTable | None = None) -> list[dict[str, Any]]:
    """Per (agent, model): runs, model calls, input/output tokens and USD, most expensive first."""
    prices = prices or PriceTable.load()
    rows = spend_rows(store, window)
    for r in rows:
        price = prices.price(r["model"])
        usd = r.pop("cost_sent") or 0.0
        tin, tout = r.pop("in_unpriced") or 0, r.pop("out_unpriced") or 0
        if price is not None:
            usd += (tin * price["input"] + tout * price["output"]) / 1e6
        priced = price is not None or r["calls_with_cost"] == r["calls"]
        r["usd"] = round(usd, 6) if priced or usd else None
        r["source"] = ("instrumentation" if r["calls_with_cost"] == r["calls"] else
                       "price_table" if not r["calls_with_cost"] else "instrumentation+price_table") \
            if r["usd"] is not None else None
    return sorted(rows, key=lambda r: (-(r["usd"] or 0), r["agent"], r["model"] or ""))
