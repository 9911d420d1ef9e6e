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
from .columns import MAX_DEPTH, MAX_NAME, ColumnBuilder, dumps, truncate

SIGNAL_KEYS = {"resourceSpans": "traces", "resource_spans": "traces",
               "resourceLogs": "logs", "resource_logs": "logs",
               "resourceMetrics": "metrics", "resource_metrics": "metrics"}
_HEX = re.compile(r"^[0-9a-fA-F]*$")  # hex of any length (the builder checks the length)


def signal_of(doc: Any) -> str | None:
    """Which signal an export request object carries, from its top-level key."""
    if isinstance(doc, dict):
        for key in doc:
            if key in SIGNAL_KEYS:
                return SIGNAL_KEYS[key]
    return None


def add_request(signal: str, doc: Any, b: ColumnBuilder, where: str) -> None:
    """Append every valid record of an export request; a bad record is rejected with its path.

    Only a request whose top level is not the right shape at all raises InvalidInput.
    """
    if not isinstance(doc, dict):
        raise InvalidInput(f"{where}: expected a JSON object, got {type(doc).__name__}")
    camel, snake = _TOP[signal]
    top = _g(doc, camel, snake, [])
    if not isinstance(top, list):
        raise InvalidInput(f"{where}: malformed OTLP/JSON {signal} request: {camel} must be a list, "
                           f"got {type(top).__name__}")
    _RECORDS[signal](top, b, f"{where} {camel}")


_TOP = {"traces": ("resourceSpans", "resource_spans"), "logs": ("resourceLogs", "resource_logs"),
        "metrics": ("resourceMetrics", "resource_metrics")}
# What a malformed record raises while its fields are read; anything else is a bug of ours.
_BAD = (AttributeError, TypeError, ValueError, KeyError, OverflowError, IndexError, RecursionError)


def _g(d: dict, camel: str, snake: str, default: Any = None) -> Any:
    v = d.get(camel)
    if v is None:
        v = d.get(snake, default)
    return default if v is None else v


def _items(holder: Any, camel: str, snake: str, where: str) -> list:
    if not isinstance(holder, dict):
        raise TypeError(f"{where} must be an object, got {type(holder).__name__}")
    items = _g(holder, camel, snake, [])
    if not isinstance(items, list):
        raise TypeError(f"{where}.{camel} must be a list, got {type(items).__name__}")
    return items


def _int(v: Any, name: str = "value", lo: int | None = None, hi: int | None = None) -> int:
    """An integer as OTLP/JSON writes it (a number or a decimal string), within lo..hi if given
    (timestamps are range-checked by the builder, which names the range that matters)."""
    if v in (None, ""):
        return 0
    if isinstance(v, bool) or not isinstance(v, (int, str, float)):
        raise TypeError(f"{name} must be an integer, got {type(v).__name__}")
    if isinstance(v, str) and len(v) > 24 or isinstance(v, float) and not abs(v) < 1e24:
        raise ValueError(f"{name} {str(v)[:24]!r}… is not an integer in range")
    n = int(v)
    if isinstance(v, float) and n != v:
        raise ValueError(f"{name} {v!r} is not an integer")
    if lo is not None and hi is not None and not lo <= n <= hi:
        raise ValueError(f"{name} {n} is outside {lo}..{hi}")
    return n


def _text(v: Any, name: str) -> str:
    if v is None:
        return ""
    if not isinstance(v, str):
        raise TypeError(f"{name} must be a string, got {type(v).__name__}")
    return v


def _id(v: Any, size: int, name: str = "id") -> str:
    """A hex id as the OTLP/JSON mapping writes it; base64 (plain proto JSON) is tolerated."""
    if not v:
        return ""
    if not isinstance(v, str):
        raise TypeError(f"{name} must be a string, got {type(v).__name__}")
    if len(v) == size * 2 and _HEX.match(v):
        return v.lower()
    try:
        raw = base64.b64decode(v, validate=True)
        if len(raw) == size:
            return raw.hex()
    except (binascii.Error, ValueError):
        pass
    if _HEX.match(v):
        return v.lower()  # hex of the wrong length: the builder rejects it, naming the length
    raise ValueError(f"{name} {v[:40]!r} is neither hex nor base64 of {size} bytes")


def _lenient_id(v: Any, size: int) -> str:
    try:
        return _id(v, size)
    except _BAD:
        return ""  # a log's broken correlation id does not make the log itself invalid


def any_value(v: Any, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise ValueError(f"attribute value nested deeper than {MAX_DEPTH} levels")
    if not isinstance(v, dict):
        return truncate(v) if isinstance(v, str) else v
    s = v.get("stringValue")
    if s is not None:
        return truncate(_text(s, "stringValue"))
    if "intValue" in v:
        return _int(v["intValue"], "intValue", -2**63, 2**63 - 1)
    if "doubleValue" in v:
        return float(v["doubleValue"])
    if "boolValue" in v:
        return bool(v["boolValue"])
    if "arrayValue" in v:
        return [any_value(x, depth + 1) for x in _items(v["arrayValue"] or {}, "values", "values", "arrayValue")]
    if "kvlistValue" in v:
        return attributes(_items(v["kvlistValue"] or {}, "values", "values", "kvlistValue"), depth + 1)
    if "bytesValue" in v:
        return truncate(_text(v["bytesValue"], "bytesValue"))
    if "string_value" in v:
        return truncate(_text(v["string_value"], "string_value"))
    if "int_value" in v:
        value = int(v["int_value"])
        if not -2**63 <= value < 2**63:
            raise ValueError(f"int_value {value} is outside int64")
        return value
    for snake, conv in (("double_value", float), ("bool_value", bool)):
        if snake in v:
            return conv(v[snake])
    return None


def attributes(kvs: Any, depth: int = 0) -> dict[str, Any]:
    if not kvs:
        return {}
    if not isinstance(kvs, list):
        raise TypeError(f"attributes must be a list, got {type(kvs).__name__}")
    return {truncate(_text(kv["key"], "attribute key")): any_value(kv.get("value"), depth) for kv in kvs}


def _resource(holder: dict) -> tuple[str, str, str]:
    resource = holder.get("resource") or {}
    if not isinstance(resource, dict):
        raise TypeError(f"resource must be an object, got {type(resource).__name__}")
    attrs = attributes(resource.get("attributes"))
    return (str(attrs.get("service.name") or ""), str(attrs.get("service.version") or ""),
            dumps(attrs))


def _scope(holder: dict) -> tuple[str, str]:
    """(name, version) of a scopeSpans/scopeLogs/scopeMetrics entry's scope."""
    scope = holder.get("scope") or holder.get("instrumentationLibrary") or {}
    if not isinstance(scope, dict):
        raise TypeError(f"scope must be an object, got {type(scope).__name__}")
    return _text(scope.get("name"), "scope.name"), _text(scope.get("version"), "scope.version")


def _walk(top: list, b: ColumnBuilder, where: str, scopes: tuple[str, str], records: tuple[str, str],
          what: str):
    """(record, its path, resource, (scope name, version)) for every record; a broken resource, scope or record
    is rejected with its path (each record under it counted) and the walk goes on."""
    for ri, rs in enumerate(top):
        rwhere = f"{where}[{ri}]"
        try:
            resource = _resource(rs)
            scope_list = _items(rs, *scopes, rwhere)
        except _BAD as exc:
            b.reject(f"{what} rejected ({rwhere}): {exc}", _count(rs, scopes, records))
            continue
        for si, ss in enumerate(scope_list):
            swhere = f"{rwhere}.{scopes[0]}[{si}]"
            try:
                scope = _scope(ss)
                items = _items(ss, *records, swhere)
            except _BAD as exc:
                b.reject(f"{what} rejected ({swhere}): {exc}", _count_one(ss, records))
                continue
            for pi, item in enumerate(items):
                yield item, f"{swhere}.{records[0]}[{pi}]", resource, scope


def _count(rs: Any, scopes: tuple[str, str], records: tuple[str, str]) -> int:
    try:
        return max(1, sum(_count_one(ss, records) for ss in _g(rs, *scopes, [])))
    except _BAD:
        return 1


def _count_one(ss: Any, records: tuple[str, str]) -> int:
    try:
        return max(1, len(_g(ss, *records, [])))
    except _BAD:
        return 1


def _add_traces(top: list, b: ColumnBuilder, where: str) -> None:
    for s, loc, (service, version, resource_json), scope in _walk(
            top, b, where, ("scopeSpans", "scope_spans"), ("spans", "spans"), "span"):
        try:
            if not isinstance(s, dict):
                raise TypeError(f"a span must be an object, got {type(s).__name__}")
            status = s.get("status") or {}
            events = [{"time_ns": _int(_g(e, "timeUnixNano", "time_unix_nano"), "event time", 0, 2**64 - 1),
                       "name": truncate(_text(e.get("name"), "event name"), MAX_NAME),
                       "attributes": attributes(e.get("attributes"))}
                      for e in s.get("events") or ()]
            links = [_link(ln) for ln in s.get("links") or ()]
            b.add_span(trace_id=_id(_g(s, "traceId", "trace_id"), 16, "traceId"),
                       span_id=_id(_g(s, "spanId", "span_id"), 8, "spanId"),
                       parent_span_id=_id(_g(s, "parentSpanId", "parent_span_id"), 8, "parentSpanId"),
                       service=service, operation=_text(s.get("name"), "name"),
                       kind=s.get("kind", 0),
                       start_ns=_int(_g(s, "startTimeUnixNano", "start_time_unix_nano"), "startTimeUnixNano"),
                       end_ns=_int(_g(s, "endTimeUnixNano", "end_time_unix_nano"), "endTimeUnixNano"),
                       status_code=status.get("code", 0),
                       status_message=_text(status.get("message"), "status.message"),
                       service_version=version, scope_name=scope[0], resource_json=resource_json,
                       attributes=attributes(s.get("attributes")), events=events, links=links, where=loc,
                       trace_state=_text(_g(s, "traceState", "trace_state", ""), "traceState"),
                       scope_version=scope[1])
        except _BAD as exc:
            b.reject(f"span rejected ({loc}): {_reason(exc)}")


def _link(ln: Any) -> dict[str, Any]:
    if not isinstance(ln, dict):
        raise TypeError(f"a link must be an object, got {type(ln).__name__}")
    link = {"trace_id": _id(_g(ln, "traceId", "trace_id"), 16, "link traceId"),
            "span_id": _id(_g(ln, "spanId", "span_id"), 8, "link spanId"),
            "attributes": attributes(ln.get("attributes"))}
    state = _text(_g(ln, "traceState", "trace_state", ""), "link traceState")
    if state:
        link["trace_state"] = state
    return link


def _add_logs(top: list, b: ColumnBuilder, where: str) -> None:
    for r, loc, (service, _, resource_json), scope in _walk(
            top, b, where, ("scopeLogs", "scope_logs"), ("logRecords", "log_records"), "log"):
        try:
            if not isinstance(r, dict):
                raise TypeError(f"a log record must be an object, got {type(r).__name__}")
            b.add_log(time_ns=_int(_g(r, "timeUnixNano", "time_unix_nano"), "timeUnixNano"),
                      observed_ns=_int(_g(r, "observedTimeUnixNano", "observed_time_unix_nano"),
                                       "observedTimeUnixNano"),
                      service=service,
                      severity_number=_severity(_g(r, "severityNumber", "severity_number", 0)),
                      severity_text=_text(_g(r, "severityText", "severity_text", ""), "severityText"),
                      body=any_value(r.get("body")),
                      trace_id=_lenient_id(_g(r, "traceId", "trace_id"), 16),
                      span_id=_lenient_id(_g(r, "spanId", "span_id"), 8), scope_name=scope[0],
                      resource_json=resource_json, attributes=attributes(r.get("attributes")), where=loc,
                      event_name=_text(_g(r, "eventName", "event_name", ""), "eventName"),
                      trace_flags=_int(r.get("flags"), "flags", 0, 2**32 - 1), scope_version=scope[1])
        except _BAD as exc:
            b.reject(f"log rejected ({loc}): {_reason(exc)}")


def _severity(v: Any) -> int:
    if isinstance(v, str) and not v.isdigit():
        return 0  # an enum name such as SEVERITY_NUMBER_INFO; the text field carries it too
    return _int(v, "severityNumber", 0, 24)


_TEMPORALITY = {0: "", 1: "delta", 2: "cumulative", "AGGREGATION_TEMPORALITY_DELTA": "delta",
                "AGGREGATION_TEMPORALITY_CUMULATIVE": "cumulative"}


def _number(p: dict) -> float | None:
    if "asDouble" in p or "as_double" in p:
        return float(_g(p, "asDouble", "as_double"))
    if "asInt" in p or "as_int" in p:
        return float(_int(_g(p, "asInt", "as_int"), "asInt", -2**63, 2**63 - 1))
    return None


def _add_metrics(top: list, b: ColumnBuilder, where: str) -> None:
    for m, loc, (service, _, resource_json), scope in _walk(
            top, b, where, ("scopeMetrics", "scope_metrics"), ("metrics", "metrics"), "metric"):
        try:
            _add_metric(m, b, loc, service, resource_json, scope)
        except _BAD as exc:
            b.reject(f"metric rejected ({loc}): {_reason(exc)}")


def _add_metric(m: Any, b: ColumnBuilder, loc: str, service: str, resource_json: str,
                scope: tuple[str, str]) -> None:
    if not isinstance(m, dict):
        raise TypeError(f"a metric must be an object, got {type(m).__name__}")
    common = dict(service=service, name=_text(m.get("name"), "name"), unit=_text(m.get("unit"), "unit"),
                  description=_text(m.get("description"), "description"), scope_name=scope[0],
                  scope_version=scope[1], resource_json=resource_json)
    which = next((k for k in ("gauge", "sum", "histogram", "exponentialHistogram",
                              "exponential_histogram", "summary") if k in m), None)
    if which is None:
        b.reject(f"metric rejected ({loc}): no data")
        return
    data = m[which] or {}
    kind = "exponential_histogram" if which.startswith("exponential") else which
    temporality = _g(data, "aggregationTemporality", "aggregation_temporality", 0)
    temp = _TEMPORALITY.get(temporality, "") if isinstance(temporality, (int, str)) else ""
    for di, p in enumerate(_items(data, "dataPoints", "data_points", which)):
        point_loc = f"{loc}.dataPoints[{di}]"
        try:
            _add_data_point(p, b, kind, data, temp, common, point_loc)
        except _BAD as exc:
            b.reject(f"metric point rejected ({point_loc}): {_reason(exc)}")


def _add_data_point(p: Any, b: ColumnBuilder, kind: str, data: dict, temp: str, common: dict,
                    where: str) -> None:
    if not isinstance(p, dict):
        raise TypeError(f"a data point must be an object, got {type(p).__name__}")
    t = _int(_g(p, "timeUnixNano", "time_unix_nano"), "timeUnixNano")
    st = _int(_g(p, "startTimeUnixNano", "start_time_unix_nano"), "startTimeUnixNano")
    attrs = attributes(p.get("attributes"))
    common = dict(common, flags=_int(p.get("flags"), "flags", 0, 2**32 - 1), exemplars=_exemplars(p.get("exemplars")))
    if kind in ("gauge", "sum"):
        b.add_point(time_ns=t, start_ns=st, type=kind, value=_number(p),
                    is_monotonic=bool(_g(data, "isMonotonic", "is_monotonic", False)) if kind == "sum" else None,
                    temporality=temp if kind == "sum" else "", attributes=attrs, where=where, **common)
        return
    count, total = _int(p.get("count"), "count"), float(p.get("sum") or 0.0)
    quantiles = _g(p, "quantileValues", "quantile_values", []) if kind == "summary" else []
    b.add_point(time_ns=t, start_ns=st, type=kind,
                value=total / count if count else None, count=count, sum=total,
                min=float(p["min"]) if "min" in p else None,
                max=float(p["max"]) if "max" in p else None,
                bucket_counts=([_int(x, "bucketCounts") for x in _g(p, "bucketCounts", "bucket_counts", [])]
                               if kind == "histogram" else [float(q.get("value", 0)) for q in quantiles] or None),
                bounds=([float(x) for x in _g(p, "explicitBounds", "explicit_bounds", [])]
                        if kind == "histogram" else [float(q.get("quantile", 0)) for q in quantiles] or None),
                exp=_exp_buckets(p) if kind == "exponential_histogram" else None,
                temporality=temp, attributes=attrs, where=where, **common)


def _exemplars(items: Any) -> list[dict[str, Any]]:
    if not isinstance(items, (list, type(None))):
        raise TypeError(f"exemplars must be a list, got {type(items).__name__}")
    return [{"time_ns": _int(_g(e, "timeUnixNano", "time_unix_nano"), "exemplar time", 0, 2**64 - 1),
             "value": _number(e), "trace_id": _lenient_id(_g(e, "traceId", "trace_id"), 16),
             "span_id": _lenient_id(_g(e, "spanId", "span_id"), 8),
             "attributes": attributes(_g(e, "filteredAttributes", "filtered_attributes"))} for e in items or ()]


def _exp_buckets(p: dict) -> dict[str, Any]:
    pos, neg = p.get("positive") or {}, p.get("negative") or {}
    return {"scale": _int(p.get("scale"), "scale"), "zero_count": _int(_g(p, "zeroCount", "zero_count"), "zeroCount"),
            "positive_offset": _int(pos.get("offset"), "positive.offset"),
            "positive": [_int(x, "positive.bucketCounts") for x in _g(pos, "bucketCounts", "bucket_counts", [])],
            "negative_offset": _int(neg.get("offset"), "negative.offset"),
            "negative": [_int(x, "negative.bucketCounts") for x in _g(neg, "bucketCounts", "bucket_counts", [])]}


def _reason(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:200] + "…"


_RECORDS = {"traces": _add_traces, "logs": _add_logs, "metrics": _add_metrics}
