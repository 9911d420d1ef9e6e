"""What every route reaches: the hub, the writer queue and the server's limits (`state_of(request)`).

Its own module so that route modules and `app` can both import it without importing each other.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from ..api import Interplay
from .admission import Admission
from .bodies import BodyLimits
from .otlp_http import DEFAULT_MAX_BODY
from .writer import Writer

T = TypeVar("T")


@dataclass
class ServerState:
    interplay: Interplay
    writer: Writer
    token: str | None = None
    max_body: int = DEFAULT_MAX_BODY
    notify_url: str | None = None   # where alert investigations are forwarded (routes_alerts)
    limits: BodyLimits = field(default_factory=BodyLimits)
    admission: Admission | None = None   # None: loopback names only, with `token`

    def __post_init__(self) -> None:
        if self.admission is None:
            self.admission = Admission(token=self.token)
        self.limits.max_body = self.max_body
        self.limits.budget = max(self.limits.budget, self.max_body)

    async def write(self, job: Callable[[Interplay], T]) -> T:
        """`job(hub)` on the writer thread (the one DuckDB writer), or in a worker thread without one."""
        if self.writer is None:
            return await run_in_threadpool(job, self.interplay)
        result: T = await asyncio.wrap_future(self.writer.submit(job))
        return result


def state_of(request: Request) -> ServerState:
    state: ServerState = request.app.state.interplay_state
    return state
