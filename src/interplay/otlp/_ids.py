"""Ids as Jaeger and Zipkin write them: hex, possibly shorter than OTLP's (64-bit trace ids)."""
from __future__ import annotations

import re
from typing import Any

_HEX = re.compile(r"[0-9a-f]+")


def padded_hex_id(value: Any, size: int, field: str) -> str:
    """Lowercase hex of `size` bytes, left-padded with zeros (a 64-bit trace id → 128 bits)."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{field} must be a hex string, got {value!r}")
    text = value.strip().lower()
    if len(text) > size * 2 or not _HEX.fullmatch(text):
        raise ValueError(f"{field} {value!r} is not a hex id of at most {size} bytes")
    return text.rjust(size * 2, "0")
