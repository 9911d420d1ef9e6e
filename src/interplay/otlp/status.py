"""Span status from the protocol's own answer, where the instrumentation left the status unset.

Many exports never set a span's status although the request failed: the HTTP or gRPC status code
is there as an attribute. The OpenTelemetry semantic conventions say what counts as an error:
HTTP 5xx on a server (4xx too on a client, whose request it was), gRPC codes on a client except
OK, on a server only those that mean the server failed; `error.type` is set only on failure.
"""
from __future__ import annotations

from typing import Any

HTTP_CODES = ("http.response.status_code", "http.status_code")
GRPC_CODE = "rpc.grpc.status_code"
# UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS
GRPC_SERVER_ERRORS = frozenset({2, 4, 12, 13, 14, 15})


def status_from_attributes(kind: str, attributes: dict[str, Any]) -> str | None:
    """A status message ("http.response.status_code 503") when the attributes say the span failed."""
    for key in HTTP_CODES:
        code = _int(attributes.get(key))
        if code is not None:
            if code >= 500 or (code >= 400 and kind == "CLIENT"):
                return f"{key} {code}"
            break
    code = _int(attributes.get(GRPC_CODE))
    if code is not None and code != 0 and (kind == "CLIENT" or code in GRPC_SERVER_ERRORS):
        return f"{GRPC_CODE} {code}"
    error_type = attributes.get("error.type")
    if isinstance(error_type, str) and error_type.strip():
        return f"error.type {error_type.strip()}"
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None
