"""Connections that never send a whole request head are closed.

uvicorn closes an idle keep-alive connection, but not one that sends nothing or stops halfway
through its headers: 512 such sockets (the connection cap) held forever would answer every other
client 503 for as long as the attacker liked (slowloris). BodyGuard bounds bodies; this bounds heads.
"""
from __future__ import annotations

import asyncio

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


def head_timeout_protocol(timeout_s: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol, closing a connection whose request head has not arrived in
    `timeout_s` to 2 × `timeout_s` seconds (checked every `timeout_s`)."""
    return type("HeadTimeoutH11Protocol", (_HeadTimeout,), {"head_timeout_s": timeout_s})


_NOT_WAITING = object()


class _HeadTimeout(H11Protocol):
    head_timeout_s = 30.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._seen: object = _NOT_WAITING   # the request cycle a head was awaited after, last check
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._check_head)

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_timer.cancel()
        super().connection_lost(exc)

    def _check_head(self) -> None:
        if self.transport.is_closing():
            return
        # h11's IDLE: no request head yet (the first one, or the next on a kept-alive connection).
        # The same cycle as at the last check means no request arrived in between.
        waiting = self.conn.their_state is h11.IDLE
        if waiting and self._seen is self.cycle:
            self.transport.close()
            return
        self._seen = self.cycle if waiting else _NOT_WAITING
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._check_head)
