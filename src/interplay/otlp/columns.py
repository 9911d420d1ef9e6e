"""Column builders shared by the protobuf and JSON decoders: validation lives here, once.

Decoders extract primitive values from their input and call `add_span` / `add_log` / `add_point`;
a record that fails validation is counted as rejected with its reason, never stored half-valid.
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Any

import orjson

from ..batch import CHANGES, LOGS, METRICS, SPANS, TelemetryBatch, empty_columns, table_from_columns
from ..model import SPAN_KINDS, STATUS_CODES, Rejection
from .sanitize import clean_text
from .span_names import ORIGINAL_NAME, route_of
from .status import status_from_attributes

# Timestamps outside [2000-01-01, 2100-01-01) are absurd for telemetry: reject them, don't store them.
MIN_TIME_NS = 946_684_800 * 10**9
MAX_TIME_NS = 4_102_444_800 * 10**9
MAX_STRING = 32 * 1024          # longer attribute values and names are truncated
MAX_NAME = 1024
UNKNOWN_SERVICE = "unknown_service"
MAX_INT64 = 2**63 - 1
MAX_DEPTH = 32                  # AnyValue arrays / kvlists nested deeper than this reject the record
_HEX = re.compile(r"[0-9a-f]*")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


def truncate(text: str, limit: int = MAX_STRING) -> str:
    if not isinstance(text, str):
        text = str(text)
    if len(text) <= limit:
        return text
    return text[:limit] + f"…[truncated {len(text) - limit} chars]"


def dumps(value: Any) -> str:
    """JSON text of a decoded value; never raises (exotic values are repaired, not refused)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # lone surrogates, ints beyond 64 bits, bytes: store their text
        return orjson.dumps(_storable(value), default=str).decode()


def _storable(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)[0]
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        return value if -2**63 <= value < 2**64 else str(value)
    if isinstance(value, dict):
        return {clean_text(str(k))[0]: _storable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_storable(v) for v in value]
    return clean_text(str(value))[0]


class ColumnBuilder:
    """Accumulates validated rows for one batch.

    Each add_* validates everything first and appends only then, so a record that fails (or
    raises) never leaves its table's columns with different lengths.
    """

    def __init__(self) -> None:
        self.spans = empty_columns(SPANS)
        self.logs = empty_columns(LOGS)
        self.metrics = empty_columns(METRICS)
        self.changes = empty_columns(CHANGES)
        self.rejections: Counter[str] = Counter()
        self.warnings: list[str] = []

    # -- spans ---------------------------------------------------------------------------------
    def add_span(self, *, trace_id: str, span_id: str, parent_span_id: str, service: str,
                 operation: str, kind: int | str, start_ns: int, end_ns: int, status_code: int | str,
                 status_message: str, service_version: str, scope_name: str,
                 resource_json: str, attributes: dict, events: list, links: list,
                 where: str, trace_state: str = "", scope_version: str = "") -> None:
        reason = (_check_ids(trace_id, span_id, parent_span_id) or _check_times(start_ns, end_ns)
                  or _check_events(events))
        if reason:
            self.rejections[f"span rejected ({where}): {reason}"] += 1
            return
        kind = _enum(kind, SPAN_KINDS, "SPAN_KIND_")
        status_code = _enum(status_code, STATUS_CODES, "STATUS_CODE_")
        if status_code == "UNSET":
            derived = status_from_attributes(kind, attributes)
            if derived:  # the request failed by its protocol's own answer: say so, and where it came from
                status_code, status_message = "ERROR", status_message or derived
        route = route_of(operation)
        if route != operation:  # a raw URL: the route is the operation, the name as sent is kept
            attributes = {**attributes, ORIGINAL_NAME: operation}
        row = {"trace_id": trace_id, "span_id": span_id, "parent_span_id": parent_span_id or None,
               "service": truncate(service or UNKNOWN_SERVICE, MAX_NAME),
               "operation": truncate(route, MAX_NAME),
               "kind": kind,
               "start_ns": start_ns, "end_ns": end_ns, "duration_ns": end_ns - start_ns,
               "status_code": status_code,
               "status_message": truncate(status_message), "service_version": truncate(service_version, MAX_NAME),
               "scope_name": truncate(scope_name, MAX_NAME), "resource_attributes": resource_json,
               "attributes": dumps(attributes), "events": dumps(events) if events else "[]",
               "links": dumps(links) if links else "[]",
               "trace_state": truncate(trace_state or "", MAX_NAME),
               "scope_version": truncate(scope_version or "", MAX_NAME)}
        _append(self.spans, row)

    # -- logs ----------------------------------------------------------------------------------
    def add_log(self, *, time_ns: int, observed_ns: int, service: str, severity_number: int,
                severity_text: str, body: Any, trace_id: str, span_id: str, scope_name: str,
                resource_json: str, attributes: dict, where: str, event_name: str = "",
                trace_flags: int = 0, scope_version: str = "") -> None:
        time_ns = time_ns or observed_ns  # the spec allows a missing event time
        reason = (_check_time("timestamp", time_ns) or (observed_ns and _check_time("observed time", observed_ns))
                  or _check_range("severity_number", severity_number or 0, 0, 24))
        if reason:
            self.rejections[f"log rejected ({where}): {reason}"] += 1
            return
        if trace_id and (len(trace_id) != 32 or trace_id == _ZERO_TRACE or not _HEX.fullmatch(trace_id)):
            trace_id = ""  # a broken correlation id does not make the log itself invalid
        if span_id and (len(span_id) != 16 or not _HEX.fullmatch(span_id)):
            span_id = ""
        row = {"time_ns": time_ns, "observed_time_ns": observed_ns or time_ns,
               "service": truncate(service or UNKNOWN_SERVICE, MAX_NAME),
               "severity_number": int(severity_number or 0), "severity_text": truncate(severity_text or "", MAX_NAME),
               "body": truncate(body if isinstance(body, str) else dumps(body)),
               "trace_id": trace_id or None, "span_id": span_id or None, "scope_name": truncate(scope_name, MAX_NAME),
               "resource_attributes": resource_json, "attributes": dumps(attributes),
               "event_name": truncate(event_name or "", MAX_NAME), "trace_flags": int(trace_flags or 0) & 0xFF,
               "scope_version": truncate(scope_version or "", MAX_NAME)}
        _append(self.logs, row)

    # -- metrics -------------------------------------------------------------------------------
    def add_point(self, *, time_ns: int, start_ns: int, service: str, name: str, type: str,
                  unit: str, value: float | None, count: int | None = None,
                  sum: float | None = None, min: float | None = None, max: float | None = None,
                  bucket_counts: list | None = None, bounds: list | None = None,
                  is_monotonic: bool | None = None, temporality: str = "",
                  resource_json: str, attributes: dict, where: str, description: str = "",
                  scope_name: str = "", scope_version: str = "", flags: int = 0,
                  exemplars: list | None = None, exp: dict | None = None) -> None:
        """One data point; `exp` holds an exponential histogram's scale, zero_count and
        positive/negative offset and bucket counts."""
        exp = exp or {}
        reason = (_check_time("timestamp", time_ns) or (start_ns and _check_time("start time", start_ns))
                  or (count is not None and _check_range("count", count, 0, MAX_INT64))
                  or _check_counts(bucket_counts if type != "summary" else None)
                  or _check_counts(exp.get("positive")) or _check_counts(exp.get("negative"))
                  or _check_exp(exp))
        if reason:
            self.rejections[f"metric point rejected ({where}): {reason}"] += 1
            return
        row = {"time_ns": time_ns, "start_time_ns": start_ns or None,
               "service": truncate(service or UNKNOWN_SERVICE, MAX_NAME), "name": truncate(name, MAX_NAME),
               "type": type, "unit": truncate(unit or "", MAX_NAME), "value": value, "count": count,
               "sum": sum, "min": min, "max": max,
               "bucket_counts": dumps(bucket_counts) if bucket_counts is not None else None,
               "explicit_bounds": dumps(bounds) if bounds is not None else None,
               "is_monotonic": is_monotonic, "temporality": temporality,
               "resource_attributes": resource_json, "attributes": dumps(attributes),
               "description": truncate(description or ""), "scope_name": truncate(scope_name or "", MAX_NAME),
               "scope_version": truncate(scope_version or "", MAX_NAME), "flags": int(flags or 0) & 0x7FFFFFFF,
               "exemplars": dumps(exemplars) if exemplars else "[]",
               "scale": exp.get("scale"), "zero_count": exp.get("zero_count"),
               "positive_offset": exp.get("positive_offset"),
               "positive_bucket_counts": dumps(exp["positive"]) if "positive" in exp else None,
               "negative_offset": exp.get("negative_offset"),
               "negative_bucket_counts": dumps(exp["negative"]) if "negative" in exp else None}
        _append(self.metrics, row)

    def reject(self, reason: str, count: int = 1) -> None:
        self.rejections[reason] += count

    @property
    def rows(self) -> int:
        return (len(self.spans["trace_id"]) + len(self.logs["time_ns"])
                + len(self.metrics["time_ns"]) + len(self.changes["time_ns"]))

    def warn(self, message: str) -> None:
        """Something stored after a repair (invalid UTF-8 replaced, ...), reported to the sender."""
        self.warnings.append(message)

    def build(self) -> TelemetryBatch:
        """Freeze what was accumulated into arrow tables and reset the builder."""
        batch = TelemetryBatch(rejected=[Rejection(n, r) for r, n in self.rejections.items()],
                               warnings=list(self.warnings))
        for name, schema, cols in (("spans", SPANS, self.spans), ("logs", LOGS, self.logs),
                                   ("metrics", METRICS, self.metrics),
                                   ("changes", CHANGES, self.changes)):
            if next(iter(cols.values())):
                setattr(batch, name, table_from_columns(schema, cols))
        ColumnBuilder.__init__(self)  # empty again, ready for the next batch
        return batch


def _append(columns: dict[str, list], row: dict[str, Any]) -> None:
    for name, value in row.items():
        columns[name].append(value)


def _check_ids(trace_id: str, span_id: str, parent_span_id: str) -> str | None:
    if len(trace_id) != 32:
        return f"trace_id must be 16 bytes (32 hex chars), got {len(trace_id) // 2} bytes"
    if not _HEX.fullmatch(trace_id):
        return f"trace_id {trace_id[:40]!r} is not hex"
    if trace_id == _ZERO_TRACE:
        return "trace_id is all zeros"
    if len(span_id) != 16:
        return f"span_id must be 8 bytes (16 hex chars), got {len(span_id) // 2} bytes"
    if not _HEX.fullmatch(span_id):
        return f"span_id {span_id[:20]!r} is not hex"
    if span_id == _ZERO_SPAN:
        return "span_id is all zeros"
    if parent_span_id and (len(parent_span_id) != 16 or not _HEX.fullmatch(parent_span_id)):
        return f"parent_span_id must be empty or 8 bytes of hex, got {parent_span_id[:20]!r}"
    return None


def _check_times(start_ns: int, end_ns: int) -> str | None:
    reason = _check_time("start time", start_ns) or _check_time("end time", end_ns)
    if reason:
        return reason
    if end_ns < start_ns:
        return f"end time is {start_ns - end_ns} ns before start time"
    return None


def _check_events(events: list) -> str | None:
    """An event time, when given (0: unset, as some producers send), must be a plausible time."""
    for i, event in enumerate(events or ()):
        ns = event.get("time_ns")
        if ns != 0:
            reason = _check_time(f"events[{i}] time", ns)
            if reason:
                return reason
    return None


def _check_time(name: str, ns: Any) -> str | None:
    if not isinstance(ns, int) or not MIN_TIME_NS <= ns < MAX_TIME_NS:
        return f"{name} {_short(ns)} ns is outside 2000..2100"
    return None


def _check_range(name: str, value: Any, lo: int, hi: int) -> str | None:
    if not isinstance(value, int) or not lo <= value <= hi:
        return f"{name} {_short(value)} is outside {lo}..{hi}"
    return None


def _check_exp(exp: dict) -> str | None:
    """An exponential histogram's scale and offsets (int32) and zero count (uint64, stored int64)."""
    for key in ("scale", "positive_offset", "negative_offset"):
        if exp.get(key) is not None and (reason := _check_range(key, exp[key], -2**31, 2**31 - 1)):
            return reason
    return _check_range("zero_count", exp["zero_count"], 0, MAX_INT64) if exp.get("zero_count") else None


def _check_counts(counts: list | None) -> str | None:
    for i, n in enumerate(counts or ()):
        if not isinstance(n, int) or not 0 <= n <= MAX_INT64:
            return f"bucket_counts[{i}] {_short(n)} is outside 0..2^63-1"
    return None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:20] + f"…({len(text)} chars)"


_KIND_BY_INT = dict(enumerate(SPAN_KINDS))
_STATUS_BY_INT = dict(enumerate(STATUS_CODES))


def _enum(value: Any, names: tuple[str, ...], prefix: str) -> str:
    """An OTLP enum given as its number or its name (with or without prefix) → our name; unknown → the first."""
    if isinstance(value, int):
        return names[value] if 0 <= value < len(names) else names[0]
    if not isinstance(value, str):
        return names[0]
    text = value[:64].upper().removeprefix(prefix)
    if text.isdigit():
        return _enum(int(text), names, prefix)
    return text if text in names else names[0]


def add_change(b: ColumnBuilder, *, time_ns: int, service: str, kind: str, description: str,
               version: str, attributes: dict) -> None:
    _append(b.changes, {"time_ns": time_ns, "service": truncate(service, MAX_NAME), "kind": kind,
                        "description": truncate(description), "version": truncate(version, MAX_NAME),
                        "attributes": dumps(attributes)})
