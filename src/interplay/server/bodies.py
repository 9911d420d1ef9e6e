"""Bounded request bodies on every route: size, read time, requests in flight, and a global budget
of body bytes held in memory at once.

`BodyGuard` wraps the ASGI `receive` of every HTTP request, so the rules hold on routes whose
handlers we do not write (the MCP SDK's /mcp) as well as ours. Decompression (`inflate`) charges
the decompressed bytes to the same request's reservation, so a gzip bomb spends the budget it
inflates into, not the few bytes it was sent as.
"""
from __future__ import annotations

import asyncio
import contextvars
import logging
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from starlette.responses import JSONResponse

from ..model import InterplayError, InvalidInput, Overloaded, PayloadTooLarge, UnsupportedMediaType

log = logging.getLogger("interplay.server")

MiB = 1024 * 1024


class BodyTimeout(InterplayError):
    """The client stopped sending its body (or sent it too slowly)."""

    http_status = 408


@dataclass
class BodyLimits:
    """What one server allows; the defaults keep the worst case under 1 GB (README, "limits")."""

    max_body: int = 16 * MiB            # per request, raw and after decompression
    budget: int = 128 * MiB             # body bytes (raw + decompressed) held by all requests together
    max_upload: int = 1024 * MiB        # POST /api/ingest streams to disk up to this, raw and decompressed
    idle_timeout_s: float = 30.0        # no body bytes for this long: 408
    total_timeout_s: float = 120.0      # a whole body (except /api/ingest) must arrive within this
    max_requests: int = 256             # requests in flight; more get 503 + Retry-After
    streamed_paths: frozenset[str] = frozenset({"/api/ingest"})
    # live counters (one event loop: no lock needed)
    held: int = field(default=0, init=False)
    requests: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.budget = max(self.budget, self.max_body)  # one maximal request always fits

    @property
    def max_connections(self) -> int:
        """uvicorn's hard cap on connections (idle keep-alive ones included)."""
        return self.max_requests * 2


class Reservation:
    """The body bytes one request holds against the global budget, returned when it ends."""

    def __init__(self, limits: BodyLimits) -> None:
        self.limits, self.held = limits, 0

    def charge(self, n: int) -> None:
        limits = self.limits
        if limits.held + n > limits.budget:
            raise Overloaded(f"server is holding {limits.held >> 20} MiB of request bodies "
                             f"(budget {limits.budget >> 20} MiB); retry later")
        limits.held += n
        self.held += n

    def release(self) -> None:
        self.limits.held -= self.held
        self.held = 0


_current: contextvars.ContextVar[Reservation | None] = contextvars.ContextVar("body_reservation", default=None)


def charge(n: int) -> None:
    """Charge n bytes to the current request's reservation (a no-op outside a guarded request)."""
    reservation = _current.get()
    if reservation is not None:
        reservation.charge(n)


class BodyGuard:
    """ASGI middleware enforcing BodyLimits on every HTTP request."""

    def __init__(self, app, limits: BodyLimits, error_response=None) -> None:
        self.app, self.limits = app, limits
        self.error_response = error_response or _json_error

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limits = self.limits
        if limits.requests >= limits.max_requests:
            await self._refuse(scope, receive, send, Overloaded(
                f"{limits.requests} requests in flight (the most this server takes); retry later"))
            return
        limits.requests += 1
        reservation = Reservation(limits)
        token = _current.set(reservation)
        body = _BodyReader(limits, reservation, receive, scope["path"] in limits.streamed_paths)
        started = replaced = False
        try:
            body.prepay(_content_length(scope))
        except (PayloadTooLarge, Overloaded) as exc:
            try:
                await self._refuse(scope, body.receive, send, exc, body)
            finally:
                reservation.release()
                limits.requests -= 1
                _current.reset(token)
            return

        async def guarded_send(message):
            nonlocal started, replaced
            if replaced:
                return
            if message["type"] == "http.response.start":
                started = True
                if body.error is not None and message["status"] != body.error.http_status:
                    replaced = True  # a handler turned our refusal into something else: answer it ourselves
                    await self._refuse(scope, body.receive, send, body.error, body)
                    return
                await body.drain()  # an early answer reaches the client only if its body was read
            await send(message)

        try:
            await self.app(scope, body.receive, guarded_send)
        except (PayloadTooLarge, BodyTimeout, Overloaded) as exc:
            if not started:
                await self._refuse(scope, body.receive, send, exc, body)
            elif not replaced:
                raise
        finally:
            reservation.release()
            limits.requests -= 1
            _current.reset(token)

    async def _refuse(self, scope, receive, send, exc: InterplayError, body: _BodyReader | None = None):
        if body is not None and not isinstance(exc, BodyTimeout):
            await body.drain()
        response = self.error_response(scope, exc)
        if isinstance(exc, Overloaded):
            response.headers["Retry-After"] = "2"
        if body is None or not body.done:
            response.headers["Connection"] = "close"
        await response(scope, receive, send)


class _BodyReader:
    """The guarded `receive` of one request."""

    def __init__(self, limits: BodyLimits, reservation: Reservation, receive, streamed: bool) -> None:
        self.limits, self.reservation, self._receive, self.streamed = limits, reservation, receive, streamed
        self.received = self.prepaid = 0
        self.done = False
        self.error: InterplayError | None = None
        self._lock = asyncio.Lock()
        loop = asyncio.get_running_loop()
        self.deadline = None if streamed else loop.time() + limits.total_timeout_s

    def prepay(self, declared: int | None) -> None:
        """Refuse a declared Content-Length over the limit, and reserve it whole before reading:
        with many large uploads at once, some wait for nothing instead of all failing half-read."""
        if declared is None:
            return
        limit = self.limits.max_upload if self.streamed else self.limits.max_body
        if declared > limit:
            raise PayloadTooLarge(f"request body of {declared} bytes is over {limit} bytes")
        if not self.streamed:
            self.reservation.charge(declared)
            self.prepaid = declared

    async def receive(self):
        if self.done:
            return await self._receive()
        async with self._lock:  # a response may listen for disconnects while we drain
            if self.done:
                return await self._receive()
            return await self._receive_body()

    async def _receive_body(self):
        try:
            message = await self._next()
            if message["type"] != "http.request":
                self.done = True
                return message
            n = len(message.get("body") or b"")
            self.received += n
            if not message.get("more_body"):
                self.done = True
            limit = self.limits.max_upload if self.streamed else self.limits.max_body
            if self.received > limit:
                raise PayloadTooLarge(f"request body over {limit} bytes")
            if not self.streamed:  # a streamed upload goes to disk chunk by chunk
                self.reservation.charge(max(0, self.received - max(self.prepaid, self.received - n)))
            return message
        except InterplayError as exc:
            self.error = exc
            raise

    async def _next(self):
        loop = asyncio.get_running_loop()
        timeout = self.limits.idle_timeout_s
        if self.deadline is not None:
            timeout = min(timeout, self.deadline - loop.time())
        try:
            if timeout <= 0:
                raise TimeoutError
            return await asyncio.wait_for(self._receive(), timeout)
        except TimeoutError:
            raise BodyTimeout(f"request body not received in time (no data for "
                              f"{self.limits.idle_timeout_s:g} s, or all of it not within "
                              f"{self.limits.total_timeout_s:g} s)") from None

    async def drain(self, most: int | None = None, seconds: float = 10.0) -> None:
        """Read and discard what is left of the body (bounded), so the client reads our answer."""
        if self.done:
            return
        async with self._lock:
            await self._drain(self.limits.max_body if most is None else most, seconds)

    async def _drain(self, most: int, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        discarded = 0
        while not self.done and discarded <= most and loop.time() < end:
            try:
                message = await asyncio.wait_for(self._receive(), end - loop.time())
            except TimeoutError:
                return
            discarded += len(message.get("body") or b"")
            if message["type"] != "http.request" or not message.get("more_body"):
                self.done = True


def _content_length(scope) -> int | None:
    for key, value in scope.get("headers") or ():
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # h11 refuses these before we see them
    return None


def _json_error(scope, exc: InterplayError):
    return JSONResponse({"error": str(exc), "type": type(exc).__name__}, status_code=exc.http_status)


# -- decompression -------------------------------------------------------------------------------
async def read_body(chunks: AsyncIterator[bytes], encoding: str | None, limit: int) -> bytes:
    """The request body, decompressed, refusing anything over `limit` bytes at any stage.

    Decompression is incremental with a cap on output, so a gzip bomb costs at most `limit`;
    every gzip member is read (a body may be several gzip files concatenated).
    """
    inflater = Inflater(encoding, limit)
    out = bytearray()
    received = 0
    async for chunk in chunks:
        received += len(chunk)
        if received > limit:
            raise PayloadTooLarge(f"request body over {limit} bytes")
        out += inflater.feed(chunk)
    out += inflater.finish()
    return bytes(out)


class Inflater:
    """Incremental gzip / deflate / identity decoding with a cap on the output, charged to the budget."""

    def __init__(self, encoding: str | None, limit: int) -> None:
        self.encoding = (encoding or "identity").strip().lower()
        if self.encoding not in ("identity", "gzip", "x-gzip", "deflate"):
            raise UnsupportedMediaType(f"content encoding {self.encoding!r} is not supported; use gzip or none")
        self.limit = limit
        self.produced = 0
        self._wbits = 16 + zlib.MAX_WBITS if self.encoding in ("gzip", "x-gzip") else zlib.MAX_WBITS
        self._z = None if self.encoding == "identity" else zlib.decompressobj(self._wbits)
        self._members = 0

    def feed(self, data: bytes) -> bytes:
        if self._z is None:
            return data  # identity: already charged by BodyGuard as received bytes
        out = bytearray()
        while data:
            if self._z.eof:  # the next gzip member (or trailing garbage, which zlib refuses)
                self._z = zlib.decompressobj(self._wbits)
                self._members += 1
            try:
                piece = self._z.decompress(data, self.limit + 1 - self.produced)
            except zlib.error as exc:
                raise InvalidInput(f"body is not valid {self.encoding} data: {exc}") from None
            self._take(piece, out)
            if self._z.unconsumed_tail:
                raise PayloadTooLarge(f"decompressed body over {self.limit} bytes")
            data = self._z.unused_data if self._z.eof else b""
        return bytes(out)

    def finish(self) -> bytes:
        if self._z is None:
            return b""
        out = bytearray()
        try:
            self._take(self._z.flush(), out)
        except zlib.error as exc:
            raise InvalidInput(f"body is not valid {self.encoding} data: {exc}") from None
        if not self._z.eof:
            raise InvalidInput(f"body is truncated {self.encoding} data")
        return bytes(out)

    def _take(self, piece: bytes, out: bytearray) -> None:
        self.produced += len(piece)
        if self.produced > self.limit:
            raise PayloadTooLarge(f"decompressed body over {self.limit} bytes")
        charge(len(piece))
        out += piece


class InflatedSize:
    """What a gzip upload inflates to (every member), counted as it streams in and not kept:
    `/api/ingest` refuses a bomb while it arrives, not after parsing it on the writer's thread
    (a 5 MB upload inflating past 1 GiB held every OTLP write for 90 s before its 413).

    Anything that does not start with gzip's magic bytes is not counted (its raw size is).
    """

    def __init__(self, limit: int, name: str) -> None:
        self.limit, self.name, self.size = limit, name, 0
        self._gzip: bool | None = None
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> None:
        if self._gzip is None:
            self._gzip = data[:2] == b"\x1f\x8b"  # as `interplay ingest` sniffs it
        while self._gzip and data:
            if self._z.eof:  # the next member
                self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                self.size += len(self._z.decompress(data, MiB))
            except zlib.error:
                self._gzip = False  # corrupt or trailing garbage: the ingest itself says so
                return
            if self.size > self.limit:
                raise PayloadTooLarge(f"{self.name}: over {self.limit} bytes (after decompression)")
            data = self._z.unused_data if self._z.eof else self._z.unconsumed_tail
