"""SQL fragments every query module shares, defined once: the window condition and the entry span.

    >>> from interplay.model import TimeRange
    >>> window_where(TimeRange(10, None), "time_ns")
    ('time_ns >= ?', [10])
    >>> window_where(TimeRange())
    ('TRUE', [])
"""
from __future__ import annotations

from typing import Any

from ..model import TimeRange


def entry(alias: str = "") -> str:
    """Where work enters a service (its "requests", units of work): SERVER/CONSUMER spans, or roots;
    `alias` qualifies the columns (a table's name or alias, as in "s.")."""
    return f"({alias}kind IN ('SERVER', 'CONSUMER') OR {alias}parent_span_id IS NULL)"


ENTRY = entry()
# Where work enters the system as a whole: roots and queue consumers.
SYSTEM_ENTRY = "(parent_span_id IS NULL OR kind = 'CONSUMER')"


def window_where(window: TimeRange, column: str = "start_ns") -> tuple[str, list[Any]]:
    """`column` within the window, as a condition with ? parameters ("TRUE" when it is open)."""
    clauses, params = [], []
    if window.since_ns is not None:
        clauses.append(f"{column} >= ?")
        params.append(window.since_ns)
    if window.until_ns is not None:
        clauses.append(f"{column} < ?")
        params.append(window.until_ns)
    return (" AND ".join(clauses) or "TRUE"), params


# A SERVER span (c) under a CLIENT span (p) of another service that lasts no longer than the call is
# its answer, wherever the two hosts' clocks put it: durations do not skew, start times do.
ANSWER = "(p.kind = 'CLIENT' AND c.kind = 'SERVER' AND c.service <> p.service AND c.duration_ns <= p.duration_ns)"
