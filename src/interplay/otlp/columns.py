"""Column builders shared by the protobuf and JSON decoders: validation lives here, once.

Decoders extract primitive values from their input and call `add_span` / `add_log` / `add_point`;
a record that fails validation is counted as rejected with its reason, never stored half-valid.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

import orjson

from ..batch import CHANGES, LOGS, METRICS, SPANS, TelemetryBatch, empty_columns, table_from_columns
from ..model import SPAN_KINDS, STATUS_CODES, Rejection

# Timestamps outside [2000-01-01, 2100-01-01) are absurd for telemetry: reject them, don't store them.
MIN_TIME_NS = 946_684_800 * 10**9
MAX_TIME_NS = 4_102_444_800 * 10**9
MAX_STRING = 32 * 1024          # longer attribute values and names are truncated
MAX_NAME = 1024
UNKNOWN_SERVICE = "unknown_service"
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


def truncate(text: str, limit: int = MAX_STRING) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"…[truncated {len(text) - limit} chars]"


def dumps(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # NaN-free but exotic values (huge ints, bytes): fall back to their text
        return orjson.dumps(value, default=str, option=orjson.OPT_PASSTHROUGH_SUBCLASS).decode()


class ColumnBuilder:
    """Accumulates validated rows for one batch."""

    def __init__(self) -> None:
        self.spans = empty_columns(SPANS)
        self.logs = empty_columns(LOGS)
        self.metrics = empty_columns(METRICS)
        self.changes = empty_columns(CHANGES)
        self.rejections: Counter[str] = Counter()

    # -- spans ---------------------------------------------------------------------------------
    def add_span(self, *, trace_id: str, span_id: str, parent_span_id: str, service: str,
                 operation: str, kind: int | str, start_ns: int, end_ns: int, status_code: int | str,
                 status_message: str, service_version: str, scope_name: str,
                 resource_json: str, attributes: dict, events: list, links: list,
                 where: str) -> None:
        reason = _check_ids(trace_id, span_id, parent_span_id) or _check_times(start_ns, end_ns)
        if reason:
            self.rejections[f"span rejected ({where}): {reason}"] += 1
            return
        c = self.spans
        c["trace_id"].append(trace_id)
        c["span_id"].append(span_id)
        c["parent_span_id"].append(parent_span_id or None)
        c["service"].append(truncate(service or UNKNOWN_SERVICE, MAX_NAME))
        c["operation"].append(operation if len(operation) <= MAX_NAME else truncate(operation, MAX_NAME))
        c["kind"].append(_KIND_BY_INT.get(kind) or _enum(kind, SPAN_KINDS, "SPAN_KIND_"))
        c["start_ns"].append(start_ns)
        c["end_ns"].append(end_ns)
        c["duration_ns"].append(end_ns - start_ns)
        c["status_code"].append(_STATUS_BY_INT.get(status_code) or _enum(status_code, STATUS_CODES, "STATUS_CODE_"))
        c["status_message"].append(status_message if len(status_message) <= MAX_STRING else truncate(status_message))
        c["service_version"].append(service_version)
        c["scope_name"].append(scope_name)
        c["resource_attributes"].append(resource_json)
        c["attributes"].append(dumps(attributes))
        c["events"].append(dumps(events) if events else "[]")
        c["links"].append(dumps(links) if links else "[]")

    # -- logs ----------------------------------------------------------------------------------
    def add_log(self, *, time_ns: int, observed_ns: int, service: str, severity_number: int,
                severity_text: str, body: Any, trace_id: str, span_id: str, scope_name: str,
                resource_json: str, attributes: dict, where: str) -> None:
        time_ns = time_ns or observed_ns  # the spec allows a missing event time
        if not MIN_TIME_NS <= time_ns < MAX_TIME_NS:
            self.rejections[f"log rejected ({where}): timestamp {time_ns} is outside 2000..2100"] += 1
            return
        if trace_id and (len(trace_id) != 32 or trace_id == _ZERO_TRACE):
            trace_id = ""  # a broken correlation id does not make the log itself invalid
        c = self.logs
        c["time_ns"].append(time_ns)
        c["observed_time_ns"].append(observed_ns or time_ns)
        c["service"].append(truncate(service or UNKNOWN_SERVICE, MAX_NAME))
        c["severity_number"].append(int(severity_number or 0))
        c["severity_text"].append(severity_text or "")
        c["body"].append(truncate(body if isinstance(body, str) else dumps(body)))
        c["trace_id"].append(trace_id or None)
        c["span_id"].append(span_id if len(span_id or "") == 16 else None)
        c["scope_name"].append(scope_name)
        c["resource_attributes"].append(resource_json)
        c["attributes"].append(dumps(attributes))

    # -- metrics -------------------------------------------------------------------------------
    def add_point(self, *, time_ns: int, start_ns: int, service: str, name: str, type: str,
                  unit: str, value: float | None, count: int | None = None,
                  sum: float | None = None, min: float | None = None, max: float | None = None,
                  bucket_counts: list | None = None, bounds: list | None = None,
                  is_monotonic: bool | None = None, temporality: str = "",
                  resource_json: str, attributes: dict, where: str) -> None:
        if not MIN_TIME_NS <= time_ns < MAX_TIME_NS:
            self.rejections[f"metric point rejected ({where}): timestamp {time_ns} is outside 2000..2100"] += 1
            return
        c = self.metrics
        c["time_ns"].append(time_ns)
        c["start_time_ns"].append(start_ns or None)
        c["service"].append(truncate(service or UNKNOWN_SERVICE, MAX_NAME))
        c["name"].append(truncate(name, MAX_NAME))
        c["type"].append(type)
        c["unit"].append(unit or "")
        c["value"].append(value)
        c["count"].append(count)
        c["sum"].append(sum)
        c["min"].append(min)
        c["max"].append(max)
        c["bucket_counts"].append(dumps(bucket_counts) if bucket_counts is not None else None)
        c["explicit_bounds"].append(dumps(bounds) if bounds is not None else None)
        c["is_monotonic"].append(is_monotonic)
        c["temporality"].append(temporality)
        c["resource_attributes"].append(resource_json)
        c["attributes"].append(dumps(attributes))

    def reject(self, reason: str, count: int = 1) -> None:
        self.rejections[reason] += count

    @property
    def rows(self) -> int:
        return (len(self.spans["trace_id"]) + len(self.logs["time_ns"])
                + len(self.metrics["time_ns"]) + len(self.changes["time_ns"]))

    def build(self) -> TelemetryBatch:
        """Freeze what was accumulated into arrow tables and reset the builder."""
        batch = TelemetryBatch(rejected=[Rejection(n, r) for r, n in self.rejections.items()])
        for name, schema, cols in (("spans", SPANS, self.spans), ("logs", LOGS, self.logs),
                                   ("metrics", METRICS, self.metrics),
                                   ("changes", CHANGES, self.changes)):
            if next(iter(cols.values())):
                setattr(batch, name, table_from_columns(schema, cols))
        self.__init__()
        return batch


def _check_ids(trace_id: str, span_id: str, parent_span_id: str) -> str | None:
    if len(trace_id) != 32:
        return f"trace_id must be 16 bytes (32 hex chars), got {len(trace_id) // 2} bytes"
    if trace_id == _ZERO_TRACE:
        return "trace_id is all zeros"
    if len(span_id) != 16:
        return f"span_id must be 8 bytes (16 hex chars), got {len(span_id) // 2} bytes"
    if span_id == _ZERO_SPAN:
        return "span_id is all zeros"
    if parent_span_id and len(parent_span_id) != 16:
        return f"parent_span_id must be empty or 8 bytes, got {len(parent_span_id) // 2} bytes"
    return None


def _check_times(start_ns: int, end_ns: int) -> str | None:
    if not MIN_TIME_NS <= start_ns < MAX_TIME_NS:
        return f"start time {start_ns} ns is outside 2000..2100"
    if not MIN_TIME_NS <= end_ns < MAX_TIME_NS:
        return f"end time {end_ns} ns is outside 2000..2100"
    if end_ns < start_ns:
        return f"end time is {start_ns - end_ns} ns before start time"
    return None


_KIND_BY_INT = dict(enumerate(SPAN_KINDS))
_STATUS_BY_INT = dict(enumerate(STATUS_CODES))


def _enum(value: int | str, names: tuple[str, ...], prefix: str) -> str:
    """An OTLP enum given as its number or its name (with or without prefix) → our name."""
    if isinstance(value, int):
        return names[value] if 0 <= value < len(names) else names[0]
    text = str(value).upper().removeprefix(prefix)
    if text.isdigit():
        return _enum(int(text), names, prefix)
    return text if text in names else names[0]


def add_change(b: ColumnBuilder, *, time_ns: int, service: str, kind: str, description: str,
               version: str, attributes: dict) -> None:
    c = b.changes
    c["time_ns"].append(time_ns)
    c["service"].append(truncate(service, MAX_NAME))
    c["kind"].append(kind)
    c["description"].append(truncate(description))
    c["version"].append(truncate(version, MAX_NAME))
    c["attributes"].append(dumps(attributes))
