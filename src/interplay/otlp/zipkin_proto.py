"""Zipkin v2 protobuf (`zipkin.proto3.ListOfSpans`, as Brave's `PROTO3` encoder, Envoy's `HTTP_PROTO`
and the OpenTelemetry Zipkin protobuf exporters send it) → the Zipkin v2 JSON shape `zipkin` reads.

The messages are decoded by the protobuf runtime Interplay already uses for OTLP, from a descriptor of
openzipkin's zipkin.proto built here: no generated module, since the one published Python package
that ships one pins protobuf 3. Ids become lowercase hex, IPs their text form, the kind its name.
"""
from __future__ import annotations

import ipaddress
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

from ..model import InvalidInput

FORMAT = "Zipkin v2 protobuf"
_F = descriptor_pb2.FieldDescriptorProto
_KINDS = ("", "CLIENT", "SERVER", "PRODUCER", "CONSUMER")
# zipkin.proto: (message, [(field, number, type, label, message or enum type)])
_MESSAGES: list[tuple[str, list[tuple[str, int, int, int, str]]]] = [
    ("Endpoint", [("service_name", 1, _F.TYPE_STRING, _F.LABEL_OPTIONAL, ""),
                  ("ipv4", 2, _F.TYPE_BYTES, _F.LABEL_OPTIONAL, ""), ("ipv6", 3, _F.TYPE_BYTES, _F.LABEL_OPTIONAL, ""),
                  ("port", 4, _F.TYPE_INT32, _F.LABEL_OPTIONAL, "")]),
    ("Annotation", [("timestamp", 1, _F.TYPE_FIXED64, _F.LABEL_OPTIONAL, ""),
                    ("value", 2, _F.TYPE_STRING, _F.LABEL_OPTIONAL, "")]),
    ("Span", [("trace_id", 1, _F.TYPE_BYTES, _F.LABEL_OPTIONAL, ""),
              ("parent_id", 2, _F.TYPE_BYTES, _F.LABEL_OPTIONAL, ""), ("id", 3, _F.TYPE_BYTES, _F.LABEL_OPTIONAL, ""),
              ("kind", 4, _F.TYPE_ENUM, _F.LABEL_OPTIONAL, ".zipkin.proto3.Span.Kind"),
              ("name", 5, _F.TYPE_STRING, _F.LABEL_OPTIONAL, ""),
              ("timestamp", 6, _F.TYPE_FIXED64, _F.LABEL_OPTIONAL, ""),
              ("duration", 7, _F.TYPE_UINT64, _F.LABEL_OPTIONAL, ""),
              ("local_endpoint", 8, _F.TYPE_MESSAGE, _F.LABEL_OPTIONAL, ".zipkin.proto3.Endpoint"),
              ("remote_endpoint", 9, _F.TYPE_MESSAGE, _F.LABEL_OPTIONAL, ".zipkin.proto3.Endpoint"),
              ("annotations", 10, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, ".zipkin.proto3.Annotation"),
              ("tags", 11, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, ".zipkin.proto3.Span.TagsEntry"),
              ("debug", 12, _F.TYPE_BOOL, _F.LABEL_OPTIONAL, ""), ("shared", 13, _F.TYPE_BOOL, _F.LABEL_OPTIONAL, "")]),
    ("ListOfSpans", [("spans", 1, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, ".zipkin.proto3.Span")]),
]


def decode_spans(body: bytes) -> list[dict[str, Any]]:
    """A ListOfSpans body → Zipkin v2 JSON spans; InvalidInput when it does not decode."""
    message = _LIST_OF_SPANS()
    try:
        message.ParseFromString(body)
    except DecodeError as exc:
        raise InvalidInput(f"{FORMAT}: the body is not a zipkin.proto3.ListOfSpans ({exc})") from None
    return [_span(s) for s in message.spans]


def _span(s: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"traceId": s.trace_id.hex(), "id": s.id.hex(), "name": s.name,
                           "timestamp": s.timestamp or None, "duration": s.duration or None,
                           "tags": dict(s.tags),
                           "annotations": [{"timestamp": a.timestamp, "value": a.value} for a in s.annotations]}
    if s.parent_id:
        out["parentId"] = s.parent_id.hex()
    if s.kind:
        out["kind"] = _KINDS[s.kind] if s.kind < len(_KINDS) else ""
    if s.shared:
        out["shared"] = True
    for field, key in (("local_endpoint", "localEndpoint"), ("remote_endpoint", "remoteEndpoint")):
        if s.HasField(field):
            out[key] = _endpoint(getattr(s, field))
    return out


def _endpoint(e: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"serviceName": e.service_name} if e.service_name else {}
    for field in ("ipv4", "ipv6"):
        raw = getattr(e, field)
        if raw:
            try:
                out[field] = str(ipaddress.ip_address(raw))
            except ValueError:
                raise InvalidInput(f"{FORMAT}: endpoint {field} is {len(raw)} bytes") from None
    if e.port:
        out["port"] = e.port
    return out


def _message_classes() -> Any:
    file = descriptor_pb2.FileDescriptorProto(name="interplay/zipkin.proto", package="zipkin.proto3",
                                              syntax="proto3")
    for name, fields in _MESSAGES:
        message = file.message_type.add(name=name)
        for field, number, type_, label, type_name in fields:
            added = message.field.add(name=field, number=number, type=type_, label=label)
            if type_name:
                added.type_name = type_name
        if name == "Span":
            kind = message.enum_type.add(name="Kind")
            for number, value in enumerate(("SPAN_KIND_UNSPECIFIED", *_KINDS[1:])):
                kind.value.add(name=value, number=number)
            entry = message.nested_type.add(name="TagsEntry")
            entry.options.map_entry = True
            entry.field.add(name="key", number=1, type=_F.TYPE_STRING, label=_F.LABEL_OPTIONAL)
            entry.field.add(name="value", number=2, type=_F.TYPE_STRING, label=_F.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("zipkin.proto3.ListOfSpans"))


_LIST_OF_SPANS = _message_classes()
