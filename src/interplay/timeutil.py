"""Parsing and formatting of times and durations as users type them."""
from __future__ import annotations

import re
import time
from datetime import datetime, timezone

from .model import InvalidInput

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ns|us|ms|s|m|h|d|w)?\s*$")
_UNIT_NS = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9,
            "d": 86400 * 10**9, "w": 7 * 86400 * 10**9}


def parse_duration_ns(text: str) -> int:
    """'7d', '15m', '90s', '250ms' → nanoseconds (a bare number is seconds)."""
    m = _DURATION.match(str(text))
    if not m:
        raise InvalidInput(f"duration {text!r}: expected a number with a unit such as 30s, 15m, 2h, 7d")
    return int(float(m.group(1)) * _UNIT_NS[m.group(2) or "s"])


def parse_time_ns(value: str | int | float, *, now_ns: int | None = None, where: str = "time") -> int:
    """RFC3339 / ISO 8601, unix seconds, or relative ('now', '-15m', '2h ago') → unix ns."""
    if isinstance(value, bool):
        raise InvalidInput(f"{where}: expected a time, got {value!r}")
    if isinstance(value, (int, float)):
        return int(value * 10**9) if abs(value) < 10**11 else int(value)
    text = str(value).strip()
    now_ns = time.time_ns() if now_ns is None else now_ns
    if text == "now":
        return now_ns
    if text.startswith("-") or text.endswith(" ago"):
        return now_ns - parse_duration_ns(text.removeprefix("-").removesuffix(" ago"))
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return parse_time_ns(float(text) if "." in text else int(text), where=where)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{where}: {text!r} is not an RFC3339 time (e.g. 2026-11-25T13:00:00Z), "
                           "unix seconds, or a relative time like -15m") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp()) * 10**9 + dt.microsecond * 1000


def format_time(ns: int | None) -> str:
    """Unix ns → RFC3339 UTC with milliseconds."""
    if ns is None:
        return ""
    dt = datetime.fromtimestamp(ns / 1e9, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
