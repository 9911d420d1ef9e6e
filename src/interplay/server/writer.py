"""The single writer: a bounded queue of batches committed by one thread, several per transaction.

Acknowledging a request only after its batch is committed is what makes an acknowledged export
survive kill -9; committing several queued batches together keeps that cheap under load.
"""
from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from ..api import Interplay
from ..batch import TelemetryBatch
from ..model import IngestResult, Overloaded

log = logging.getLogger("interplay.writer")

_GROUP_ROWS = 200_000   # stop grouping once a transaction holds this many rows
_GROUP_ITEMS = 64


class Writer:
    def __init__(self, interplay: Interplay, *, max_pending: int = 256,
                 retention_ns: int | None = None, retention_every_s: float = 300.0) -> None:
        self.interplay = interplay
        self._queue: queue.Queue[tuple[Any, Future] | None] = queue.Queue(maxsize=max_pending)
        self._retention_ns = retention_ns
        self._retention_every_s = retention_every_s
        self._next_retention = 0.0
        self._thread = threading.Thread(target=self._run, name="interplay-writer", daemon=True)
        self._closed = False
        self._thread.start()

    def submit(self, work: TelemetryBatch | Callable[[Interplay], Any]) -> Future:
        """Queue a batch (or a job run on the writer thread); the future resolves once committed."""
        if self._closed:
            raise Overloaded("server is shutting down")
        future: Future = Future()
        try:
            self._queue.put_nowait((work, future))
        except queue.Full:
            raise Overloaded("write queue is full; retry later") from None
        return future

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def close(self, timeout: float = 30.0) -> None:
        """Commit everything already queued, then stop."""
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            self._maybe_apply_retention()
            try:
                item = self._queue.get(timeout=1.0)
            except queue.Empty:
                continue
            if item is None:
                return
            work, future = item
            if not isinstance(work, TelemetryBatch):
                _resolve(future, functools.partial(work, self.interplay))
                continue
            group = [item]
            rows = _rows(work)
            stop = False
            while len(group) < _GROUP_ITEMS and rows < _GROUP_ROWS:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None or not isinstance(nxt[0], TelemetryBatch):
                    self._commit(group)
                    group = []
                    if nxt is None:
                        stop = True
                    else:
                        _resolve(nxt[1], functools.partial(nxt[0], self.interplay))
                    break
                group.append(nxt)
                rows += _rows(nxt[0])
            if group:
                self._commit(group)
            if stop:
                return

    def _commit(self, group: list[tuple[TelemetryBatch, Future]]) -> None:
        try:
            self.interplay.ingest_batches([batch for batch, _ in group])
        except Exception:  # one bad batch must not sink the others: retry one by one
            if len(group) == 1:
                group[0][1].set_exception(_as_error())
                return
            for batch, future in group:
                _resolve(future, functools.partial(self.interplay.ingest_batch, batch))
            return
        for batch, future in group:
            future.set_result(batch.result())

    def _maybe_apply_retention(self) -> None:
        if self._retention_ns is None or time.monotonic() < self._next_retention:
            return
        self._next_retention = time.monotonic() + self._retention_every_s
        try:
            deleted = self.interplay.apply_retention(self._retention_ns)
            if any(deleted.values()):
                log.info("retention: deleted %s", deleted)
        except Exception:
            log.exception("retention failed")


def _rows(batch: TelemetryBatch) -> int:
    r = batch.result()
    return r.spans + r.logs + r.metric_points + r.changes


def _resolve(future: Future, fn: Callable[[], Any]) -> None:
    try:
        future.set_result(fn())
    except Exception:
        future.set_exception(_as_error())


def _as_error() -> BaseException:
    import sys
    exc = sys.exc_info()[1]
    assert exc is not None
    log.error("write failed: %s", exc)
    return exc


__all__ = ["Writer", "IngestResult"]
