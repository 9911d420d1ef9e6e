"""OTLP/HTTP: bounded body reading, gzip, content types, and responses as the spec says."""
from __future__ import annotations

import functools
import threading
from collections.abc import AsyncIterator
from typing import Any

import anyio
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from starlette.responses import Response

from ..batch import TelemetryBatch
from ..model import IngestResult, InvalidInput, Overloaded, UnsupportedMediaType
from ..otlp import jsonmap, proto
from ..otlp.columns import ColumnBuilder
from ..otlp.sanitize import load_json
from . import bodies

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
DEFAULT_MAX_BODY = 16 * 1024 * 1024

# protobuf response classes (untyped: no stubs)
_RESPONSES: dict[str, tuple[Any, str]] = {"traces": (ExportTraceServiceResponse, "rejected_spans"),
                                          "logs": (ExportLogsServiceResponse, "rejected_log_records"),
                                          "metrics": (ExportMetricsServiceResponse, "rejected_data_points")}


def media_type(content_type: str | None) -> str:
    base = (content_type or "").split(";")[0].strip().lower()
    if base in (PROTOBUF, "application/protobuf"):
        return PROTOBUF
    if base == JSON:
        return JSON
    raise UnsupportedMediaType(f"content type {content_type or '(none)'!r} is not supported; "
                               f"send {PROTOBUF} or {JSON}")


async def read_body(chunks: AsyncIterator[bytes], encoding: str | None, limit: int) -> bytes:
    """The request body, decompressed (every gzip member), refusing anything over `limit` bytes."""
    return await bodies.read_body(chunks, encoding, limit)


# One decode at a time in the whole process, OTLP/HTTP and gRPC together: decoding is CPU-bound
# under the GIL, so more threads would not be faster, and each holds the Python objects of a whole
# body, up to ~15x its size (eight dense 14 MiB gRPC exports decoded at once reached 2.4 GB).
_DECODING = threading.Lock()


async def decode_off_loop(signal: str, body: bytes, media: str) -> tuple[TelemetryBatch, int]:
    """`decode` and `DECODED.hold` in a worker thread, so a 16 MiB body does not stall every other
    request; the caller releases the bytes held once the writer is done with the batch.

    HTTP requests wait for their turn on the event loop (the limiter), not in a thread each.
    """
    def run() -> tuple[TelemetryBatch, int]:
        batch = decode(signal, body, media)
        return batch, DECODED.hold(batch)
    return await anyio.to_thread.run_sync(run, limiter=_decode_limiter())


class DecodedBudget:
    """Bytes of decoded batches waiting for the writer, OTLP/HTTP and gRPC together.

    A dense 14 MiB protobuf export is ~55 MB as Arrow: with eight exports held on each receiver
    (what their body limits allow), the batches alone would approach 1 GB. Past the budget a
    receiver waits `wait_s` for room, then answers 503 / UNAVAILABLE (retry). One batch always fits.
    """

    def __init__(self, budget: int = 128 * 1024 * 1024, wait_s: float = 10.0) -> None:
        self.budget, self.wait_s, self.held = budget, wait_s, 0
        self._room = threading.Condition()

    def hold(self, batch: TelemetryBatch) -> int:
        n = sum(t.nbytes for t in batch.tables().values())
        with self._room:
            if not self._room.wait_for(lambda: self.held == 0 or self.held + n <= self.budget, self.wait_s):
                raise Overloaded(f"{self.held >> 20} MiB of decoded telemetry waiting to be written "
                                 f"(budget {self.budget >> 20} MiB); retry later")
            self.held += n
        return n

    def release(self, n: int) -> None:
        with self._room:
            self.held -= n
            self._room.notify_all()


DECODED = DecodedBudget()


@functools.cache
def _decode_limiter() -> anyio.CapacityLimiter:
    return anyio.CapacityLimiter(1)


def decode(signal: str, body: bytes, media: str) -> TelemetryBatch:
    """An export request body → batch; InvalidInput when it cannot be decoded at all.

    Holds the process-wide decode lock (see `_DECODING`)."""
    with _DECODING:
        return _decode(signal, body, media)


def _decode(signal: str, body: bytes, media: str) -> TelemetryBatch:
    if media == PROTOBUF:
        return proto.decode(signal, body)
    doc, warnings = load_json(body)
    found = jsonmap.signal_of(doc)
    if isinstance(doc, dict) and found not in (None, signal):
        raise InvalidInput(f"body is an OTLP {found} request but was sent to /v1/{signal}")
    builder = ColumnBuilder()
    for warning in warnings:
        builder.warn(warning)
    jsonmap.add_request(signal, doc, builder, "body")
    return builder.build()


def export_response(signal: str, result: IngestResult, media: str) -> Response:
    cls, field = _RESPONSES[signal]
    message = cls()
    if result.rejected or result.warnings:
        ps = message.partial_success
        setattr(ps, field, result.rejected_count)
        ps.error_message = partial_success_message(result)
    return _encode(message, media, 200)


def partial_success_message(result: IngestResult) -> str:
    """What was rejected (count, path, reason) and what was repaired, at most 5 reasons of each."""
    reasons = [f"{r.count}× {r.reason}" for r in result.rejected[:5]]
    if len(result.rejected) > 5:
        reasons.append(f"and {len(result.rejected) - 5} more reasons")
    reasons += [f"warning: {w}" for w in result.warnings[:5]]
    return "; ".join(reasons)


def error_response(status: int, message: str, media: str, retry_after: int | None = None) -> Response:
    """A google.rpc.Status body, as OTLP/HTTP asks for failures."""
    body = status_pb2.Status(code=_GRPC_CODE.get(status, 2), message=message)
    response = _encode(body, media, status)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


_GRPC_CODE = {400: 3, 413: 3, 415: 3, 401: 16, 404: 5, 429: 8, 503: 14}


def _encode(message, media: str, status: int) -> Response:
    if media == PROTOBUF:
        return Response(message.SerializeToString(), status_code=status, media_type=PROTOBUF)
    return Response(json_format.MessageToJson(message, indent=None), status_code=status, media_type=JSON)
