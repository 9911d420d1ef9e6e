"""Telemetry files → batches: OTLP JSON lines (the Collector file exporter), single OTLP JSON or
protobuf messages, Jaeger UI/API JSON, Zipkin v2 JSON arrays, change-event JSON lines, and `.gz` of
any of these. The kind is detected by
content, not by name.
"""
from __future__ import annotations

import gzip
import io
import json
import os
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import orjson

from ..batch import TelemetryBatch
from ..changes import add_change_event, is_change_event
from ..model import InvalidInput, PayloadTooLarge
from . import jaeger, jsonmap, proto, zipkin
from .columns import ColumnBuilder

CHUNK_ROWS = 10_000
MAX_SINGLE_MESSAGE = 512 * 1024 * 1024
Progress = Callable[[int], None]  # called with bytes of the (compressed) file read so far


def read_file(path: str | Path, *, skip_invalid: bool = False, on_progress: Progress | None = None,
              chunk_rows: int = CHUNK_ROWS, name: str | None = None,
              workers: int = 1, max_bytes: int | None = None,
              max_record: int | None = None) -> Iterator[TelemetryBatch]:
    """Yield batches of at most ~chunk_rows rows from one file.

    Without skip_invalid, the first bad record raises InvalidInput naming file, line and reason;
    callers that store inside one transaction then roll the whole file back. With it, bad records
    are counted in each batch's `rejected`, with their line numbers. With workers > 1, large JSON
    lines files are decoded in that many forked processes (only safe where the calling process
    holds no state a fork would break: the CLI, not a server). max_bytes caps the decompressed
    file and max_record one line or document (PayloadTooLarge past either), so memory stays bounded.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file")
    raw = open(path, "rb")
    shown = Path(name) if name else path  # what error messages call the file
    max_record = max_record or MAX_SINGLE_MESSAGE
    try:
        stream = _maybe_gunzip(raw, path, max_bytes, shown)
        head = stream.peek(64)[:64] if hasattr(stream, "peek") else b""
        if head.lstrip()[:1] in (b"{", b"["):
            yield from _read_json(stream, raw, shown, skip_invalid, on_progress, chunk_rows, workers,
                                  max_record)
        elif not head:
            return
        else:
            yield _read_protobuf(stream, shown, skip_invalid, max_record)
            if on_progress:
                on_progress(raw.tell())
    except (OSError, EOFError, zlib.error) as exc:
        raise InvalidInput(f"{shown}: cannot read (corrupt or truncated gzip?): {exc}") from None
    finally:
        raw.close()


def _maybe_gunzip(raw: IO[bytes], path: Path, max_bytes: int | None, shown: Path) -> io.BufferedReader:
    magic = raw.read(2)
    raw.seek(0)
    inner: IO[bytes] = gzip.GzipFile(fileobj=raw, mode="rb") if magic == b"\x1f\x8b" else raw  # type: ignore[assignment]
    if max_bytes is not None:
        inner = _Capped(inner, max_bytes, shown)  # type: ignore[assignment]  # a RawIOBase is a binary IO
    return io.BufferedReader(inner, buffer_size=1 << 20)  # type: ignore[arg-type]


class _Capped(io.RawIOBase):
    """A reader that refuses to yield more than `limit` bytes: a gzip bomb stops there."""

    def __init__(self, inner: IO[bytes], limit: int, shown: Path) -> None:
        self.inner, self.limit, self.shown, self.count = inner, limit, shown, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.inner.read(len(buffer))
        self.count += len(data)
        if self.count > self.limit:
            raise PayloadTooLarge(f"{self.shown}: over {self.limit} bytes (after decompression)")
        buffer[:len(data)] = data
        return len(data)


def _lines(stream: io.BufferedReader, max_record: int, path: Path) -> Iterator[bytes]:
    """The stream's lines, refusing one longer than max_record instead of holding it whole."""
    lineno = 0
    while line := stream.readline(max_record + 1):
        lineno += 1
        if len(line) > max_record:
            raise PayloadTooLarge(f"{path}:{lineno}: a line over {max_record} bytes")
        yield line


def _read_json(stream: io.BufferedReader, raw: IO[bytes], path: Path, skip_invalid: bool,
               on_progress: Progress | None, chunk_rows: int, workers: int,
               max_record: int) -> Iterator[TelemetryBatch]:
    lines = _lines(stream, max_record, path)
    first = next(lines, b"")
    try:
        orjson.loads(first)
    except orjson.JSONDecodeError as exc:
        if first.strip():  # one pretty-printed message spanning many lines
            data = first + stream.read(max_record + 1 - len(first))
            if len(data) > max_record:
                raise PayloadTooLarge(f"{path}: a single JSON document over {max_record} bytes") from exc
            doc = _whole_document(data, path)
            builder = ColumnBuilder()
            _add_document(doc, builder, str(path))
            _check_strict(builder, skip_invalid)
            yield builder.build()
            return
    chunk_bytes = max(chunk_rows * 400, 64 * 1024)  # ~400 bytes of JSON per record
    chunks = _line_chunks(first, lines, chunk_bytes)
    if workers > 1 and raw_size(raw) > PARALLEL_MIN_BYTES:
        batches = _decode_parallel(chunks, str(path), skip_invalid, workers)
    else:
        batches = (_decode_lines(lines, lineno, str(path), skip_invalid) for lineno, lines in chunks)
    for batch in batches:
        if on_progress:
            on_progress(raw.tell())
        yield batch


PARALLEL_MIN_BYTES = 8 * 1024 * 1024


def _line_chunks(first: bytes, lines: Iterator[bytes], chunk_bytes: int) -> Iterator[tuple[int, list[bytes]]]:
    """(first line number, lines) groups of about chunk_bytes each."""
    chunk, size, start, lineno = [first], len(first), 1, 1
    for line in lines:
        lineno += 1
        if size >= chunk_bytes:
            yield start, chunk
            chunk, size, start = [], 0, lineno
        chunk.append(line)
        size += len(line)
    if chunk:
        yield start, chunk


def _decode_lines(lines: list[bytes], first_lineno: int, shown: str, skip_invalid: bool) -> TelemetryBatch:
    """Decode one group of JSON lines; runs in a worker process for large files."""
    builder = ColumnBuilder()
    for offset, line in enumerate(lines):
        if not line.strip():
            continue
        where = f"{shown}:{first_lineno + offset}"
        try:
            try:
                doc = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise InvalidInput(f"{where}: invalid JSON: {exc}") from None
            _add_document(doc, builder, where)
            _check_strict(builder, skip_invalid)
        except InvalidInput as exc:
            if not skip_invalid:
                raise
            builder.reject(str(exc))
    return builder.build()


def raw_size(raw: IO[bytes]) -> int:
    return os.fstat(raw.fileno()).st_size


def _decode_parallel(chunks: Iterator[tuple[int, list[bytes]]], shown: str, skip_invalid: bool,
                     workers: int) -> Iterator[TelemetryBatch]:
    """Decode chunks in worker processes, yielding batches in file order, a few in flight at most."""
    import multiprocessing
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor
    in_flight: deque = deque()
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        try:
            for lineno, lines in chunks:
                in_flight.append(pool.submit(_decode_lines, lines, lineno, shown, skip_invalid))
                if len(in_flight) >= 2 * workers:
                    yield in_flight.popleft().result()
            while in_flight:
                yield in_flight.popleft().result()
        finally:
            for future in in_flight:
                future.cancel()


def _whole_document(data: bytes, path: Path) -> object:
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path}: invalid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from None
    except ValueError as exc:  # not UTF-8
        raise InvalidInput(f"{path}: invalid JSON: {exc}") from None


def _add_document(doc: object, builder: ColumnBuilder, where: str) -> None:
    if isinstance(doc, dict) and doc.keys() == {"result"} and jsonmap.signal_of(doc["result"]):
        doc = doc["result"]  # Jaeger's query API v3 (/api/v3/traces) wraps OTLP JSON so, one per line
    if zipkin.is_zipkin(doc):
        zipkin.add_spans(doc, builder, where)
        return
    if jaeger.is_jaeger(doc):
        jaeger.add_traces(doc, builder, where)
        return
    if isinstance(doc, list):  # a JSON array of change events
        for i, item in enumerate(doc):
            if i == 0 and not (isinstance(item, dict) and {"time", "service", "kind"} & item.keys()):
                raise InvalidInput(f"{where}: a JSON array, but neither Zipkin v2 spans (traceId, id) nor "
                                   f"change events (time, service, kind); its first element has: {_keys(item)}")
            add_change_event(item, builder, f"{where}[{i}]")
        return
    signal = jsonmap.signal_of(doc)
    if signal:
        jsonmap.add_request(signal, doc, builder, where)
    elif is_change_event(doc):
        add_change_event(doc, builder, where)
    elif isinstance(doc, dict) and not doc:
        return  # an empty export request
    else:
        raise InvalidInput(f"{where}: neither an OTLP export request (resourceSpans, resourceLogs, "
                           "resourceMetrics), Jaeger JSON (data: [{traceID, spans, processes}]), Zipkin v2 "
                           f"JSON ([{{traceId, id}}]) nor a change event (time, service, kind); found: {_keys(doc)}")


def _keys(doc: object) -> str:
    return ", ".join(map(str, list(doc)[:5])) if isinstance(doc, dict) else type(doc).__name__


def _check_strict(builder: ColumnBuilder, skip_invalid: bool) -> None:
    if builder.rejections and not skip_invalid:
        reason, count = next(iter(builder.rejections.items()))
        more = f" (and {sum(builder.rejections.values()) - 1} more)" if sum(builder.rejections.values()) > 1 else ""
        raise InvalidInput(reason + more)


def _read_protobuf(stream: io.BufferedReader, path: Path, skip_invalid: bool,
                   max_record: int = MAX_SINGLE_MESSAGE) -> TelemetryBatch:
    """One binary export request; its signal is whichever decodes to the most valid records."""
    data = stream.read(max_record + 1)
    if len(data) > max_record:
        raise PayloadTooLarge(f"{path}: a single protobuf message over {max_record} bytes; "
                              "split it or use JSON lines")
    best: TelemetryBatch | None = None
    best_score = -1
    for signal in ("traces", "logs", "metrics"):
        try:
            message, warnings = proto.parse_request(signal, data, str(path))
        except InvalidInput:
            continue
        batch = proto.decode_request(signal, message, where=str(path))
        batch.warnings[:0] = warnings
        result = batch.result()
        score = result.spans + result.logs + result.metric_points - result.rejected_count
        if score > best_score:
            best, best_score = batch, score
    if best is None or best_score <= 0 and not best.tables():
        raise InvalidInput(f"{path}: not JSON, and not a valid OTLP protobuf traces, logs or metrics request")
    if best.rejected and not skip_invalid:
        raise InvalidInput(best.rejected[0].reason)
    return best


def file_size(path: str | Path) -> int:
    return os.path.getsize(path)
