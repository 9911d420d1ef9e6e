"""Query parameters and error bodies shared by every JSON route."""
from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from ..model import InterplayError, InvalidInput
from ..queries import TimeRange
from ..timeutil import parse_time_ns


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
