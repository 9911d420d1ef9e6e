"""Log templates in SQL: bodies with their variable parts masked, counted per service and window.

One table of masks serves both sides: `mask` in Python (a line a user gives) and `mask_sql` in the
database (millions of stored lines), so the two agree.

    >>> mask("waited 412 ms for connection 0x7f3a")
    'waited <*> ms for connection <*>'
"""
from __future__ import annotations

import re
from typing import Any

from ..model import TimeRange
from .base import EngineSQL, Store
from .predicates import window_where

_MASKS = [
    (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "<*>"),
    (r"0x[0-9a-fA-F]+", "<*>"),
    (r"\b[0-9a-fA-F]{12,}\b", "<*>"),
    (r"'[^']*'", "<*>"),
    (r'"[^"]*"', "<*>"),
    (r"[0-9]+(\.[0-9]+)?", "<*>"),
]


def mask(text: str) -> str:
    for pattern, repl in _MASKS:
        text = re.sub(pattern, repl, text)
    return text


def mask_sql(sql: EngineSQL, column: str) -> str:
    expr = column
    for pattern, repl in _MASKS:
        expr = sql.regexp_replace(expr, pattern, repl)
    return expr


def template_counts(store: Store, baseline: TimeRange, incident: TimeRange) -> list[dict[str, Any]]:
    """Per (service, template): highest severity, count before and after, one example body."""
    bc, bp = window_where(baseline, "time_ns")
    ic, ip = window_where(incident, "time_ns")
    sql = store.sql
    return store.query(f"""
        SELECT service, {mask_sql(sql, 'body')} AS template, max(severity_number) AS severity,
               count(*) FILTER (WHERE {bc}) AS before, count(*) FILTER (WHERE {ic}) AS after,
               {sql.any_value('body')} AS example
        FROM logs WHERE ({bc}) OR ({ic}) GROUP BY ALL""", bp + ip + bp + ip)
