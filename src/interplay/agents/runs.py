"""Agent runs: list them with their aggregates and failure modes, or show one run step by step.

A run id is `<trace_id>:<span_id of the run's root span>` (the top-level agent span, or for a
trace without one, its earliest root span): stable across re-ingest and unique without a
conversation id, which many runtimes never set.

    >>> from interplay.api import Interplay
    >>> list_runs(Interplay.open(":memory:").store)
    []
"""
from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from ..model import InvalidInput, NotFound, TimeRange
from ..model_agents import (
    AgentRun,
    Culprit,
    Labels,
    ModelCall,
    RunCost,
    RunFailure,
    RunSignals,
    Step,
    StepContent,
    StepError,
    Tokens,
    ToolCall,
)
from ..store import genai as c
from ..store.agent_runs import newest_run_traces, run_rows, span_events, step_rows, traces_scope
from ..store.base import Store
from ..timeutil import format_time
from .content import step_content
from .cost import PriceTable
from .divergence import Baseline, baselines
from .errors import describe, type_name
from .failure_modes import detect

MAX_LIMIT = 10_000


def list_runs(store: Store, agent: str | None = None, failed: bool = False, window: TimeRange = TimeRange(),
              limit: int = 100, prices: PriceTable | None = None) -> list[AgentRun]:
    """Runs started in the window, newest first, with steps, tools, tokens, cost and failure modes."""
    if limit < 1 or limit > MAX_LIMIT:
        raise InvalidInput(f"limit {limit}: must be between 1 and {MAX_LIMIT}")
    rows, traces = _newest_rows(store, agent, failed, window, limit)
    unbounded = window.since_ns is None and window.until_ns is None
    return _finish(store, rows, all_traces=traces if unbounded else None, prices=prices)


def get_run(store: Store, run_id: str, full: bool = False, prices: PriceTable | None = None) -> AgentRun:
    """One run: its summary and ordered steps (model calls, tool calls with downstream services, errors,
    each step's input and output: texts cut at content.CAP characters unless `full`, tracebacks only then)."""
    trace_id, root = parse_run_id(run_id)
    rows = run_rows(store, traces_scope(store.sql), [[trace_id]], TimeRange(), None, False, MAX_LIMIT)
    rows = [r for r in rows if root is None or r["root"] == root]
    if not rows:
        raise NotFound(f"agent run {run_id} not found")
    return _finish(store, rows[-1:], keep_steps=True, full=full, prices=prices)[0]


def parse_run_id(run_id: str) -> tuple[str, str | None]:
    """`trace_id:span_id` (or a bare trace id: its earliest run) → the two ids, validated."""
    trace_id, _, root = run_id.strip().lower().partition(":")
    if len(trace_id) != 32 or any(ch not in "0123456789abcdef" for ch in trace_id):
        raise InvalidInput(f"run id {run_id!r}: expected <trace id (32 hex)>:<span id (16 hex)>")
    if root and (len(root) != 16 or any(ch not in "0123456789abcdef" for ch in root)):
        raise InvalidInput(f"run id {run_id!r}: the part after ':' must be a 16-hex span id")
    return trace_id, root or None


# -- queries -------------------------------------------------------------------------------------
def _newest_rows(store: Store, agent: str | None, failed: bool, window: TimeRange,
                 limit: int) -> tuple[list[dict[str, Any]], list[str]]:
    """The newest `limit` runs passing the filters, assigning spans to runs only in the traces needed.

    Traces come newest first by a bound no run of theirs starts after; batches of them (growing
    fourfold) are expanded until `limit` runs are found and the next trace cannot hold a newer one.
    """
    traces = newest_run_traces(store, window)
    rows: list[dict[str, Any]] = []
    done, size = 0, max(4 * limit, 64)
    while done < len(traces):
        batch = [t["trace_id"] for t in traces[done:done + size]]
        done, size = done + len(batch), size * 4
        rows = sorted(rows + run_rows(store, traces_scope(store.sql), [batch], window, agent, failed, limit),
                      key=_newest_first)[:limit]
        if len(rows) == limit and done < len(traces) and _newest_first(rows[-1]) < _after(traces[done]["bound"]):
            break
    return rows, [t["trace_id"] for t in traces]


def _newest_first(r: dict[str, Any]) -> tuple[bool, int, str]:
    """The order of `ORDER BY started_ns DESC, run_id` (NULLs last)."""
    started = r["started_ns"]
    return started is None, -(started or 0), r["run_id"]


def _after(bound: int | None) -> tuple[bool, int, str]:
    """A key before every run that starts no later than `bound` (so ties are expanded too)."""
    return (False, -(bound if bound is not None else 2**63), "")


def _steps(store: Store, trace_ids: list[str]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Steps of the runs in these traces, keyed by (trace_id, root), in start order."""
    rows = step_rows(store, trace_ids)
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault((r["trace_id"], r["root"]), []).append(r)
    return out


def _finish(store: Store, rows: list[dict[str, Any]], keep_steps: bool = False,
            all_traces: list[str] | None = None, full: bool = False,
            prices: PriceTable | None = None) -> list[AgentRun]:
    """Attach steps, cost and failure modes to run rows (few: at most `limit`) and shape the output."""
    if not rows:
        return []
    prices = prices or PriceTable.load()
    steps = _steps(store, sorted({r["trace_id"] for r in rows}))
    base = baselines(store, sorted({r["agent"] for r in rows}), all_traces)
    out = []
    for r in rows:
        raw = steps.get((r["trace_id"], r["root"]), [])
        run_steps = [_step(i, s, prices, full, content=keep_steps) for i, s in enumerate(raw)]
        run = _summary(r, _run_cost(run_steps, r.get("cost_attr")))
        # the detectors read the run's aggregates and cost, so its failure modes come after them
        run = replace(run, failure_modes=detect(run, run_steps, base.get(r["agent"], Baseline())))
        if keep_steps:
            failure = RunFailure(describe(r["root_message"], r["root_error_type"],
                                          _events(store, r["trace_id"], r["failed_span"]))["traceback"]) \
                if full and r["status"] == "error" else None
            run = replace(run, labels=_labels(raw), steps_detail=run_steps, failure=failure)
        out.append(run)
    return out


def _labels(steps: list[dict[str, Any]]) -> Labels:
    """The run's tags (OpenInference `tag.tags`, Langfuse's: every one its steps carry) and metadata, as
    Phoenix and Langfuse users label runs: the entries every step's metadata has (the app's labels; LangChain
    adds its node's own to each), less LangSmith's `ls_*` model settings; None when no step has any."""
    tags: dict[str, None] = {}
    metadata: dict[str, Any] | None = None
    for s in steps:
        attrs = _json(s["attributes"], {})
        sent = _decoded(c.field(attrs, "tags"))
        for tag in sent if isinstance(sent, list) else [sent] if sent else []:
            tags[str(tag)] = None
        meta = c.field(attrs, "metadata")
        meta = _json(meta, {"metadata": meta}) if isinstance(meta, str) else meta
        if isinstance(meta, dict):
            metadata = ({k: v for k, v in meta.items() if not k.startswith("ls_")} if metadata is None
                        else {k: v for k, v in metadata.items() if meta.get(k) == v})
    return Labels(list(tags), metadata)


def _events(store: Store, trace_id: str, span_id: str | None) -> str | None:
    """The events of one span (for its exception's stacktrace)."""
    if not span_id:
        return None
    return span_events(store, trace_id, span_id)


def _run_cost(steps: list[Step], sent: float | None) -> RunCost | None:
    """The run's model calls' cost: summed over its steps; sources say where the figures came from."""
    costs = [s.call.cost for s in steps if s.call and s.call.cost]
    if not costs:
        return RunCost(round(sent, 6), "instrumentation", None) if sent else None
    sources = sorted({c_.source for c_ in costs})
    unpriced = sum(1 for s in steps if s.kind == "llm" and not (s.call and s.call.cost))
    return RunCost(round(sum(c_.usd for c_ in costs), 6), "+".join(sources), len(costs), unpriced)


def _summary(r: dict[str, Any], cost: RunCost | None) -> AgentRun:
    tin, tout = r["tokens_in"], r["tokens_out"]
    total = (tin or 0) + (tout or 0) if tin is not None or tout is not None else r["tokens_total_attr"]
    return AgentRun(
        run_id=r["run_id"], trace_id=r["trace_id"], agent=r["agent"], status=r["status"],
        started=format_time(r["started_ns"]), started_ns=r["started_ns"],
        duration_ms=round((r["last_ns"] - r["first_ns"]) / 1e6, 3),
        steps=r["steps"], model_calls=r["model_calls"], tool_calls=r["tool_calls"],
        tools=sorted(r["tools"] or []),
        tokens=Tokens(tin, tout, total),
        errors=r["failed_steps"], conversation_id=r["conversation_id"], user_id=r.get("user_id"),
        service=r["root_service"], root_operation=r["root_operation"],
        error=_run_error(r),
        complete=not r["partial"],
        signals=RunSignals(r["rate_limited_spans"], r["timeout_spans"]),
        path=(r["path"] or "").split("\x1f") if r["path"] else [],
        cost=cost,
    )


def _run_error(r: dict[str, Any]) -> str | None:
    """The run's error as `Type: message` (the failed layer's, else its last failed step's)."""
    if r["status"] != "error":
        return None
    if r["root_message"] or r["root_error_type"]:
        return describe(r["root_message"], r["root_error_type"])["message"]
    return None


def _step(index: int, s: dict[str, Any], prices: PriceTable, full: bool = False, content: bool = True) -> Step:
    """One step row → the Step users see; attributes are decoded here (one step, small)."""
    attrs = _json(s["attributes"], {})
    call = tool_call = None
    if s["kind"] in ("llm", "embedding"):
        finish = _decoded(c.field(attrs, "finish_reasons"))
        model, response_model = c.field(attrs, "request_model"), c.field(attrs, "response_model")
        tokens = Tokens(_int(c.field(attrs, "input_tokens")), _int(c.field(attrs, "output_tokens")),
                        _int(c.field(attrs, "total_tokens")))
        call = ModelCall(model, response_model, c.field(attrs, "provider"), tokens,
                         {k: _decoded(v) for k, v in c.usage(attrs).items()},
                         finish if isinstance(finish, list) else [finish] if finish else [],
                         prices.step_cost(response_model or model, tokens, attrs))
    if s["kind"] == "tool":
        tool_call = ToolCall(s["name"], _text(c.field(attrs, "tool_args")), c.field(attrs, "tool_call_id"))
    return Step(
        index=index, span_id=s["span_id"], kind=s["kind"], name=s["name"], signature=s["sig"],
        service=s["service"], operation=s["operation"], start=format_time(s["start_ns"]), start_ns=s["start_ns"],
        duration_ms=round(s["duration_ns"] / 1e6, 3), status="error" if s["failed"] else "ok",
        call=call, tool_call=tool_call, agent=s["name"] if s["kind"] == "agent" else None,
        # only a run shown step by step needs what was said (lists do not: it is large)
        content=StepContent(**step_content(s["kind"], attrs, full)) if content else None,
        downstream=sorted(svc for svc in (s["services"] or []) if svc != s["service"]),
        peers=sorted(s["peers"]) if s["peers"] else None,
        rate_limited=s["rate_limited"], timeouts=s["timeouts"], retries=s["max_resend"] or 0,
        error=_step_error(s, full) if s["failed"] or s["culprit_service"] else None,
    )


def _step_error(s: dict[str, Any], full: bool) -> StepError:
    """A failed step's error (or, under a step that did not fail, the failure beneath it)."""
    said = describe(s["status_message"], s["error_type"], s.get("exc_events"))
    culprit = Culprit(s["culprit_service"], s["culprit_operation"], describe(s["culprit_message"], None)["message"]) \
        if s["culprit_service"] else None
    return StepError(type_name(s["error_type"]), said["message"], s["http_status"], sorted(s["http_errors"] or []),
                     culprit, traceback=said["traceback"] if full and said["traceback"] else None)


def _json(text: str | None, default: Any) -> Any:
    try:
        return json.loads(text) if text else default
    except ValueError:
        return default


def _decoded(v: Any) -> Any:
    """A value the ClickHouse exporter stored as JSON text (it keeps every attribute as a string) as
    it was sent: '["stop"]' → ["stop"], '20' → 20; other values as they are."""
    if not isinstance(v, str) or not (v[:1] in ("[", "-") or v[:1].isdigit()):
        return v
    try:
        return json.loads(v)
    except ValueError:
        return v


def _int(v: Any) -> int | None:
    try:
        return int(float(v)) if v is not None else None
    except (TypeError, ValueError):
        return None


def _text(v: Any, cap: int = 4000) -> str | None:
    if v is None:
        return None
    text = v if isinstance(v, str) else json.dumps(v, sort_keys=True)
    return text if len(text) <= cap else text[:cap] + "…"
