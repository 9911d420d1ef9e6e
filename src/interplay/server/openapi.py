"""The OpenAPI 3 description, generated from the routes: each route declares its operations beside its
handler (`api_route`), and `document(routes)` gathers them under the shared header and schemas below.

    >>> from starlette.responses import Response
    >>> async def hello(request): return Response()
    >>> doc = document([api_route("/api/hello", hello, {"get": op("Say hello", [], ok("Hi", OBJ), tag="meta")})])
    >>> list(doc["paths"]), list(doc["paths"]["/api/hello"])
    (['/api/hello'], ['get'])
"""
from __future__ import annotations

import dataclasses
import inspect
import re
import types
import typing
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

from starlette.routing import BaseRoute, Route

from ..model_agents import AGENT_RECORDS
from ..model_results import GRAPH_RECORDS, IMPACT_RECORDS, KEPT_RECORDS, RECORDS, json_fields
from ..model_telemetry import TELEMETRY_RECORDS

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


def records(name: str) -> dict[str, Any]:
    """An array of the records named `name` (see record_schemas)."""
    return {"type": "array", "items": {"$ref": f"#/components/schemas/{name}"}}


def wrapped(key: str, name: str) -> dict[str, Any]:
    """An object whose one key `key` holds an array of the records named `name`."""
    return {"type": "object", "required": [key], "properties": {key: records(name)}}
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

def record_schemas(*records: type) -> dict[str, Any]:
    """The schemas of result records (interplay.model_*), each named by its class, read off the records
    themselves: the keys `to_json` writes, in its order, their types, which are always there, and the
    class docstring and field comments (`name: type  # what it is`) as descriptions."""
    names = [cls.__name__ for cls in records]
    if len(set(names)) != len(names):  # a $ref must name one record
        raise TypeError(f"records share a name: {sorted(n for n in names if names.count(n) > 1)}")
    return {cls.__name__: _record_schema(cls) for cls in records}


def _record_schema(cls: type) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object"}
    doc = (cls.__doc__ or "").strip()
    if doc and not doc.startswith(f"{cls.__name__}("):  # dataclass writes its signature where none was given
        schema["description"] = " ".join(doc.split("\n\n")[0].split())
    properties: dict[str, Any] = {}
    required = []
    for f in json_fields(cls):
        if f.flat:
            inner = _record_type(f.type)
            if inner is None:  # a dict whose keys are written beside the fields
                schema["additionalProperties"] = True
            else:  # a record's fields, there or not as a whole
                notes = _field_notes(inner)
                properties.update((g.key, _described(_type_schema(g.type), notes.get(g.name)))
                                  for g in json_fields(inner))
            continue
        # a field left out when None is absent, never null: its schema is the type it holds when there
        tp = _non_null(f.type) if f.optional else f.type
        properties[f.key] = _described(_type_schema(tp), _field_notes(cls).get(f.name))
        if not f.optional:
            required.append(f.key)
    schema["properties"] = properties
    if required:
        schema["required"] = required
    return schema


def _described(schema: dict[str, Any], note: str | None) -> dict[str, Any]:
    if not note:
        return schema
    if "$ref" in schema:  # OpenAPI 3.0 ignores anything beside a $ref
        return {"allOf": [schema], "description": note}
    return {**schema, "description": note}


@cache
def _field_notes(cls: type) -> dict[str, str]:
    """The comment after each field of a record's class (none when its source is not at hand)."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    return {m[1]: m[2].strip() for m in re.finditer(r"^    (\w+): [^#\n]*#\s*(.+)$", source, re.M)}


def _type_schema(tp: Any) -> dict[str, Any]:
    """A field type as a schema: scalars, lists, dicts by key, records by reference, None as nullable."""
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return {"type": "string", "enum": list(typing.get_args(tp))}
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) > 1 and all(_record_type(a) for a in args):  # one of several records
            return {"oneOf": [_type_schema(a) for a in args], "nullable": True}
        inner = _type_schema(args[0]) if len(args) == 1 else {}
        if "$ref" in inner:  # OpenAPI 3.0 ignores anything beside a $ref
            return {"allOf": [inner], "nullable": True}
        return {**inner, "nullable": True}
    if origin is list:
        return {"type": "array", "items": _type_schema(typing.get_args(tp)[0])}
    if origin is dict:
        return {"type": "object", "additionalProperties": _type_schema(typing.get_args(tp)[1])}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return {"$ref": f"#/components/schemas/{tp.__name__}"}
    return dict(_SCALARS.get(tp, {}))  # Any: any value


_SCALARS: dict[Any, dict[str, str]] = {str: {"type": "string"}, int: {"type": "integer"},
                                      float: {"type": "number"}, bool: {"type": "boolean"}}


def _non_null(tp: Any) -> Any:
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    return args[0] if typing.get_origin(tp) in (typing.Union, types.UnionType) and len(args) == 1 else tp


def _record_type(tp: Any) -> type | None:
    args = [a for a in typing.get_args(tp) if a is not type(None)] or [tp]
    return args[0] if len(args) == 1 and isinstance(args[0], type) and dataclasses.is_dataclass(args[0]) else None


# The schemas the operations refer to ($ref), one source for every route module.
COMPONENTS: dict[str, Any] = {
    "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                   "description": "The server's --token / INTERPLAY_TOKEN."}},
    "responses": {name: {"description": name, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Error"}}}} for name in _ERROR_NAMES.values()},
    "schemas": {
        "Error": {"type": "object", "required": ["error"], "properties": {
            "error": {"type": "string"}, "type": {"type": "string"}}},
        "ChangeEventIn": {"type": "object", "required": ["service", "description"], "properties": {
            "time": {"type": "string"}, "service": {"type": "string"},
            "kind": {"type": "string", "enum": ["deploy", "config", "flag", "infra", "commit"]},
            "description": {"type": "string"}, "version": {"type": "string"},
            "attributes": {"type": "object"}}},
        "IngestResult": {"type": "object", "properties": {
            "spans": {"type": "integer"}, "logs": {"type": "integer"}, "metric_points": {"type": "integer"},
            "changes": {"type": "integer"}, "rejected": {"type": "array", "items": {
                "type": "object", "properties": {"count": {"type": "integer"}, "reason": {"type": "string"}}}}}},
        "AlertAnswer": {"type": "object", "properties": {"investigations": {"type": "array", "items": {
            "type": "object", "properties": {
                "id": {"type": "string", "nullable": True}, "group_key": {"type": "string"},
                "service": {"type": "string", "nullable": True}, "action": {"type": "string"},
                "status": {"type": "string", "nullable": True}, "summary": {"type": "string"}}}}}},
        "GenericAlert": {"type": "object", "required": ["service"], "properties": {
            "service": {"type": "string"}, "started_at": {"type": "string"}, "summary": {"type": "string"},
            "status": {"type": "string", "enum": ["firing", "resolved"]}, "key": {"type": "string"}}},
        **record_schemas(*RECORDS, *GRAPH_RECORDS, *IMPACT_RECORDS, *KEPT_RECORDS, *TELEMETRY_RECORDS,
                         *AGENT_RECORDS),
    },
}
