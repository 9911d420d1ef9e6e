"""Parsing and formatting of times and durations as users type them."""
from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from .model import InvalidInput

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ns|us|ms|s|m|h|d|w)?\s*$")
_UNIT_NS = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9,
            "d": 86400 * 10**9, "w": 7 * 86400 * 10**9}


MAX_NS = 2**63 - 1  # int64 nanoseconds: 2262-04-11


def parse_duration_ns(text: str) -> int:
    """'7d', '15m', '90s', '250ms' → nanoseconds (a bare number is seconds)."""
    m = _DURATION.match(str(text)[:64])
    if not m or len(str(text)) > 64:
        raise InvalidInput(f"duration {str(text)[:64]!r}: expected a number with a unit such as 30s, 15m, 2h, 7d")
    value = float(m.group(1)) * _UNIT_NS[m.group(2) or "s"]
    if not value < MAX_NS:
        raise InvalidInput(f"duration {text!r}: longer than the ~292 years nanoseconds can count")
    return int(value)


def parse_time_ns(value: str | int | float, *, now_ns: int | None = None, where: str = "time") -> int:
    """RFC3339 / ISO 8601, unix seconds, or relative ('now', '-15m', '2h ago') → unix ns."""
    ns = _parse_time_ns(value, now_ns, where)
    if not 0 <= ns <= MAX_NS:
        raise InvalidInput(f"{where}: {str(value)[:40]!r} is outside 1970..2262")
    return ns


def _parse_time_ns(value: str | int | float, now_ns: int | None, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise InvalidInput(f"{where}: expected a time, got {str(value)[:40]!r}")
    if isinstance(value, float) and value != value or value in (float("inf"), float("-inf")):
        raise InvalidInput(f"{where}: expected a time, got {value!r}")
    if isinstance(value, (int, float)):
        if abs(value) > 10**20:
            raise InvalidInput(f"{where}: {str(value)[:40]!r} is outside 1970..2262")
        return int(value * 10**9) if abs(value) < 10**11 else int(value)
    text = value.strip()
    if len(text) > 64:
        raise InvalidInput(f"{where}: {text[:40]!r}… is not a time (too long)")
    now_ns = time.time_ns() if now_ns is None else now_ns
    if text == "now":
        return now_ns
    if text.startswith("-") or text.endswith(" ago"):
        try:
            return now_ns - parse_duration_ns(text.removeprefix("-").removesuffix(" ago"))
        except InvalidInput as exc:
            raise InvalidInput(f"{where}: {exc}") from None
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return _parse_time_ns(float(text) if "." in text else int(text), now_ns, where)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        dt.timestamp()
    except (ValueError, OverflowError):
        raise InvalidInput(f"{where}: {text!r} is not an RFC3339 time (e.g. 2026-11-25T13:00:00Z), "
                           "unix seconds, or a relative time like -15m") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp()) * 10**9 + dt.microsecond * 1000


def format_time(ns: int | None) -> str:
    """Unix ns → RFC3339 UTC with milliseconds."""
    if ns is None:
        return ""
    dt = datetime.fromtimestamp(ns / 1e9, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
