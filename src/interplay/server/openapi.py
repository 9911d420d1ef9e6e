"""The OpenAPI 3 description, generated from the routes: each route declares its operations beside its
handler (`api_route`), and `document(routes)` gathers them under the shared header and schemas below.

    >>> from starlette.responses import Response
    >>> async def hello(request): return Response()
    >>> doc = document([api_route("/api/hello", hello, {"get": op("Say hello", [], ok("Hi", OBJ), tag="meta")})])
    >>> list(doc["paths"]), list(doc["paths"]["/api/hello"])
    (['/api/hello'], ['get'])
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from starlette.routing import BaseRoute, Route

Operation = dict[str, Any]


class ApiRoute(Route):
    """A route with its OpenAPI operations, one per method (the methods it answers)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], docs: dict[str, Operation]) -> None:
        super().__init__(path, endpoint, methods=[method.upper() for method in docs])
        self.docs = docs


def api_route(path: str, endpoint: Callable[..., Any], docs: dict[str, Operation]) -> ApiRoute:
    """`path` answered by `endpoint` for each method in `docs` ({"get": op(...), ...}), described by it."""
    return ApiRoute(path, endpoint, docs)


def document(routes: Iterable[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI document of the API routes among `routes`; a /api/ or /v1/ route without docs is an error."""
    paths: dict[str, dict[str, Operation]] = {}
    for route in routes:
        if isinstance(route, ApiRoute):
            paths.setdefault(route.path, {}).update(route.docs)
        elif isinstance(route, Route) and route.path.startswith(("/api/", "/v1/")):
            raise TypeError(f"{route.path}: declare it with api_route so /api/openapi.json describes it")
    return {**HEADER, "paths": paths, "components": COMPONENTS}


def param(name: str, description: str, *, where: str = "query", required: bool = False,
          schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path",
            "description": description, "schema": schema or {"type": "string"}}


def limit_param(default: int) -> dict[str, Any]:
    return param("limit", f"Most rows to return (default {default}).",
                 schema={"type": "integer", "minimum": 1, "maximum": 10000})


def ok(description: str, schema: dict[str, Any] | str) -> dict[str, Any]:
    if isinstance(schema, str):
        schema = {"$ref": f"#/components/schemas/{schema}"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def op(summary: str, params: list[dict[str, Any]], ok: dict[str, Any], *, tag: str, code: str = "200",
       body: dict[str, Any] | None = None, errors: tuple[str, ...] = ("400",)) -> Operation:
    """One operation: its answer `ok` under `code`, the shared error responses for `errors` (and 401)."""
    operation: Operation = {"summary": summary, "tags": [tag], "parameters": params, "responses": {code: ok}}
    for status in errors + ("401",):
        operation["responses"][status] = {"$ref": f"#/components/responses/{_ERROR_NAMES[status]}"}
    if body is not None:
        operation["requestBody"] = body
    return operation


_ERROR_NAMES = {"400": "BadRequest", "401": "Unauthorized", "404": "NotFound", "413": "TooLarge",
                "415": "UnsupportedMedia", "503": "Overloaded"}
OBJ = {"type": "object", "additionalProperties": True}
LIST = {"type": "array", "items": OBJ}
WINDOW = [param("since", "Start of the window: RFC3339, unix seconds or nanoseconds, or relative (-15m)."),
          param("until", "End of the window (exclusive), same forms as since.")]
WAIT = param("wait", "true: answer once the investigations have run.", schema={"type": "boolean"})
BINARY = {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}
OTLP_BODY = {"required": True, "description": "An OTLP export request, protobuf or JSON, optionally gzip.",
             "content": {"application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
                         "application/json": {"schema": OBJ}}}
CHANGE_BODY = {"required": True, "description": "One change event or a list of them.",
               "content": {"application/json": {"schema": {"oneOf": [
                   {"$ref": "#/components/schemas/ChangeEventIn"},
                   {"type": "array", "items": {"$ref": "#/components/schemas/ChangeEventIn"}}]}}}}

HEADER: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Interplay API", "version": "0.1.0",
             "description": "Query telemetry, investigate incidents and inspect agent runs. Every path but "
                            "/api/health needs `Authorization: Bearer <token>` when the server runs with "
                            "--token. Errors are JSON: {\"error\": \"what was wrong\", \"type\": \"...\"}."},
    "servers": [{"url": "/"}],
    "security": [{"bearer": []}],
    "tags": [{"name": "telemetry"}, {"name": "investigation"}, {"name": "agents"}, {"name": "alerts"},
             {"name": "ingest"}, {"name": "meta"}],
}

# The schemas the operations refer to ($ref), one source for every route module.
COMPONENTS: dict[str, Any] = {
    "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                   "description": "The server's --token / INTERPLAY_TOKEN."}},
    "responses": {name: {"description": name, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Error"}}}} for name in _ERROR_NAMES.values()},
    "schemas": {
        "Error": {"type": "object", "required": ["error"], "properties": {
            "error": {"type": "string"}, "type": {"type": "string"}}},
        "Service": {"type": "object", "properties": {
            "service": {"type": "string"}, "spans": {"type": "integer"}, "requests": {"type": "integer"},
            "request_rate": {"type": "number"}, "errors": {"type": "integer"},
            "error_rate": {"type": "number"}, "p50_ms": {"type": "number"}, "p99_ms": {"type": "number"},
            "first_seen": {"type": "string"}, "last_seen": {"type": "string"}}},
        "TraceSummary": {"type": "object", "properties": {
            "trace_id": {"type": "string"}, "root_service": {"type": "string"},
            "root_operation": {"type": "string"}, "start": {"type": "string"},
            "start_ns": {"type": "integer"}, "duration_ms": {"type": "number"}, "spans": {"type": "integer"},
            "errors": {"type": "integer"}, "services": {"type": "integer"}, "complete": {"type": "boolean"}}},
        "Span": {"type": "object", "properties": {
            "span_id": {"type": "string"}, "parent_span_id": {"type": "string", "nullable": True},
            "service": {"type": "string"}, "operation": {"type": "string"}, "kind": {"type": "string"},
            "start_ns": {"type": "integer"}, "end_ns": {"type": "integer"},
            "duration_ns": {"type": "integer"}, "self_ns": {"type": "integer"},
            "status_code": {"type": "string"}, "status_message": {"type": "string", "nullable": True},
            "service_version": {"type": "string", "nullable": True},
            "attributes": {"type": "string", "description": "JSON object text"},
            "events": {"type": "string", "nullable": True, "description": "JSON array text"},
            "orphan": {"type": "boolean", "description": "a root whose parent never arrived"},
            "children": {"type": "array", "items": {"$ref": "#/components/schemas/Span"}}}},
        "Trace": {"type": "object", "properties": {
            "trace_id": {"type": "string"}, "spans": {"type": "integer"},
            "roots": {"type": "array", "items": {"$ref": "#/components/schemas/Span"}}}},
        "Series": {"type": "object", "properties": {
            "service": {"type": "string"}, "operation": {"type": "string", "nullable": True},
            "step_ns": {"type": "integer"}, "points": {"type": "array", "items": {
                "type": "object", "properties": {
                    "t_ns": {"type": "integer"}, "requests": {"type": "integer"},
                    "errors": {"type": "integer"}, "error_rate": {"type": "number", "nullable": True},
                    "p50_ms": {"type": "number", "nullable": True},
                    "p95_ms": {"type": "number", "nullable": True},
                    "p99_ms": {"type": "number", "nullable": True},
                    "rate": {"type": "number", "description": "requests per second"}}}}}},
        "LogRecord": {"type": "object", "properties": {
            "time": {"type": "string"}, "time_ns": {"type": "integer"}, "service": {"type": "string"},
            "severity": {"type": "string"}, "severity_number": {"type": "integer", "nullable": True},
            "severity_text": {"type": "string", "nullable": True}, "body": {"type": "string"},
            "trace_id": {"type": "string", "nullable": True}, "span_id": {"type": "string", "nullable": True},
            "attributes": {"type": "string", "description": "JSON object text"}}},
        "Change": {"type": "object", "properties": {
            "time": {"type": "string"}, "time_ns": {"type": "integer"}, "service": {"type": "string"},
            "kind": {"type": "string"}, "description": {"type": "string"}, "version": {"type": "string"},
            "attributes": {"type": "string", "description": "JSON object text"}}},
        "ChangeEventIn": {"type": "object", "required": ["service", "description"], "properties": {
            "time": {"type": "string"}, "service": {"type": "string"},
            "kind": {"type": "string", "enum": ["deploy", "config", "flag", "infra", "commit"]},
            "description": {"type": "string"}, "version": {"type": "string"},
            "attributes": {"type": "object"}}},
        "IngestResult": {"type": "object", "properties": {
            "spans": {"type": "integer"}, "logs": {"type": "integer"}, "metric_points": {"type": "integer"},
            "changes": {"type": "integer"}, "rejected": {"type": "array", "items": {
                "type": "object", "properties": {"count": {"type": "integer"}, "reason": {"type": "string"}}}}}},
        "Graph": {"type": "object", "properties": {
            "windows": OBJ,
            "nodes": {"type": "array", "items": {"type": "object", "properties": {
                "id": {"type": "string"},
                "kind": {"type": "string", "description": "service, database, cache, queue, llm, external"},
                "operations": LIST, "stats": {"type": "object", "description": "per window name"}}}},
            "edges": {"type": "array", "items": {"type": "object", "properties": {
                "caller": {"type": "string"}, "callee": {"type": "string"}, "callee_kind": {"type": "string"},
                "mode": {"type": "string", "enum": ["sync", "async"]},
                "stats": {"type": "object", "description": "per window: calls, errors, rate, "
                                                           "error_rate, p50_ms, p95_ms, retries"}}}}}},
        "AlertAnswer": {"type": "object", "properties": {"investigations": {"type": "array", "items": {
            "type": "object", "properties": {
                "id": {"type": "string", "nullable": True}, "group_key": {"type": "string"},
                "service": {"type": "string", "nullable": True}, "action": {"type": "string"},
                "status": {"type": "string", "nullable": True}, "summary": {"type": "string"}}}}}},
        "GenericAlert": {"type": "object", "required": ["service"], "properties": {
            "service": {"type": "string"}, "started_at": {"type": "string"}, "summary": {"type": "string"},
            "status": {"type": "string", "enum": ["firing", "resolved"]}, "key": {"type": "string"}}},
        "Impact": {"type": "object", "properties": {
            "target": OBJ, "direct_callers": LIST, "upstream": LIST, "entry_points": LIST}},
        "Investigation": {"type": "object", "properties": {
            "id": {"type": "string"}, "symptom": OBJ, "onset": {"type": "string"},
            "onset_source": {"type": "string", "enum": ["given", "detected"]}, "windows": OBJ,
            "method": {"type": "string"},
            "root_causes": {"type": "array", "items": {"type": "object", "properties": {
                "rank": {"type": "integer"}, "service": {"type": "string"},
                "operation": {"type": "string", "nullable": True}, "kind": {"type": "string"},
                "score": {"type": "number"}, "summary": {"type": "string"}, "explains": OBJ,
                "chain": {"type": "array", "items": {"type": "object", "properties": {
                    "service": {"type": "string"}, "operation": {"type": "string", "nullable": True},
                    "effect": {"type": "string"}}}},
                "evidence": LIST, "exemplar_trace": {"type": "string", "nullable": True}}}},
            "load_moves": LIST, "data_completeness": OBJ, "exemplars": OBJ,
            "seconds": {"type": "number"}}},
        "AgentRun": {"type": "object", "additionalProperties": True, "properties": {
            "run_id": {"type": "string"}, "trace_id": {"type": "string"}, "agent": {"type": "string"},
            "status": {"type": "string"}, "started": {"type": "string"}, "duration_ms": {"type": "number"},
            "steps": {"type": "integer"}, "model_calls": {"type": "integer"},
            "tool_calls": {"type": "integer"}, "tools": {"type": "array", "items": {"type": "string"}},
            "tokens": OBJ, "cost": {"type": "object", "nullable": True},
            "conversation_id": {"type": "string", "nullable": True},
            "errors": {"type": "integer"}, "error": {"type": "string", "nullable": True},
            "path": {"type": "array", "items": {"type": "string"}}, "failure_modes": LIST,
            "steps_detail": LIST}},
    },
}
