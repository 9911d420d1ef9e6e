"""The Zipkin v2 receiver: `POST /api/v2/spans` with a JSON array of spans, as Brave, Envoy, Spring
Cloud Sleuth and the OpenTelemetry SDKs' Zipkin exporters send it.

Same body limit, gzip handling, validation and durability as OTLP/HTTP (`otlp_http.read_body`, the
writer's commit before the answer). Zipkin has no partial-success message: spans that fail
validation are dropped and counted in the 202 answer's JSON, which reporters ignore and people can
read. Zipkin's protobuf encoding is refused with 415 (no maintained Python decoder runs beside
protobuf 5+); reporters can send JSON (`SpanBytesEncoder.JSON_V2`, Envoy's `HTTP_JSON`).
"""
from __future__ import annotations

import asyncio
import logging

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..model import InterplayError, InvalidInput, Overloaded, UnsupportedMediaType
from ..otlp import zipkin
from ..otlp.columns import ColumnBuilder
from . import otlp_http
from .params import error_response
from .state import state_of

log = logging.getLogger("interplay.server")
PATH = "/api/v2/spans"


async def spans_endpoint(request: Request) -> Response:
    state = state_of(request)
    try:
        _check_media(request.headers.get("content-type"))
        body = await otlp_http.read_body(request.stream(), request.headers.get("content-encoding"),
                                         state.max_body)
        batch = decode(body)
        result = await asyncio.wrap_future(state.writer.submit(batch))
    except Overloaded as exc:
        return error_response(exc, retry_after=2)
    except InterplayError as exc:
        log.info("rejected %s: %s", PATH, exc)
        return error_response(exc)
    return JSONResponse(result.to_dict(), status_code=202)


def decode(body: bytes):
    """A Zipkin v2 JSON body → batch; InvalidInput when it is not a JSON array of spans."""
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


def _check_media(content_type: str | None) -> None:
    base = (content_type or "application/json").split(";")[0].strip().lower()
    if base in ("application/x-protobuf", "application/protobuf"):
        raise UnsupportedMediaType("Zipkin protobuf is not supported here; send Zipkin v2 JSON "
                                   "(Content-Type: application/json)")
    if base not in ("application/json", "text/plain", ""):
        raise UnsupportedMediaType(f"content type {content_type!r} is not supported; send Zipkin v2 JSON "
                                   "(application/json)")
