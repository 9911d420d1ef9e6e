"""The SQL that finds agent runs and assigns every span of their subtrees to them.

A run is the subtree of a top-level agent span (`invoke_agent`, OpenInference `AGENT`,
Traceloop `agent`): an agent span under another agent span is a step (a sub-agent) of the outer
run. A trace with no agent span but at least one model call and one tool call is one run rooted
at its earliest root span. Orphans (parent never arrived) are attached by time to the agent span
of their trace that started last before them, and the run is marked incomplete.

Columns of the `x` relation every query builds on: the span's own columns (`id` is a hash of its
trace and span ids: joins between spans use it, not the two text ids), the fields read from its attributes
(parsed once, in `s`), plus `root_id` (the id of the run's root span), `depth` (below the root),
`anchor` (the id of the step the span belongs to; a step's own row has id = anchor), `in_llm`
(under a model-call span: its tokens are already counted), `orphan`, and the derived fields.
"""
from __future__ import annotations

import json
import re
from typing import Any

from ..store.base import Stages, Store

from . import conventions as c

_IS_STEP = f"(gkind IS NOT NULL AND gkind NOT IN {c.sql_in(c.PASS_THROUGH)})"
_NOT_PLAIN = re.compile(r'["\\\x00-\x1f]')
_RATE = r"rate.?limit|ratelimit|too many requests|\b429\b|resource.?exhausted|quota exceeded"
_TIMEOUT = r"time.?out|timed out|deadline.?exceeded|deadlineexceeded"


def run_tables(store: Store, scope: str, scope_params: list[Any], *, detail: bool = False) -> Stages:
    """The runs in the traces the scope query selects, as stages (see `Stages`): `s`, the spans of
    those traces, parsed; `x`, the spans of runs (see the module docstring). `runs_cte(t)`
    aggregates them per run. Use as a context manager; query with its `query`.

    scope: a SELECT returning a column trace_id, with `scope_params`.
    detail: also carry the attribute JSON of GenAI spans (for showing steps; large, so only then).
    """
    t = Stages(store, "_ip_agent")
    try:
        s = t.add("s", f"WITH cand AS ({scope}), {_spans(detail)} SELECT * FROM parsed", scope_params)
        e = t.add("e", f"""
            SELECT ch.id AS id, p.id AS pid, ch.gkind AS gkind FROM {s} ch
            LEFT JOIN {s} p ON p.trace_id = ch.trace_id AND p.span_id = nullif(ch.parent_span_id, ch.span_id)""")
        best = t.add("best", _walk(t.add("seeds", _seeds(s, e)), e))
        t.add("x", f"""
            WITH nested AS (
                SELECT b.id AS inner_root, b.run_root AS outer_root
                FROM {best} b WHERE b.gkind = 'agent' AND b.run_root <> b.id),
            rs AS (
                SELECT b.id AS rid, b.depth AS depth, b.anchor AS anchor, b.in_llm AS in_llm, b.orphan AS orphan,
                       coalesce(n.outer_root, b.run_root) AS root_id
                FROM {best} b LEFT JOIN nested n ON n.inner_root = b.run_root)
            SELECT rs.root_id AS root_id, rs.depth AS depth, rs.anchor AS anchor, rs.in_llm AS in_llm,
                   rs.orphan AS orphan, sp.*
            FROM rs JOIN {s} sp ON sp.id = rs.rid""")
    except BaseException:
        t.__exit__()
        raise
    return t


def _seeds(s: str, e: str) -> str:
    """Each run's root with the spans that start its walk: agent spans; in a trace without one but
    with model and tool calls, its top spans under the earliest root; orphans, under the agent span
    of their trace that started last before them."""
    return f"""
WITH tops AS (SELECT s.* FROM {s} s JOIN {e} e ON e.id = s.id WHERE e.pid IS NULL),
agents AS (SELECT trace_id, id, start_ns FROM {s} WHERE gkind = 'agent'),
shape AS (
    SELECT trace_id, bool_or(gkind = 'agent') AS has_agent, bool_or(gkind = 'llm') AS has_llm,
           bool_or(gkind = 'tool') AS has_tool
    FROM {s} GROUP BY trace_id),
fallback AS (
    SELECT t.trace_id AS trace_id, arg_min(t.id, (t.parent_span_id IS NOT NULL, t.start_ns, t.span_id)) AS root
    FROM tops t JOIN shape USING (trace_id)
    WHERE NOT shape.has_agent AND shape.has_llm AND shape.has_tool GROUP BY t.trace_id)
SELECT id AS run_root, id, FALSE AS orphan FROM agents
UNION ALL
SELECT f.root, t.id, t.id <> f.root FROM fallback f JOIN tops t USING (trace_id)
UNION ALL
SELECT a.id, o.id, TRUE
FROM (SELECT trace_id, id, start_ns FROM tops
      WHERE parent_span_id IS NOT NULL AND (gkind IS NULL OR gkind <> 'agent')) o
ASOF JOIN agents a ON o.trace_id = a.trace_id AND o.start_ns >= a.start_ns"""


def _walk(seeds: str, e: str) -> str:
    """Every span below a seed, once: under its deepest run root (a sub-agent's spans are the
    sub-agent's steps), with its depth, step anchor and whether a model call is above it."""
    return f"""
WITH RECURSIVE walk AS (
    SELECT q.run_root AS run_root, q.id AS id, 0 AS depth,
           CASE WHEN q.id = q.run_root AND e.gkind = 'agent' THEN NULL
                WHEN {_IS_STEP.replace('gkind', 'e.gkind')} THEN q.id END AS anchor,
           FALSE AS in_llm, q.orphan AS orphan, e.gkind AS gkind
    FROM {seeds} q JOIN {e} e ON e.id = q.id
    UNION ALL
    SELECT t.run_root, ch.id, t.depth + 1,
           coalesce(t.anchor, CASE WHEN {_IS_STEP.replace('gkind', 'ch.gkind')} THEN ch.id END),
           t.in_llm OR coalesce(t.gkind = 'llm', FALSE), t.orphan, ch.gkind
    FROM walk t JOIN {e} ch ON ch.pid = t.id
    WHERE t.depth < 64)
SELECT * FROM (
    SELECT *, row_number() OVER (PARTITION BY id ORDER BY depth DESC, run_root) AS nth FROM walk) w
WHERE nth = 1"""


def _spans(detail: bool) -> str:
    """Relation `parsed`: the spans of the candidate traces, each JSON text parsed once into the fields read."""
    a = "a"

    def f(name: str) -> str:
        return c.sql_field(name, parsed=a)

    def i(name: str) -> str:
        return c.sql_int(name, parsed=a)
    failed = "(status_code = 'ERROR' OR error_type IS NOT NULL)"
    # concat_ws, but the same on both engines (ClickHouse's is NULL when any part is)
    why = ("lower(coalesce(error_type || ' ', '') || coalesce(status_message || ' ', '') || "
           "coalesce(CASE WHEN events LIKE '%exception%' THEN events END, ''))")
    return f"""s0 AS (
    SELECT * FROM (
        SELECT hash(trace_id, span_id) AS id, trace_id, span_id, parent_span_id, service, operation, kind,
               start_ns, end_ns, duration_ns, status_code, status_message, events,
               {"attributes, " if detail else ""}{c.sql_parse()} AS {a},
               row_number() OVER (PARTITION BY trace_id, span_id ORDER BY start_ns) AS nth
        FROM spans WHERE trace_id IN (SELECT trace_id FROM cand))
    WHERE nth = 1),
s1 AS (
    SELECT * EXCLUDE ({a}, nth), {c.sql_kind(parsed=a)} AS gkind,
           CASE WHEN gkind IS NOT NULL THEN {c.sql_step_name('gkind', parsed=a)} END AS step_name,
           {f('error_type')} AS error_type, {i('http_status')} AS http_status, {i('grpc_status')} AS grpc_status,
           {i('resend_count')} AS resend_count, {f('server_address')} AS server_address,
           {f('agent_name')} AS agent_name, {f('agent_id')} AS agent_id, {f('conversation_id')} AS conversation_id,
           {i('input_tokens')} AS input_tokens, {i('output_tokens')} AS output_tokens,
           {i('total_tokens')} AS total_tokens
    FROM s0),
parsed AS (
    SELECT * EXCLUDE (events{", attributes" if detail else ""}),
           {"CASE WHEN gkind IS NOT NULL THEN attributes END AS attributes," if detail else ""}
           {failed} AS failed,
           {c.sql_signature('gkind', 'step_name')} AS sig,
           CASE WHEN http_status = 429 THEN TRUE WHEN {failed} THEN regexp_matches({why}, '{_RATE}') END
               AS is_rate_limited,
           CASE WHEN http_status IN (408, 504) OR grpc_status = 4 THEN TRUE
                WHEN {failed} THEN regexp_matches({why}, '{_TIMEOUT}') END AS is_timeout
    FROM s1)"""


def window_scope(where: str) -> str:
    """Traces with a recognised GenAI span matching `where` (a condition on spans)."""
    # Materialised so that the JSON is parsed once per span, not once per key the kind reads.
    return (f"SELECT trace_id FROM (WITH g AS MATERIALIZED (SELECT trace_id, "
            f"{c.sql_parse(fields=c.KIND_FIELDS)} AS a FROM spans WHERE {where} AND {c.sql_prefilter()}) "
            f"SELECT DISTINCT trace_id FROM g WHERE {c.sql_kind(parsed='a')} IS NOT NULL)")


TRACES_SCOPE = "SELECT unnest(?::VARCHAR[]) AS trace_id"


def named_scope(names: list[str]) -> tuple[str, list[Any]] | None:
    """Traces that can hold runs of these agents (SQL, parameters): a span's service or attribute text names one.

    A run's agent is its root's service or an attribute value of a span of its trace, and the
    store keeps attributes as compact JSON that spells a plain string as itself, so this is a
    superset of their traces (one substring test per span instead of parsing). None when a name
    is not plain text (quotes, backslashes, control characters, or JSON such as a number).
    """
    if not names or not all(_plain(n) for n in names):
        return None
    tests = " OR ".join("position(? IN attributes) > 0" for _ in names)
    return (f"SELECT DISTINCT trace_id FROM spans WHERE service IN (SELECT unnest(?::VARCHAR[])) OR {tests}",
            [names, *names])


def _plain(name: str | None) -> bool:
    if not name or _NOT_PLAIN.search(name):
        return False
    try:
        json.loads(name)
    except ValueError:
        return True
    return False


def newest_traces(where: str) -> str:
    """Traces `window_scope(where)` selects, each with a bound no run of it starts after, newest first.

    A run's root is an agent span, or (in a trace without one) a span of the trace: the latest
    agent span of the trace (in the window) bounds the first, the latest span the second.
    """
    return f"""
WITH g AS MATERIALIZED (
    SELECT trace_id, start_ns, {c.sql_parse(fields=c.KIND_FIELDS)} AS a FROM spans
    WHERE {where} AND {c.sql_prefilter()}),
t AS (
    SELECT trace_id, max(start_ns) FILTER (WHERE gkind = 'agent') AS agent_ns
    FROM (SELECT trace_id, start_ns, {c.sql_kind(parsed='a')} AS gkind FROM g)
    WHERE gkind IS NOT NULL GROUP BY trace_id),
m AS (
    SELECT trace_id, max(start_ns) AS last_ns FROM spans
    WHERE trace_id IN (SELECT trace_id FROM t WHERE agent_ns IS NULL) GROUP BY trace_id)
SELECT t.trace_id, coalesce(t.agent_ns, m.last_ns) AS bound
FROM t LEFT JOIN m USING (trace_id) ORDER BY bound DESC, trace_id"""

def runs_cte(t: Stages) -> str:
    """CTEs `agg` and `runs` (to follow WITH): per-run aggregates over the run tables `t`,
    joined to the root span's own fields; one row per run."""
    x, s = t["x"], t["s"]
    return f"""
agg AS (
    SELECT root_id, count(*) AS spans,
           count(*) FILTER (WHERE id = anchor) AS steps,
           count(*) FILTER (WHERE id = anchor AND gkind = 'llm') AS model_calls,
           count(*) FILTER (WHERE id = anchor AND gkind = 'tool') AS tool_calls,
           array_agg(DISTINCT step_name) FILTER (WHERE id = anchor AND gkind = 'tool') AS tools,
           sum(input_tokens) FILTER (WHERE gkind = 'llm' AND NOT in_llm) AS input_tokens,
           sum(output_tokens) FILTER (WHERE gkind = 'llm' AND NOT in_llm) AS output_tokens,
           sum(total_tokens) FILTER (WHERE gkind = 'llm' AND NOT in_llm) AS total_tokens,
           string_agg(sig, chr(31) ORDER BY start_ns, span_id) FILTER (WHERE id = anchor) AS path,
           arg_max(failed, end_ns) FILTER (WHERE id = anchor) AS last_step_failed,
           count(*) FILTER (WHERE id = anchor AND failed) AS failed_steps,
           count(*) FILTER (WHERE is_rate_limited) AS rate_limited_spans,
           count(*) FILTER (WHERE is_timeout) AS timeout_spans,
           bool_or(orphan) AS partial,
           min(start_ns) AS first_ns, max(end_ns) AS last_ns,
           arg_min(agent_name, (depth, start_ns, span_id)) FILTER (WHERE agent_name IS NOT NULL) AS any_agent_name,
           arg_min(conversation_id, (depth, start_ns, span_id))
               FILTER (WHERE conversation_id IS NOT NULL) AS conversation_id
    FROM {x} GROUP BY root_id),
runs AS (
    SELECT agg.*, r.trace_id, r.span_id AS root, r.trace_id || ':' || r.span_id AS run_id, r.service AS root_service,
           r.operation AS root_operation, r.start_ns AS started_ns, r.gkind AS root_kind,
           coalesce(r.agent_name, r.agent_id, agg.any_agent_name, r.service) AS agent,
           CASE WHEN r.failed OR coalesce(agg.last_step_failed, FALSE) THEN 'error' ELSE 'ok' END AS status,
           r.status_message AS root_message, r.error_type AS root_error_type,
           coalesce(agg.input_tokens, r.input_tokens) AS tokens_in,
           coalesce(agg.output_tokens, r.output_tokens) AS tokens_out,
           coalesce(agg.total_tokens, r.total_tokens) AS tokens_total_attr
    FROM agg JOIN {s} r ON r.id = agg.root_id)"""

# Steps of the runs in `x` (one row per step), with what happened beneath each step. Needs run_tables(detail=True).
# Every output column is named: ClickHouse calls an unnamed `x.trace_id` that another table also has `x.trace_id`.
# The lists come unordered (ClickHouse has no ordered DISTINCT aggregate): runs.py sorts them.
def steps_select(t: Stages) -> str:
    """The steps query over `run_tables(..., detail=True)`."""
    return f"""
WITH beneath AS (
    SELECT anchor,
           array_agg(DISTINCT service) FILTER (WHERE id <> anchor) AS services,
           array_agg(DISTINCT server_address)
               FILTER (WHERE id <> anchor AND kind = 'CLIENT' AND server_address IS NOT NULL) AS peers,
           arg_max(id, depth * 1e19 + end_ns) FILTER (WHERE failed) AS culprit,
           count(*) FILTER (WHERE is_rate_limited) AS rate_limited,
           count(*) FILTER (WHERE is_timeout) AS timeouts,
           max(resend_count) AS max_resend,
           array_agg(DISTINCT http_status) FILTER (WHERE http_status >= 400) AS http_errors
    FROM {t['x']} WHERE anchor IS NOT NULL GROUP BY anchor)
SELECT x.trace_id AS trace_id, r.span_id AS root, x.span_id AS span_id, x.parent_span_id AS parent_span_id,
       x.gkind AS kind, x.step_name AS name, x.sig AS sig, x.service AS service, x.operation AS operation,
       x.start_ns AS start_ns, x.end_ns AS end_ns, x.duration_ns AS duration_ns, x.status_code AS status_code,
       x.status_message AS status_message, x.failed AS failed, x.error_type AS error_type,
       x.http_status AS http_status, x.attributes AS attributes,
       b.services, b.peers, b.rate_limited, b.timeouts, b.max_resend, b.http_errors,
       cs.service AS culprit_service, cs.operation AS culprit_operation,
       coalesce(nullif(cs.status_message, ''), cs.error_type) AS culprit_message
FROM {t['x']} x JOIN beneath b ON b.anchor = x.id
JOIN {t['s']} r ON r.id = x.root_id
LEFT JOIN (SELECT id, service, operation, status_message, error_type FROM {t['x']}) cs ON cs.id = b.culprit
WHERE x.id = x.anchor
ORDER BY x.trace_id, root, x.start_ns, x.span_id
"""
