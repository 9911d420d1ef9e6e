"""The records questions about the telemetry itself answer with: traces found, one trace as a tree of
spans, log records, a service's series.

Frozen like `model_results`, and written to JSON and back by its `to_json` / `from_json`, with the keys
the API has always emitted, in the same order. Attribute, event and link fields hold the JSON text the
store keeps (an object or an array), as the API has always sent them.

    >>> from interplay.model_results import from_json, to_json
    >>> point = SeriesPoint(1767225600000000000, 0, 0.0, 0)
    >>> to_json(point)["error_rate"], list(to_json(point))[-1]
    (None, 'p99_ms')
    >>> from_json(Series, to_json(Series("web", None, 10, [point]))).points == [point]
    True
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .model_results import OMIT

__all__ = ["Anomalies", "Anomaly", "Change", "ChangeMark", "LogRecord", "Series", "SeriesPoint", "Service",
           "ServiceOperation", "SymptomBucket", "SymptomSeries", "Trace", "TraceSpan", "TraceSummary",
           "TELEMETRY_RECORDS"]


@dataclass(frozen=True, slots=True)
class Service:
    """A service seen in the window: its requests (its SERVER and CONSUMER spans, or all its spans when it
    has none), their rate between its first and last span, errors and latency."""

    service: str
    spans: int
    requests: int
    request_rate: float  # requests per second
    errors: int
    error_rate: float
    p50_ms: float
    p99_ms: float
    first_seen: str  # RFC 3339
    last_seen: str  # RFC 3339


@dataclass(frozen=True, slots=True)
class ServiceOperation:
    """One operation of a service (a span name of one kind): calls, errors, latency, entry point or not."""

    operation: str
    kind: str  # SERVER, CLIENT, PRODUCER, CONSUMER, INTERNAL
    calls: int
    errors: int
    error_rate: float
    entry: bool  # requests enter the service here
    p50_ms: float
    p95_ms: float
    p99_ms: float


@dataclass(frozen=True, slots=True)
class Change:
    """A change event: a deploy, config or flag change, infrastructure work or a commit."""

    time_ns: int
    service: str
    kind: str  # deploy, config, flag, infra, commit
    description: str
    version: str | None
    attributes: str | None  # JSON object text
    time: str  # RFC 3339


@dataclass(frozen=True, slots=True)
class TraceSummary:
    """A trace found by a search: its root, when it started, how long it ran, what it holds."""

    trace_id: str
    root_service: str
    root_operation: str
    start: str  # RFC 3339
    start_ns: int
    duration_ms: float  # from the first span's start to the last span's end
    spans: int
    errors: int  # spans with error status
    services: int
    complete: bool  # exactly one span without a parent


@dataclass(frozen=True, slots=True)
class TraceSpan:
    """A span of a trace tree, with its children; `self_ns` is its duration not covered by them."""

    span_id: str
    parent_span_id: str | None
    service: str
    operation: str
    kind: str  # SERVER, CLIENT, PRODUCER, CONSUMER, INTERNAL
    start_ns: int
    end_ns: int
    duration_ns: int
    status_code: str  # UNSET, OK, ERROR
    status_message: str | None
    service_version: str | None
    scope_name: str | None
    scope_version: str | None
    trace_state: str | None
    resource_attributes: str  # JSON object text
    attributes: str  # JSON object text
    events: str | None  # JSON array text
    links: str | None  # JSON array text
    children: list[TraceSpan] = field(default_factory=list)  # by start
    orphan: bool | None = field(default=None, metadata=OMIT)  # a root's: its parent never arrived
    self_ns: int = 0


@dataclass(frozen=True, slots=True)
class Trace:
    """One trace as a tree: its root spans (orphans among them), each with its children."""

    trace_id: str
    spans: int
    roots: list[TraceSpan]


@dataclass(frozen=True, slots=True)
class LogRecord:
    """A log record as stored, with its time in RFC 3339 and its severity's name."""

    time_ns: int
    service: str
    severity_number: int | None
    severity_text: str | None
    body: str
    trace_id: str | None
    span_id: str | None
    attributes: str  # JSON object text
    time: str
    severity: str  # the text sent, else the name of the number's range, else UNSPECIFIED


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One time bucket of a series; latency and error rate are None (null) when it had no requests."""

    t_ns: int  # the bucket's start
    requests: int
    rate: float  # requests per second
    errors: int
    error_rate: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None


@dataclass(frozen=True, slots=True)
class Series:
    """A service's (or one operation's) entry spans per time bucket."""

    service: str
    operation: str | None
    step_ns: int  # the buckets' width (0: no spans, no buckets)
    points: list[SeriesPoint]


@dataclass(frozen=True, slots=True)
class Anomaly:
    """A service whose latest quarter of the window shifted from its first half."""

    kind: Literal["errors", "latency"]
    before: float  # the first half's error rate, or median p95 (ms)
    after: float  # the latest quarter's
    z: float  # two-proportion z (errors) or robust z (latency)
    reason: str  # one line a person reads on hover


@dataclass(frozen=True, slots=True)
class Anomalies:
    """The services that shifted in a window, by name, and how they were judged."""

    services: dict[str, Anomaly]
    method: str


@dataclass(frozen=True, slots=True)
class SymptomBucket:
    """One time bucket of a symptom's entry points."""

    t_ns: int  # the bucket's start
    requests: int
    errors: int
    p90_ms: float


@dataclass(frozen=True, slots=True)
class ChangeMark:
    """A change event as a chart marks it."""

    time_ns: int
    service: str
    kind: str  # deploy, config, flag, infra, commit
    description: str
    version: str | None


@dataclass(frozen=True, slots=True)
class SymptomSeries:
    """A symptom's entry points per time bucket over a closed window, and the changes in it (oldest first)."""

    buckets: list[SymptomBucket]
    changes: list[ChangeMark]


TELEMETRY_RECORDS = (Anomaly, Anomalies, Service, ServiceOperation, Change, TraceSummary, TraceSpan, Trace, LogRecord,
                     SeriesPoint, Series, SymptomBucket, ChangeMark, SymptomSeries)
