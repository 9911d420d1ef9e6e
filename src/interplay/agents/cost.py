"""What model calls cost: the instrumentation's own figure (`llm.cost.*`) where it sent one,
otherwise tokens × a price per million tokens, from a table the user can override.

The price file (`serve --prices FILE`, env `INTERPLAY_PRICES`) is JSON: model name (or a prefix of
it: `gpt-4o` also prices `gpt-4o-2024-08-06`) → USD per million tokens of `input`, `output`, and
optionally `cache_read` (cached input, billed instead of `input` for those tokens). Its entries
replace the built-in ones of the same name; the longest matching name wins.

    {"gpt-4o-mini": {"input": 0.15, "output": 0.60, "cache_read": 0.075},
     "my-finetune": {"input": 3.0, "output": 12.0}}

    >>> PriceTable().step_cost("gpt-4o-mini-2024-07-18", Tokens(1000000, 0, None), {})
    Cost(usd=0.15, source='price_table')
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..model import InvalidInput
from ..model_agents import Cost, Tokens
from ..store import genai as c

# USD per million tokens (input, output, cached input): providers' public list prices, late 2025.
# Approximate on purpose: a price file pins what your contract says.
DEFAULT_PRICES: dict[str, dict[str, float]] = {
    "gpt-4o-mini": {"input": 0.15, "output": 0.60, "cache_read": 0.075},
    "gpt-4o": {"input": 2.50, "output": 10.00, "cache_read": 1.25},
    "gpt-4.1-nano": {"input": 0.10, "output": 0.40, "cache_read": 0.025},
    "gpt-4.1-mini": {"input": 0.40, "output": 1.60, "cache_read": 0.10},
    "gpt-4.1": {"input": 2.00, "output": 8.00, "cache_read": 0.50},
    "gpt-5-nano": {"input": 0.05, "output": 0.40, "cache_read": 0.005},
    "gpt-5-mini": {"input": 0.25, "output": 2.00, "cache_read": 0.025},
    "gpt-5": {"input": 1.25, "output": 10.00, "cache_read": 0.125},
    "o3-mini": {"input": 1.10, "output": 4.40, "cache_read": 0.55},
    "o4-mini": {"input": 1.10, "output": 4.40, "cache_read": 0.275},
    "o3": {"input": 2.00, "output": 8.00, "cache_read": 0.50},
    "claude-3-5-haiku": {"input": 0.80, "output": 4.00, "cache_read": 0.08},
    "claude-haiku-4": {"input": 1.00, "output": 5.00, "cache_read": 0.10},
    "claude-3-5-sonnet": {"input": 3.00, "output": 15.00, "cache_read": 0.30},
    "claude-3-7-sonnet": {"input": 3.00, "output": 15.00, "cache_read": 0.30},
    "claude-sonnet-4": {"input": 3.00, "output": 15.00, "cache_read": 0.30},
    "claude-opus-4": {"input": 15.00, "output": 75.00, "cache_read": 1.50},
    "gemini-2.5-flash": {"input": 0.30, "output": 2.50, "cache_read": 0.075},
    "gemini-2.5-pro": {"input": 1.25, "output": 10.00, "cache_read": 0.31},
}
ENV = "INTERPLAY_PRICES"


class PriceTable:
    """Prices by model name (longest prefix wins), the built-in table overlaid with a user's file."""

    def __init__(self, prices: dict[str, dict[str, float]] | None = None) -> None:
        self.prices = {**DEFAULT_PRICES, **(prices or {})}
        self._names = sorted(self.prices, key=len, reverse=True)
        self._found: dict[str, dict[str, float] | None] = {}  # model → price (a run has many calls of one model)

    @classmethod
    def load(cls, path: str | Path | None = None) -> PriceTable:
        """The table with the file at `path` (else $INTERPLAY_PRICES, else none) laid over the defaults."""
        path = path or os.environ.get(ENV)
        if not path:
            return cls()
        try:
            doc = json.loads(Path(path).read_text())
        except OSError as exc:
            raise InvalidInput(f"price file {path}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise InvalidInput(f"price file {path}: not JSON ({exc})") from None
        return cls(_validated(doc, str(path)))

    def price(self, model: str | None) -> dict[str, float] | None:
        if not model:
            return None
        if model not in self._found:
            self._found[model] = self._lookup(model)
        return self._found[model]

    def _lookup(self, model: str) -> dict[str, float] | None:
        low = model.lower()
        # "openai/gpt-4o" and "models/gemini-2.5-pro" price as their last part too
        for candidate in (low, low.rsplit("/", 1)[-1]):
            for name in self._names:
                if candidate.startswith(name.lower()):
                    return self.prices[name]
        return None

    def step_cost(self, model: str | None, tokens: Tokens, attrs: dict[str, Any]) -> Cost | None:
        """The cost of one model call: `llm.cost.*` if sent, else tokens × price; None if neither."""
        sent = _number(c.field(attrs, "cost_total"))
        if sent is None:
            parts = [_number(c.field(attrs, f)) for f in ("cost_input", "cost_output")]
            sent = sum(p for p in parts if p is not None) if any(p is not None for p in parts) else None
        if sent is not None:
            return Cost(round(sent, 6), "instrumentation")
        price = self.price(model)
        tin, tout = tokens.input, tokens.output
        if price is None or (tin is None and tout is None):
            return None
        cached = min(_number(c.field(attrs, "cache_read_tokens")) or 0, tin or 0)
        usd = ((tin or 0) - cached) * price["input"] + (tout or 0) * price["output"] \
            + cached * price.get("cache_read", price["input"])
        return Cost(round(usd / 1e6, 6), "price_table")


def _validated(doc: Any, where: str) -> dict[str, dict[str, float]]:
    if not isinstance(doc, dict):
        raise InvalidInput(f"price file {where}: expected an object of model → {{input, output}}")
    out = {}
    for model, p in doc.items():
        if not isinstance(p, dict) or not all(isinstance(p.get(k), (int, float)) for k in ("input", "output")):
            raise InvalidInput(f"price file {where}: {model!r} needs numeric 'input' and 'output' (USD per 1M tokens)")
        if "cache_read" in p and not isinstance(p["cache_read"], (int, float)):
            raise InvalidInput(f"price file {where}: {model!r}: 'cache_read' must be a number")
        out[str(model)] = {k: float(v) for k, v in p.items() if k in ("input", "output", "cache_read")}
    return out


def _number(v: Any) -> float | None:
    try:
        return float(v) if v is not None and v != "" else None
    except (TypeError, ValueError):
        return None
