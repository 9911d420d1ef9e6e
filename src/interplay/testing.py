"""Builders for small hand-made traces in OTLP/JSON form, for tests and examples.

    >>> t = TraceBuilder(start_ns=1_767_225_600 * 10**9, seed=1)
    >>> root = t.span("frontend", "GET /checkout", kind="SERVER", duration_ms=120)
    >>> db = root.child("catalog", "SELECT products", kind="CLIENT", offset_ms=5, duration_ms=100,
    ...                 error=True, attributes={"db.system": "postgresql"})
    >>> doc = traces_request([t])
    >>> len(doc["resourceSpans"])
    2
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

_KINDS = {"INTERNAL": 1, "SERVER": 2, "CLIENT": 3, "PRODUCER": 4, "CONSUMER": 5}


def any_value(v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    if isinstance(v, (list, tuple)):
        return {"arrayValue": {"values": [any_value(x) for x in v]}}
    if isinstance(v, dict):
        return {"kvlistValue": {"values": kv_list(v)}}
    return {"stringValue": str(v)}


def kv_list(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": any_value(v)} for k, v in attrs.items()]


@dataclass
class SpanBuilder:
    trace: TraceBuilder
    service: str
    name: str
    kind: str
    start_ns: int
    end_ns: int
    span_id: str
    parent_span_id: str = ""
    error: bool = False
    message: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    version: str = "1.0.0"
    events: list[dict[str, Any]] = field(default_factory=list)
    links: list[SpanBuilder] = field(default_factory=list)  # spans this one links to (batch consumers)

    def child(self, service: str, name: str, *, kind: str = "INTERNAL", offset_ms: float = 0.0,
              duration_ms: float = 1.0, **kw: Any) -> SpanBuilder:
        start = self.start_ns + int(offset_ms * 1e6)
        return self.trace._add(service, name, kind, start, start + int(duration_ms * 1e6),
                               parent=self.span_id, **kw)

    def to_otlp(self) -> dict[str, Any]:
        span = {"traceId": self.trace.trace_id, "spanId": self.span_id, "name": self.name,
                "kind": _KINDS[self.kind], "startTimeUnixNano": str(self.start_ns),
                "endTimeUnixNano": str(self.end_ns), "attributes": kv_list(self.attributes),
                "status": {"code": 2, "message": self.message} if self.error else {}}
        if self.parent_span_id:
            span["parentSpanId"] = self.parent_span_id
        if self.events:
            span["events"] = self.events
        if self.links:
            span["links"] = [{"traceId": s.trace.trace_id, "spanId": s.span_id} for s in self.links]
        return span


class TraceBuilder:
    """One trace; spans are added with `span` (a root) and `SpanBuilder.child`."""

    def __init__(self, start_ns: int, seed: int | None = None, trace_id: str | None = None) -> None:
        self._rng = random.Random(seed)
        self.start_ns = start_ns
        self.trace_id = trace_id or f"{self._rng.getrandbits(128) | 1:032x}"
        self.spans: list[SpanBuilder] = []

    def span(self, service: str, name: str, *, kind: str = "SERVER", offset_ms: float = 0.0,
             duration_ms: float = 1.0, parent: str = "", **kw: Any) -> SpanBuilder:
        start = self.start_ns + int(offset_ms * 1e6)
        return self._add(service, name, kind, start, start + int(duration_ms * 1e6), parent=parent, **kw)

    def _add(self, service: str, name: str, kind: str, start: int, end: int, *, parent: str = "",
             error: bool = False, message: str = "", attributes: dict[str, Any] | None = None,
             version: str = "1.0.0", exception: str | None = None, caught: bool = False,
             links: list[SpanBuilder] | None = None) -> SpanBuilder:
        """`exception` records an exception event and marks the span failed, unless `caught`: then
        the event is all there is (no span status), as in much real telemetry."""
        events = []
        if exception:
            events.append({"timeUnixNano": str(end), "name": "exception",
                           "attributes": kv_list({"exception.type": exception,
                                                  "exception.message": message or exception})})
        s = SpanBuilder(self, service, name, kind, start, end, f"{self._rng.getrandbits(64) | 1:016x}",
                        parent, error or (exception is not None and not caught), message, dict(attributes or {}),
                        version, events, list(links or []))
        self.spans.append(s)
        return s


def traces_request(traces: list[TraceBuilder]) -> dict[str, Any]:
    """An OTLP/JSON ExportTraceServiceRequest holding the spans of the given traces."""
    by_resource: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for t in traces:
        for s in t.spans:
            by_resource.setdefault((s.service, s.version), []).append(s.to_otlp())
    return {"resourceSpans": [
        {"resource": {"attributes": kv_list({"service.name": svc, "service.version": ver})},
         "scopeSpans": [{"scope": {"name": "interplay.testing"}, "spans": spans}]}
        for (svc, ver), spans in by_resource.items()]}
