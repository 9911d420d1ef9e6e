"""OTLP protobuf export requests → columnar batches."""
from __future__ import annotations

import base64
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from ..batch import TelemetryBatch
from ..model import InvalidInput
from .columns import MAX_DEPTH, MAX_STRING, ColumnBuilder, dumps, truncate
from .proto_text import repair_utf8
from .sanitize import repaired_warning

REQUEST_TYPES: dict[str, Any] = {  # protobuf message classes (untyped: no stubs)
    "traces": ExportTraceServiceRequest,
    "logs": ExportLogsServiceRequest,
    "metrics": ExportMetricsServiceRequest,
}


def decode(signal: str, data: bytes, where: str = "body") -> TelemetryBatch:
    """Protobuf bytes of one export request → batch (repairs reported as warnings); InvalidInput
    when the bytes are not such a request at all."""
    message, warnings = parse_request(signal, data, where)
    batch = decode_request(signal, message, where=where)
    batch.warnings[:0] = warnings
    return batch


def parse_request(signal: str, data: bytes, where: str = "body") -> tuple[Any, list[str]]:
    """Parse protobuf bytes of one export request → (message, warnings); InvalidInput names what failed.

    Strings that are not valid UTF-8 (which the protobuf runtime refuses outright) are repaired
    with U+FFFD and named in the warnings, so one bad string does not lose the whole request.
    """
    message = REQUEST_TYPES[signal]()
    try:
        message.ParseFromString(data)
        return message, []
    except (DecodeError, RuntimeError, ValueError) as exc:
        error = exc
    repaired = repair_utf8(REQUEST_TYPES[signal], data, where)
    if repaired is not None:
        data, paths = repaired
        try:
            message.ParseFromString(data)
            return message, [repaired_warning("invalid UTF-8", paths)]
        except (DecodeError, RuntimeError, ValueError):
            pass
    raise InvalidInput(f"{where}: not a valid OTLP protobuf {message.DESCRIPTOR.name}: {error}") from None


def decode_request(signal: str, message: Any, builder: ColumnBuilder | None = None,
                   where: str = "body") -> TelemetryBatch:
    """Decode a parsed export request of the given signal into a batch."""
    own = builder is None
    builder = builder or ColumnBuilder()
    try:
        {"traces": add_traces, "logs": add_logs, "metrics": add_metrics}[signal](message, builder, where)
    except _BAD as exc:  # a resource that cannot be read (records are rejected one by one below it)
        builder.build()
        raise InvalidInput(f"{where}: {exc}") from None
    return builder.build() if own else TelemetryBatch()


def any_value(v: Any, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise ValueError(f"attribute value nested deeper than {MAX_DEPTH} levels")
    which = v.WhichOneof("value")
    if which == "string_value":
        return truncate(v.string_value)
    if which == "int_value":
        return v.int_value
    if which == "double_value":
        return v.double_value
    if which == "bool_value":
        return v.bool_value
    if which == "array_value":
        return [any_value(x, depth + 1) for x in v.array_value.values]
    if which == "kvlist_value":
        return attributes(v.kvlist_value.values, depth + 1)
    if which == "bytes_value":
        return truncate(base64.b64encode(v.bytes_value[:MAX_STRING]).decode()) + (
            f"…[truncated {len(v.bytes_value) - MAX_STRING} bytes]" if len(v.bytes_value) > MAX_STRING else "")
    return None


def attributes(kvs: Any, depth: int = 0) -> dict[str, Any]:
    return {truncate(kv.key): any_value(kv.value, depth) for kv in kvs}


# What a record with a value we cannot store raises while being read (see `_each`).
_BAD = (ValueError, TypeError, OverflowError, RecursionError)


def _resource(resource: Any) -> tuple[dict[str, Any], str, str, str]:
    attrs = attributes(resource.attributes)
    return (attrs, str(attrs.get("service.name") or ""), str(attrs.get("service.version") or ""),
            dumps(attrs))


def add_traces(req: ExportTraceServiceRequest, b: ColumnBuilder, where: str) -> None:
    for ri, rs in enumerate(req.resource_spans):
        _, service, version, resource_json = _resource(rs.resource)
        for si, ss in enumerate(rs.scope_spans):
            scope = ss.scope
            for pi, s in enumerate(ss.spans):
                loc = f"{where} resourceSpans[{ri}].scopeSpans[{si}].spans[{pi}]"
                try:
                    _add_span(b, s, service, version, scope, resource_json, loc)
                except _BAD as exc:
                    b.reject(f"span rejected ({loc}): {exc}")


def _add_span(b: ColumnBuilder, s: Any, service: str, version: str, scope: Any, resource_json: str,
              loc: str) -> None:
    events = [{"time_ns": e.time_unix_nano, "name": truncate(e.name, 1024),
               "attributes": attributes(e.attributes)} for e in s.events]
    links = [_link(ln.trace_id.hex(), ln.span_id.hex(), ln.trace_state, attributes(ln.attributes))
             for ln in s.links]
    b.add_span(trace_id=s.trace_id.hex(), span_id=s.span_id.hex(),
               parent_span_id=s.parent_span_id.hex(), service=service,
               operation=s.name, kind=s.kind, start_ns=s.start_time_unix_nano,
               end_ns=s.end_time_unix_nano, status_code=s.status.code,
               status_message=s.status.message, service_version=version,
               scope_name=scope.name, resource_json=resource_json,
               attributes=attributes(s.attributes), events=events, links=links, where=loc,
               trace_state=s.trace_state, scope_version=scope.version)


def _link(trace_id: str, span_id: str, trace_state: str, attrs: dict) -> dict[str, Any]:
    link: dict[str, Any] = {"trace_id": trace_id, "span_id": span_id, "attributes": attrs}
    if trace_state:
        link["trace_state"] = trace_state
    return link


def add_logs(req: ExportLogsServiceRequest, b: ColumnBuilder, where: str) -> None:
    for ri, rl in enumerate(req.resource_logs):
        _, service, _, resource_json = _resource(rl.resource)
        for si, sl in enumerate(rl.scope_logs):
            scope = sl.scope
            for pi, r in enumerate(sl.log_records):
                loc = f"{where} resourceLogs[{ri}].scopeLogs[{si}].logRecords[{pi}]"
                try:
                    _add_log(b, r, service, scope, resource_json, loc)
                except _BAD as exc:
                    b.reject(f"log rejected ({loc}): {exc}")


def _add_log(b: ColumnBuilder, r: Any, service: str, scope: Any, resource_json: str, loc: str) -> None:
    b.add_log(time_ns=r.time_unix_nano, observed_ns=r.observed_time_unix_nano,
              service=service, severity_number=r.severity_number,
              severity_text=r.severity_text, body=any_value(r.body),
              trace_id=r.trace_id.hex(), span_id=r.span_id.hex(), scope_name=scope.name,
              resource_json=resource_json, attributes=attributes(r.attributes), where=loc,
              event_name=getattr(r, "event_name", ""), trace_flags=r.flags & 0xFF, scope_version=scope.version)


_TEMPORALITY = {0: "", 1: "delta", 2: "cumulative"}


def add_metrics(req: ExportMetricsServiceRequest, b: ColumnBuilder, where: str) -> None:
    for ri, rm in enumerate(req.resource_metrics):
        _, service, _, resource_json = _resource(rm.resource)
        for si, sm in enumerate(rm.scope_metrics):
            for mi, m in enumerate(sm.metrics):
                loc = f"{where} resourceMetrics[{ri}].scopeMetrics[{si}].metrics[{mi}]"
                try:
                    _add_metric(b, m, service, resource_json, loc, sm.scope)
                except _BAD as exc:
                    b.reject(f"metric rejected ({loc}): {exc}")


def _add_metric(b: ColumnBuilder, m: Any, service: str, resource_json: str, loc: str, scope: Any) -> None:
    which = m.WhichOneof("data")
    if which is None:
        b.reject(f"metric rejected ({loc}): no data")
        return
    data = getattr(m, which)
    common = dict(service=service, name=m.name, unit=m.unit, description=m.description,
                  scope_name=scope.name, scope_version=scope.version, resource_json=resource_json)
    for di, p in enumerate(data.data_points):
        point_loc = f"{loc}.dataPoints[{di}]"
        try:
            b.add_point(where=point_loc, **common, **_POINT[which](p, data))
        except _BAD as exc:
            b.reject(f"metric point rejected ({point_loc}): {exc}")


def _number_point(which: str):
    def read(p: Any, data: Any) -> dict:
        value = p.as_double if p.WhichOneof("value") == "as_double" else float(p.as_int)
        return dict(time_ns=p.time_unix_nano, start_ns=p.start_time_unix_nano, type=which, value=value,
                    is_monotonic=data.is_monotonic if which == "sum" else None,
                    temporality=_TEMPORALITY.get(data.aggregation_temporality, "") if which == "sum" else "",
                    flags=p.flags, exemplars=_exemplars(p.exemplars), attributes=attributes(p.attributes))
    return read


def _histogram_point(which: str):
    def read(p: Any, data: Any) -> dict:
        hist = which == "histogram"
        return dict(time_ns=p.time_unix_nano, start_ns=p.start_time_unix_nano, type=which,
                    value=(p.sum / p.count) if p.count else None, count=p.count, sum=p.sum,
                    min=p.min if p.HasField("min") else None, max=p.max if p.HasField("max") else None,
                    bucket_counts=list(p.bucket_counts) if hist else None,
                    bounds=list(p.explicit_bounds) if hist else None,
                    flags=p.flags, exemplars=_exemplars(p.exemplars), exp=None if hist else _exp_buckets(p),
                    temporality=_TEMPORALITY.get(data.aggregation_temporality, ""),
                    attributes=attributes(p.attributes))
    return read


def _summary_point(p: Any, data: Any) -> dict:
    return dict(time_ns=p.time_unix_nano, start_ns=p.start_time_unix_nano, type="summary",
                value=(p.sum / p.count) if p.count else None, count=p.count, sum=p.sum,
                bucket_counts=[q.value for q in p.quantile_values], bounds=[q.quantile for q in p.quantile_values],
                flags=p.flags, attributes=attributes(p.attributes))


_POINT = {"gauge": _number_point("gauge"), "sum": _number_point("sum"),
          "histogram": _histogram_point("histogram"),
          "exponential_histogram": _histogram_point("exponential_histogram"), "summary": _summary_point}


def _exemplars(exemplars: Any) -> list[dict[str, Any]]:
    return [{"time_ns": e.time_unix_nano,
             "value": e.as_double if e.WhichOneof("value") == "as_double" else float(e.as_int),
             "trace_id": e.trace_id.hex(), "span_id": e.span_id.hex(),
             "attributes": attributes(e.filtered_attributes)} for e in exemplars]


def _exp_buckets(p: Any) -> dict[str, Any]:
    return {"scale": p.scale, "zero_count": p.zero_count,
            "positive_offset": p.positive.offset, "positive": list(p.positive.bucket_counts),
            "negative_offset": p.negative.offset, "negative": list(p.negative.bucket_counts)}
