"""Span names as operations: a raw URL's identifiers become `{id}`, so one route is one operation.

Span names should have few values (the route, `GET /orders/{id}`), but many tracers name server
spans by the raw path (`GET /orders/8812`, `/product/OLJCESPC7Z`). Each request would then be an
operation of its own: an entry point with one request has no before to compare with, no peers and
no path of its own kind. A path segment that looks like an identifier (digits, a UUID, a hex id, a
long token mixing letters and digits) is replaced; the query string is dropped. Names that are not
paths (gRPC methods, SQL, `chat gpt-4o`) and templated segments (`{id}`, `:id`) are left alone.
"""
from __future__ import annotations

import re
from functools import lru_cache

ID = "{id}"
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HEX = re.compile(r"[0-9a-fA-F]{8,}")
_TOKEN = re.compile(r"[A-Za-z0-9_\-=+]{8,}")


def _is_id(segment: str) -> bool:
    """Digits; a UUID; a hex id; or a long token with digits that no word spells: two or more of
    them, or among capitals only (`OLJCESPC7Z`; `oauth2callback` stays)."""
    digits = sum(c.isdigit() for c in segment)
    if not digits:
        return False
    if segment.isdigit() or _UUID.fullmatch(segment) or _HEX.fullmatch(segment):
        return True
    letters = [c for c in segment if c.isalpha()]
    return bool(_TOKEN.fullmatch(segment)) and (digits >= 2 or bool(letters) and all(c.isupper() for c in letters))


ORIGINAL_NAME = "interplay.span.original_name"  # the attribute that keeps a name as it was sent


@lru_cache(maxsize=8192)  # names repeat: each is worked out once per process, not once per span
def route_of(name: str) -> str:
    """`name` with identifier-like path segments replaced by `{id}` and any query string dropped;
    unchanged when it holds no path."""
    method, sep, path = name.rpartition(" ")
    if "/" not in path:
        return name
    path = path.split("?", 1)[0].split("#", 1)[0]
    segments = path.split("/")
    routed = "/".join(ID if s and "{" not in s and not s.startswith(":") and _is_id(s) else s for s in segments)
    return f"{method}{sep}{routed}"
