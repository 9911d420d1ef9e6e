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
from ..store.base import Store
from ..store.predicates import window_where
from . import _sql
from .cost import PriceTable


def spend(store: Store, window: TimeRange = TimeRange(), prices: PriceTable | None = None) -> list[dict[str, Any]]:
    """Per (agent, model): runs, model calls, input/output tokens and USD, most expensive first."""
    prices = prices or PriceTable.load()
    cond, params = window_where(window)
    xcond, _ = window_where(window, "x.start_ns")
    with _sql.run_tables(store, _sql.window_scope(cond), params) as t:
        rows = t.query(f"""
            SELECT x.run_agent AS agent, x.step_name AS model, count(DISTINCT x.root_id) AS runs, count(*) AS calls,
                   sum(x.input_tokens) AS input_tokens, sum(x.output_tokens) AS output_tokens,
                   sum(x.cost) AS cost_sent, count(x.cost) AS calls_with_cost,
                   sum(x.input_tokens) FILTER (WHERE x.cost IS NULL) AS in_unpriced,
                   sum(x.output_tokens) FILTER (WHERE x.cost IS NULL) AS out_unpriced
            FROM {t['x']} x
            WHERE x.gkind = 'llm' AND NOT x.in_llm AND {xcond}
            GROUP BY x.run_agent, x.step_name""", params)
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
