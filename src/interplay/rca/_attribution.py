"""Where the symptom originates: per unit of work (an entry span and its synchronous subtree),
blame its failure or its extra latency on the nodes below it, all in SQL.

* error origin: the erroring spans with no erroring child. A CLIENT span that failed while its callee
  did not is blamed on the callee when the callee answered (an error status it passed on), and
  counts as latency when the client gave up first (a timeout: the callee's slowness is the cause);
  a CLIENT span without a callee span is blamed on the resource it called.
* latency origin: self time (duration minus the union of its children) on the critical path
  (a child is critical when no sibling is still running at its end; async children are cut off),
  compared with the baseline: a slower span is blamed on its own node, more spans than usual
  (loops, retries, fan-out) on the node that made the extra calls.

Units are sampled uniformly by hash (capped, per window) so the cost does not grow with the window.
Error blame counts failing units; latency blame is the mean excess critical self time per unit
over all sampled units (not only the slow ones: picking the slowest would favour whatever has a
heavy tail anyway).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..graph import RESOURCE_KIND, RESOURCE_NAME
from ..queries import TimeRange
from ..store.base import Stages, Store
from ._windows import UNIT

CAP = 1500
GAP = "GAP"  # node kind of the time between a CLIENT span and its remote callee: (caller, callee, GAP)
GAP_EDGE = "(kind = 'CLIENT' AND nchild > 0 AND child_service <> service)"


@dataclass
class Blame:
    """Blame per node (service, operation, kind) and the unit counts it is relative to."""

    nodes: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    units: dict[str, dict[str, int]] = field(default_factory=dict)  # w -> total, anomalous, sampled
    self_time: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    healthy_trace: str | None = None
    # node service -> [(services from the entry down to it, failing/slow units, all units)], commonest first
    paths: dict[str, list[tuple[list[str], int, int]]] = field(default_factory=dict)


def attribute(store: Store, groups: list[dict[str, Any]], baseline: TimeRange, incident: TimeRange,
              cap: int = CAP, peer: bool = False) -> Blame:
    """Blame anomalous units of the given entry groups ({service, operation, threshold_ns}).

    `peer`: no baseline in time. The windows are then one, and each group's failing and slowest
    requests (over its `p90_ns`) are compared with the rest of its own requests instead."""
    values = ", ".join(["(?, ?, ?, ?)"] * len(groups))
    gparams: list[Any] = []
    for g in groups:
        gparams += [g["service"], g["operation"], int(g["threshold_ns"] or 0),
                    int(g.get("p90_ns") or g["threshold_ns"] or 0)]
    bc, bp = baseline.where("s.start_ns")
    ic, ip = incident.where("s.start_ns")
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
              WHERE (({bc}) OR ({ic})) AND {UNIT.replace('kind', 's.kind').replace('parent_span_id', 's.parent_span_id')})"""
    uparams = gparams + w_params + bp + ip
    blame = Blame()
    for r in store.query(f"WITH {units_sql} SELECT w, count(*) AS total, count(*) FILTER (WHERE anom) AS anom "
                         "FROM u GROUP BY w", uparams):
        blame.units[r["w"]] = {"total": r["total"], "anomalous": r["anom"]}
    if "i" not in blame.units or "b" not in blame.units:
        return blame
    # Sample `cap` units per window by hash; a hash prefilter keeps about 3 * cap of each first,
    # so the scan does not sort every unit of a long window.
    keep = {w: min(10000, int(10000 * 3 * cap / max(blame.units[w]["total"], 1)) + 1) for w in ("b", "i")}
    # Stages: one temporary table each on ClickHouse (it evaluates a CTE again at every reference,
    # and the recursive step references its inputs at every level), CTEs on DuckDB.
    with Stages(store, "_ip_rca") as stages:
        names: dict[str, str] = {}
        for name, sql in _STAGES:
            body = sql.format(cap=int(cap), keep_b=keep["b"], keep_i=keep["i"], **names)
            if name == "sel":
                names[name] = stages.add(name, f"WITH {units_sql}, {body}", uparams)
            else:
                names[name] = stages.add(name, body)
        _aggregate(store, stages.table(_UNIT_SPANS.format(**names), prefix="_ip_rca_units"), blame)
    return blame


# Each stage reads the stages before it ({sel}, {sp}, … are their names).
_STAGES: list[tuple[str, str]] = [
    ("sel", """
        picked AS (SELECT *, row_number() OVER (PARTITION BY w ORDER BY hash(unit_id)) AS pick FROM u
                   WHERE (hash(unit_id) % 10000) < CASE WHEN w = 'i' THEN {keep_i} ELSE {keep_b} END)
        SELECT * FROM picked WHERE pick <= {cap}"""),
    ("sp", """
        SELECT trace_id, span_id, parent_span_id, service, operation, kind, start_ns, end_ns, duration_ns,
               status_code = 'ERROR' AS err, attributes
        FROM spans WHERE trace_id IN (SELECT DISTINCT trace_id FROM {sel})"""),
    ("ch", """
        SELECT c.trace_id AS trace_id, c.span_id AS span_id, c.parent_span_id AS parent_span_id,
               c.service AS service, c.operation AS operation, c.kind AS kind, c.start_ns AS start_ns,
               c.end_ns AS end_ns, c.err AS err, p.start_ns AS ps, p.end_ns AS pe,
               (c.kind = 'CONSUMER' OR c.start_ns >= p.end_ns) AS async
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
                   sum(greatest(0, least(end_ns, pe) - greatest(start_ns, coalesce(prev_end, ps), ps))) AS covered
            FROM {{chw}} GROUP BY ALL),
        kids AS (
            SELECT trace_id, parent_span_id AS span_id, bool_or(err) AS child_err, count(*) AS nchild,
                   max(end_ns) AS child_end, arg_max(service, end_ns - start_ns) AS child_service,
                   arg_max(operation, end_ns - start_ns) AS child_op, arg_max(kind, end_ns - start_ns) AS child_kind
            FROM {{ch}} GROUP BY ALL),
        n AS (
            SELECT sp.trace_id AS trace_id, sp.span_id AS span_id, sp.parent_span_id AS parent_span_id,
                   sp.kind AS kind, sp.err AS err, sp.end_ns AS end_ns, sp.service AS service,
                   greatest(sp.duration_ns - coalesce(cv.covered, 0), 0) AS self_ns,
                   coalesce(k.child_err, false) AS child_err, coalesce(k.nchild, 0) AS nchild, k.child_end AS child_end,
                   k.child_service AS child_service, k.child_op AS child_op, k.child_kind AS child_kind,
                   CASE WHEN sp.kind IN ('CLIENT', 'PRODUCER') AND k.nchild IS NULL
                        THEN {RESOURCE_NAME.replace('attributes', 'sp.attributes')} ELSE sp.service END AS as_parent_s,
                   sp.operation AS as_parent_op,
                   CASE WHEN sp.kind IN ('CLIENT', 'PRODUCER') AND k.nchild IS NULL
                        THEN {RESOURCE_KIND.replace('attributes', 'sp.attributes')} ELSE sp.kind END AS as_parent_k
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


def _aggregate(store: Store, table: str, blame: Blame) -> None:
    rows = store.query(f"""
        WITH origins AS (
            SELECT w, unit_id, trace_id,
                   kind IN ('CLIENT', 'PRODUCER') AND nchild > 0 AND child_end > end_ns AS timeout,
                   CASE WHEN kind IN ('CLIENT', 'PRODUCER') AND nchild > 0 THEN child_service ELSE ns END AS bs,
                   CASE WHEN kind IN ('CLIENT', 'PRODUCER') AND nchild > 0 THEN child_op ELSE nop END AS bop,
                   CASE WHEN kind IN ('CLIENT', 'PRODUCER') AND nchild > 0 THEN child_kind ELSE nk END AS bk
            FROM {table} WHERE anom AND err AND NOT child_err),
        err_units AS (SELECT unit_id, count(*) AS k FROM origins WHERE NOT timeout GROUP BY unit_id),
        err_blame AS (
            SELECT o.w, o.unit_id, o.trace_id, o.bs, o.bop, o.bk, 1.0 / e.k AS weight, 'error' AS how
            FROM origins o JOIN err_units e USING (unit_id) WHERE NOT o.timeout),
        per AS (
            SELECT w, anom, gs, gop, unit_id, any_value(trace_id) AS trace_id, ns, nop, nk, pns, pnop, pnk,
                   coalesce(sum(self_ns) FILTER (WHERE crit), 0) AS s, count(*) FILTER (WHERE crit) AS c,
                   sum(self_ns) AS s_all, count(*) AS c_all
            FROM {table} GROUP BY ALL),
        base AS (
            SELECT gs, gop, ns, nop, nk, pns, pnop, pnk, sum(s_all) / sum(c_all) AS m, sum(c_all) AS cb
            FROM per WHERE w = 'b' GROUP BY ALL),
        nb AS (SELECT gs, gop, count(DISTINCT unit_id) AS n FROM per WHERE w = 'b' GROUP BY ALL),
        parts AS (
            SELECT p.w, p.unit_id, p.trace_id, p.ns AS bs, p.nop AS bop, p.nk AS bk,
                   CASE WHEN b.m IS NULL THEN CAST(p.s AS DOUBLE) ELSE p.s - p.c * b.m END AS part
            FROM per p LEFT JOIN base b USING (gs, gop, ns, nop, nk, pns, pnop, pnk)
            WHERE p.unit_id NOT IN (SELECT unit_id FROM err_units)
            UNION ALL
            SELECT p.w, p.unit_id, p.trace_id, p.pns, p.pnop, p.pnk,
                   (p.c_all - b.cb / nb.n) * b.m * p.c / p.c_all
            FROM per p JOIN base b USING (gs, gop, ns, nop, nk, pns, pnop, pnk) JOIN nb USING (gs, gop)
            WHERE p.unit_id NOT IN (SELECT unit_id FROM err_units)),
        lat_blame AS (SELECT w, unit_id, trace_id, bs, bop, bk, sum(part) AS weight, 'latency' AS how
                      FROM parts GROUP BY ALL),
        allb AS (SELECT * FROM err_blame UNION ALL SELECT * FROM lat_blame)
        SELECT w, bs, bop, bk, how, sum(weight) AS weight, count(DISTINCT unit_id) AS units,
               arg_max(trace_id, (weight, trace_id)) AS exemplar
        FROM allb GROUP BY ALL""")
    sampled = store.query(f"""
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
    for r in sampled:
        blame.units[r["w"]].update(sampled=r["n"], error_units=r["err"], slow_units=r["slow"],
                                   slow90_units=r["slow90"])
    # Ties in weight and the engine's row order must not pick the exemplar: the trace id breaks ties
    # inside a group, and the strongest kind of blame (then its name) picks among groups.
    exemplar_weight: dict[tuple, tuple] = {}
    for r in rows:
        key = (r["bs"], r["bop"], r["bk"])
        node = blame.nodes.setdefault(key, {"b": {}, "i": {}, "exemplar": None})
        node[r["w"]][r["how"]] = node[r["w"]].get(r["how"], 0.0) + float(r["weight"])
        if r["w"] == "i" and (float(r["weight"]), r["how"]) > exemplar_weight.get(key, (float("-inf"), "")):
            exemplar_weight[key] = (float(r["weight"]), r["how"])
            node["exemplar"] = r["exemplar"]
    for r in store.query(f"""
            SELECT w, ns, nop, nk, count(*) AS n, quantile_cont(self_ns, 0.9) AS p90,
                   count(*) FILTER (WHERE err AND NOT child_err) AS own_errors
            FROM {table} GROUP BY ALL"""):
        blame.self_time.setdefault((r["ns"], r["nop"], r["nk"]), {})[r["w"]] = {
            "spans": r["n"], "p90_self_ms": round(r["p90"] / 1e6, 3), "own_errors": r["own_errors"]}
    # The services each blamed node's requests really went through, from the symptom's entry down:
    # a causal chain drawn from these is a path traces took, not a walk on the aggregate graph.
    for r in store.query(f"""
            SELECT CASE WHEN nk = '{GAP}' THEN nop ELSE ns END AS node,
                   path || CASE WHEN nk = '{GAP}' THEN ' > ' || nop
                                WHEN ns <> last THEN ' > ' || ns ELSE '' END AS via,
                   count(DISTINCT unit_id) FILTER (WHERE anom OR slow90) AS bad, count(DISTINCT unit_id) AS units
            FROM {table} WHERE w = 'i' GROUP BY ALL"""):
        blame.paths.setdefault(r["node"], []).append((r["via"].split(" > "), int(r["bad"]), int(r["units"])))
    for options in blame.paths.values():
        options.sort(key=lambda o: (-o[1], -o[2], len(o[0]), o[0]))
    healthy = store.query(f"SELECT min(trace_id) AS t FROM {table} WHERE w = 'b' AND NOT anom")
    blame.healthy_trace = healthy[0]["t"] if healthy else None
