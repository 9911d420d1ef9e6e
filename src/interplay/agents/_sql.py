"""The SQL that finds agent runs and assigns every span of their subtrees to them.

A run is the subtree of a top-level agent span (`invoke_agent`, OpenInference `AGENT`,
Traceloop `agent`): an agent span under another agent span is a step (a sub-agent) of the outer
run. A trace with no agent span but at least one model call and one tool call is one run rooted
at its earliest root span. Orphans (parent never arrived) are attached by time to the agent span
of their trace that started last before them, and the run is marked incomplete.

Columns of the `x` relation every query builds on: the span's own columns, plus
`root` (the run's root span id), `depth` (below the root), `anchor` (the span id of the step the
span belongs to; a step's own row has span_id = anchor), `in_llm` (under a model-call span: its
tokens are already counted), `orphan`, and the derived fields below.
"""
from __future__ import annotations

from typing import Any

from . import conventions as c

_IS_STEP = f"(gkind IS NOT NULL AND gkind NOT IN {c.sql_in(c.PASS_THROUGH)})"
_RATE = r"rate.?limit|ratelimit|too many requests|\b429\b|resource.?exhausted|quota exceeded"
_TIMEOUT = r"time.?out|timed out|deadline.?exceeded|deadlineexceeded"


def runs_cte(scope: str) -> str:
    """`WITH ...` defining relation `x` (spans of runs) for the traces the scope query selects.

    scope: a SELECT returning a column trace_id (its parameters come first in the statement).
    """
    return f"""
WITH RECURSIVE cand AS ({scope}),
s AS MATERIALIZED (
    SELECT trace_id, span_id, parent_span_id, service, operation, kind, start_ns, end_ns, duration_ns,
           status_code, status_message, attributes, events,
           CASE WHEN {c.sql_prefilter()} THEN {c.sql_kind()} END AS gkind
    FROM spans WHERE trace_id IN (SELECT trace_id FROM cand)
    QUALIFY row_number() OVER (PARTITION BY trace_id, span_id ORDER BY start_ns) = 1),
linked AS (
    SELECT ch.trace_id, ch.span_id FROM s ch
    JOIN s p ON p.trace_id = ch.trace_id AND p.span_id = ch.parent_span_id AND p.span_id <> ch.span_id),
tops AS (SELECT s.* FROM s ANTI JOIN linked USING (trace_id, span_id)),
agents AS (SELECT trace_id, span_id, start_ns FROM s WHERE gkind = 'agent'),
shape AS (
    SELECT trace_id, bool_or(gkind = 'agent') AS has_agent, bool_or(gkind = 'llm') AS has_llm,
           bool_or(gkind = 'tool') AS has_tool
    FROM s GROUP BY trace_id),
fallback AS (
    SELECT t.trace_id, first(t.span_id ORDER BY t.parent_span_id IS NOT NULL, t.start_ns, t.span_id) AS root
    FROM tops t JOIN shape USING (trace_id)
    WHERE NOT shape.has_agent AND shape.has_llm AND shape.has_tool GROUP BY t.trace_id),
seeds AS (
    SELECT trace_id, span_id AS run_root, span_id, FALSE AS orphan FROM agents
    UNION ALL
    SELECT f.trace_id, f.root, t.span_id, t.span_id <> f.root FROM fallback f JOIN tops t USING (trace_id)
    UNION ALL
    SELECT o.trace_id, a.span_id, o.span_id, TRUE
    FROM (SELECT trace_id, span_id, start_ns FROM tops
          WHERE parent_span_id IS NOT NULL AND gkind IS DISTINCT FROM 'agent') o
    ASOF JOIN agents a ON o.trace_id = a.trace_id AND o.start_ns >= a.start_ns),
tree AS (
    SELECT q.trace_id, q.run_root, q.span_id, 0 AS depth,
           CASE WHEN q.span_id = q.run_root AND s.gkind = 'agent' THEN NULL
                WHEN {_IS_STEP.replace('gkind', 's.gkind')} THEN q.span_id END AS anchor,
           FALSE AS in_llm, q.orphan, s.gkind
    FROM seeds q JOIN s USING (trace_id, span_id)
    UNION ALL
    SELECT ch.trace_id, t.run_root, ch.span_id, t.depth + 1,
           coalesce(t.anchor, CASE WHEN {_IS_STEP.replace('gkind', 'ch.gkind')} THEN ch.span_id END),
           t.in_llm OR coalesce(t.gkind = 'llm', FALSE), t.orphan, ch.gkind
    FROM tree t JOIN s ch ON ch.trace_id = t.trace_id AND ch.parent_span_id = t.span_id
    WHERE t.depth < 64 AND ch.span_id <> t.span_id),
best AS (
    SELECT * FROM tree
    QUALIFY row_number() OVER (PARTITION BY trace_id, span_id ORDER BY depth DESC, run_root) = 1),
nested AS (
    SELECT b.trace_id, b.span_id AS inner_root, b.run_root AS outer_root
    FROM best b JOIN agents a ON a.trace_id = b.trace_id AND a.span_id = b.span_id
    WHERE b.run_root <> b.span_id),
rs AS (
    SELECT b.trace_id, b.span_id, b.depth, b.anchor, b.in_llm, b.orphan,
           coalesce(n.outer_root, b.run_root) AS root
    FROM best b LEFT JOIN nested n ON n.trace_id = b.trace_id AND n.inner_root = b.run_root),
x0 AS (
    SELECT rs.root, rs.depth, rs.anchor, rs.in_llm, rs.orphan, s.*,
           {c.sql_field('error_type')} AS error_type,
           {c.sql_int('http_status')} AS http_status,
           {c.sql_int('grpc_status')} AS grpc_status,
           {c.sql_int('resend_count')} AS resend_count,
           {c.sql_field('server_address')} AS server_address,
           CASE WHEN s.gkind IS NOT NULL THEN {c.sql_step_name('s.gkind', 's.attributes', 's.operation')} END
               AS step_name
    FROM rs JOIN s USING (trace_id, span_id)),
x AS MATERIALIZED (
    SELECT *,
           status_code = 'ERROR' OR error_type IS NOT NULL AS failed,
           {c.sql_signature('gkind', 'step_name')} AS sig,
           http_status = 429 OR ((status_code = 'ERROR' OR error_type IS NOT NULL)
               AND regexp_matches(lower(concat_ws(' ', error_type, status_message,
                   CASE WHEN events LIKE '%exception%' THEN events END)), '{_RATE}')) AS is_rate_limited,
           http_status IN (408, 504) OR grpc_status = 4 OR ((status_code = 'ERROR' OR error_type IS NOT NULL)
               AND regexp_matches(lower(concat_ws(' ', error_type, status_message,
                   CASE WHEN events LIKE '%exception%' THEN events END)), '{_TIMEOUT}')) AS is_timeout
    FROM x0)
"""


def window_scope(where: str) -> str:
    """Traces with a recognised GenAI span matching `where` (a condition on spans)."""
    return (f"SELECT DISTINCT trace_id FROM spans WHERE {where} AND {c.sql_prefilter()} "
            f"AND {c.sql_kind()} IS NOT NULL")


TRACES_SCOPE = "SELECT unnest(?::VARCHAR[]) AS trace_id"

# Per-run aggregates over `x`, joined to the root span's own fields.
RUNS_SELECT = f"""
, agg AS (
    SELECT trace_id, root,
           count(*) AS spans,
           count(*) FILTER (WHERE span_id = anchor) AS steps,
           count(*) FILTER (WHERE span_id = anchor AND gkind = 'llm') AS model_calls,
           count(*) FILTER (WHERE span_id = anchor AND gkind = 'tool') AS tool_calls,
           list(DISTINCT step_name) FILTER (WHERE span_id = anchor AND gkind = 'tool') AS tools,
           sum({c.sql_int('input_tokens')}) FILTER (WHERE gkind = 'llm' AND NOT in_llm) AS input_tokens,
           sum({c.sql_int('output_tokens')}) FILTER (WHERE gkind = 'llm' AND NOT in_llm) AS output_tokens,
           sum({c.sql_int('total_tokens')}) FILTER (WHERE gkind = 'llm' AND NOT in_llm) AS total_tokens,
           string_agg(sig, chr(31) ORDER BY start_ns, span_id) FILTER (WHERE span_id = anchor) AS path,
           arg_max(failed, end_ns) FILTER (WHERE span_id = anchor) AS last_step_failed,
           count(*) FILTER (WHERE span_id = anchor AND failed) AS failed_steps,
           count(*) FILTER (WHERE is_rate_limited) AS rate_limited_spans,
           count(*) FILTER (WHERE is_timeout) AS timeout_spans,
           bool_or(orphan) AS partial,
           min(start_ns) AS first_ns, max(end_ns) AS last_ns,
           first({c.sql_field('agent_name')} ORDER BY depth, start_ns)
               FILTER (WHERE {c.sql_field('agent_name')} IS NOT NULL) AS any_agent_name,
           first({c.sql_field('conversation_id')} ORDER BY depth, start_ns)
               FILTER (WHERE {c.sql_field('conversation_id')} IS NOT NULL) AS conversation_id
    FROM x GROUP BY trace_id, root),
runs AS (
    SELECT agg.*, r.trace_id || ':' || r.span_id AS run_id, r.service AS root_service,
           r.operation AS root_operation, r.start_ns AS started_ns, r.gkind AS root_kind,
           coalesce({c.sql_field('agent_name', 'r.attributes')}, {c.sql_field('agent_id', 'r.attributes')},
                    agg.any_agent_name, r.service) AS agent,
           CASE WHEN r.failed OR coalesce(agg.last_step_failed, FALSE) THEN 'error' ELSE 'ok' END AS status,
           r.status_message AS root_message, r.error_type AS root_error_type,
           coalesce(agg.input_tokens, {c.sql_int('input_tokens', 'r.attributes')}) AS tokens_in,
           coalesce(agg.output_tokens, {c.sql_int('output_tokens', 'r.attributes')}) AS tokens_out,
           coalesce(agg.total_tokens, {c.sql_int('total_tokens', 'r.attributes')}) AS tokens_total_attr
    FROM agg JOIN x r ON r.trace_id = agg.trace_id AND r.span_id = agg.root)
"""

# Steps of the runs in `x` (one row per step), with what happened beneath each step.
STEPS_SELECT = f"""
, beneath AS (
    SELECT trace_id, anchor,
           list(DISTINCT service ORDER BY service) FILTER (WHERE span_id <> anchor) AS services,
           list(DISTINCT server_address ORDER BY server_address)
               FILTER (WHERE span_id <> anchor AND kind = 'CLIENT' AND server_address IS NOT NULL) AS peers,
           arg_max(span_id, depth * 1e19 + end_ns) FILTER (WHERE failed) AS culprit_span,
           count(*) FILTER (WHERE is_rate_limited) AS rate_limited,
           count(*) FILTER (WHERE is_timeout) AS timeouts,
           max(resend_count) AS max_resend,
           list(DISTINCT http_status ORDER BY http_status) FILTER (WHERE http_status >= 400) AS http_errors
    FROM x WHERE anchor IS NOT NULL GROUP BY trace_id, anchor)
SELECT x.trace_id, x.root, x.span_id, x.parent_span_id, x.gkind AS kind, x.step_name AS name, x.sig,
       x.service, x.operation, x.start_ns, x.end_ns, x.duration_ns, x.status_code, x.status_message,
       x.failed, x.error_type, x.http_status, x.attributes, x.events,
       b.services, b.peers, b.rate_limited, b.timeouts, b.max_resend, b.http_errors,
       cs.service AS culprit_service, cs.operation AS culprit_operation,
       coalesce(nullif(cs.status_message, ''), cs.error_type) AS culprit_message
FROM x JOIN beneath b ON b.trace_id = x.trace_id AND b.anchor = x.span_id
LEFT JOIN x cs ON cs.trace_id = x.trace_id AND cs.span_id = b.culprit_span
WHERE x.span_id = x.anchor
ORDER BY x.trace_id, x.root, x.start_ns, x.span_id
"""


def params_for(scope_params: list[Any], *rest: Any) -> list[Any]:
    return [*scope_params, *rest]
