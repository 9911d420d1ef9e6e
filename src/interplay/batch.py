"""Columnar batches: the pyarrow schemas every decoder produces and every store appends.

Attribute maps, events and links travel as JSON text so both backends can store them without a
schema per key; the hot fields an investigation needs (service, operation, kind, times, status)
are real columns.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from .model import IngestResult, Rejection

SPANS = pa.schema([
    ("trace_id", pa.string()),          # 32 lowercase hex chars
    ("span_id", pa.string()),           # 16 lowercase hex chars
    ("parent_span_id", pa.string()),    # null for a root span
    ("service", pa.string()),
    ("operation", pa.string()),         # the span name
    ("kind", pa.string()),              # SpanKind value
    ("start_ns", pa.int64()),           # unix epoch nanoseconds
    ("end_ns", pa.int64()),
    ("duration_ns", pa.int64()),
    ("status_code", pa.string()),       # StatusCode value
    ("status_message", pa.string()),
    ("service_version", pa.string()),
    ("scope_name", pa.string()),
    ("resource_attributes", pa.string()),  # JSON object
    ("attributes", pa.string()),           # JSON object
    ("events", pa.string()),               # JSON list of {time_ns, name, attributes}
    ("links", pa.string()),                # JSON list of {trace_id, span_id, trace_state, attributes}
    ("trace_state", pa.string()),          # W3C tracestate
    ("scope_version", pa.string()),
])

LOGS = pa.schema([
    ("time_ns", pa.int64()),
    ("observed_time_ns", pa.int64()),
    ("service", pa.string()),
    ("severity_number", pa.int32()),
    ("severity_text", pa.string()),
    ("body", pa.string()),
    ("trace_id", pa.string()),
    ("span_id", pa.string()),
    ("scope_name", pa.string()),
    ("resource_attributes", pa.string()),
    ("attributes", pa.string()),
    ("event_name", pa.string()),
    ("trace_flags", pa.int32()),
    ("scope_version", pa.string()),
])

METRICS = pa.schema([
    ("time_ns", pa.int64()),
    ("start_time_ns", pa.int64()),
    ("service", pa.string()),
    ("name", pa.string()),
    ("type", pa.string()),          # gauge | sum | histogram | exponential_histogram | summary
    ("unit", pa.string()),
    ("value", pa.float64()),        # gauge/sum value; histogram/summary: sum / count (the mean)
    ("count", pa.int64()),          # histogram/summary count
    ("sum", pa.float64()),
    ("min", pa.float64()),
    ("max", pa.float64()),
    ("bucket_counts", pa.string()),     # JSON list
    ("explicit_bounds", pa.string()),   # JSON list (quantiles for summary)
    ("is_monotonic", pa.bool_()),
    ("temporality", pa.string()),       # cumulative | delta | ""
    ("resource_attributes", pa.string()),
    ("attributes", pa.string()),
    ("description", pa.string()),
    ("scope_name", pa.string()),
    ("scope_version", pa.string()),
    ("flags", pa.int32()),
    ("exemplars", pa.string()),         # JSON list of {time_ns, value, trace_id, span_id, attributes}
    # exponential histograms: base-2 buckets of the given scale, counts as JSON lists
    ("scale", pa.int32()),
    ("zero_count", pa.int64()),
    ("positive_offset", pa.int32()),
    ("positive_bucket_counts", pa.string()),
    ("negative_offset", pa.int32()),
    ("negative_bucket_counts", pa.string()),
])

CHANGES = pa.schema([
    ("time_ns", pa.int64()),
    ("service", pa.string()),
    ("kind", pa.string()),
    ("description", pa.string()),
    ("version", pa.string()),
    ("attributes", pa.string()),
])

SCHEMAS: dict[str, pa.Schema] = {
    "spans": SPANS, "logs": LOGS, "metrics": METRICS, "changes": CHANGES,
}


@dataclass(slots=True)
class TelemetryBatch:
    """What one request or one file chunk decodes to: tables to append plus what was rejected."""

    spans: pa.Table | None = None
    logs: pa.Table | None = None
    metrics: pa.Table | None = None
    changes: pa.Table | None = None
    rejected: list[Rejection] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, pa.Table]:
        out = {}
        for name in SCHEMAS:
            table = getattr(self, name)
            if table is not None and table.num_rows:
                out[name] = table
        return out

    def result(self) -> IngestResult:
        rows = lambda t: t.num_rows if t is not None else 0  # noqa: E731
        return IngestResult(spans=rows(self.spans), logs=rows(self.logs),
                            metric_points=rows(self.metrics), changes=rows(self.changes),
                            rejected=list(self.rejected), warnings=list(self.warnings))


def table_from_columns(schema: pa.Schema, columns: dict[str, list]) -> pa.Table:
    """Build a table from per-column Python lists, in the schema's column order."""
    return pa.table([pa.array(columns[f.name], type=f.type) for f in schema], schema=schema)


def empty_columns(schema: pa.Schema) -> dict[str, list]:
    return {f.name: [] for f in schema}
