"""OTLP JSON lines, exactly as the OpenTelemetry Collector file exporter writes them.

One Export*ServiceRequest per line in the OTLP/JSON mapping: camelCase keys, trace and span ids as
lowercase hex, 64-bit integers as strings, enums as integers.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk._logs import LogRecordProcessor
from opentelemetry.sdk.metrics.export import MetricsData
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

_ID_KEYS = ("traceId", "spanId", "parentSpanId")


class OtlpJsonWriter:
    """Append OTLP JSON lines for spans, log records and metrics to one text stream."""

    def __init__(self, stream: IO[str]):
        self.stream = stream
        self.spans = 0
        self.logs = 0
        self.span_transform = None  # optional callables that edit one request dict in place (bare export)
        self.log_transform = None

    def write_spans(self, spans: Sequence[ReadableSpan]) -> None:
        if not spans:
            return
        doc = _to_dict(encode_spans(spans))
        for rs in doc.get("resourceSpans", ()):
            for ss in rs.get("scopeSpans", ()):
                for span in ss.get("spans", ()):
                    _hex_ids(span)
                    for link in span.get("links", ()):
                        _hex_ids(link)
        if self.span_transform:
            self.span_transform(doc)
        self._line(doc)
        self.spans += len(spans)

    def write_logs(self, records: Sequence) -> None:
        if not records:
            return
        doc = _to_dict(encode_logs(records))
        for rl in doc.get("resourceLogs", ()):
            for sl in rl.get("scopeLogs", ()):
                for rec in sl.get("logRecords", ()):
                    _hex_ids(rec)
        if self.log_transform:
            self.log_transform(doc)
        self._line(doc)
        self.logs += len(records)

    def write_metrics(self, data: MetricsData) -> None:
        self._line(_to_dict(encode_metrics(data)))

    def _line(self, doc: dict) -> None:
        self.stream.write(json.dumps(doc, separators=(",", ":")))
        self.stream.write("\n")


class BufferingSpanProcessor(SpanProcessor):
    """Collect ended spans and hand them to a writer in batches (memory stays bounded)."""

    def __init__(self, writer: OtlpJsonWriter, batch: int = 4096):
        self.writer = writer
        self.batch = batch
        self.buffer: list[ReadableSpan] = []
        self.skipped: set[int] = set()  # span ids never exported (a process that died mid-request)
        self.window = None  # a late export's TraceWindow: traces rooted before its cut are not exported

    def skip(self, span) -> None:
        """Do not export `span` when it ends."""
        self.skipped.add(span.context.span_id)

    def on_start(self, span, parent_context=None) -> None:
        if self.window is not None:
            self.window.on_start(span)

    def on_end(self, span: ReadableSpan) -> None:
        if self.skipped and span.context.span_id in self.skipped:
            self.skipped.discard(span.context.span_id)
            return
        if self.window is not None and not self.window.keeps_span(span):
            return
        self.buffer.append(span)
        if len(self.buffer) >= self.batch:
            self.force_flush()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        self.writer.write_spans(self.buffer)
        self.buffer = []
        return True

    def shutdown(self) -> None:
        self.force_flush()


class BufferingLogProcessor(LogRecordProcessor):
    """Collect emitted log records and hand them to a writer in batches."""

    def __init__(self, writer: OtlpJsonWriter, batch: int = 2048):
        self.writer = writer
        self.batch = batch
        self.buffer: list = []
        self.window = None  # as BufferingSpanProcessor.window

    def on_emit(self, log_record) -> None:
        if self.window is not None and not self.window.keeps_log(log_record):
            return
        self.buffer.append(log_record)
        if len(self.buffer) >= self.batch:
            self.force_flush()

    def emit(self, log_record) -> None:  # older SDKs call emit
        self.on_emit(log_record)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        self.writer.write_logs(self.buffer)
        self.buffer = []
        return True

    def shutdown(self) -> None:
        self.force_flush()


def _to_dict(message) -> dict:
    return MessageToDict(message, use_integers_for_enums=True)


def _hex_ids(obj: dict) -> None:
    for key in _ID_KEYS:
        value = obj.get(key)
        if value:
            obj[key] = base64.b64decode(value).hex()


def open_output(out: Path):
    """A text stream to `out`; gzip (deterministic: no name, no mtime) when it ends with .gz."""
    if out.suffix != ".gz":
        return out.open("w")
    raw = out.open("wb")
    gz = gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=3, mtime=0)
    stream = io.TextIOWrapper(gz, encoding="utf-8")
    return _Closing(stream, raw)


class _Closing:
    def __init__(self, stream, raw):
        self.stream, self.raw = stream, raw

    def __enter__(self):
        return self.stream

    def __exit__(self, *exc):
        self.stream.close()
        self.raw.close()
