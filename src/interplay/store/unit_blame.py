"""Unit blame's SQL: per unit of work (an entry span and its synchronous subtree) of the given entry
points, sampled by hash per window, the nodes below it where its failure or its extra latency
originates. `rca` turns the rows into blame shares; the method is described there (rca/_attribution.py).

Entry points come as (service, operation, threshold ns, p90 ns): a unit is anomalous over its
threshold (or failing); `peer` splits one window into each entry point's failing and over-p90
requests ('i') and the rest ('b') instead of baseline and incident by time.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..model import TimeRange
from .base import EngineSQL, Stages, Store, scratch_table
from .interactions import resource_kind, resource_name
from .predicates import ANSWER, entry, window_where

GAP = "GAP"  # node kind of the time between a CLIENT span and its remote callee: (caller, callee, GAP)
GAP_EDGE = "(kind = 'CLIENT' AND nchild > 0 AND child_service <> service)"
_UNIT = entry("s.")
# Blame is summed in integers, so the engine's order of summing (threads, parts) cannot move an answer:
# latency in whole ns, a failing unit's 1 / k share of each of its k origins in units of 1 / _ERROR_SCALE
# (exact for k up to 16).
_ERROR_SCALE = 720720


@dataclass
class UnitBlameRows:
    """What `unit_blame` read. `units`: per window w, units `total` and `anom`. The rest only when both
    windows have units: `sampled` per w (n, err, slow, slow90 units); `blame` per w, node (bs, bop, bk)
    and how ('error' | 'latency'): weight, units, exemplar; `self_time` per w and node (ns, nop, nk):
    spans n, p90 self ns, own_errors; `paths` per blamed node: the services `via` which the incident's
    units reached it, `bad` and all `units`; `unit_latency` per w, node and sampled unit: its
    latency blame `weight` (ns); `healthy_trace`: a baseline unit's trace that went well."""

    units: list[dict[str, Any]] = field(default_factory=list)
    sampled: list[dict[str, Any]] = field(default_factory=list)
    blame: list[dict[str, Any]] = field(default_factory=list)
    self_time: list[dict[str, Any]] = field(default_factory=list)
    paths: list[dict[str, Any]] = field(default_factory=list)
    unit_latency: list[dict[str, Any]] = field(default_factory=list)
    healthy_trace: str | None = None


def unit_blame(store: Store, groups: Sequence[tuple[str, str, int, int]], baseline: TimeRange,
               incident: TimeRange, cap: int, peer: bool = False) -> UnitBlameRows:
    """Sample up to `cap` units per window of these entry points and read where each one's failure or time went."""
    values = ", ".join(["(?, ?, ?, ?)"] * len(groups))
    gparams: list[Any] = [v for g in groups for v in g]
    bc, bp = window_where(baseline, "s.start_ns")
    ic, ip = window_where(incident, "s.start_ns")
    if peer:
        w_case, w_params = "CASE WHEN s.status_code = 'ERROR' OR s.duration_ns > g.thr90 THEN 'i' ELSE 'b' END", []
    else:
        w_case, w_params = f"CASE WHEN {bc} THEN 'b' ELSE 'i' END", bp
    units_sql = f"""
        g(gs, gop, thr, thr90) AS (VALUES {values}),
        u AS (SELECT s.trace_id, s.span_id AS unit_id, s.service AS gs, s.operation AS gop,
                     {w_case} AS w,
                     (s.status_code = 'ERROR' OR s.duration_ns > g.thr) AS anom,
                     s.duration_ns > g.thr90 AS slow90
              FROM spans s JOIN g ON s.service = g.gs AND s.operation = g.gop
              WHERE (({bc}) OR ({ic})) AND {_UNIT})"""
    uparams = gparams + w_params + bp + ip
    out = UnitBlameRows(units=store.query(
        f"WITH {units_sql} SELECT w, count(*) AS total, count(*) FILTER (WHERE anom) AS anom FROM u GROUP BY w",
        uparams))
    total = {r["w"]: r["total"] for r in out.units}
    if "i" not in total or "b" not in total:
        return out
    # Sample `cap` units per window by hash; a hash prefilter keeps about 3 * cap of each first,
    # so the scan does not sort every unit of a long window.
    keep = {w: min(10000, int(10000 * 3 * cap / max(total[w], 1)) + 1) for w in ("b", "i")}
    # Stages: one temporary table each on ClickHouse (it evaluates a CTE again at every reference,
    # and the recursive step references its inputs at every level), CTEs on DuckDB.
    with Stages(store, "_ip_rca") as stages:
        names: dict[str, str] = {}
        spelled = _spelling(store.sql)
        for name, sql in _STAGES:
            body = sql.format(cap=int(cap), keep_b=keep["b"], keep_i=keep["i"], **spelled, **names)
            if name == "sel":
                names[name] = stages.add(name, f"WITH {units_sql}, {body}", uparams)
            else:
                names[name] = stages.add(name, body)
        _read(store, stages.table(_UNIT_SPANS.format(**names), prefix="_ip_rca_units"), out)
    return out


def _spelling(sql: EngineSQL) -> dict[str, str]:
    """The engine's spelling of the expressions the stages below name in braces."""
    return {"hash_unit": sql.hash("unit_id"), "child_err": sql.bool_or("err"),
            "child_service": sql.arg_max("service", "end_ns - start_ns"),
            "child_op": sql.arg_max("operation", "end_ns - start_ns"),
            "child_kind": sql.arg_max("kind", "end_ns - start_ns"),
            "resource_name": resource_name(sql, "sp.attributes"), "resource_kind": resource_kind(sql, "sp.attributes"),
            "answer": ANSWER}


# Each stage reads the stages before it ({sel}, {sp}, … are their names; {hash_unit}, … `_spelling`'s).
_STAGES: list[tuple[str, str]] = [
    ("sel", """
        picked AS (SELECT *, row_number() OVER (PARTITION BY w ORDER BY {hash_unit}) AS pick FROM u
                   WHERE ({hash_unit} % 10000) < CASE WHEN w = 'i' THEN {keep_i} ELSE {keep_b} END)
        SELECT * FROM picked WHERE pick <= {cap}"""),
    ("sp", """
        SELECT trace_id, span_id, parent_span_id, service, operation, kind, start_ns, end_ns, duration_ns,
               status_code = 'ERROR' AS err, attributes
        FROM spans WHERE trace_id IN (SELECT DISTINCT trace_id FROM {sel})"""),
    ("ch", """
        SELECT c.trace_id AS trace_id, c.span_id AS span_id, c.parent_span_id AS parent_span_id,
               c.service AS service, c.operation AS operation, c.kind AS kind, c.start_ns AS start_ns,
               c.end_ns AS end_ns, c.err AS err, p.start_ns AS ps, p.end_ns AS pe,
               (c.kind = 'CONSUMER' OR (c.start_ns >= p.end_ns AND NOT {answer})) AS async,
               {answer} AS answer
        FROM {sp} c JOIN {sp} p ON c.trace_id = p.trace_id AND c.parent_span_id = p.span_id
        WHERE c.span_id <> p.span_id"""),
    ("chw", """
        SELECT *,
               max(end_ns) OVER (PARTITION BY trace_id, parent_span_id ORDER BY start_ns, span_id
                                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end,
               min(start_ns) OVER (PARTITION BY trace_id, parent_span_id ORDER BY end_ns DESC, span_id
                                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS later_start
        FROM {ch} WHERE NOT async"""),
    ("nodes", f"""
        WITH cover AS (
            SELECT trace_id, parent_span_id AS span_id,
                   -- an answer covers its call by its length: two hosts' clocks may put it anywhere
                   sum(CASE WHEN answer THEN least(end_ns - start_ns, pe - ps)
                            ELSE greatest(0, least(end_ns, pe) - greatest(start_ns, coalesce(prev_end, ps), ps))
                       END) AS covered
            FROM {{chw}} GROUP BY ALL),
        kids AS (
            SELECT trace_id, parent_span_id AS span_id, {{child_err}} AS child_err, count(*) AS nchild,
                   max(end_ns) AS child_end, {{child_service}} AS child_service,
                   {{child_op}} AS child_op, {{child_kind}} AS child_kind
            FROM {{ch}} GROUP BY ALL),
        n AS (
            SELECT sp.trace_id AS trace_id, sp.span_id AS span_id, sp.parent_span_id AS parent_span_id,
                   sp.kind AS kind, sp.err AS err, sp.end_ns AS end_ns, sp.service AS service,
                   greatest(sp.duration_ns - coalesce(cv.covered, 0), 0) AS self_ns,
                   coalesce(k.child_err, false) AS child_err, coalesce(k.nchild, 0) AS nchild, k.child_end AS child_end,
                   k.child_service AS child_service, k.child_op AS child_op, k.child_kind AS child_kind,
                   CASE WHEN sp.kind IN ('CLIENT', 'PRODUCER') AND k.nchild IS NULL
                        THEN {{resource_name}} ELSE sp.service END AS as_parent_s,
                   sp.operation AS as_parent_op,
                   CASE WHEN sp.kind IN ('CLIENT', 'PRODUCER') AND k.nchild IS NULL
                        THEN {{resource_kind}} ELSE sp.kind END AS as_parent_k
            FROM {{sp}} sp LEFT JOIN cover cv ON cv.trace_id = sp.trace_id AND cv.span_id = sp.span_id
            LEFT JOIN kids k ON k.trace_id = sp.trace_id AND k.span_id = sp.span_id)
        SELECT *,
               -- A CLIENT span's own time around its remote callee is time between the two
               -- services (network, proxies, the callee's accept queue), not the caller's work:
               -- it is blamed on the edge, and placed later by the pattern across peers.
               CASE WHEN {GAP_EDGE} THEN service ELSE as_parent_s END AS ns,
               CASE WHEN {GAP_EDGE} THEN child_service ELSE as_parent_op END AS nop,
               CASE WHEN {GAP_EDGE} THEN '{GAP}' ELSE as_parent_k END AS nk
        FROM n"""),
]

# The sampled units' span trees, one row per (unit, span): what `_aggregate` reads.
_UNIT_SPANS = """
        WITH RECURSIVE tree(trace_id, span_id, unit_id, crit, depth, path, last) AS (
            SELECT trace_id, unit_id, unit_id, true, 0, gs, gs FROM {sel}
            UNION ALL
            SELECT c.trace_id, c.span_id, t.unit_id,
                   t.crit AND (c.later_start IS NULL OR c.later_start >= c.end_ns), t.depth + 1,
                   CASE WHEN c.service <> t.last THEN t.path || ' > ' || c.service ELSE t.path END, c.service
            FROM tree t JOIN {chw} c ON c.trace_id = t.trace_id AND c.parent_span_id = t.span_id
            WHERE t.depth < 64)
        SELECT sel.w AS w, sel.anom AS anom, sel.gs AS gs, sel.gop AS gop, t.unit_id AS unit_id, t.crit AS crit,
               sel.slow90 AS slow90, t.path AS path, t.last AS last,
               n.trace_id AS trace_id, n.span_id AS span_id, n.parent_span_id AS parent_span_id, n.kind AS kind,
               n.err AS err, n.end_ns AS end_ns, n.self_ns AS self_ns, n.child_err AS child_err,
               n.nchild AS nchild, n.child_end AS child_end, n.child_service AS child_service,
               n.child_op AS child_op, n.child_kind AS child_kind, n.ns AS ns, n.nop AS nop, n.nk AS nk,
               coalesce(pn.as_parent_s, n.ns) AS pns, coalesce(pn.as_parent_op, n.nop) AS pnop,
               coalesce(pn.as_parent_k, n.nk) AS pnk
        FROM tree t JOIN {sel} sel ON sel.unit_id = t.unit_id AND sel.trace_id = t.trace_id
        JOIN {nodes} n ON n.trace_id = t.trace_id AND n.span_id = t.span_id
        LEFT JOIN {nodes} pn ON pn.trace_id = n.trace_id AND pn.span_id = n.parent_span_id
                            AND t.span_id <> t.unit_id"""


def _read(store: Store, table: str, out: UnitBlameRows) -> None:
    """The blame, sample counts, self times and paths of the sampled units' span trees in `table`."""
    sql = store.sql
    with scratch_table(store, f"""
        WITH origins AS (
            SELECT w, unit_id, trace_id,
                   kind IN ('CLIENT', 'PRODUCER') AND nchild > 0 AND child_end > end_ns AS timeout,
                   CASE WHEN kind IN ('CLIENT', 'PRODUCER') AND nchild > 0 THEN child_service ELSE ns END AS bs,
                   CASE WHEN kind IN ('CLIENT', 'PRODUCER') AND nchild > 0 THEN child_op ELSE nop END AS bop,
                   CASE WHEN kind IN ('CLIENT', 'PRODUCER') AND nchild > 0 THEN child_kind ELSE nk END AS bk
            FROM {table} WHERE anom AND err AND NOT child_err),
        err_units AS (SELECT unit_id, count(*) AS k FROM origins WHERE NOT timeout GROUP BY unit_id),
        err_blame AS (
            SELECT o.w, o.unit_id, o.trace_id, o.bs, o.bop, o.bk, {sql.idiv(str(_ERROR_SCALE), 'e.k')} AS weight,
                   'error' AS how
            FROM origins o JOIN err_units e USING (unit_id) WHERE NOT o.timeout),
        per AS (
            SELECT w, anom, gs, gop, unit_id, {sql.any_value('trace_id')} AS trace_id,
                   ns, nop, nk, pns, pnop, pnk,
                   coalesce(sum(self_ns) FILTER (WHERE crit), 0) AS s, count(*) FILTER (WHERE crit) AS c,
                   sum(self_ns) AS s_all, count(*) AS c_all
            FROM {table} GROUP BY ALL),
        base AS (
            SELECT gs, gop, ns, nop, nk, pns, pnop, pnk, sum(s_all) / sum(c_all) AS m, sum(c_all) AS cb
            FROM per WHERE w = 'b' GROUP BY ALL),
        nb AS (SELECT gs, gop, count(DISTINCT unit_id) AS n FROM per WHERE w = 'b' GROUP BY ALL),
        parts AS (
            SELECT p.w, p.unit_id, p.trace_id, p.ns AS bs, p.nop AS bop, p.nk AS bk,
                   CAST(floor(CASE WHEN b.m IS NULL THEN CAST(p.s AS DOUBLE) ELSE p.s - p.c * b.m END + 0.5)
                        AS BIGINT) AS part
            FROM per p LEFT JOIN base b USING (gs, gop, ns, nop, nk, pns, pnop, pnk)
            WHERE p.unit_id NOT IN (SELECT unit_id FROM err_units)
            UNION ALL
            SELECT p.w, p.unit_id, p.trace_id, p.pns, p.pnop, p.pnk,
                   CAST(floor((p.c_all - b.cb / nb.n) * b.m * p.c / p.c_all + 0.5) AS BIGINT)
            FROM per p JOIN base b USING (gs, gop, ns, nop, nk, pns, pnop, pnk) JOIN nb USING (gs, gop)
            WHERE p.unit_id NOT IN (SELECT unit_id FROM err_units)),
        lat_blame AS (SELECT w, unit_id, trace_id, bs, bop, bk, sum(part) AS weight, 'latency' AS how
                      FROM parts GROUP BY ALL),
        allb AS (SELECT * FROM err_blame UNION ALL SELECT * FROM lat_blame)
        SELECT * FROM allb""", prefix="_ip_rca_blame") as per_unit:
        out.blame = store.query(f"""
            SELECT w, bs, bop, bk, how,
                   CASE WHEN how = 'error' THEN sum(weight) / {_ERROR_SCALE}.0 ELSE CAST(sum(weight) AS DOUBLE) END
                       AS weight,
                   count(DISTINCT unit_id) AS units, {sql.arg_max('trace_id', '(weight, trace_id)')} AS exemplar
            FROM {per_unit} GROUP BY w, bs, bop, bk, how ORDER BY w, bs, bop, bk, how""")
        # each unit's latency blame per node, for a rank test of the node's shift: a mean excess
        # from a short baseline that missed a rare pause is no shift at all
        out.unit_latency = store.query(f"""
            SELECT w, bs, bop, bk, weight FROM {per_unit} WHERE how = 'latency'""")
    out.sampled = store.query(f"""
        WITH err_units AS (SELECT DISTINCT unit_id FROM {table}
                           WHERE anom AND err AND NOT child_err
                             AND NOT (kind IN ('CLIENT', 'PRODUCER') AND nchild > 0 AND child_end > end_ns))
        SELECT w, count(DISTINCT unit_id) AS n,
               count(DISTINCT unit_id) FILTER (WHERE unit_id IN (SELECT unit_id FROM err_units)) AS err,
               count(DISTINCT unit_id) FILTER (WHERE anom AND unit_id NOT IN (SELECT unit_id FROM err_units))
                   AS slow,
               count(DISTINCT unit_id) FILTER (WHERE slow90 AND unit_id NOT IN (SELECT unit_id FROM err_units))
                   AS slow90
        FROM {table} GROUP BY w""")
    out.self_time = store.query(f"""
            SELECT w, ns, nop, nk, count(*) AS n, {sql.quantile('self_ns', 0.9)} AS p90,
                   count(*) FILTER (WHERE err AND NOT child_err) AS own_errors
            FROM {table} GROUP BY ALL""")
    # `hit`: bad units in which the node itself failed or, on the critical path, took longer than
    # its baseline p90 (a bad unit that passed through a healthy node is no evidence of the path)
    out.paths = store.query(f"""
            WITH base AS (SELECT ns, nop, nk, {sql.quantile('self_ns', 0.9)} AS p90 FROM {table}
                          WHERE w = 'b' GROUP BY ALL)
            SELECT CASE WHEN x.nk = '{GAP}' THEN x.nop ELSE x.ns END AS node,
                   x.path || CASE WHEN x.nk = '{GAP}' THEN ' > ' || x.nop
                                  WHEN x.ns <> x.last THEN ' > ' || x.ns ELSE '' END AS via, x.gop AS gop,
                   count(DISTINCT x.unit_id) FILTER (WHERE x.anom OR x.slow90) AS bad,
                   count(DISTINCT x.unit_id) FILTER (WHERE (x.anom OR x.slow90) AND (
                       (x.err AND NOT x.child_err) OR (x.crit AND (b.p90 IS NULL OR x.self_ns > b.p90)))) AS hit,
                   count(DISTINCT x.unit_id) AS units
            FROM {table} x LEFT JOIN base b ON b.ns = x.ns AND b.nop = x.nop AND b.nk = x.nk
            WHERE x.w = 'i' GROUP BY ALL""")
    healthy = store.query(f"SELECT min(trace_id) AS t FROM {table} WHERE w = 'b' AND NOT anom")
    out.healthy_trace = healthy[0]["t"] if healthy else None
