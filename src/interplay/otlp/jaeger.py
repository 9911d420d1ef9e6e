"""Jaeger UI "Download JSON" / query API (`/api/traces`) JSON → batches, mapped as the Collector's
Jaeger translator maps Jaeger spans.

- Each span's process (`processes[processID]`) is its resource: `serviceName` is `service.name`,
  its tags the other attributes (`hostname` becomes `host.name`).
- The `span.kind` tag is the kind; `otel.scope.name`/`otel.scope.version` tags the scope;
  `w3c.tracestate` the trace state.
- Status: an `error` tag that is true makes it ERROR (message from `otel.status_description`, else
  `http.status_message`); otherwise `otel.status_code`; otherwise an HTTP or gRPC code that says it
  failed (`otlp.status`).
- The parent is the first CHILD_OF reference within the trace, else the first FOLLOWS_FROM one (Jaeger's
  own rule, which the UI draws and the Collector keeps); every reference but a CHILD_OF parent
  becomes a link with `opentracing.ref_type`, so a FOLLOWS_FROM parent is a link too.
- Logs are events, named by their `event` field.
- Times are microseconds; 64-bit trace ids are left-padded to 128 bits.
"""
from __future__ import annotations

from typing import Any

from ..model import InvalidInput
from ._ids import padded_hex_id
from .columns import ColumnBuilder, dumps

FORMAT = "Jaeger JSON"
_KINDS = {"client": "CLIENT", "server": "SERVER", "producer": "PRODUCER", "consumer": "CONSUMER",
          "internal": "INTERNAL"}


def is_jaeger(doc: Any) -> bool:
    """`{"data": [{"traceID", "spans", "processes"}, ...]}` (what the Jaeger UI downloads and the query
    API answers), or one such trace alone or a list of them (what the UI's JSON-file view opens)."""
    if isinstance(doc, dict) and isinstance(doc.get("data"), list):
        first = next(iter(doc["data"]), None)
        return first is None or isinstance(first, dict) and ("spans" in first or "traceID" in first)
    if isinstance(doc, list) and doc:
        doc = doc[0]
    return isinstance(doc, dict) and "traceID" in doc and isinstance(doc.get("spans"), list)


def add_traces(doc: Any, b: ColumnBuilder, where: str) -> None:
    """Every span of every trace in the document."""
    traces = doc.get("data") if isinstance(doc, dict) and "data" in doc else doc
    for ti, trace in enumerate([traces] if isinstance(traces, dict) else traces or ()):
        if not isinstance(trace, dict):
            raise InvalidInput(f"{where}: {FORMAT}: data[{ti}] must be an object, got {type(trace).__name__}")
        processes = trace.get("processes") or {}
        for si, span in enumerate(trace.get("spans") or ()):
            loc = f"{where} {FORMAT} data[{ti}].spans[{si}]"
            try:
                _add_span(span, processes, b, loc)
            except (TypeError, ValueError, AttributeError, KeyError) as exc:
                b.reject(f"span rejected ({loc}): {exc}")


def _add_span(s: dict, processes: dict, b: ColumnBuilder, where: str) -> None:
    process = s.get("process") or processes.get(s.get("processID"))
    if process is None:
        raise ValueError(f"processID {s.get('processID')!r} is not in the trace's processes")
    resource = _resource(process)
    tags = _tags(s.get("tags"))
    kind = _KINDS.get(str(tags.pop("span.kind", "")).lower(), "UNSPECIFIED")
    scope = str(tags.pop("otel.scope.name", tags.pop("otel.library.name", "")))
    scope_version = str(tags.pop("otel.scope.version", tags.pop("otel.library.version", "")))
    trace_state = str(tags.pop("w3c.tracestate", ""))
    status, message = _status(tags)
    trace_id = padded_hex_id(s.get("traceID"), 16, "traceID")
    parent, links = _references(s.get("references") or (), trace_id)
    start_us, duration_us = _micros(s.get("startTime"), "startTime"), _micros(s.get("duration"), "duration")
    b.add_span(trace_id=trace_id, span_id=padded_hex_id(s.get("spanID"), 8, "spanID"), parent_span_id=parent,
               service=str(resource.get("service.name", "")), operation=str(s.get("operationName") or ""),
               kind=kind, start_ns=start_us * 1000, end_ns=(start_us + duration_us) * 1000,
               status_code=status, status_message=message,
               service_version=str(resource.get("service.version", "")), scope_name=scope,
               resource_json=dumps(resource), attributes=tags,
               events=[_event(log) for log in s.get("logs") or ()], links=links, where=where,
               trace_state=trace_state, scope_version=scope_version)


def _resource(process: dict) -> dict[str, Any]:
    attrs = _tags(process.get("tags"))
    if "hostname" in attrs and "host.name" not in attrs:
        attrs["host.name"] = attrs.pop("hostname")
    if process.get("serviceName"):
        attrs = {"service.name": str(process["serviceName"]), **attrs}
    return attrs


def _tags(tags: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for tag in tags or ():
        value, kind = tag.get("value"), str(tag.get("type") or "string").lower()
        if kind == "bool" and isinstance(value, str):
            value = value.lower() == "true"
        elif kind == "int64" and isinstance(value, str):
            value = int(value)
        elif kind == "float64" and isinstance(value, str):
            value = float(value)
        out[str(tag["key"])] = value
    return out


def _status(tags: dict[str, Any]) -> tuple[str, str]:
    error = tags.get("error")
    if error is True or isinstance(error, str) and error.lower() == "true":
        tags.pop("error")
        tags.pop("otel.status_code", None)
        if "otel.status_description" in tags:
            return "ERROR", str(tags.pop("otel.status_description"))
        return "ERROR", str(tags.get("http.status_message", ""))
    if "otel.status_code" in tags:
        code = str(tags.pop("otel.status_code")).upper()
        return ({"OK": "OK", "ERROR": "ERROR"}.get(code, "UNSET"),
                str(tags.pop("otel.status_description", "")))
    return "UNSET", ""  # an HTTP or gRPC code in the tags still makes it ERROR (otlp.status, for every format)


def _references(refs: Any, trace_id: str) -> tuple[str, list[dict[str, Any]]]:
    """(parent span id, links): see the module docstring."""
    parsed = []
    for ref in refs:
        child_of = str(ref.get("refType") or "CHILD_OF").upper() == "CHILD_OF"
        ref_trace = padded_hex_id(ref.get("traceID") or trace_id, 16, "references.traceID")
        parsed.append((child_of, ref_trace, padded_hex_id(ref.get("spanID"), 8, "references.spanID")))
    same_trace = [(child_of, span_id) for child_of, t, span_id in parsed if t == trace_id]
    parent = next((span_id for child_of, span_id in same_trace if child_of), "") or \
        next((span_id for _, span_id in same_trace), "")
    links = [{"trace_id": t, "span_id": span_id,
              "attributes": {"opentracing.ref_type": "child_of" if child_of else "follows_from"}}
             for child_of, t, span_id in parsed if not (child_of and t == trace_id and span_id == parent)]
    return parent, links


def _event(log: dict) -> dict[str, Any]:
    fields = _tags(log.get("fields"))
    name = str(fields.pop("event", "")) if "event" in fields else ""
    return {"time_ns": _micros(log.get("timestamp"), "logs.timestamp") * 1000, "name": name,
            "attributes": fields}


def _micros(value: Any, field: str) -> int:
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{field} must be microseconds since the epoch, got {value!r}")
    return int(value)
