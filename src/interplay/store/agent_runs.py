"""Agent runs in SQL: the stages that find runs and assign every span of their subtrees to them, and the
questions `agents` asks of them (runs, steps, sessions, spend, load per backend, baselines).

A run is the outermost agent invocation (`invoke_agent`, OpenInference `AGENT`, Traceloop
`agent`), lifted to the top of the unbroken chain of workflow / chain spans right above it
(LangGraph's graph span above its `agent` node, openai-agents' workflow span). Agent spans below
the root are the run's own framework layers (no name, or the run's agent name), or real
hand-offs to another agent (a different name): those are sub-agent steps. Every model, tool,
retrieval, ... span anywhere below is a step of the run; a step nested in a step of the same
kind (a LangChain LLM span around the OpenAI client's) is the same step. Without any agent span,
a parent whose children include model calls and tool calls (or several model calls that request
tools) is a run too: a plain tool loop. Orphans (parent never arrived) are attached by time to the
run of their trace that started last before them, and the run is marked incomplete.

Columns of the `x` relation every query builds on: the span's own columns (`id` is a hash of its
trace and span ids: joins between spans use it, not the two text ids), the fields read from its attributes
(parsed once, in `s`), plus `root_id` (the id of the run's root span), `depth` (below the trace's
top span), `anchor` (the id of the innermost step the span belongs to; a step's own row has id =
anchor), `in_llm` (under a model-call span: its tokens are already counted), `orphan`, and
`rl_counted` / `timeout_counted` (a rate-limit or timeout signal on the deepest span that shows
it: the layers above, which only repeat the error, do not count again), `run_agent` (the run's agent
name, from stage `names`) and `is_step` (the row is one of its run's steps).
"""
from __future__ import annotations

import json
import re
from typing import Any

from ..model import TimeRange
from . import genai as c
from .base import EngineSQL, Stages, Store
from .predicates import window_where

_PASS = c.sql_in(c.PASS_THROUGH)
_NOT_PLAIN = re.compile(r'["\\\x00-\x1f]')
_RATE = r"rate.?limit|ratelimit|too many requests|\b429\b|resource.?exhausted|quota exceeded"
_TIMEOUT = r"time.?out|timed out|deadline.?exceeded|deadlineexceeded"
_METHOD = r"^[A-Z][A-Za-z0-9_]*\.[a-z_][A-Za-z0-9_]*$"
_TRACEBACK = r"Traceback \(most recent call last\)[\s\S]*"
_SESSION_KEYS = ["gen_ai.", "session.", "langfuse."]


def _stepkind(k: str) -> str:
    return f"({k} IS NOT NULL AND {k} NOT IN {_PASS})"


def run_tables(store: Store, scope: str, scope_params: list[Any], *, detail: bool = False,
               signals: bool = True) -> Stages:
    """The runs in the traces the scope query selects, as stages (see `Stages`): `s`, the spans of
    those traces, parsed; `x`, the spans of runs (see the module docstring); `names`, each run's
    agent. `runs_cte(t)` aggregates them per run. Use as a context manager; query with its `query`.

    scope: a SELECT returning a column trace_id, with `scope_params`.
    detail: also carry the attribute JSON of GenAI spans (for showing steps; large, so only then).
    signals: count rate limits and timeouts once per call (baselines, which never read them, skip it).
    """
    sql = store.sql
    t = Stages(store, "_ip_agent")
    try:
        s = t.add("s", f"WITH cand AS ({scope}), {_spans(sql, detail)} SELECT * FROM parsed", scope_params)
        e = t.add("e", f"""
            SELECT ch.id AS id, p.id AS pid, ch.gkind AS gkind, ch.trace_id AS trace_id, ch.start_ns AS start_ns,
                   (p.id IS NULL AND ch.parent_span_id IS NOT NULL AND ch.parent_span_id <> ''
                    AND ch.parent_span_id <> ch.span_id) AS orphan
            FROM {s} ch
            LEFT JOIN {s} p ON p.trace_id = ch.trace_id AND p.span_id = nullif(ch.parent_span_id, ch.span_id)""")
        w = t.add("w", _walk(e))
        other = t.add("a", _assign(sql, w, e, s))
        # every span of a run: the walk's run_root, or the placement of the few it left out
        # (a subquery, not a stage: materialising it costs more than joining twice)
        a = f"""(
            SELECT w.id AS id, coalesce(w.run_root, o.root_id) AS root_id, coalesce(o.orphan, FALSE) AS orphan,
                   w.depth AS depth, w.anchor AS anchor, w.anchor_kind AS anchor_kind, w.in_llm AS in_llm
            FROM {w} w LEFT JOIN {other} o ON o.id = w.id
            WHERE w.run_root IS NOT NULL OR o.root_id IS NOT NULL)"""
        marks = t.add("marks", _below(sql, s, e) if signals
                      else "SELECT 0 AS id, FALSE AS rl_below, FALSE AS timeout_below")
        # Signals count inside steps only: framework layers (agent, chain spans) outside any step
        # repeat their step's error, and are not always the step's ancestors (LangGraph's node spans).
        in_step = "coalesce(j.anchor_kind <> 'agent', FALSE)"
        names = t.add("names", _names(sql, a, s))
        # one `id` column only (sp's): ClickHouse would name sp.* columns `sp.id` beside a.id, w.id
        t.add("x", f"""
            SELECT j.root_id AS root_id, j.depth AS depth, j.anchor AS anchor, j.in_llm AS in_llm,
                   j.orphan AS orphan, j.agent AS run_agent, {_is_step('sp', 'j')} AS is_step,
                   {in_step} AND coalesce(sp.is_rate_limited, FALSE) AND NOT coalesce(j.rl_below, FALSE)
                       AS rl_counted,
                   {in_step} AND coalesce(sp.is_timeout, FALSE) AND NOT coalesce(j.timeout_below, FALSE)
                       AS timeout_counted,
                   sp.*
            FROM (SELECT a.id AS xid, a.root_id AS root_id, a.orphan AS orphan, a.depth AS depth,
                         a.anchor AS anchor, a.anchor_kind AS anchor_kind, a.in_llm AS in_llm,
                         m.rl_below AS rl_below, m.timeout_below AS timeout_below, n.agent AS agent
                  FROM {a} a JOIN {names} n ON n.root_id = a.root_id
                  LEFT JOIN {marks} m ON m.id = a.id) j
            JOIN {s} sp ON sp.id = j.xid""")
    except BaseException:
        t.__exit__()
        raise
    return t


def _is_step(sp: str, j: str) -> str:
    """Whether a span (`sp`, with its run assignment `j`) is a step of its run: not the root, not a
    framework layer (an agent span without a name of its own or with the run's), not a chain."""
    name = f"coalesce({sp}.agent_name, {sp}.agent_id)"
    return (f"coalesce({sp}.id = {j}.anchor AND {sp}.id <> {j}.root_id AND {sp}.gkind NOT IN {_PASS} "
            f"AND ({sp}.gkind <> 'agent' OR ({name} IS NOT NULL AND {name} <> {j}.agent)), FALSE)")


def _walk(e: str) -> str:
    """Every span of the scope's traces, once, from the top spans down: the run root it is under
    (the outermost agent span lifted through the chain spans right above it), its innermost step
    (`anchor`), whether a model call is above it, the top span it hangs from, and (`ctop`, on chain
    and workflow spans) the outermost span of the unbroken run of them it is part of."""
    # an agent span is always a candidate step (sub-agent or layer: decided once the run's name is known)
    new_step = f"{_stepkind('ch.gkind')} AND (ch.gkind = 'agent' OR NOT coalesce(ch.gkind = t.anchor_kind, FALSE))"
    return f"""
WITH RECURSIVE walk AS (
    SELECT e.id AS id, e.id AS top, e.orphan AS top_orphan, 0 AS depth,
           CASE WHEN e.gkind = 'agent' THEN e.id END AS run_root,
           CASE WHEN e.gkind IN {_PASS} THEN e.id END AS cand,
           CASE WHEN {_stepkind('e.gkind')} THEN e.id END AS anchor,
           CASE WHEN {_stepkind('e.gkind')} THEN e.gkind END AS anchor_kind,
           FALSE AS in_llm, e.gkind AS gkind,
           CASE WHEN e.gkind IN {_PASS} THEN e.id END AS ctop
    FROM {e} e WHERE e.pid IS NULL
    UNION ALL
    SELECT ch.id, t.top, t.top_orphan, t.depth + 1,
           coalesce(t.run_root, CASE WHEN ch.gkind = 'agent' THEN coalesce(t.cand, ch.id) END),
           CASE WHEN t.run_root IS NULL THEN coalesce(t.cand, CASE WHEN ch.gkind IN {_PASS} THEN ch.id END) END,
           CASE WHEN {new_step} THEN ch.id ELSE t.anchor END,
           CASE WHEN {new_step} THEN ch.gkind ELSE t.anchor_kind END,
           t.in_llm OR coalesce(t.gkind = 'llm', FALSE), ch.gkind,
           CASE WHEN ch.gkind IN {_PASS} THEN coalesce(t.ctop, ch.id) END
    FROM walk t JOIN {e} ch ON ch.pid = t.id
    WHERE t.depth < 64)
SELECT id, top, top_orphan, depth, run_root, cand, anchor, anchor_kind, in_llm, ctop FROM walk"""


def _assign(sql: EngineSQL, w: str, e: str, s: str) -> str:
    """(id, root_id, orphan) of the spans of runs that the walk did not place (its run_root is NULL):
    chain spans beside the agent under the run's root chain (lifted); orphan subtrees,
    to the run of their trace that started last before them; plain tool loops (no agent span):
    a parent whose steps include model and tool calls, or several model calls that asked for tools
    (a parent that is a chain span is lifted to the top of the chain spans it is under)."""
    return f"""
WITH roots AS (
    SELECT r.rid AS rid, e.trace_id AS trace_id, e.start_ns AS start_ns
    FROM (SELECT DISTINCT run_root AS rid FROM {w} WHERE run_root IS NOT NULL) r JOIN {e} e ON e.id = r.rid),
orphan_tops AS (
    SELECT e.id AS top, e.trace_id AS trace_id, e.start_ns AS start_ns
    FROM {e} e JOIN {w} w ON w.id = e.id
    WHERE e.orphan AND w.run_root IS NULL AND (w.cand IS NULL OR w.cand NOT IN (SELECT rid FROM roots))),
adopted AS (
    SELECT o.top AS top, r.rid AS rid FROM orphan_tops o
    ASOF JOIN roots r ON o.trace_id = r.trace_id AND o.start_ns >= r.start_ns),
lifted AS (
    SELECT w.id AS id, w.cand AS rid FROM {w} w
    WHERE w.run_root IS NULL AND w.cand IN (SELECT rid FROM roots)),
-- most spans are under an agent span and keep the walk's run_root: only the others are listed here
agent_runs AS (
    SELECT id, rid AS root_id, FALSE AS orphan FROM lifted
    UNION ALL
    SELECT w.id, ad.rid, TRUE FROM {w} w JOIN adopted ad ON ad.top = w.top
    WHERE w.run_root IS NULL AND (w.cand IS NULL OR w.cand NOT IN (SELECT rid FROM roots))),
-- a step's parent, lifted through the framework's chain spans right above it (LlamaIndex's agent step
-- and tool-call spans, each under the agent's run span): that is where the loop turns
free_steps AS (
    SELECT w.id AS id, w.top AS top, coalesce(wp.ctop, e.pid) AS pid, e.gkind AS gkind,
           coalesce(sp.finish LIKE '%tool%', FALSE) AS asks_tools
    FROM {w} w JOIN {e} e ON e.id = w.id JOIN {s} sp ON sp.id = w.id LEFT JOIN {w} wp ON wp.id = e.pid
    WHERE w.run_root IS NULL AND w.id = w.anchor AND NOT w.top_orphan
      AND (w.cand IS NULL OR w.cand NOT IN (SELECT rid FROM roots))),
loops AS (
    SELECT pid, {sql.any_value('top')} AS top FROM free_steps WHERE pid IS NOT NULL GROUP BY pid
    HAVING count(*) FILTER (WHERE gkind = 'llm') >= 1
       AND (count(*) FILTER (WHERE gkind = 'tool') >= 1
            OR (count(*) FILTER (WHERE gkind = 'llm') >= 2 AND {sql.bool_or('asks_tools')}))),
loop_spans AS (
    SELECT l.pid AS id, l.pid AS root_id FROM loops l
    UNION ALL
    SELECT w.id, l.pid FROM {w} w JOIN free_steps f ON f.id = w.anchor JOIN loops l ON l.pid = f.pid
    WHERE w.run_root IS NULL
    UNION ALL
    SELECT w.id, l.pid FROM {w} w JOIN loops l ON l.top = l.pid AND w.top = l.pid
    LEFT JOIN free_steps f2 ON f2.id = w.anchor
    WHERE w.run_root IS NULL AND w.id <> l.pid AND (f2.id IS NULL OR f2.pid = l.pid)),
assigned AS (
    SELECT id, root_id, orphan FROM agent_runs
    UNION ALL
    SELECT l.id, {sql.any_value('l.root_id')} AS root_id, FALSE AS orphan FROM loop_spans l
    LEFT JOIN (SELECT id FROM lifted UNION ALL SELECT w.id FROM {w} w JOIN adopted ad ON ad.top = w.top) taken
        ON taken.id = l.id
    WHERE taken.id IS NULL GROUP BY l.id)
SELECT id, root_id, orphan FROM assigned"""


def _below(sql: EngineSQL, s: str, e: str) -> str:
    """Spans with a rate-limited (or timed-out) span somewhere below them: their own signal only repeats it."""
    return f"""
WITH RECURSIVE up AS (
    SELECT e.pid AS id, coalesce(sp.is_rate_limited, FALSE) AS rl, coalesce(sp.is_timeout, FALSE) AS tmo, 1 AS d
    FROM {s} sp JOIN {e} e ON e.id = sp.id
    WHERE (sp.is_rate_limited OR sp.is_timeout) AND e.pid IS NOT NULL
    UNION ALL
    SELECT e.pid, up.rl, up.tmo, up.d + 1 FROM up JOIN {e} e ON e.id = up.id
    WHERE e.pid IS NOT NULL AND up.d < 64)
SELECT id, {sql.bool_or('rl')} AS rl_below, {sql.bool_or('tmo')} AS timeout_below FROM up GROUP BY id"""


def _names(sql: EngineSQL, a: str, s: str) -> str:
    """Each run's agent: the root's own name, else the shallowest named span's, else the workflow's
    name (the root chain's span name: LangGraph names it after the graph; not a `Class.method` name,
    as OpenInference's LlamaIndex spans are: `FunctionAgent.run` names no agent), else the service."""
    return f"""
SELECT roots.root_id AS root_id,
       coalesce(r.agent_name, r.agent_id, q.any_name, r.workflow_name, q.any_workflow,
                CASE WHEN r.gkind IN ('chain', 'workflow', 'agent') AND r.operation <> 'invoke_agent'
                          AND NOT {sql.regexp_matches('r.operation', _METHOD)}
                     THEN r.operation END,
                r.service) AS agent
FROM (SELECT DISTINCT root_id FROM {a}) roots
JOIN {s} r ON r.id = roots.root_id
LEFT JOIN (
    SELECT a.root_id AS root_id,
           {sql.arg_min('coalesce(sp.agent_name, sp.agent_id)', 'a.depth * 1e19 + sp.start_ns')}
               FILTER (WHERE coalesce(sp.agent_name, sp.agent_id) IS NOT NULL) AS any_name,
           {sql.arg_min('sp.workflow_name', 'a.depth * 1e19 + sp.start_ns')}
               FILTER (WHERE sp.workflow_name IS NOT NULL) AS any_workflow
    FROM {s} sp JOIN {a} a ON a.id = sp.id
    WHERE sp.agent_name IS NOT NULL OR sp.agent_id IS NOT NULL OR sp.workflow_name IS NOT NULL
    GROUP BY a.root_id) q ON q.root_id = roots.root_id"""


def _spans(sql: EngineSQL, detail: bool) -> str:
    """Relation `parsed`: the spans of the candidate traces, each JSON text parsed once into the fields read."""
    a = "a"

    def f(name: str) -> str:
        return c.sql_field(sql, name, parsed=a)

    def i(name: str) -> str:
        return c.sql_int(sql, name, parsed=a)
    failed = "(status_code = 'ERROR' OR error_type IS NOT NULL)"
    # concat_ws, but the same on both engines (ClickHouse's is NULL when any part is)
    # A Python traceback in the message (LangChain puts one there) names files such as rate_limiters.py:
    # only the text before it counts; the exception events only when there is no message.
    message = f"nullif({sql.regexp_replace('status_message', _TRACEBACK, '', every=False)}, '')"
    # OpenInference marks every method of a model class LLM: LlamaIndex's `Ollama._prepare_chat_with_tools`
    # beside the `Ollama.achat` that called the model. A span that neither sent messages, nor counted
    # tokens, nor failed, nor says why the model stopped called no model: it is the framework's own layer.
    no_call = (f"(NOT coalesce(oi_messages, TRUE) AND {f('operation')} IS NULL AND coalesce("
               f"{f('input_tokens')}, {f('output_tokens')}, {f('total_tokens')}, {f('finish_reasons')}, "
               f"{f('error_type')}) IS NULL AND coalesce(status_code, '') <> 'ERROR')")
    gkind = f"CASE WHEN {no_call} THEN 'prompt' ELSE {c.sql_kind(sql, parsed=a)} END"
    why = (f"lower(coalesce(error_type || ' ', '') || coalesce({message}, "
           "CASE WHEN events LIKE '%exception%' THEN events END, ''))")
    return f"""s0 AS (
    SELECT * FROM (
        SELECT {sql.hash('trace_id', 'span_id')} AS id, trace_id, span_id, parent_span_id, service, operation, kind,
               start_ns, end_ns, duration_ns, status_code, status_message, events,
               {"attributes, " if detail else ""}{c.sql_parse(sql)} AS {a},
               CASE WHEN upper({c.sql_field(sql, 'openinference_kind', parsed=a)}) = 'LLM'
                    THEN {sql.attr_keys_match('attributes', ['llm.input_messages.', 'llm.output_messages.'])}
               END AS oi_messages,
               row_number() OVER (PARTITION BY trace_id, span_id ORDER BY start_ns) AS nth
        FROM spans WHERE trace_id IN (SELECT trace_id FROM cand))
    WHERE nth = 1),
s1 AS (
    SELECT {sql.star_except(f'{a}, nth, oi_messages')}, {gkind} AS gkind,
           CASE WHEN gkind IS NOT NULL THEN {c.sql_step_name(sql, 'gkind', parsed=a)} END AS step_name,
           {f('error_type')} AS error_type, {i('http_status')} AS http_status, {i('grpc_status')} AS grpc_status,
           {i('resend_count')} AS resend_count, {f('server_address')} AS server_address,
           {f('agent_name')} AS agent_name, {f('agent_id')} AS agent_id, {f('conversation_id')} AS conversation_id,
           {f('workflow_name')} AS workflow_name, {f('user_id')} AS user_id, {f('finish_reasons')} AS finish,
           {i('input_tokens')} AS input_tokens, {i('output_tokens')} AS output_tokens,
           {i('total_tokens')} AS total_tokens, {sql.try_double(f('cost_total'))} AS cost
    FROM s0),
parsed AS (
    SELECT {sql.star_except("events, attributes" if detail else "events")},
           {f"CASE WHEN gkind IS NOT NULL THEN {sql.attrs_text('attributes')} END AS attributes," if detail else ""}
           {f"CASE WHEN {failed} AND events LIKE '%exception%' THEN events END AS exc_events," if detail else ""}
           {failed} AS failed,
           {c.sql_signature('gkind', 'step_name')} AS sig,
           CASE WHEN http_status = 429 THEN TRUE WHEN {failed} THEN {sql.regexp_matches(why, _RATE)} END
               AS is_rate_limited,
           CASE WHEN http_status IN (408, 504) OR grpc_status = 4 THEN TRUE
                WHEN {failed} THEN {sql.regexp_matches(why, _TIMEOUT)} END AS is_timeout
    FROM s1)"""


def window_scope(sql: EngineSQL, where: str) -> str:
    """Traces with a recognised GenAI span matching `where` (a condition on spans)."""
    # Materialised so that the JSON is parsed once per span, not once per key the kind reads.
    return (f"SELECT trace_id FROM (WITH g AS MATERIALIZED (SELECT trace_id, "
            f"{c.sql_parse(sql, fields=c.KIND_FIELDS)} AS a FROM spans WHERE {where} AND {c.sql_prefilter(sql)}) "
            f"SELECT DISTINCT trace_id FROM g WHERE {c.sql_kind(sql, parsed='a')} IS NOT NULL)")


def traces_scope(sql: EngineSQL) -> str:
    """The traces whose ids are the one parameter (a list)."""
    return f"SELECT unnest({sql.TEXT_LIST_PARAM}) AS trace_id"


def named_scope(sql: EngineSQL, names: list[str]) -> tuple[str, list[Any]] | None:
    """Traces that can hold runs of these agents (SQL, parameters): a span's service or attribute text names one.

    A run's agent is its root's service or an attribute value of a span of its trace, and DuckDB
    keeps attributes as compact JSON that spells a plain string as itself (ClickHouse as a map of
    texts), so this is a superset of their traces (`sql.attrs_contain`: a substring test per span
    instead of parsing). None when a name
    is not plain text (quotes, backslashes, control characters, or JSON such as a number).
    """
    if not names or not all(_plain(n) for n in names):
        return None
    tests = " OR ".join(sql.attrs_contain("attributes") for _ in names)
    return (f"SELECT DISTINCT trace_id FROM spans WHERE service IN (SELECT unnest({sql.TEXT_LIST_PARAM})) OR {tests}",
            [names, *names])


def _plain(name: str | None) -> bool:
    if not name or _NOT_PLAIN.search(name):
        return False
    try:
        json.loads(name)
    except ValueError:
        return True
    return False


def newest_traces(sql: EngineSQL, where: str) -> str:
    """Traces `window_scope(where)` selects, each with a bound no run of it starts after, newest first.

    A run's root is an agent span, or (in a trace without one) a span of the trace: the latest
    agent span of the trace (in the window) bounds the first, the latest span the second.
    """
    return f"""
WITH g AS MATERIALIZED (
    SELECT trace_id, start_ns, {c.sql_parse(sql, fields=c.KIND_FIELDS)} AS a FROM spans
    WHERE {where} AND {c.sql_prefilter(sql)}),
t AS (
    SELECT trace_id, max(start_ns) FILTER (WHERE gkind = 'agent') AS agent_ns
    FROM (SELECT trace_id, start_ns, {c.sql_kind(sql, parsed='a')} AS gkind FROM g)
    WHERE gkind IS NOT NULL GROUP BY trace_id),
m AS (
    SELECT trace_id, max(start_ns) AS last_ns FROM spans
    WHERE trace_id IN (SELECT trace_id FROM t WHERE agent_ns IS NULL) GROUP BY trace_id)
SELECT t.trace_id, coalesce(t.agent_ns, m.last_ns) AS bound
FROM t LEFT JOIN m USING (trace_id) ORDER BY bound DESC, trace_id"""

def runs_cte(t: Stages) -> str:
    """CTEs `agg` and `runs` (to follow WITH): per-run aggregates over the run tables `t`,
    joined to the root span's own fields; one row per run."""
    x, s, sql = t["x"], t["s"], t.store.sql
    step = "x.is_step"
    # The run's own layers: its root and the agent spans that are not sub-agent steps.
    layer = f"(x.id = x.root_id OR (x.gkind = 'agent' AND NOT {step}))"
    return f"""
agg AS (
    SELECT x.root_id AS root_id, count(*) AS spans,
           count(*) FILTER (WHERE {step}) AS steps,
           count(*) FILTER (WHERE {step} AND x.gkind = 'llm') AS model_calls,
           count(*) FILTER (WHERE {step} AND x.gkind = 'tool') AS tool_calls,
           array_agg(DISTINCT x.step_name) FILTER (WHERE {step} AND x.gkind = 'tool') AS tools,
           sum(x.input_tokens) FILTER (WHERE x.gkind = 'llm' AND NOT x.in_llm) AS input_tokens,
           sum(x.output_tokens) FILTER (WHERE x.gkind = 'llm' AND NOT x.in_llm) AS output_tokens,
           sum(x.total_tokens) FILTER (WHERE x.gkind = 'llm' AND NOT x.in_llm) AS total_tokens,
           sum(x.cost) FILTER (WHERE x.gkind = 'llm' AND NOT x.in_llm) AS cost_attr,
           {sql.ordered_join('x.sig', sql.chr(31), ['x.start_ns', 'x.span_id'], step)} AS path,
           {sql.arg_max('x.failed', 'x.end_ns')} FILTER (WHERE {step}) AS last_step_failed,
           count(*) FILTER (WHERE {step} AND x.failed) AS failed_steps,
           {sql.arg_min('x.id', 'x.depth * 1e19 + x.end_ns')} FILTER (WHERE {layer} AND x.failed) AS failed_layer,
           -- a signal seen only outside steps (the provider call is not instrumented) still counts once
           greatest(count(*) FILTER (WHERE x.rl_counted),
                    CASE WHEN {sql.bool_or('coalesce(x.is_rate_limited, FALSE)')} THEN 1 ELSE 0 END)
               AS rate_limited_spans,
           greatest(count(*) FILTER (WHERE x.timeout_counted),
                    CASE WHEN {sql.bool_or('coalesce(x.is_timeout, FALSE)')} THEN 1 ELSE 0 END) AS timeout_spans,
           {sql.bool_or('x.orphan')} AS partial,
           min(x.start_ns) AS first_ns, max(x.end_ns) AS last_ns,
           {sql.any_value('x.run_agent')} AS agent,
           {sql.arg_min('x.conversation_id', 'x.depth * 1e19 + x.start_ns')}
               FILTER (WHERE x.conversation_id IS NOT NULL) AS run_conversation,
           {sql.arg_min('x.user_id', 'x.depth * 1e19 + x.start_ns')} FILTER (WHERE x.user_id IS NOT NULL) AS run_user
    FROM {x} x GROUP BY x.root_id),
runs AS (
    -- agg's columns named like the root's (input_tokens, ...) come back as `agg.x` on ClickHouse: use the aliases
    SELECT agg.*, agg.run_conversation AS conversation_id, agg.run_user AS user_id, r.trace_id,
           r.span_id AS root, r.trace_id || ':' || r.span_id AS run_id, r.service AS root_service,
           r.operation AS root_operation, r.start_ns AS started_ns, r.gkind AS root_kind,
           CASE WHEN agg.failed_layer IS NOT NULL OR coalesce(agg.last_step_failed, FALSE)
                THEN 'error' ELSE 'ok' END AS status,
           fl.status_message AS root_message, fl.error_type AS root_error_type, fl.span_id AS failed_span,
           coalesce(agg.input_tokens, r.input_tokens) AS tokens_in,
           coalesce(agg.output_tokens, r.output_tokens) AS tokens_out,
           coalesce(agg.total_tokens, r.total_tokens) AS tokens_total_attr
    FROM agg JOIN {s} r ON r.id = agg.root_id
    LEFT JOIN (SELECT id, span_id, status_message, error_type FROM {s}) fl ON fl.id = agg.failed_layer)"""

# Steps of the runs in `x` (one row per step), with what happened beneath each step. Needs run_tables(detail=True).
# Every output column is named: ClickHouse calls an unnamed `x.trace_id` that another table also has `x.trace_id`.
# The lists come unordered (ClickHouse has no ordered DISTINCT aggregate): runs.py sorts them.
def steps_select(t: Stages) -> str:
    """The steps query over `run_tables(..., detail=True)`."""
    sql = t.store.sql
    return f"""
WITH beneath AS (
    SELECT anchor,
           array_agg(DISTINCT service) FILTER (WHERE id <> anchor) AS services,
           array_agg(DISTINCT server_address)
               FILTER (WHERE id <> anchor AND kind = 'CLIENT' AND server_address IS NOT NULL) AS peers,
           {sql.arg_max('id', 'depth * 1e19 + end_ns')} FILTER (WHERE failed) AS culprit,
           count(*) FILTER (WHERE rl_counted) AS rate_limited,
           count(*) FILTER (WHERE timeout_counted) AS timeouts,
           max(resend_count) AS max_resend,
           array_agg(DISTINCT http_status) FILTER (WHERE http_status >= 400) AS http_errors
    FROM {t['x']} WHERE anchor IS NOT NULL GROUP BY anchor)
SELECT x.trace_id AS trace_id, r.span_id AS root, x.span_id AS span_id, x.parent_span_id AS parent_span_id,
       x.gkind AS kind, x.step_name AS name, x.sig AS sig, x.service AS service, x.operation AS operation,
       x.start_ns AS start_ns, x.end_ns AS end_ns, x.duration_ns AS duration_ns, x.status_code AS status_code,
       x.status_message AS status_message, x.failed AS failed, x.error_type AS error_type,
       x.http_status AS http_status, x.attributes AS attributes, x.exc_events AS exc_events,
       b.services, b.peers, b.rate_limited, b.timeouts, b.max_resend, b.http_errors,
       cs.service AS culprit_service, cs.operation AS culprit_operation,
       coalesce(nullif(cs.status_message, ''), cs.error_type) AS culprit_message
FROM {t['x']} x JOIN beneath b ON b.anchor = x.id
JOIN {t['s']} r ON r.id = x.root_id
LEFT JOIN (SELECT id, service, operation, status_message, error_type FROM {t['x']}) cs ON cs.id = b.culprit
WHERE x.is_step
ORDER BY x.trace_id, root, x.start_ns, x.span_id
"""


# -- the questions agents/ asks ---------------------------------------------------------------
def run_rows(store: Store, scope: str, scope_params: list[Any], window: TimeRange, agent: str | None,
             failed: bool, limit: int) -> list[dict[str, Any]]:
    """Every run's aggregates (the heavy part), filtered and limited."""
    cond, params = window_where(window, "started_ns")
    if agent:
        cond += " AND agent = ?"
        params.append(agent)
    if failed:
        cond += " AND status = 'error'"
    with run_tables(store, scope, scope_params) as t:
        return t.query(f"WITH {runs_cte(t)} SELECT * FROM runs WHERE {cond} "
                       f"ORDER BY started_ns DESC, run_id LIMIT {int(limit)}", params)


def newest_run_traces(store: Store, window: TimeRange) -> list[dict[str, Any]]:
    """Traces holding GenAI spans in the window, newest first, each with a bound no run of it starts after."""
    cond, params = window_where(window)
    return store.query(newest_traces(store.sql, cond), params)


def step_rows(store: Store, trace_ids: list[str]) -> list[dict[str, Any]]:
    """Every step of the runs in these traces, with its attributes (see `steps_select`)."""
    with run_tables(store, traces_scope(store.sql), [trace_ids], detail=True) as t:
        return t.query(steps_select(t))


def span_events(store: Store, trace_id: str, span_id: str) -> str | None:
    """The events (JSON text) of one span."""
    rows = store.query("SELECT events FROM spans WHERE trace_id = ? AND span_id = ? LIMIT 1", [trace_id, span_id])
    return rows[0]["events"] if rows else None


def session_rows(store: Store, window: TimeRange, limit: int) -> list[dict[str, Any]]:
    """Conversations with a GenAI span in the window, most recently active first: {conv, last_ns, traces}."""
    cond, params = window_where(window)
    sql = store.sql
    return store.query(f"""
        WITH g AS MATERIALIZED (
            SELECT trace_id, start_ns, {c.sql_parse(sql, fields=('conversation_id',))} AS a FROM spans
            WHERE {cond} AND {sql.attr_keys_match('attributes', _SESSION_KEYS)})
        SELECT conv, max(start_ns) AS last_ns, array_agg(DISTINCT trace_id) AS traces FROM (
            SELECT {c.sql_field(sql, 'conversation_id', parsed='a')} AS conv, trace_id, start_ns FROM g)
        WHERE conv IS NOT NULL GROUP BY conv ORDER BY last_ns DESC, conv LIMIT {int(limit)}""", params)


def session_traces(store: Store, session_id: str) -> list[str]:
    """The traces with a span carrying this conversation or session id."""
    sql = store.sql
    rows = store.query(f"""
        SELECT DISTINCT trace_id FROM (
            SELECT trace_id, {c.sql_parse(sql, fields=('conversation_id',))} AS a FROM spans
            WHERE {sql.attrs_contain('attributes')})
        WHERE {c.sql_field(sql, 'conversation_id', parsed='a')} = ?""", [session_id, session_id])
    return [r["trace_id"] for r in rows]


def runs_in_traces(store: Store, traces: list[str]) -> list[dict[str, Any]]:
    """Every run in these traces, oldest first (`runs_cte`'s rows)."""
    with run_tables(store, traces_scope(store.sql), [traces]) as t:
        return t.query(f"WITH {runs_cte(t)} SELECT * FROM runs ORDER BY started_ns, run_id")


def span_total(store: Store) -> int:
    """Spans stored (baselines are cached while it is unchanged)."""
    return int(store.query("SELECT count(*) AS n FROM spans")[0]["n"])


def baseline_rows(store: Store, agents: list[str], traces: list[str] | None,
                  max_good_paths: int) -> list[dict[str, Any]]:
    """Per agent over its stored runs: runs, token median and MAD, successful runs and their newest
    `max_good_paths` paths (steps joined by \\x1f). traces: every trace with a GenAI span, if known."""
    sql = store.sql
    if traces is not None:
        scope, params = traces_scope(sql), [traces]
    else:
        scope, params = named_scope(sql, agents) or (window_scope(sql, "TRUE"), [])
    with run_tables(store, scope, params, signals=False) as t:
        rows = t.query(f"""
        WITH {runs_cte(t)},
        r AS (
            SELECT agent, status, path,
                   CASE WHEN tokens_in IS NOT NULL OR tokens_out IS NOT NULL
                        THEN coalesce(tokens_in, 0) + coalesce(tokens_out, 0) ELSE tokens_total_attr END AS tok,
                   row_number() OVER (PARTITION BY agent, status ORDER BY started_ns DESC, run_id) AS recent
            FROM runs WHERE agent IN (SELECT unnest({sql.TEXT_LIST_PARAM}))),
        m AS (SELECT agent, count(*) AS n, count(tok) AS n_tok, {sql.quantile('tok', 0.5)} AS med
              FROM r GROUP BY agent),
        d AS (SELECT r.agent, {sql.quantile('abs(r.tok - m.med)', 0.5)} AS mad
              FROM r JOIN m USING (agent) GROUP BY r.agent),
        g AS (SELECT agent, count(*) FILTER (WHERE status = 'ok') AS n_ok,
                     {sql.ordered_list("coalesce(path, '')", ['recent'],
                                       f"status = 'ok' AND recent <= {int(max_good_paths)}")} AS good
              FROM r GROUP BY agent)
        SELECT m.agent AS agent, m.n AS n, m.n_tok AS n_tok, m.med AS med, d.mad AS mad, g.n_ok AS n_ok, g.good AS good
        FROM m JOIN d USING (agent) JOIN g USING (agent)""", [agents])
    return rows


def runs_touching(store: Store, service: str, window: TimeRange = TimeRange(), limit: int = 1000) -> list[str]:
    """Ids of agent runs with a span in `service` that started in the window, earliest first."""
    return runs_touching_each(store, [service], window, limit)[service]


def runs_touching_each(store: Store, services: list[str], window: TimeRange = TimeRange(),
                       limit: int = 1000) -> dict[str, list[str]]:
    """Per service: ids of agent runs with a span in it that started in the window, earliest first.

    One pass for all of them: finding the traces that hold GenAI spans reads every span of the window."""
    if not services:
        return {}
    cond, params = window_where(window)
    wanted = f"service IN (SELECT unnest({store.sql.TEXT_LIST_PARAM}))"
    # Only traces that hold GenAI spans can hold runs: a backend shared with users has many others.
    scope = (f"SELECT DISTINCT trace_id FROM spans WHERE {wanted} AND {cond} "
             f"INTERSECT {window_scope(store.sql, cond)}")
    with run_tables(store, scope, [list(services), *params, *params]) as t:
        rows = t.query(f"""
            SELECT service, run_id FROM (
                SELECT t.service AS service, r.trace_id || ':' || r.span_id AS run_id,
                       row_number() OVER (PARTITION BY t.service ORDER BY t.first_ns, r.trace_id || ':' || r.span_id)
                           AS k
                FROM (SELECT service, root_id, min(start_ns) AS first_ns FROM {t['x']} WHERE {wanted} AND {cond}
                      GROUP BY service, root_id) t
                JOIN {t['s']} r ON r.id = t.root_id) x
            WHERE k <= {int(limit)} ORDER BY service, k""", [list(services), *params])
    out: dict[str, list[str]] = {s: [] for s in services}
    for r in rows:
        out[r["service"]].append(r["run_id"])
    return out


def load_rows(store: Store, window: TimeRange) -> list[dict[str, Any]]:
    """Per (agent, backend): calls the agent's runs made to it in the window, errors, runs; `instrumented`:
    the backend sends spans (else it is a leaf CLIENT span's server.address)."""
    cond, params = window_where(window)
    xcond, _ = window_where(window, "x.start_ns")
    with run_tables(store, window_scope(store.sql, cond), params) as t:
        return t.query(f"""
            WITH {runs_cte(t)},
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


def served_requests(store: Store, window: TimeRange, services: list[str]) -> dict[str, int]:
    """Requests (SERVER/CONSUMER spans) each of these services served in the window."""
    cond, params = window_where(window)
    return {r["service"]: r["n"] for r in store.query(f"""
        SELECT service, count(*) AS n FROM spans
        WHERE kind IN ('SERVER', 'CONSUMER') AND {cond} AND service IN (SELECT unnest({store.sql.TEXT_LIST_PARAM}))
        GROUP BY service""", [*params, services])}


def spend_rows(store: Store, window: TimeRange) -> list[dict[str, Any]]:
    """Per (agent, model) of the window's runs: runs, model calls, tokens, cost the instrumentation sent,
    and the tokens of calls without it (for the price table)."""
    cond, params = window_where(window)
    xcond, _ = window_where(window, "x.start_ns")
    with run_tables(store, window_scope(store.sql, cond), params) as t:
        return t.query(f"""
            SELECT x.run_agent AS agent, x.step_name AS model, count(DISTINCT x.root_id) AS runs, count(*) AS calls,
                   sum(x.input_tokens) AS input_tokens, sum(x.output_tokens) AS output_tokens,
                   sum(x.cost) AS cost_sent, count(x.cost) AS calls_with_cost,
                   sum(x.input_tokens) FILTER (WHERE x.cost IS NULL) AS in_unpriced,
                   sum(x.output_tokens) FILTER (WHERE x.cost IS NULL) AS out_unpriced
            FROM {t['x']} x
            WHERE x.gkind = 'llm' AND NOT x.in_llm AND {xcond}
            GROUP BY x.run_agent, x.step_name""", params)
