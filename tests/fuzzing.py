"""Hypothesis strategies for hostile OTLP: valid requests with fields replaced by hostile values
(JSON and protobuf), raw byte mutations of valid protobuf, and invalid UTF-8 in protobuf strings.

Used by test_fuzz.py; `python tests/fuzzing.py` is not a thing, the tests are the entry point.
"""
from __future__ import annotations

import base64
import json
import os
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

T0 = 1_767_225_600 * 10**9
SIGNALS = ("traces", "logs", "metrics")
REQUESTS = {"traces": ExportTraceServiceRequest, "logs": ExportLogsServiceRequest,
            "metrics": ExportMetricsServiceRequest}

# Deterministic by default (CI): the same examples every run, no example database. Set
# INTERPLAY_FUZZ_SCALE=20 for a longer local hunt and INTERPLAY_FUZZ_RANDOM=1 to explore new inputs.
SCALE = float(os.environ.get("INTERPLAY_FUZZ_SCALE", "1"))
RANDOM = os.environ.get("INTERPLAY_FUZZ_RANDOM") == "1"


def fuzz_settings(examples: int) -> settings:
    return settings(max_examples=max(1, int(examples * SCALE)), derandomize=not RANDOM, database=None,
                    deadline=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much])


# -- valid requests with every field the decoders read ----------------------------------------------
def _attrs(**kv: Any) -> list[dict]:
    out = []
    for k, v in kv.items():
        if isinstance(v, bool):
            value = {"boolValue": v}
        elif isinstance(v, int):
            value = {"intValue": str(v)}
        elif isinstance(v, float):
            value = {"doubleValue": v}
        elif isinstance(v, list):
            value = {"arrayValue": {"values": [{"stringValue": str(x)} for x in v]}}
        elif isinstance(v, dict):
            value = {"kvlistValue": {"values": _attrs(**v)}}
        elif isinstance(v, bytes):
            value = {"bytesValue": base64.b64encode(v).decode()}
        else:
            value = {"stringValue": v}
        out.append({"key": k, "value": value})
    return out


def _resource(service: str) -> dict:
    return {"attributes": _attrs(**{"service.name": service, "service.version": "1.0", "n": 3, "ok": True})}


def template(signal: str, service: str = "fuzz", trace_id: str = "5b8efff798038103d269b633813fc60c") -> dict:
    """A valid OTLP/JSON request of the signal that uses every field the decoders read."""
    attrs = _attrs(s="v", i=7, d=1.5, b=False, a=["x", "y"], kv={"k": "v"}, raw=b"\x00\x01")
    if signal == "traces":
        span = {"traceId": trace_id, "spanId": "051581bf3cb55c13", "parentSpanId": "0000000000000001",
                "name": "GET /", "kind": 2, "startTimeUnixNano": str(T0), "endTimeUnixNano": str(T0 + 10**7),
                "attributes": attrs, "status": {"code": 2, "message": "boom"},
                "events": [{"timeUnixNano": str(T0 + 10**6), "name": "exception", "attributes": attrs}],
                "links": [{"traceId": trace_id, "spanId": "0000000000000002", "attributes": attrs}]}
        return {"resourceSpans": [{"resource": _resource(service), "scopeSpans": [
            {"scope": {"name": "fuzz", "version": "1"}, "spans": [span, {**span, "spanId": "0000000000000003"}]}]}]}
    if signal == "logs":
        record = {"timeUnixNano": str(T0), "observedTimeUnixNano": str(T0 + 1), "severityNumber": 17,
                  "severityText": "ERROR", "body": {"stringValue": "failed to connect"}, "attributes": attrs,
                  "traceId": trace_id, "spanId": "051581bf3cb55c13"}
        return {"resourceLogs": [{"resource": _resource(service), "scopeLogs": [
            {"scope": {"name": "fuzz"}, "logRecords": [record, {**record, "body": {"kvlistValue": {
                "values": attrs}}}]}]}]}
    point = {"timeUnixNano": str(T0), "startTimeUnixNano": str(T0 - 10**9), "attributes": attrs}
    metrics = [
        {"name": "g", "unit": "1", "gauge": {"dataPoints": [{**point, "asDouble": 1.5}, {**point, "asInt": "3"}]}},
        {"name": "c", "sum": {"aggregationTemporality": 2, "isMonotonic": True,
                              "dataPoints": [{**point, "asInt": "10"}]}},
        {"name": "h", "unit": "ms", "histogram": {"aggregationTemporality": 1, "dataPoints": [
            {**point, "count": "4", "sum": 10.0, "min": 1.0, "max": 5.0, "bucketCounts": ["1", "3"],
             "explicitBounds": [2.0]}]}},
        {"name": "e", "exponentialHistogram": {"aggregationTemporality": 2, "dataPoints": [
            {**point, "count": "2", "sum": 3.0, "scale": 1, "zeroCount": "0",
             "positive": {"offset": 1, "bucketCounts": ["2"]}}]}},
        {"name": "q", "summary": {"dataPoints": [
            {**point, "count": "2", "sum": 3.0, "quantileValues": [{"quantile": 0.5, "value": 1.0}]}]}},
    ]
    return {"resourceMetrics": [{"resource": _resource(service), "scopeMetrics": [
        {"scope": {"name": "fuzz"}, "metrics": metrics}]}]}


def to_proto(doc: dict, signal: str):
    """An OTLP/JSON dict (hex ids) as a protobuf message (the proto JSON mapping wants base64 ids)."""
    def fix(v):
        if isinstance(v, dict):
            return {k: base64.b64encode(bytes.fromhex(x)).decode() if k in ("traceId", "spanId", "parentSpanId")
                    and isinstance(x, str) and x else fix(x) for k, x in v.items()}
        return [fix(x) for x in v] if isinstance(v, list) else v
    return json_format.ParseDict(fix(doc), REQUESTS[signal]())


# -- hostile values ---------------------------------------------------------------------------------
FIELD_NAMES = ["resourceSpans", "scopeSpans", "spans", "resourceLogs", "scopeLogs", "logRecords",
               "resourceMetrics", "scopeMetrics", "metrics", "dataPoints", "resource", "scope", "attributes",
               "key", "value", "stringValue", "intValue", "doubleValue", "boolValue", "arrayValue",
               "kvlistValue", "bytesValue", "values", "traceId", "spanId", "parentSpanId", "name", "kind",
               "startTimeUnixNano", "endTimeUnixNano", "timeUnixNano", "observedTimeUnixNano", "status",
               "code", "message", "events", "links", "severityNumber", "severityText", "body", "gauge", "sum",
               "histogram", "exponentialHistogram", "summary", "count", "bucketCounts", "explicitBounds",
               "quantileValues", "quantile", "asInt", "asDouble", "min", "max", "isMonotonic",
               "aggregationTemporality", "int_value", "string_value", "trace_id", "span_id"]
EDGE_INTS = [0, -1, 1, 2**31, 2**32, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -2**63, -2**63 - 1,
             2**70, 10**400, T0, T0 * 10]
EDGE_STRINGS = ["", "\ud800", "a\udfffb", "\x00", "z" * 32, "0" * 32, "0" * 16, "1" * 400, "-5", "1e400", "NaN",
                "Infinity", "SPAN_KIND_SERVER", "STATUS_CODE_ERROR", "AGGREGATION_TEMPORALITY_DELTA",
                "AAAAAAAAAAAAAAAAAAAAAA==", "<script>alert(1)</script>", "x" * 40_000, "٣", "²"]

scalars = st.one_of(
    st.none(), st.booleans(), st.sampled_from(EDGE_INTS), st.integers(),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(EDGE_STRINGS),
    st.text(max_size=12), st.integers().map(str), st.sampled_from(EDGE_INTS).map(str))
json_values = st.recursive(
    scalars, lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=6), children, max_size=3)),
    max_leaves=8)


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (dict keys and list indexes) to a value in the document."""
    out = [prefix] if prefix else []
    if len(prefix) > 14:  # below a planted deep nest: its top is enough
        return out
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, prefix + (i,))
    return out


def _set(doc: Any, path: tuple, value: Any, delete: bool = False) -> None:
    for step in path[:-1]:
        doc = doc[step]
    if delete:
        del doc[path[-1]]
    else:
        doc[path[-1]] = value


@st.composite
def hostile_json_request(draw, signal: str | None = None) -> tuple[str, Any]:
    """(signal, document): a valid request of the signal with 1..4 values replaced, deleted or nested."""
    signal = signal or draw(st.sampled_from(SIGNALS))
    return signal, draw(mutated(template(signal)))


@st.composite
def mutated(draw, doc: Any) -> Any:
    """A copy of a valid JSON document with 1..4 values replaced, deleted, wrapped or nested deep."""
    doc = json.loads(json.dumps(doc))
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "replace", "delete", "wrap", "deep"]))
        try:
            target = doc
            for step in path:
                target = target[step]
        except (KeyError, IndexError, TypeError):
            continue
        if action == "replace":
            _set(doc, path, draw(json_values))
        elif action == "delete":
            _set(doc, path, None, delete=True)
        elif action == "wrap":
            _set(doc, path, draw(st.sampled_from([[target], {"value": target}, {"stringValue": target}])))
        else:
            depth = draw(st.sampled_from([31, 33, 200, 2000]))
            deep: Any = target
            for _ in range(depth):
                deep = draw(st.sampled_from([{"kvlistValue": {"values": [{"key": "k", "value": deep}]}},
                                             {"arrayValue": {"values": [deep]}}]))
            _set(doc, path, deep)
    return doc


# Valid bodies of the other routes that take JSON, for the route fuzz to mutate.
ROUTE_BODIES = {
    "/api/changes": {"time": "2026-01-01T00:00:00Z", "service": "fuzz", "kind": "deploy", "description": "v2",
                     "version": "2.0", "attributes": {"k": "v", "n": 1}},
    "/v1/changes": [{"time": "2026-01-01T00:00:00Z", "service": "fuzz", "kind": "config", "description": "x"}],
    "/api/alerts": {"service": "fuzz", "summary": "errors up", "severity": "critical", "at": "2026-01-01T00:00:00Z"},
    "/api/alerts/alertmanager": {"version": "4", "status": "firing", "groupKey": "g", "alerts": [
        {"status": "firing", "labels": {"alertname": "HighErrors", "service": "fuzz"},
         "annotations": {"summary": "errors"}, "startsAt": "2026-01-01T00:00:00Z"}]},
    "/api/investigations": {"symptom": "fuzz:GET /", "since": "2025-12-31T00:00:00Z", "until": "2026-01-02T00:00:00Z"},
    "/api/v2/spans": [{"traceId": "5b8efff798038103d269b633813fc60c", "id": "051581bf3cb55c13", "name": "get /",
                       "kind": "SERVER", "timestamp": T0 // 1000, "duration": 1000,
                       "localEndpoint": {"serviceName": "fuzz"}, "tags": {"http.status_code": "500"}}],
    "/mcp": {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "list_services", "arguments": {}}},
}


def json_body(doc: Any) -> bytes:
    """JSON text as a hostile sender writes it: NaN/Infinity allowed, lone surrogates escaped."""
    try:
        return json.dumps(doc, allow_nan=True).encode()
    except RecursionError:  # deeper than json.dumps goes: the server must refuse it all the same
        return b'{"resourceSpans": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


# -- protobuf ---------------------------------------------------------------------------------------
_INT_TYPES = {FieldDescriptor.TYPE_INT32: (-2**31, 2**31 - 1), FieldDescriptor.TYPE_SINT32: (-2**31, 2**31 - 1),
              FieldDescriptor.TYPE_SFIXED32: (-2**31, 2**31 - 1), FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
              FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1), FieldDescriptor.TYPE_INT64: (-2**63, 2**63 - 1),
              FieldDescriptor.TYPE_SINT64: (-2**63, 2**63 - 1), FieldDescriptor.TYPE_SFIXED64: (-2**63, 2**63 - 1),
              FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1), FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
              FieldDescriptor.TYPE_ENUM: (-2**31, 2**31 - 1)}


def _fields(message, out: list) -> list:
    """(message, field descriptor) for every scalar field set or settable in the message tree."""
    for fd in message.DESCRIPTOR.fields:
        if fd.type == FieldDescriptor.TYPE_MESSAGE:
            if fd.is_repeated:
                for child in getattr(message, fd.name):
                    _fields(child, out)
            elif message.HasField(fd.name):
                _fields(getattr(message, fd.name), out)
        else:
            out.append((message, fd))
    return out


def _value_for(draw, fd: FieldDescriptor) -> Any:
    if fd.type in _INT_TYPES:
        lo, hi = _INT_TYPES[fd.type]
        edges = [v for v in (lo, hi, 0, -1, 1, T0, 2**63 - 1, 2**63, 2**32) if lo <= v <= hi]
        return draw(st.sampled_from(edges) | st.integers(lo, hi))
    if fd.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return draw(st.floats(allow_nan=True, allow_infinity=True, width=64 if fd.type == 1 else 32))
    if fd.type == FieldDescriptor.TYPE_BOOL:
        return draw(st.booleans())
    if fd.type == FieldDescriptor.TYPE_BYTES:
        return draw(st.binary(max_size=40) | st.sampled_from([b"", b"\x00" * 16, b"\x00" * 8, b"\xff" * 16]))
    return draw(st.text(max_size=20) | st.sampled_from(["x" * 40_000, "\x00", "SPAN_KIND_SERVER"]))


@st.composite
def hostile_proto_request(draw, signal: str | None = None) -> tuple[str, bytes]:
    """(signal, bytes): a valid protobuf request with fields set to extreme values, then maybe
    invalid UTF-8 spliced into a string and maybe raw byte mutations."""
    signal = signal or draw(st.sampled_from(SIGNALS))
    message = to_proto(template(signal), signal)
    for _ in range(draw(st.integers(0, 4))):
        holder, fd = draw(st.sampled_from(_fields(message, [])))
        value = _value_for(draw, fd)
        if fd.is_repeated:
            getattr(holder, fd.name).append(value)
        else:
            setattr(holder, fd.name, value)
    if draw(st.booleans()):  # the deepest AnyValue a hostile sender builds
        holder = message
        path = {"traces": "resource_spans", "logs": "resource_logs", "metrics": "resource_metrics"}[signal]
        attrs = getattr(holder, path)[0].resource.attributes.add(key="deep")
        value = attrs.value
        for _ in range(draw(st.sampled_from([33, 80]))):
            value = value.kvlist_value.values.add(key="k").value
        value.string_value = "leaf"
    data = message.SerializeToString()
    if draw(st.booleans()):
        data = _bad_utf8(draw, message, data)
    for _ in range(draw(st.integers(0, 3))):
        data = _mutate_bytes(draw, data)
    return signal, data


MARK = "\x01MARK"


def _bad_utf8(draw, message, data: bytes) -> bytes:
    """The request with one string field's bytes replaced by invalid UTF-8 of the same length."""
    strings = [(m, fd) for m, fd in _fields(message, []) if fd.type == FieldDescriptor.TYPE_STRING
               and not fd.is_repeated]
    holder, fd = draw(st.sampled_from(strings))
    old = getattr(holder, fd.name)
    setattr(holder, fd.name, MARK)
    marked = message.SerializeToString()
    setattr(holder, fd.name, old)
    junk = draw(st.sampled_from([b"\xff\xfeAB", b"\xed\xa0\x80a", b"\xc0\x80ab", b"ab\xe2\x82"]))
    return marked.replace(MARK.encode(), junk[:len(MARK)].ljust(len(MARK), b"\x80"), 1)


def _mutate_bytes(draw, data: bytes) -> bytes:
    if not data:
        return draw(st.binary(max_size=20))
    i = draw(st.integers(0, len(data) - 1))
    action = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "varint"]))
    if action == "flip":
        return data[:i] + bytes([data[i] ^ (1 << draw(st.integers(0, 7)))]) + data[i + 1:]
    if action == "insert":
        return data[:i] + draw(st.binary(min_size=1, max_size=8)) + data[i:]
    if action == "delete":
        return data[:i] + data[i + draw(st.integers(1, 8)):]
    if action == "truncate":
        return data[:i]
    return data[:i] + b"\xff" * 9 + b"\x01" + data[i:]  # the longest varint


# -- mixed requests: good records beside records that must be rejected --------------------------------
# Each is invalid in both encodings (they survive the JSON -> protobuf conversion of to_proto).
BAD_SPAN = [{"traceId": "00" * 16}, {"traceId": "ab" * 5}, {"spanId": ""}, {"spanId": "00" * 8},
            {"startTimeUnixNano": str(2**64 - 1)}, {"endTimeUnixNano": "1"},
            {"startTimeUnixNano": str(T0 + 10**9)},  # ends before it starts
            {"parentSpanId": "ab" * 3}, {"events": [{"timeUnixNano": str(2**64 - 1), "name": "e"}]}]
BAD_SPAN_JSON_ONLY = [{"traceId": "z" * 32}, {"startTimeUnixNano": "1" * 400}, {"status": "broken"},
                      {"attributes": [{"key": "n", "value": {"intValue": str(2**70)}}]},
                      {"attributes": [{"key": 5, "value": {"stringValue": "x"}}]}]
BAD_LOG = [{"observedTimeUnixNano": str(2**64 - 1)}, {"timeUnixNano": "5"}, {"severityNumber": 99}]
BAD_LOG_JSON_ONLY = [{"severityNumber": 2**70}, {"timeUnixNano": "x"}, {"body": {"intValue": "1e3"}}]


def deep_value(depth: int = 40) -> dict:
    value: dict = {"stringValue": "leaf"}
    for _ in range(depth):
        value = {"kvlistValue": {"values": [{"key": "k", "value": value}]}}
    return value


@st.composite
def mixed_request(draw, n: int) -> tuple[str, bool, dict, list[str], int]:
    """(signal, as protobuf?, request, trace ids of the good records, how many are bad)."""
    signal = draw(st.sampled_from(["traces", "logs"]))
    proto = draw(st.booleans())
    bad_pool = (BAD_SPAN if signal == "traces" else BAD_LOG) + (
        [] if proto else BAD_SPAN_JSON_ONLY if signal == "traces" else BAD_LOG_JSON_ONLY)
    if not proto:  # (deeper than json_format converts; hostile_proto_request nests protobuf itself)
        bad_pool = bad_pool + [{"attributes": [{"key": "deep", "value": deep_value()}]}]
    goods = draw(st.integers(1, 4))
    bads = draw(st.lists(st.sampled_from(bad_pool), max_size=4))
    doc = template(signal, service=f"mixed{n}")
    key = "spans" if signal == "traces" else "logRecords"
    holder = doc[next(iter(doc))][0][next(k for k in doc[next(iter(doc))][0] if k.startswith("scope"))][0]
    base = holder[key][0]
    records, good_ids = [], []
    for i in range(goods):
        trace_id = f"{n:08x}{i:08x}" + "ab" * 8
        records.append({**base, "traceId": trace_id, "spanId": f"{i + 1:016x}"})
        good_ids.append(trace_id)
    for i, bad in enumerate(bads):
        records.append({**base, "traceId": f"{n:08x}{100 + i:08x}" + "cd" * 8, "spanId": f"{200 + i:016x}",
                        **bad})
    holder[key] = draw(st.permutations(records))
    return signal, proto, doc, good_ids, len(bads)
