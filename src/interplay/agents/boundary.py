"""Where agent runs meet the rest of the system: for investigations that cross the boundary.

`runs_touching` names the agent runs involved in a causal chain through a service;
`agent_load_by_backend` shows how much of a backend's traffic each agent sends it, so an
investigation can tell an agent's loop saturating a backend shared with users.
"""
from __future__ import annotations

from typing import Any

from ..model import TimeRange
from ..store.base import Store
from ..store.predicates import window_where
from . import _sql


def runs_touching(store: Store, service: str, window: TimeRange = TimeRange(), limit: int = 1000) -> list[str]:
    """Ids of agent runs with a span in `service` that started in the window, earliest first."""
    cond, params = window_where(window)
    # Only traces that hold GenAI spans can hold runs: a backend shared with users has many others.
    scope = (f"SELECT DISTINCT trace_id FROM spans WHERE service = ? AND {cond} "
             f"INTERSECT {_sql.window_scope(cond)}")
    with _sql.run_tables(store, scope, [service, *params, *params]) as t:
        rows = t.query(f"""
            SELECT r.trace_id || ':' || r.span_id AS run_id, t.first_ns AS first_ns
            FROM (SELECT root_id, min(start_ns) AS first_ns FROM {t['x']} WHERE service = ? AND {cond}
                  GROUP BY root_id) t
            JOIN {t['s']} r ON r.id = t.root_id
            ORDER BY first_ns, run_id LIMIT {int(limit)}""", [service, *params])
    return [r["run_id"] for r in rows]


def agent_load_by_backend(store: Store, window: TimeRange = TimeRange()) -> list[dict[str, Any]]:
    """Per (agent, backend): calls its runs made in the window, errors, runs, and share of the backend's load.

    A backend is a service entered by a SERVER/CONSUMER span of the run (other than the agent's own
    service), or, when the callee sends no spans, the `server.address` of a leaf CLIENT span
    (`instrumented: false`). `share` = calls / all requests the backend served in the window
    (None for uninstrumented backends).
    """
    cond, params = window_where(window)
    xcond, _ = window_where(window, "x.start_ns")
    with _sql.run_tables(store, _sql.window_scope(cond), params) as t:
        rows = t.query(f"""
            WITH {_sql.runs_cte(t)},
            parents AS (SELECT DISTINCT trace_id, parent_span_id AS span_id FROM {t['x']}
                             WHERE parent_span_id IS NOT NULL),
            calls AS (
                SELECT runs.agent AS agent, runs.run_id AS run_id, x.service AS backend, TRUE AS instrumented,
                       x.failed AS failed
                FROM {t['x']} x JOIN runs ON runs.root_id = x.root_id
                WHERE x.kind IN ('SERVER', 'CONSUMER') AND x.service <> runs.root_service AND {xcond}
                UNION ALL
                SELECT runs.agent, runs.run_id, x.server_address, FALSE, x.failed
                FROM {t['x']} x JOIN runs ON runs.root_id = x.root_id
                LEFT JOIN parents p ON p.trace_id = x.trace_id AND p.span_id = x.span_id
                WHERE x.kind = 'CLIENT' AND x.server_address IS NOT NULL AND p.span_id IS NULL AND {xcond})
            SELECT agent, backend, instrumented, count(*) AS calls, count(*) FILTER (WHERE failed) AS errors,
                   count(DISTINCT run_id) AS runs
            FROM calls GROUP BY ALL ORDER BY calls DESC, agent, backend""", [*params, *params])
    if not rows:
        return []
    served = {r["service"]: r["n"] for r in store.query(f"""
        SELECT service, count(*) AS n FROM spans
        WHERE kind IN ('SERVER', 'CONSUMER') AND {cond} AND service IN (SELECT unnest(?::VARCHAR[]))
        GROUP BY service""", [*params, sorted({r["backend"] for r in rows if r["instrumented"]})])}
    for r in rows:
        total = served.get(r["backend"]) if r["instrumented"] else None
        r["backend_requests"] = total
        r["share"] = round(r["calls"] / total, 4) if total else None
    return rows
