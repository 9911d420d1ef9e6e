"""The web UI (GET /, /static/*), the OpenAPI description (GET /api/openapi.json) and the
time series the UI's charts draw (GET /api/series).

The UI is plain ES modules and SVG drawn by our own code: no build step, no CDN, works offline.
The page and its static files hold no telemetry; every number comes from /api/ calls, which carry
the bearer token when the server has one.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ..api import Interplay
from .params import answer, int_param, required, window_of

STATIC = Path(__file__).with_name("static")
# The page may load only our own files; data is never inserted as HTML (the JS builds DOM nodes).
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
_HEADERS = {"Content-Security-Policy": _CSP, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}
MAX_BUCKETS = 500


async def _index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", headers=_HEADERS)


async def _openapi(request: Request) -> Response:
    return JSONResponse(OPENAPI)


async def _series(request: Request) -> Response:
    def run(hub: Interplay, q: QueryParams) -> Any:
        service = required(q, "service")
        buckets = int_param(q.get("buckets"), 60, "buckets", hi=MAX_BUCKETS)
        return hub.series(service, q.get("operation") or None, window_of(q), buckets)
    return await answer(request, run)


async def _anomalies(request: Request) -> Response:
    return await answer(request, lambda hub, q: hub.anomalies(window_of(q)))


async def _operations(request: Request) -> Response:
    return await answer(request, lambda hub, q: hub.operations(required(q, "service"), window_of(q)))


class _Static(StaticFiles):
    """Static files with the same security headers as the page."""

    async def get_response(self, path: str, scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(_HEADERS)
        return response


# -- OpenAPI 3 description -------------------------------------------------------------------------
def _param(name: str, description: str, *, where: str = "query", required: bool = False,
           schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path",
            "description": description, "schema": schema or {"type": "string"}}


_WINDOW = [_param("since", "Start of the window: RFC3339, unix seconds or nanoseconds, or relative (-15m)."),
           _param("until", "End of the window (exclusive), same forms as since.")]
_WAIT = _param("wait", "true: answer once the investigations have run.", schema={"type": "boolean"})
_LIMIT = lambda default: _param("limit", f"Most rows to return (default {default}).",  # noqa: E731
                                schema={"type": "integer", "minimum": 1, "maximum": 10000})


def _ok(description: str, schema: dict[str, Any] | str) -> dict[str, Any]:
    if isinstance(schema, str):
        schema = {"$ref": f"#/components/schemas/{schema}"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _op(summary: str, params: list[dict[str, Any]], ok: dict[str, Any], *, tag: str, code: str = "200",
        body: dict[str, Any] | None = None, errors: tuple[str, ...] = ("400",)) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "tags": [tag], "parameters": params, "responses": {code: ok}}
    for status in errors + ("401",):
        op["responses"][status] = {"$ref": f"#/components/responses/{_ERROR_NAMES[status]}"}
    if body is not None:
        op["requestBody"] = body
    return op


_ERROR_NAMES = {"400": "BadRequest", "401": "Unauthorized", "404": "NotFound", "413": "TooLarge",
                "415": "UnsupportedMedia", "503": "Overloaded"}
_OBJ = {"type": "object", "additionalProperties": True}
_LIST = {"type": "array", "items": _OBJ}
_BINARY = {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}
_OTLP_BODY = {"required": True, "description": "An OTLP export request, protobuf or JSON, optionally gzip.",
              "content": {"application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
                          "application/json": {"schema": _OBJ}}}
_CHANGE_BODY = {"required": True, "description": "One change event or a list of them.",
                "content": {"application/json": {"schema": {"oneOf": [
                    {"$ref": "#/components/schemas/ChangeEventIn"},
                    {"type": "array", "items": {"$ref": "#/components/schemas/ChangeEventIn"}}]}}}}

OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Interplay API", "version": "0.1.0",
             "description": "Query telemetry, investigate incidents and inspect agent runs. Every path but "
                            "/api/health needs `Authorization: Bearer <token>` when the server runs with "
                            "--token. Errors are JSON: {\"error\": \"what was wrong\", \"type\": \"...\"}."},
    "servers": [{"url": "/"}],
    "security": [{"bearer": []}],
    "tags": [{"name": "telemetry"}, {"name": "investigation"}, {"name": "agents"}, {"name": "alerts"},
             {"name": "ingest"}, {"name": "meta"}],
    "paths": {
        "/api/health": {"get": {**_op("Liveness probe (no token needed)", [], _ok("Server is up", _OBJ),
                                      tag="meta", errors=()), "security": []}},
        "/api/openapi.json": {"get": _op("This description", [], _ok("OpenAPI 3 document", _OBJ),
                                         tag="meta", errors=())},
        "/api/services": {"get": _op(
            "Services seen in the window, with request rate, error rate and latency", _WINDOW,
            _ok("Services", {"type": "array", "items": {"$ref": "#/components/schemas/Service"}}),
            tag="telemetry")},
        "/api/traces": {"get": _op(
            "Traces matching the filters, newest first",
            _WINDOW + [_param("service", "Traces touching this service."),
                       _param("operation", "Traces with a span of this name."),
                       _param("errors", "true: only traces with an error span matching the filters.",
                              schema={"type": "boolean"}),
                       _param("min_duration", "Only traces at least this long, e.g. 500ms."),
                       {**_param("attr", "KEY=VALUE: a span (or its resource) carries this attribute; "
                                         "repeat for several, all on one span.",
                                 schema={"type": "array", "items": {"type": "string"}}),
                        "style": "form", "explode": True}, _LIMIT(20)],
            _ok("Traces", {"type": "array", "items": {"$ref": "#/components/schemas/TraceSummary"}}),
            tag="telemetry")},
        "/api/traces/{trace_id}": {"get": _op(
            "One trace as a span tree with self time; orphans (parent never arrived) are roots",
            [_param("trace_id", "32 hex characters.", where="path")], _ok("The trace", "Trace"),
            tag="telemetry", errors=("400", "404"))},
        "/api/logs": {"get": _op(
            "Log records matching the filters, newest first",
            _WINDOW + [_param("service", "Only this service's records."),
                       _param("severity", "At least this severity: TRACE, DEBUG, INFO, WARN, ERROR, FATAL."),
                       _param("text", "Only records whose body contains this text (any case)."),
                       _param("trace_id", "Only the records of this trace (32 hex characters)."),
                       _param("span_id", "Only the records of this span (16 hex characters)."),
                       _param("similar_to", "A log line: only records with its template (numbers, ids and "
                                            "quoted strings masked)."), _LIMIT(100)],
            _ok("Log records", {"type": "array", "items": {"$ref": "#/components/schemas/LogRecord"}}),
            tag="telemetry")},
        "/api/series": {"get": _op(
            "Requests, rate, error rate and p50/p95/p99 latency of a service's entry spans per time bucket",
            _WINDOW + [_param("service", "The service.", required=True),
                       _param("operation", "Only this operation."),
                       _param("buckets", f"Number of buckets (1-{MAX_BUCKETS}, default 60).",
                              schema={"type": "integer"})],
            _ok("Series", "Series"), tag="telemetry")},
        "/api/anomalies": {"get": _op(
            "Services whose latest quarter of the window shifted from its first half (error rate by a "
            "two-proportion z test, p95 by a robust z, as investigations judge shifts), each with its reason",
            _WINDOW, _ok("Anomalous services", {"type": "object", "properties": {
                "services": {"type": "object", "additionalProperties": _OBJ}, "method": {"type": "string"}}}),
            tag="investigation")},
        "/api/operations": {"get": _op(
            "A service's operations (span name and kind): calls, errors, error rate, p50/p95/p99 latency",
            _WINDOW + [_param("service", "The service.", required=True)],
            _ok("Operations", {"type": "array", "items": _OBJ}), tag="telemetry", errors=("400", "404"))},
        "/api/changes": {
            "get": _op("Change events, newest first", _WINDOW + [_param("service", "Only this service."),
                                                                 _LIMIT(200)],
                       _ok("Change events", {"type": "array", "items": {"$ref": "#/components/schemas/Change"}}),
                       tag="telemetry"),
            "post": _op("Record change events (deploy, config, flag, infra, commit)", [],
                        _ok("Stored counts", "IngestResult"), tag="ingest", body=_CHANGE_BODY,
                        errors=("400", "413", "503"))},
        "/v1/changes": {"post": _op("Record change events (same as POST /api/changes)", [],
                                    _ok("Stored counts", "IngestResult"), tag="ingest", body=_CHANGE_BODY,
                                    errors=("400", "413", "503"))},
        "/api/ingest": {"post": _op(
            "Store a whole telemetry file (any format `interplay ingest` reads) atomically",
            [_param("name", "File name, used in error messages."),
             _param("skip_invalid", "true: store the valid records and report the rest.",
                    schema={"type": "boolean"})],
            _ok("Stored counts", "IngestResult"), tag="ingest", body={"required": True, **_BINARY},
            errors=("400", "413", "503"))},
        **{f"/v1/{signal}": {"post": _op(
            f"OTLP/HTTP {signal} receiver", [],
            {"description": "OTLP export response (partial success lists rejected records)",
             "content": {"application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
                         "application/json": {"schema": _OBJ}}},
            tag="ingest", body=_OTLP_BODY, errors=("400", "413", "415", "503"))}
           for signal in ("traces", "logs", "metrics")},
        "/api/v2/spans": {"post": _op(
            "Zipkin v2 JSON spans (as a Zipkin collector takes them), optionally gzip", [],
            {"description": "Accepted (stored before the answer)"}, tag="ingest", code="202",
            body={"required": True, "content": {"application/json": {"schema": _LIST}}},
            errors=("400", "413", "415", "503"))},
        "/api/graph": {"get": _op(
            "The interaction graph: services and resources, caller→callee edges with rate, errors, latency",
            _WINDOW, _ok("Graph", "Graph"), tag="investigation")},
        "/api/symptom-series": {"get": _op(
            "Requests, errors and p90 latency of a symptom's entry points per time bucket, and the change events "
            "in the window (the HTML report's charts)",
            _WINDOW + [{**_param("entry", "SERVICE or SERVICE:OPERATION; repeat for several.",
                                 schema={"type": "array", "items": {"type": "string"}}),
                        "style": "form", "explode": True},
                       _param("buckets", "Number of buckets (1-500, default 60).", schema={"type": "integer"})],
            _ok("Series", _OBJ), tag="investigation")},
        "/api/impact": {"get": _op(
            "Blast radius of a service, operation or resource: its callers and affected entry points",
            _WINDOW + [_param("target", "service, service:operation, or a resource name.", required=True)],
            _ok("Impact", "Impact"), tag="investigation")},
        "/api/investigations": {"get": _op(
            "Kept investigations (from alerts and runs), newest first; ?id= for one record with its result",
            [_param("id", "One record, with its full result."), _param("status", "Only this status."),
             _param("source", "Only this source (alertmanager, generic, ...)."),
             _param("service", "Only this service."), _LIMIT(50)],
            _ok("Records", {"oneOf": [{"type": "object", "properties": {"investigations": _LIST}}, _OBJ]}),
            tag="investigation"), "post": _op(
            "Run an investigation: ranked root causes with causal chains and evidence", [],
            _ok("The investigation (kept in memory; fetch again by id)", "Investigation"),
            tag="investigation", code="201", errors=("400", "404"),
            body={"required": False, "content": {"application/json": {"schema": {
                "type": "object", "properties": {
                    "symptom": {"type": "string", "nullable": True,
                                "description": "service or service:operation; omitted: find it"},
                    "at": {"type": "string", "nullable": True,
                           "description": "Onset time (RFC3339, unix, relative); omitted: detect it"},
                    "since": {"type": "string", "nullable": True}, "until": {"type": "string", "nullable": True}}}}}})},
        "/api/alerts/alertmanager": {"post": _op(
            "Alertmanager webhook: record (or update) one investigation per alert group and run it",
            [_WAIT], _ok("Recorded investigations (202: running after the answer; 200 with wait=true)",
                         "AlertAnswer"), tag="alerts", code="202", errors=("400", "413", "503"),
            body={"required": True, "content": {"application/json": {"schema": {
                **_OBJ, "description": "Alertmanager webhook payload (version 4)"}}}})},
        "/api/alerts": {"post": _op(
            "A generic alert {service, started_at, summary[, status, key]} or a list of them",
            [_WAIT], _ok("Recorded investigations", "AlertAnswer"), tag="alerts", code="202",
            errors=("400", "413", "503"), body={"required": True, "content": {"application/json": {"schema": {
                "oneOf": [{"$ref": "#/components/schemas/GenericAlert"},
                          {"type": "array", "items": {"$ref": "#/components/schemas/GenericAlert"}}]}}}})},
        "/api/investigations/{id}": {"get": _op(
            "A recent investigation by id (the server keeps the last 50 in memory)",
            [_param("id", "Investigation id from POST /api/investigations.", where="path")],
            _ok("The investigation", "Investigation"), tag="investigation", errors=("404",))},
        "/api/agents/runs": {"get": _op(
            "Agent runs, newest first, with steps, tokens and failure modes",
            _WINDOW + [_param("agent", "Only this agent."),
                       _param("failed", "true: only failed runs.", schema={"type": "boolean"}), _LIMIT(100)],
            _ok("Runs", {"type": "object", "properties": {
                "runs": {"type": "array", "items": {"$ref": "#/components/schemas/AgentRun"}}}}),
            tag="agents")},
        "/api/agents/runs/{run_id}": {"get": _op(
            "One agent run with its ordered steps (steps_detail: input, output, cost, errors)",
            [_param("run_id", "Run id (trace_id:span_id) from /api/agents/runs.", where="path"),
             _param("full", "true: whole step contents (else each text is cut at 2000 characters) and "
                            "tracebacks.", schema={"type": "boolean"})],
            _ok("The run", "AgentRun"), tag="agents", errors=("400", "404"))},
        "/api/agents/sessions": {"get": _op(
            "Agent runs grouped by conversation / session id, most recently active first",
            _WINDOW + [_LIMIT(50)],
            _ok("Sessions", {"type": "object", "properties": {"sessions": _LIST}}), tag="agents")},
        "/api/agents/sessions/{session_id}": {"get": _op(
            "One session: its runs in start order, with divergence from the session's successful runs",
            [_param("session_id", "gen_ai.conversation.id or session.id.", where="path")],
            _ok("The session", {"type": "object", "properties": {"session_id": {"type": "string"},
                                                                  "runs": _LIST}}),
            tag="agents", errors=("400", "404"))},
        "/api/agents/spend": {"get": _op(
            "Model calls, tokens and cost (USD) per agent and model in the window", _WINDOW,
            _ok("Spend", {"type": "object", "properties": {"spend": _LIST}}), tag="agents")},
        "/api/agents/load": {"get": _op(
            "Agent load per backend (LLM providers, tools, services) in the window", _WINDOW,
            _ok("Load", {"type": "object", "properties": {"load": _LIST}}), tag="agents")},
        "/api/agents/touching": {"get": _op(
            "Agent runs whose steps reached a service",
            _WINDOW + [_param("service", "The service.", required=True), _LIMIT(1000)],
            _ok("Runs", {"type": "object", "properties": {"service": {"type": "string"}, "runs": _LIST}}),
            tag="agents")},
    },
    "components": {
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
                "windows": _OBJ,
                "nodes": {"type": "array", "items": {"type": "object", "properties": {
                    "id": {"type": "string"},
                    "kind": {"type": "string", "description": "service, database, cache, queue, llm, external"},
                    "operations": _LIST, "stats": {"type": "object", "description": "per window name"}}}},
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
                "target": _OBJ, "direct_callers": _LIST, "upstream": _LIST, "entry_points": _LIST}},
            "Investigation": {"type": "object", "properties": {
                "id": {"type": "string"}, "symptom": _OBJ, "onset": {"type": "string"},
                "onset_source": {"type": "string", "enum": ["given", "detected"]}, "windows": _OBJ,
                "method": {"type": "string"},
                "root_causes": {"type": "array", "items": {"type": "object", "properties": {
                    "rank": {"type": "integer"}, "service": {"type": "string"},
                    "operation": {"type": "string", "nullable": True}, "kind": {"type": "string"},
                    "score": {"type": "number"}, "summary": {"type": "string"}, "explains": _OBJ,
                    "chain": {"type": "array", "items": {"type": "object", "properties": {
                        "service": {"type": "string"}, "operation": {"type": "string", "nullable": True},
                        "effect": {"type": "string"}}}},
                    "evidence": _LIST, "exemplar_trace": {"type": "string", "nullable": True}}}},
                "load_moves": _LIST, "data_completeness": _OBJ, "exemplars": _OBJ,
                "seconds": {"type": "number"}}},
            "AgentRun": {"type": "object", "additionalProperties": True, "properties": {
                "run_id": {"type": "string"}, "trace_id": {"type": "string"}, "agent": {"type": "string"},
                "status": {"type": "string"}, "started": {"type": "string"}, "duration_ms": {"type": "number"},
                "steps": {"type": "integer"}, "model_calls": {"type": "integer"},
                "tool_calls": {"type": "integer"}, "tools": {"type": "array", "items": {"type": "string"}},
                "tokens": _OBJ, "cost": {"type": "object", "nullable": True},
                "conversation_id": {"type": "string", "nullable": True},
                "errors": {"type": "integer"}, "error": {"type": "string", "nullable": True},
                "path": {"type": "array", "items": {"type": "string"}}, "failure_modes": _LIST,
                "steps_detail": _LIST}},
        },
    },
}

ROUTES: list[BaseRoute] = [
    Route("/", _index, methods=["GET", "HEAD"]),
    Route("/api/openapi.json", _openapi, methods=["GET"]),
    Route("/api/series", _series, methods=["GET"]),
    Route("/api/operations", _operations, methods=["GET"]),
    Route("/api/anomalies", _anomalies, methods=["GET"]),
    Mount("/static", app=_Static(directory=STATIC), name="static"),
]
