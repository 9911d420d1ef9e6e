"""The records an investigation (and the interaction graph it reads) answers with, and one way to JSON and back.

Plain immutable data like `model` (frozen, slots), importing nothing of ours. `to_json` gives exactly
the dicts the API, the CLI and MCP emit (same keys, same order); `from_json(Type, data)` rebuilds a
record from them, so a remote hub answers with the same types as a local one; `json_fields(Type)` says
how each field is written (the API's OpenAPI schemas are read off it).

    >>> hop = Hop("checkout", None, "calls to db (sync)", traces=12)
    >>> to_json(hop)
    {'service': 'checkout', 'operation': None, 'effect': 'calls to db (sync)', 'traces': 12}
    >>> from_json(Hop, to_json(hop)) == hop
    True
    >>> to_json(LoadMove("web", "cron", 0.25))
    {'from': 'web', 'to': 'cron', 'share': 0.25}

A field left out of the JSON when it is None says so in its metadata (`OMIT`); evidence of one type
carries its own extra fields (`details`), written beside the common ones.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal, TypeVar

OMIT = {"omit_none": True}  # left out of the JSON when None (not written as null)
FLAT = {"flatten": True}    # a dict written as fields of the record itself


@dataclass(frozen=True, slots=True)
class Window:
    """A window of the investigation (baseline or incident): RFC 3339 and unix-nanosecond bounds."""

    since: str | None
    until: str | None
    since_ns: int | None
    until_ns: int | None


@dataclass(frozen=True, slots=True)
class Windows:
    baseline: Window
    incident: Window


@dataclass(frozen=True, slots=True)
class EntryPoint:
    """An entry point of the symptom, with its request stats in each window."""

    service: str
    operation: str | None
    baseline: dict[str, Any]
    incident: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Symptom:
    given: str | None  # 'service[:operation]' as asked, None when it was found
    shift_strength: float | None = field(default=None, metadata=OMIT)  # below ~1 it barely moved
    significant: bool | None = field(default=None, metadata=OMIT)
    entry_points: list[EntryPoint] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Evidence:
    """One piece of evidence about a node: what was seen, before and after, and how much it counts."""

    service: str
    operation: str | None
    type: str  # error_origin, self_time, path_shift, network_gap, change, metric_shift, ...
    summary: str
    before: Any = None
    after: Any = None
    weight: float = 0.0
    details: dict[str, Any] = field(default_factory=dict, metadata=FLAT)  # the type's own fields
    unit: str | None = field(default=None, metadata=OMIT)  # of before/after (UCUM-like)


@dataclass(frozen=True, slots=True)
class Hop:
    """One step of a causal chain, from the cause up to the symptom: a service and what it did."""

    service: str
    operation: str | None
    effect: str
    traces: int | None = field(default=None, metadata=OMIT)  # requests that took this path


@dataclass(frozen=True, slots=True)
class Explains:
    """The share of the symptom a cause explains, per kind of harm."""

    errors: float
    latency: float
    load: float
    call_paths: float
    queue_lag: float
    exceptions: float
    resources: float


@dataclass(frozen=True, slots=True)
class RootCause:
    rank: int
    service: str
    operation: str | None
    kind: str  # service, database, cache, queue, llm, external
    score: float  # orders the candidates; not a probability
    summary: str
    explains: Explains | None = field(default=None, metadata=OMIT)  # None from metrics alone
    chain: list[Hop] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    exemplar_trace: str | None = None
    agent_runs: list[str] | None = field(default=None, metadata=OMIT)


@dataclass(frozen=True, slots=True)
class LoadMove:
    """Blame handed from a node to the one that sent it load or kept it waiting."""

    from_: str = field(metadata={"json": "from"})
    to: str
    share: float
    why: str | None = field(default=None, metadata=OMIT)


@dataclass(frozen=True, slots=True)
class Signals:
    traces: bool
    logs: bool
    metrics: bool
    changes: bool


@dataclass(frozen=True, slots=True)
class DataCompleteness:
    """What evidence there was to look at: signals present, and how many traces are whole."""

    traces: int
    spans: int
    complete_traces: int
    estimated: bool | None = field(default=None, metadata=OMIT)  # counts from a share of the traces
    complete_share: float = 0.0
    logs: int = 0
    metric_points: int = 0
    changes: int = 0
    signals: Signals = Signals(False, False, False, False)


@dataclass(frozen=True, slots=True)
class OtherSymptom:
    kind: str
    suspect: str
    strength: float


@dataclass(frozen=True, slots=True)
class EvidenceStrength:
    """How much there was to compare, and whether it is enough to rank."""

    baseline_seconds: float
    symptom: float
    other_symptoms: list[OtherSymptom]
    rankable: bool
    note: str | None


@dataclass(frozen=True, slots=True)
class Exemplars:
    failing: str | None
    healthy: str | None


@dataclass(frozen=True, slots=True)
class Investigation:
    """Ranked root causes of a symptom, each with its causal chain and evidence."""

    symptom: Symptom
    onset: str
    onset_source: str  # "given", or how it was found (detected from what, or the data's start)
    windows: Windows
    method: str
    root_causes: list[RootCause]
    load_moves: list[LoadMove]
    data_completeness: DataCompleteness
    evidence_strength: EvidenceStrength | None = field(default=None, metadata=OMIT)  # None from metrics
    exemplars: Exemplars = Exemplars(None, None)
    seconds: float | None = field(default=None, metadata=OMIT)
    note: str | None = field(default=None, metadata=OMIT)
    id: str | None = field(default=None, metadata={**OMIT, "first": True})  # where a server kept it


@dataclass(frozen=True, slots=True)
class FailedInvestigation:
    """What is kept when an investigation could not run (an alert's, both attempts failed)."""

    error: str
    root_causes: list[RootCause] = field(default_factory=list)  # always empty: read like a result


@dataclass(frozen=True, slots=True)
class KeptInvestigation:
    """An investigation the hub keeps (from the CLI, the API, MCP or an alert), with its result."""

    id: str
    created_ns: int
    updated_ns: int
    status: str  # open or resolved
    source: str  # cli, api, mcp, alertmanager or generic
    group_key: str | None  # the alert group it was started for
    service: str | None
    started_ns: int | None
    summary: str
    result: Investigation | FailedInvestigation | None  # None while an alert's is still running
    created: str
    updated: str
    started: str | None


@dataclass(frozen=True, slots=True)
class TopCause:
    service: str
    summary: str


@dataclass(frozen=True, slots=True)
class InvestigationSummary:
    """A kept investigation in a list: its top cause instead of the full result."""

    id: str
    status: str
    source: str
    service: str | None
    started: str | None
    created: str
    updated: str
    summary: str
    group_key: str | None
    top_cause: TopCause | None = field(default=None, metadata=OMIT)  # None: no cause (yet)
    error: str | None = field(default=None, metadata=OMIT)  # why the investigation could not run


@dataclass(frozen=True, slots=True)
class EdgeStats:
    """One window's calls over a graph edge (or into an operation): counts, rates, latency.

    The zero record stands for a window with no calls, so a reader compares without asking first."""

    calls: int = 0
    errors: int = 0
    rate: float = 0.0  # calls per second
    error_rate: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    retries: int | None = field(default=None, metadata=OMIT)  # calls that repeat a failed one


@dataclass(frozen=True, slots=True)
class Edge:
    """Caller → callee in the interaction graph, its statistics per window name."""

    caller: str
    callee: str
    callee_kind: str  # service, database, cache, queue, llm, external
    mode: Literal["sync", "async"]
    stats: dict[str, EdgeStats]


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation of a service (a span name of one kind), its calls per window name."""

    service: str
    operation: str
    kind: str  # SERVER, CLIENT, PRODUCER, CONSUMER, INTERNAL
    entry: bool  # requests enter the service here (a SERVER or CONSUMER span, or a root)
    stats: dict[str, EdgeStats]


@dataclass(frozen=True, slots=True)
class NodeStats:
    """One window of a node: a service's requests at its entry operations (`requests`, `p95_ms`: the
    slowest entry operation's), or the calls into a resource (`calls`); the other shape's fields are None."""

    requests: int | None = field(default=None, metadata=OMIT)  # a service's (absent for a resource)
    calls: int | None = field(default=None, metadata=OMIT)  # a resource's (absent for a service)
    errors: int = 0
    rate: float = 0.0  # per second
    error_rate: float = 0.0
    p95_ms: float | None = field(default=None, metadata=OMIT)  # a service's slowest entry operation's


@dataclass(frozen=True, slots=True)
class Node:
    """A service of the interaction graph, or a resource without spans of its own (named by its callers)."""

    id: str
    kind: str  # service, database, cache, queue, llm, external
    operations: list[Operation] = field(default_factory=list)  # a service's; a resource has none
    stats: dict[str, NodeStats] = field(default_factory=dict)  # per window name


@dataclass(frozen=True, slots=True)
class GraphWindow:
    since_ns: int | None
    until_ns: int | None
    seconds: float


@dataclass(frozen=True, slots=True)
class Graph:
    """The interaction graph of one or more windows: nodes (services, resources) and edges."""

    windows: dict[str, GraphWindow] = field(default_factory=dict)
    sampled_share: float = 1.0  # below 1: counts estimated from that share of the traces
    nodes: list[Node] = field(default_factory=list)  # the services (by name), then the resources (by name)
    edges: list[Edge] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ImpactTarget:
    service: str  # a service, or a resource by name
    operation: str | None


@dataclass(frozen=True, slots=True)
class Caller:
    """A direct caller of the target: its calls into it (into that operation, when one was named)."""

    service: str
    mode: Literal["sync", "async"]  # async: through a queue
    calls: int
    errors: int
    rate: float  # calls per second
    error_rate: float
    p50_ms: float
    p95_ms: float
    retries: int | None = field(default=None, metadata=OMIT)  # calls that repeat a failed one


@dataclass(frozen=True, slots=True)
class Upstream:
    """A service that reaches the target through one or more calls."""

    service: str
    mode: Literal["sync", "async"]  # sync: some path waits on the target all the way


@dataclass(frozen=True, slots=True)
class EntryReach:
    """An entry point (a trace root) and how many of its requests reach the target."""

    service: str
    operation: str
    requests: int
    through: int  # requests whose trace reaches the target
    share: float  # through / requests
    mode: Literal["sync", "async", "self"]  # self: the target is the entry point


@dataclass(frozen=True, slots=True)
class Impact:
    """The blast radius of a service, operation or resource: who depends on it, and how much."""

    target: ImpactTarget
    direct_callers: list[Caller]
    upstream: list[Upstream]  # by name
    entry_points: list[EntryReach]  # most reached first


def to_json(obj: Any) -> Any:
    """A record (or a list or dict of them) as JSON-ready data: the dicts the API emits."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {}
        for f in _fields(type(obj)):
            value = getattr(obj, f.name)
            if f.metadata.get("flatten"):  # a dict, or a record whose fields are written here (None: none)
                flat = value if isinstance(value, dict) else to_json(value) if value is not None else {}
                out.update((k, to_json(v)) for k, v in flat.items())
            elif value is not None or not f.metadata.get("omit_none"):
                out[f.metadata.get("json", f.name)] = to_json(value)
        return out
    if isinstance(obj, (list, tuple)):
        return [to_json(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_json(v) for k, v in obj.items()}
    return obj


T = TypeVar("T")


def from_json(cls: type[T], data: dict[str, Any]) -> T:
    """The record of type `cls` that `to_json` wrote as `data` (keys it does not know go to its flat field).

    A flattened record is there when its first field's key is (so its fields may be null).
    """
    record: type = cls
    hints = _hints(record)
    kwargs: dict[str, Any] = {}
    known: set[str] = set()
    flat = None
    for f in _fields(record):
        key = f.metadata.get("json", f.name)
        if f.metadata.get("flatten"):
            inner = _record_of(hints[f.name])
            if inner is None:
                flat = f
                continue
            keys = [g.metadata.get("json", g.name) for g in _fields(inner)]
            known.update(keys)
            if keys[0] in data:
                kwargs[f.name] = from_json(inner, {k: data[k] for k in keys if k in data})
            continue
        known.add(key)
        if key in data:
            kwargs[f.name] = _build(hints[f.name], data[key])
    if flat is not None:
        kwargs[flat.name] = {k: v for k, v in data.items() if k not in known}
    return cls(**kwargs)


@dataclass(frozen=True, slots=True)
class JsonField:
    """How `to_json` writes one field of a record: so a schema of the JSON is read off the records."""

    name: str  # the attribute
    key: str  # the JSON key
    type: Any  # the field's type (resolved hint)
    optional: bool  # left out when None (`OMIT`)
    flat: bool  # written as fields of the record itself (`FLAT`): a record's fields, or any keys of a dict


def json_fields(cls: type) -> list[JsonField]:
    """The fields of record type `cls` in the order `to_json` writes them."""
    hints = _hints(cls)
    return [JsonField(f.name, f.metadata.get("json", f.name), hints[f.name], bool(f.metadata.get("omit_none")),
                      bool(f.metadata.get("flatten"))) for f in _fields(cls)]


def _build(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return _build(args[0], value)
        return _build(_record_among(args, value), value)
    if origin is list:
        return [_build(typing.get_args(tp)[0], v) for v in value]
    if origin is dict:
        return {k: _build(typing.get_args(tp)[1], v) for k, v in value.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return from_json(tp, value)
    return value


def _record_among(types_: list[Any], value: Any) -> Any:
    """Of a union of records, the first whose always-written keys are all in `value` (else no record)."""
    for tp in types_:
        if isinstance(tp, type) and dataclasses.is_dataclass(tp) and isinstance(value, dict) and all(
                f.metadata.get("json", f.name) in value for f in _fields(tp)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING):
            return tp
    return Any


def _record_of(tp: Any) -> type | None:
    """The record type a (possibly optional) field holds, else None."""
    args = [a for a in typing.get_args(tp) if a is not type(None)] or [tp]
    return args[0] if len(args) == 1 and isinstance(args[0], type) and dataclasses.is_dataclass(args[0]) else None


@cache
def _fields(cls: type) -> tuple[dataclasses.Field, ...]:
    """The fields in JSON order: one marked `first` leads (an id a server puts in front)."""
    fs = dataclasses.fields(cls)
    return tuple(sorted(fs, key=lambda f: not f.metadata.get("first")))


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


RECORDS = (Window, Windows, EntryPoint, Symptom, Evidence, Hop, Explains, RootCause, LoadMove, Signals,
           DataCompleteness, OtherSymptom, EvidenceStrength, Exemplars, Investigation)
GRAPH_RECORDS = (EdgeStats, Edge, Operation, NodeStats, Node, GraphWindow, Graph)
IMPACT_RECORDS = (ImpactTarget, Caller, Upstream, EntryReach, Impact)
KEPT_RECORDS = (FailedInvestigation, KeptInvestigation, TopCause, InvestigationSummary)
