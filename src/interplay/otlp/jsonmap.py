"""OTLP/JSON export requests (the protobuf JSON mapping: hex ids, int64 as strings) → batches.

Keys may be lowerCamelCase (what the spec and the Collector write) or the proto field names;
unknown keys are ignored so newer producers never lose data here.
"""
from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from ..model import InvalidInput
from .columns import ColumnBuilder, dumps, truncate

SIGNAL_KEYS = {"resourceSpans": "traces", "resource_spans": "traces",
               "resourceLogs": "logs", "resource_logs": "logs",
               "resourceMetrics": "metrics", "resource_metrics": "metrics"}
_HEX = re.compile(r"^[0-9a-fA-F]*$")


def signal_of(doc: Any) -> str | None:
    """Which signal an export request object carries, from its top-level key."""
    if isinstance(doc, dict):
        for key in doc:
            if key in SIGNAL_KEYS:
                return SIGNAL_KEYS[key]
    return None


def add_request(signal: str, doc: Any, b: ColumnBuilder, where: str) -> None:
    if not isinstance(doc, dict):
        raise InvalidInput(f"{where}: expected a JSON object, got {type(doc).__name__}")
    try:
        {"traces": _add_traces, "logs": _add_logs, "metrics": _add_metrics}[signal](doc, b, where)
    except (AttributeError, TypeError, ValueError, KeyError) as exc:
        raise InvalidInput(f"{where}: malformed OTLP/JSON {signal} request: {type(exc).__name__}: {exc}") from None


def _g(d: dict, camel: str, snake: str, default: Any = None) -> Any:
    v = d.get(camel)
    if v is None:
        v = d.get(snake, default)
    return default if v is None else v


def _int(v: Any) -> int:
    return int(v) if v not in (None, "") else 0


def _id(v: Any, size: int) -> str:
    """A hex id as the OTLP/JSON mapping writes it; base64 (plain proto JSON) is tolerated."""
    if not v:
        return ""
    if not isinstance(v, str):
        raise ValueError(f"id must be a string, got {type(v).__name__}")
    if len(v) == size * 2:
        try:
            return bytes.fromhex(v).hex()
        except ValueError:
            pass
    try:
        raw = base64.b64decode(v, validate=True)
        if len(raw) == size:
            return raw.hex()
    except (binascii.Error, ValueError):
        pass
    return v.lower() if _HEX.match(v) else "!" * (len(v) // 2 * 2)  # wrong length → rejected


def any_value(v: Any) -> Any:
    if not isinstance(v, dict):
        return v
    s = v.get("stringValue")
    if s is not None:
        return s if len(s) <= 4096 else truncate(str(s))
    if "intValue" in v:
        return int(v["intValue"])
    if "doubleValue" in v:
        return float(v["doubleValue"])
    if "boolValue" in v:
        return bool(v["boolValue"])
    if "arrayValue" in v:
        return [any_value(x) for x in (v["arrayValue"] or {}).get("values", [])]
    if "kvlistValue" in v:
        return attributes((v["kvlistValue"] or {}).get("values", []))
    if "bytesValue" in v:
        return v["bytesValue"]
    for snake, conv in (("string_value", str), ("int_value", int), ("double_value", float),
                        ("bool_value", bool)):
        if snake in v:
            return conv(v[snake])
    return None


def attributes(kvs: Any) -> dict[str, Any]:
    return {kv["key"]: any_value(kv.get("value")) for kv in kvs or ()}


def _resource(holder: dict) -> tuple[str, str, str]:
    attrs = attributes((holder.get("resource") or {}).get("attributes"))
    return (str(attrs.get("service.name") or ""), str(attrs.get("service.version") or ""),
            dumps(attrs))


def _scope_name(holder: dict) -> str:
    return (holder.get("scope") or holder.get("instrumentationLibrary") or {}).get("name", "")


def _add_traces(doc: dict, b: ColumnBuilder, where: str) -> None:
    for ri, rs in enumerate(_g(doc, "resourceSpans", "resource_spans", [])):
        service, version, resource_json = _resource(rs)
        for si, ss in enumerate(_g(rs, "scopeSpans", "scope_spans", [])):
            scope = _scope_name(ss)
            for pi, s in enumerate(ss.get("spans") or ()):
                status = s.get("status") or {}
                events = [{"time_ns": _int(_g(e, "timeUnixNano", "time_unix_nano")),
                           "name": e.get("name", ""), "attributes": attributes(e.get("attributes"))}
                          for e in s.get("events") or ()]
                links = [{"trace_id": _id(_g(ln, "traceId", "trace_id"), 16),
                          "span_id": _id(_g(ln, "spanId", "span_id"), 8),
                          "attributes": attributes(ln.get("attributes"))} for ln in s.get("links") or ()]
                b.add_span(trace_id=_id(_g(s, "traceId", "trace_id"), 16),
                           span_id=_id(_g(s, "spanId", "span_id"), 8),
                           parent_span_id=_id(_g(s, "parentSpanId", "parent_span_id"), 8),
                           service=service, operation=str(s.get("name", "")),
                           kind=s.get("kind", 0), start_ns=_int(_g(s, "startTimeUnixNano", "start_time_unix_nano")),
                           end_ns=_int(_g(s, "endTimeUnixNano", "end_time_unix_nano")),
                           status_code=status.get("code", 0), status_message=str(status.get("message", "")),
                           service_version=version, scope_name=scope, resource_json=resource_json,
                           attributes=attributes(s.get("attributes")), events=events, links=links,
                           where=f"{where} resourceSpans[{ri}].scopeSpans[{si}].spans[{pi}]")


def _add_logs(doc: dict, b: ColumnBuilder, where: str) -> None:
    for ri, rl in enumerate(_g(doc, "resourceLogs", "resource_logs", [])):
        service, _, resource_json = _resource(rl)
        for si, sl in enumerate(_g(rl, "scopeLogs", "scope_logs", [])):
            scope = _scope_name(sl)
            for pi, r in enumerate(_g(sl, "logRecords", "log_records", [])):
                b.add_log(time_ns=_int(_g(r, "timeUnixNano", "time_unix_nano")),
                          observed_ns=_int(_g(r, "observedTimeUnixNano", "observed_time_unix_nano")),
                          service=service, severity_number=_severity(_g(r, "severityNumber", "severity_number", 0)),
                          severity_text=str(_g(r, "severityText", "severity_text", "")),
                          body=any_value(r.get("body")),
                          trace_id=_id(_g(r, "traceId", "trace_id"), 16),
                          span_id=_id(_g(r, "spanId", "span_id"), 8), scope_name=scope,
                          resource_json=resource_json, attributes=attributes(r.get("attributes")),
                          where=f"{where} resourceLogs[{ri}].scopeLogs[{si}].logRecords[{pi}]")


def _severity(v: Any) -> int:
    if isinstance(v, str) and not v.isdigit():
        return 0  # an enum name such as SEVERITY_NUMBER_INFO; the text field carries it too
    return int(v)


_TEMPORALITY = {0: "", 1: "delta", 2: "cumulative", "AGGREGATION_TEMPORALITY_DELTA": "delta",
                "AGGREGATION_TEMPORALITY_CUMULATIVE": "cumulative"}


def _number(p: dict) -> float | None:
    if "asDouble" in p or "as_double" in p:
        return float(_g(p, "asDouble", "as_double"))
    if "asInt" in p or "as_int" in p:
        return float(int(_g(p, "asInt", "as_int")))
    return None


def _add_metrics(doc: dict, b: ColumnBuilder, where: str) -> None:
    for ri, rm in enumerate(_g(doc, "resourceMetrics", "resource_metrics", [])):
        service, _, resource_json = _resource(rm)
        for si, sm in enumerate(_g(rm, "scopeMetrics", "scope_metrics", [])):
            for mi, m in enumerate(sm.get("metrics") or ()):
                loc = f"{where} resourceMetrics[{ri}].scopeMetrics[{si}].metrics[{mi}]"
                common = dict(service=service, name=str(m.get("name", "")), unit=str(m.get("unit", "")),
                              resource_json=resource_json, where=loc)
                which = next((k for k in ("gauge", "sum", "histogram", "exponentialHistogram",
                                          "exponential_histogram", "summary") if k in m), None)
                if which is None:
                    b.reject(f"metric rejected ({loc}): no data")
                    continue
                data = m[which] or {}
                kind = "exponential_histogram" if which.startswith("exponential") else which
                temp = _TEMPORALITY.get(_g(data, "aggregationTemporality", "aggregation_temporality", 0), "")
                for p in _g(data, "dataPoints", "data_points", []):
                    t = _int(_g(p, "timeUnixNano", "time_unix_nano"))
                    st = _int(_g(p, "startTimeUnixNano", "start_time_unix_nano"))
                    attrs = attributes(p.get("attributes"))
                    if kind in ("gauge", "sum"):
                        b.add_point(time_ns=t, start_ns=st, type=kind, value=_number(p),
                                    is_monotonic=bool(_g(data, "isMonotonic", "is_monotonic", False)) if kind == "sum" else None,
                                    temporality=temp if kind == "sum" else "", attributes=attrs, **common)
                        continue
                    count, total = _int(p.get("count")), float(p.get("sum") or 0.0)
                    quantiles = _g(p, "quantileValues", "quantile_values", []) if kind == "summary" else []
                    b.add_point(time_ns=t, start_ns=st, type=kind,
                                value=total / count if count else None, count=count, sum=total,
                                min=float(p["min"]) if "min" in p else None,
                                max=float(p["max"]) if "max" in p else None,
                                bucket_counts=([_int(x) for x in _g(p, "bucketCounts", "bucket_counts", [])]
                                               if kind == "histogram" else [float(q.get("value", 0)) for q in quantiles] or None),
                                bounds=([float(x) for x in _g(p, "explicitBounds", "explicit_bounds", [])]
                                        if kind == "histogram" else [float(q.get("quantile", 0)) for q in quantiles] or None),
                                temporality=temp, attributes=attrs, **common)
