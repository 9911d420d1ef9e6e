"""Zipkin v2 JSON (a list of spans, as Brave, Envoy, Spring Cloud Sleuth and the OTel Zipkin
exporters send to `/api/v2/spans`) → batches, mapped as the Collector's Zipkin translator maps it.

- `localEndpoint.serviceName` is the service; tags named like resource attributes (`service.name`,
  `service.version`, `host.name`, ...) go to the resource, `otel.scope.name`/`otel.library.name` to
  the scope.
- `kind` is the span kind; without one, a `span.kind=internal` tag makes it INTERNAL.
- `otel.status_code`/`otel.status_description` set the status; an `error` tag makes it ERROR.
  The Collector does so only for `error=true`; Brave puts the error message in that tag, so any
  non-empty value counts here and becomes the status message.
- `otlp.link.N` tags are links (`traceId|spanId|traceState|{json attributes}|dropped`, as the
  Collector's Zipkin exporter writes them).
- `parentId` is the parent (unless it equals the span's own id); annotations are events (`name|{json
  attributes}|dropped` as the Collector's Zipkin exporter encodes them, `{"name": {attributes}}` as the
  OTel SDKs' Zipkin exporters do, else the whole value as the name).
- `remoteEndpoint` gives `peer.service` and `server.address` (its serviceName, else its address),
  `network.peer.address` and `network.peer.port`; `localEndpoint` its address and port.
- Timestamps and durations are microseconds; 64-bit trace ids are left-padded to 128 bits.
- A B3 "shared" server span (the server half reusing the client's span id, Brave's default) gets an
  id of its own under the client span; the Collector keeps both halves under one id.
"""
from __future__ import annotations

import hashlib
from typing import Any

import orjson

from ..model import InvalidInput
from ._ids import padded_hex_id
from .columns import ColumnBuilder, dumps

FORMAT = "Zipkin v2 JSON"
_KINDS = {"CLIENT": "CLIENT", "SERVER": "SERVER", "PRODUCER": "PRODUCER", "CONSUMER": "CONSUMER"}
_STATUS = {"STATUS_CODE_UNSET": "UNSET", "STATUS_CODE_OK": "OK", "STATUS_CODE_ERROR": "ERROR",
           "UNSET": "UNSET", "OK": "OK", "ERROR": "ERROR"}
# Tags that describe the process, not the span (the translator moves resource semconv names).
_RESOURCE_PREFIXES = ("service.", "host.", "process.", "telemetry.", "os.", "container.", "k8s.",
                      "cloud.", "deployment.", "faas.", "device.", "os.")
_SCOPE_KEYS = ("otel.scope.name", "otel.library.name")
_SCOPE_VERSION_KEYS = ("otel.scope.version", "otel.library.version")


def is_zipkin(doc: Any) -> bool:
    """A JSON array whose first element looks like a Zipkin v2 span (traceId and id, no resource)."""
    if not isinstance(doc, list) or not doc or not isinstance(doc[0], dict):
        return False
    first = doc[0]
    return "traceId" in first and "id" in first and "resourceSpans" not in first


def add_spans(doc: Any, b: ColumnBuilder, where: str, fmt: str = FORMAT) -> None:
    """Every span of a Zipkin v2 JSON array (or protobuf spans in its shape, `fmt` naming the encoding);
    a span that does not fit is rejected with its reason."""
    if not isinstance(doc, list):
        raise InvalidInput(f"{where}: {fmt}: expected a JSON array of spans, got {type(doc).__name__}")
    shared = _shared_servers(doc)
    for i, span in enumerate(doc):
        loc = f"{where} {fmt} span [{i}]"
        if not isinstance(span, dict):
            b.reject(f"span rejected ({loc}): expected an object, got {type(span).__name__}")
            continue
        try:
            _add_span(span, b, loc, shared)
        except (TypeError, ValueError, AttributeError) as exc:
            b.reject(f"span rejected ({loc}): {exc}")


def _shared_servers(doc: list) -> dict[tuple[str, str], str]:
    """(trace id, span id) → service of each shared server span in the batch (see `_ids_of`)."""
    return {(str(s.get("traceId")), str(s.get("id"))): _service(s) for s in doc
            if isinstance(s, dict) and s.get("shared") and str(s.get("kind") or "").upper() == "SERVER"}


def _ids_of(s: dict, shared: dict[tuple[str, str], str]) -> tuple[str, str]:
    """(span id, parent id). B3 "shared" spans (Brave's default, Sleuth) give the server half of an
    RPC the client span's id; Zipkin's UI nests them, the Collector keeps both with one id. Here the
    server half gets an id of its own (derived, stable) under the client span, and its own
    service's spans in the batch that named the shared id as parent hang under it."""
    trace, span_id = str(s.get("traceId")), padded_hex_id(s.get("id"), 8, "id")
    parent = padded_hex_id(s.get("parentId"), 8, "parentId") if s.get("parentId") else ""
    key = (trace, str(s.get("id")))
    if s.get("shared") and key in shared and str(s.get("kind") or "").upper() == "SERVER":
        return _derived(trace, span_id), span_id
    if parent and shared.get((trace, str(s.get("parentId")))) == _service(s):
        parent = _derived(trace, parent)  # a child of the server half, in the server's own service
    return span_id, "" if parent == span_id else parent


def _derived(trace: str, span_id: str) -> str:
    return hashlib.blake2b(f"{trace}/{span_id}/server".encode(), digest_size=8).hexdigest()


def _service(s: dict) -> str:
    return str((s.get("localEndpoint") or {}).get("serviceName") or "")


def _add_span(s: dict, b: ColumnBuilder, where: str, shared: dict[tuple[str, str], str]) -> None:
    tags = {str(k): v if isinstance(v, str) else dumps(v) for k, v in (s.get("tags") or {}).items()}
    local = s.get("localEndpoint") or {}
    resource = {}
    for key in [k for k in tags if k.startswith(_RESOURCE_PREFIXES)]:
        resource[key] = tags.pop(key)
    if local.get("serviceName"):  # the span's own endpoint names its service, whatever a tag says
        resource["service.name"] = str(local["serviceName"])
    scope = next((tags.pop(k) for k in _SCOPE_KEYS if k in tags), "")
    scope_version = next((tags.pop(k) for k in _SCOPE_VERSION_KEYS if k in tags), "")
    kind = _KINDS.get(str(s.get("kind") or "").upper())
    if kind is None:
        kind = "INTERNAL" if tags.pop("span.kind", "").lower() == "internal" else "UNSPECIFIED"
    status, message = _status(tags)
    trace_state = tags.pop("w3c.tracestate", "")
    links = _links(tags)
    attributes: dict[str, Any] = dict(tags)
    attributes.update(_endpoint_attributes(s.get("remoteEndpoint"), local))
    start_us, duration_us = _micros(s.get("timestamp"), "timestamp"), _micros(s.get("duration"), "duration")
    span_id, parent = _ids_of(s, shared)
    b.add_span(trace_id=padded_hex_id(s.get("traceId"), 16, "traceId"), span_id=span_id,
               parent_span_id=parent,
               service=resource.get("service.name", ""), operation=str(s.get("name") or ""), kind=kind,
               start_ns=start_us * 1000, end_ns=(start_us + duration_us) * 1000,
               status_code=status, status_message=message,
               service_version=str(resource.get("service.version", "")), scope_name=scope,
               resource_json=dumps(resource), attributes=attributes,
               events=[_event(a) for a in s.get("annotations") or ()], links=links, where=where,
               trace_state=trace_state, scope_version=scope_version)


def _status(tags: dict[str, str]) -> tuple[str, str]:
    status, message = "UNSET", ""
    if "otel.status_code" in tags:
        status = _STATUS.get(tags.pop("otel.status_code").upper(), "UNSET")
        message = tags.pop("otel.status_description", "")
    error = tags.get("error")
    if error is not None and error.lower() != "false" and error != "":
        tags.pop("error")
        status = "ERROR"
        if error.lower() != "true" and not message:
            message = error
    return status, message


def _links(tags: dict[str, str]) -> list[dict[str, Any]]:
    """The `otlp.link.0`, `otlp.link.1`, ... tags, taken out of the tags."""
    links = []
    for i in range(128):
        value = tags.get(f"otlp.link.{i}")
        if value is None:
            break
        parts = value.split("|")
        if len(parts) < 5:
            continue  # not the Collector's encoding: stays an attribute
        del tags[f"otlp.link.{i}"]
        try:
            attributes = orjson.loads("|".join(parts[3:-1]))
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"tag otlp.link.{i}: its attributes are not JSON ({exc})") from None
        link = {"trace_id": padded_hex_id(parts[0], 16, f"otlp.link.{i} trace id"),
                "span_id": padded_hex_id(parts[1], 8, f"otlp.link.{i} span id"),
                "attributes": attributes if isinstance(attributes, dict) else {}}
        if parts[2]:
            link["trace_state"] = parts[2]
        links.append(link)
    return links


def _endpoint_attributes(remote: Any, local: dict) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(remote, dict):
        address = remote.get("ipv6") or remote.get("ipv4") or ""
        if remote.get("serviceName"):
            out["peer.service"] = str(remote["serviceName"])
        if remote.get("serviceName") or address:
            out["server.address"] = str(remote.get("serviceName") or address)
        if address:
            out["network.peer.address"] = str(address)
        if remote.get("port"):
            out["network.peer.port"] = int(remote["port"])
    local_address = local.get("ipv6") or local.get("ipv4")
    if local_address:
        out["network.local.address"] = str(local_address)
    if local.get("port"):
        out["network.local.port"] = int(local["port"])
    return out


def _event(annotation: Any) -> dict[str, Any]:
    if not isinstance(annotation, dict):
        raise ValueError(f"annotation must be an object, got {type(annotation).__name__}")
    value = str(annotation.get("value") or "")
    name, attributes = value, {}
    parts = value.split("|")
    if value.startswith("{"):  # {"name": {attributes}}, as the OTel SDKs' Zipkin exporters write events
        try:
            decoded = orjson.loads(value)
            if isinstance(decoded, dict) and len(decoded) == 1:
                (key, attrs), = decoded.items()
                if isinstance(attrs, dict):
                    name, attributes = key, attrs
        except orjson.JSONDecodeError:
            pass
    elif len(parts) >= 3:  # name|{"attr":...}|dropped, as the Collector's Zipkin exporter writes events
        try:
            decoded = orjson.loads("|".join(parts[1:-1]))
            if isinstance(decoded, dict):
                name, attributes = parts[0], decoded
        except orjson.JSONDecodeError:
            pass
    return {"time_ns": _micros(annotation.get("timestamp"), "annotation timestamp") * 1000,
            "name": name, "attributes": attributes}


def _micros(value: Any, field: str) -> int:
    if value is None or value == "":
        if field == "duration":
            return 0  # Zipkin allows a missing duration (an instant or an unfinished span)
        raise ValueError(f"{field} is missing (microseconds since the epoch)")
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{field} must be a number of microseconds, got {value!r}")
    return int(value)
