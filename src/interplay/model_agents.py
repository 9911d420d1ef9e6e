"""The records agent runs are answered with: a run, its steps, what they cost, how they failed, sessions;
what agents spent, and the load they put on backends.

Frozen like `model_results`, and written to JSON and back by its `to_json` / `from_json`, with the keys
the API has always emitted. Parts that only some steps or runs have (a model call's model and tokens, a
tool call's arguments, what a step said, the labels of a run shown alone) are records of their own,
written as fields of the step or run when there (`FLAT`) and absent otherwise, as the JSON always was.

    >>> from interplay.model_results import from_json, to_json
    >>> step = Step(0, "ab" * 8, "tool", "get_order", "tool:get_order", "agent", "execute_tool get_order",
    ...             "2026-01-01T00:00:00.000Z", 1767225600000000000, 20.0, "ok",
    ...             tool_call=ToolCall("get_order", '{"id": 7}', None))
    >>> to_json(step)["arguments"], "model" in to_json(step)
    ('{"id": 7}', False)
    >>> from_json(Step, to_json(step)) == step
    True
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .model_results import FLAT, OMIT

__all__ = ["AgentRun", "AgentSpend", "BackendLoad", "Cost", "Culprit", "Divergence", "Expected", "FailureMode",
           "Labels", "ModelCall", "RunCost", "RunFailure", "RunSignals", "Session", "Step", "StepContent",
           "StepError", "Tokens", "ToolCall", "AGENT_RECORDS"]


@dataclass(frozen=True, slots=True)
class Tokens:
    input: int | None
    output: int | None
    total: int | None


@dataclass(frozen=True, slots=True)
class Cost:
    """What one model call cost, and where the figure came from (instrumentation | price_table)."""

    usd: float
    source: str


@dataclass(frozen=True, slots=True)
class RunCost:
    """A run's model calls' cost summed; `source` joins the steps' sources ('instrumentation+price_table')."""

    usd: float
    source: str
    priced_calls: int | None  # None: the run's own span sent the figure, no step did
    unpriced_calls: int | None = field(default=None, metadata=OMIT)


@dataclass(frozen=True, slots=True)
class ModelCall:
    """What a model (or embedding) call step adds: model, provider, tokens, usage, cost."""

    model: str | None
    response_model: str | None
    provider: str | None
    tokens: Tokens
    usage: dict[str, Any]  # every gen_ai.usage.* / llm.token_count.* the span sent, by its short name
    finish_reasons: list[Any]
    cost: Cost | None


@dataclass(frozen=True, slots=True)
class ToolCall:
    tool: str
    arguments: str | None  # as sent (cut at 4000 characters)
    call_id: Any


@dataclass(frozen=True, slots=True)
class StepContent:
    """What a step was given and gave back (messages, tool arguments and results); texts cut unless full."""

    input: Any
    output: Any
    truncated: bool


@dataclass(frozen=True, slots=True)
class Culprit:
    """The deepest failing span beneath a step."""

    service: str
    operation: str | None
    message: str | None


@dataclass(frozen=True, slots=True)
class StepError:
    type: str | None
    message: str | None
    http_status: Any
    http_errors: list[Any]
    caused_by: Culprit | None
    traceback: str | None = field(default=None, metadata=OMIT)  # only when asked for in full


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a run (a model call, a tool call, a sub-agent, ...), in start order."""

    index: int
    span_id: str
    kind: str  # llm, embedding, tool, agent, chain, ...
    name: str
    signature: str  # kind:name, what paths and retries compare
    service: str
    operation: str
    start: str | None
    start_ns: int
    duration_ms: float
    status: str  # ok | error
    call: ModelCall | None = field(default=None, metadata=FLAT)  # llm and embedding steps
    tool_call: ToolCall | None = field(default=None, metadata=FLAT)  # tool steps
    agent: str | None = field(default=None, metadata=OMIT)  # agent steps: the sub-agent's name
    content: StepContent | None = field(default=None, metadata=FLAT)  # in a run shown alone
    downstream: list[str] = field(default_factory=list)  # other services its spans reached
    peers: list[str] | None = field(default=None, metadata=OMIT)  # uninstrumented servers it called
    rate_limited: int = 0
    timeouts: int = 0
    retries: int = 0  # transport resends
    error: StepError | None = field(default=None, metadata=OMIT)


@dataclass(frozen=True, slots=True)
class FailureMode:
    """One way a run went wrong (tool_loop, retry_storm, rate_limited, timeout, tool_error, token_blowup,
    divergence), the step where it starts, and the detector's own evidence (JSON-ready data)."""

    mode: str
    summary: str
    step: int | None
    evidence: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RunSignals:
    rate_limited: int
    timeouts: int


@dataclass(frozen=True, slots=True)
class Labels:
    """A run's tags and metadata, as its steps carry them (shown with one run)."""

    tags: list[str]
    metadata: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class RunFailure:
    """A failed run shown in full: its traceback (None when the spans carry none)."""

    traceback: str | None


@dataclass(frozen=True, slots=True)
class Expected:
    signature: str
    share: float


@dataclass(frozen=True, slots=True)
class Divergence:
    """Where a failed run's path left every successful run's path, and what they did there."""

    step: int
    happened: str
    expected: list[Expected]
    after: list[str]
    compared_with: int
    same_prefix_runs: int
    compared_with_session_runs: int | None = field(default=None, metadata=OMIT)


@dataclass(frozen=True, slots=True)
class AgentRun:
    """One agent run: its aggregates, cost and failure modes; its steps when shown alone."""

    run_id: str  # trace_id:span_id of its root span
    trace_id: str
    agent: str
    status: str  # ok | error
    started: str | None
    started_ns: int | None
    duration_ms: float
    steps: int
    model_calls: int
    tool_calls: int
    tools: list[str]
    tokens: Tokens
    errors: int  # failed steps
    conversation_id: str | None
    user_id: str | None
    service: str | None
    root_operation: str | None
    error: str | None  # 'Type: message' of a failed run
    complete: bool  # False: some spans arrived without their parent
    signals: RunSignals
    path: list[str]  # the steps' signatures
    cost: RunCost | None = None
    failure_modes: list[FailureMode] = field(default_factory=list)
    labels: Labels | None = field(default=None, metadata=FLAT)  # a run shown alone
    steps_detail: list[Step] | None = field(default=None, metadata=OMIT)  # a run shown alone
    failure: RunFailure | None = field(default=None, metadata=FLAT)  # a failed run shown in full
    session_divergence: Divergence | None = field(default=None, metadata=OMIT)  # a run in a session shown


@dataclass(frozen=True, slots=True)
class Session:
    """Runs sharing a conversation or session id; `runs` in start order when one session is shown."""

    session_id: str
    runs_count: int
    failed_runs: int
    agents: list[str]
    users: list[str]
    started: str | None
    last_started: str | None
    tokens: int | None
    cost_usd: float | None
    failure_modes: list[str]
    run_ids: list[str]
    runs: list[AgentRun] | None = field(default=None, metadata=OMIT)


@dataclass(frozen=True, slots=True)
class AgentSpend:
    """What one agent spent on one model over a window."""

    agent: str
    model: str | None
    runs: int
    calls: int
    input_tokens: int | None
    output_tokens: int | None
    calls_with_cost: int  # calls whose instrumentation sent their cost
    usd: float | None  # None: no price for the model and no cost sent
    source: str | None  # instrumentation | price_table | instrumentation+price_table


@dataclass(frozen=True, slots=True)
class BackendLoad:
    """The calls one agent's runs made to one backend over a window, and their share of its load."""

    agent: str
    backend: str  # a service, or the server.address of a backend that sends no spans
    instrumented: bool
    calls: int
    errors: int
    runs: int
    backend_requests: int | None  # all requests the backend served (None: uninstrumented)
    share: float | None  # calls / backend_requests


AGENT_RECORDS = (Tokens, Cost, RunCost, ModelCall, ToolCall, StepContent, Culprit, StepError, Step, FailureMode,
                 RunSignals, Labels, RunFailure, Expected, Divergence, AgentRun, Session, AgentSpend, BackendLoad)
