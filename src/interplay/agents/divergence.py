"""What an agent normally does: token baselines and the paths of its successful runs.

A run's path is its sequence of step signatures (`chat:gpt-4o`, `tool:get_order`, ...). A failed
run diverged at the first step where its prefix stops matching the prefix of every successful
run of the same agent; what those runs did next is what was expected.

    >>> b = Baseline(good_paths=[["chat:m", "tool:a", "chat:m"]] * 3)
    >>> first_divergence(["chat:m", "tool:b"], b).step
    1
"""
from __future__ import annotations

import threading
import time
import weakref
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..model_agents import Divergence, Expected
from ..store.agent_runs import baseline_rows, span_total
from ..store.base import Store

CACHE_SECONDS = 30.0       # baselines are reused this long while the store's span count is unchanged
MIN_GOOD_RUNS = 3          # fewer successful runs than this: no claim about the usual path
MAX_GOOD_PATHS = 500       # the most recent successful runs per agent that define "usual"
END = "(end of run)"


@dataclass
class Baseline:
    """One agent's normal: run count, token median and MAD, and recent successful paths."""

    runs: int = 0
    token_runs: int = 0
    token_median: float | None = None
    token_mad: float | None = None
    good_runs: int = 0
    good_paths: list[list[str]] = field(default_factory=list)
    _next: dict[tuple[str, ...], Counter] | None = field(default=None, repr=False)

    def next_steps(self) -> dict[tuple[str, ...], Counter]:
        """prefix → Counter of what successful runs did after it (END when they stopped)."""
        if self._next is None:
            table: dict[tuple[str, ...], Counter] = {}
            for path in self.good_paths:
                for i in range(len(path) + 1):
                    table.setdefault(tuple(path[:i]), Counter())[path[i] if i < len(path) else END] += 1
            self._next = table
        return self._next


_lock = threading.Lock()
# store → {(span count, agent): (when computed, Baseline or None for an agent without runs)}
_cache: weakref.WeakKeyDictionary[Any, dict[tuple[int, str], tuple[float, Baseline | None]]] = \
    weakref.WeakKeyDictionary()


def baselines(store: Store, agents: list[str], traces: list[str] | None = None) -> dict[str, Baseline]:
    """Baselines of these agents over every stored run (one SQL statement; kept CACHE_SECONDS).

    traces: every trace holding a GenAI span, when the caller has them (saves finding them again).
    """
    if not agents:
        return {}
    count = span_total(store)
    now = time.monotonic()
    with _lock:
        cached = _cache.setdefault(store, {})
        for key in [k for k, (at, _) in cached.items() if now - at > CACHE_SECONDS or k[0] != count]:
            del cached[key]
        out = {a: cached[(count, a)][1] for a in agents if (count, a) in cached}
    missing = [a for a in agents if a not in out]
    if missing:
        found = _compute(store, missing, traces)
        with _lock:
            for a in missing:
                out[a] = _cache.setdefault(store, {}).setdefault((count, a), (now, found.get(a)))[1]
    return {a: b for a, b in out.items() if b is not None}


def _compute(store: Store, agents: list[str], traces: list[str] | None) -> dict[str, Baseline]:
    out = {}
    rows = baseline_rows(store, agents, traces, MAX_GOOD_PATHS)
    for row in rows:
        out[row["agent"]] = Baseline(
            runs=row["n"], token_runs=row["n_tok"], token_median=row["med"], token_mad=row["mad"],
            good_runs=row["n_ok"] or 0,
            good_paths=[p.split("\x1f") if p else [] for p in (row["good"] or [])])
    return out


def first_divergence(path: list[str], baseline: Baseline, min_runs: int = MIN_GOOD_RUNS) -> Divergence | None:
    """Where `path` left every successful path, with what was expected there; None if it never did.

    min_runs: successful runs needed before saying anything (a session's own runs: fewer will do).
    """
    if len(baseline.good_paths) < min_runs:
        return None
    table = baseline.next_steps()
    for i in range(len(path) + 1):
        nexts = table[tuple(path[:i])]
        happened = path[i] if i < len(path) else END
        if happened in nexts:
            continue
        total = sum(nexts.values())
        return Divergence(
            step=i, happened=happened,
            expected=[Expected(sig, round(n / total, 3)) for sig, n in nexts.most_common(3)],
            after=path[max(0, i - 3):i], compared_with=len(baseline.good_paths), same_prefix_runs=total)
    return None
