"""The Zipkin v2 receiver: `POST /api/v2/spans` with a JSON array of spans or a protobuf ListOfSpans
(`application/x-protobuf`), as Brave, Envoy, Spring Cloud Sleuth and the OpenTelemetry SDKs' Zipkin
exporters send them.

Same body limit, gzip handling, validation and durability as OTLP/HTTP (`otlp_http.read_body`, the
writer's commit before the answer). Zipkin has no partial-success message: spans that fail
validation are dropped and counted in the 202 answer's JSON, which reporters ignore and people can
read.
"""
from __future__ import annotations

import asyncio
import logging

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..model import InterplayError, InvalidInput, Overloaded, UnsupportedMediaType
from ..otlp import zipkin, zipkin_proto
from ..otlp.columns import ColumnBuilder
from . import otlp_http
from .params import error_response
from .state import state_of

log = logging.getLogger("interplay.server")
PATH = "/api/v2/spans"


async def spans_endpoint(request: Request) -> Response:
    state = state_of(request)
    try:
        proto = _is_proto(request.headers.get("content-type"))
        body = await otlp_http.read_body(request.stream(), request.headers.get("content-encoding"),
                                         state.max_body)
        batch = decode(body, proto=proto)
        result = await asyncio.wrap_future(state.writer.submit(batch))
    except Overloaded as exc:
        return error_response(exc, retry_after=2)
    except InterplayError as exc:
        log.info("rejected %s: %s", PATH, exc)
        return error_response(exc)
    return JSONResponse(result.to_dict(), status_code=202)


def decode(body: bytes, *, proto: bool = False):
    """A Zipkin v2 JSON (or protobuf) body → batch; InvalidInput when it is not a list of spans."""
    if proto:
        builder = ColumnBuilder()
        zipkin.add_spans(zipkin_proto.decode_spans(body), builder, "body", fmt=zipkin_proto.FORMAT)
        return builder.build()
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"body is not valid JSON: {exc}") from None
    if not isinstance(doc, list):
        raise InvalidInput(f"{zipkin.FORMAT}: expected a JSON array of spans, got {type(doc).__name__}"
                           + (" (OTLP goes to /v1/traces)" if isinstance(doc, dict) and "resourceSpans" in doc
                              else ""))
    builder = ColumnBuilder()
    zipkin.add_spans(doc, builder, "body")
    return builder.build()


def _is_proto(content_type: str | None) -> bool:
    base = (content_type or "application/json").split(";")[0].strip().lower()
    if base in ("application/x-protobuf", "application/protobuf"):
        return True
    if base not in ("application/json", "text/plain", ""):
        raise UnsupportedMediaType(f"content type {content_type!r} is not supported; send Zipkin v2 JSON "
                                   "(application/json) or protobuf (application/x-protobuf)")
    return False
