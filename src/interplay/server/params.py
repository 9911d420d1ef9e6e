"""Query parameters and error bodies shared by every JSON route."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..api import Interplay
from ..model import InterplayError, InvalidInput, TimeRange
from ..timeutil import parse_time_ns
from .state import state_of


async def answer(request: Request, fn: Callable[[Interplay, QueryParams], Any], status_code: int = 200) -> Response:
    """`fn(hub, query parameters)` in a worker thread, as JSON; an InterplayError as `error_response`."""
    try:
        result = await run_in_threadpool(fn, state_of(request).interplay, request.query_params)
    except InterplayError as exc:
        return error_response(exc)
    return JSONResponse(result, status_code=status_code)


def required(q: QueryParams, name: str) -> str:
    """A query parameter that must be there; InvalidInput (400) names it otherwise."""
    value = q.get(name)
    if not value:
        raise InvalidInput(f"{name}: required query parameter")
    return value


def window_of(q: Any) -> TimeRange:
    """`since` / `until` query parameters (RFC3339, unix seconds or relative) → a TimeRange."""
    since, until = q.get("since"), q.get("until")
    return TimeRange(parse_time_ns(since, where="since") if since else None,
                     parse_time_ns(until, where="until") if until else None)


def int_param(value: str | None, default: int, name: str = "limit", lo: int = 1, hi: int = 100_000) -> int:
    """An integer query parameter within lo..hi; InvalidInput (400) names the parameter otherwise."""
    if value in (None, ""):
        return default
    try:
        if len(value) > 20:
            raise ValueError
        number = int(value)
    except ValueError:
        raise InvalidInput(f"{name} {value[:40]!r}: expected an integer") from None
    if not lo <= number <= hi:
        raise InvalidInput(f"{name} {number}: must be between {lo} and {hi}")
    return number


def flag(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes")


def error_response(exc: InterplayError, retry_after: int | None = None) -> JSONResponse:
    """{"error", "type"} with the exception's HTTP status (and Retry-After when asked to come back)."""
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    return JSONResponse({"error": str(exc), "type": type(exc).__name__},
                        status_code=exc.http_status, headers=headers)
