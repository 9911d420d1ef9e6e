"""Protobuf export requests whose strings are not valid UTF-8: repaired, not refused.

The protobuf runtime refuses a whole message when one `string` field holds invalid UTF-8. Such a
request is re-read with a mirror of the OTLP schema in which every string is `bytes`; each string
that does not decode is replaced by its U+FFFD-repaired text, the request is written back, and the
paths repaired (`body.resourceSpans[0].scopeSpans[0].spans[2].name`) are returned to be reported.
"""
from __future__ import annotations

import functools
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError

_STRING = descriptor_pb2.FieldDescriptorProto.TYPE_STRING
_BYTES = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES


def repair_utf8(request_type: Any, data: bytes, where: str) -> tuple[bytes, list[str]] | None:
    """(the request with every string made valid UTF-8, paths repaired), or None when the bytes do
    not parse even with strings read as bytes, or hold no invalid UTF-8 (another fault: refuse them)."""
    lenient = _lenient_class(request_type.DESCRIPTOR.full_name)()
    try:
        lenient.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError):
        return None
    repaired: list[str] = []
    _repair(lenient, where, _string_fields(), repaired)
    return (lenient.SerializeToString(), repaired) if repaired else None


def _repair(message: Any, path: str, strings: frozenset[str], repaired: list[str]) -> None:
    for fd, value in message.ListFields():
        here = f"{path}.{fd.json_name}"
        if fd.type == FieldDescriptor.TYPE_MESSAGE:
            for i, child in enumerate(value) if fd.is_repeated else ((None, value),):
                _repair(child, here if i is None else f"{here}[{i}]", strings, repaired)
        elif fd.full_name in strings:
            if fd.is_repeated:
                for i, item in enumerate(value):
                    fixed = _fixed(item)
                    if fixed is not None:
                        value[i] = fixed
                        repaired.append(f"{here}[{i}]")
            else:
                fixed = _fixed(value)
                if fixed is not None:
                    setattr(message, fd.name, fixed)
                    repaired.append(here)


def _fixed(raw: bytes) -> bytes | None:
    try:
        raw.decode("utf-8")
        return None
    except UnicodeDecodeError:
        return raw.decode("utf-8", "replace").encode("utf-8")


@functools.cache
def _lenient_class(full_name: str) -> type:
    return message_factory.GetMessageClass(_pool()[0].FindMessageTypeByName(full_name))


def _string_fields() -> frozenset[str]:
    return _pool()[1]


@functools.cache
def _pool() -> tuple[descriptor_pool.DescriptorPool, frozenset[str]]:
    """The OTLP request schemas with `string` fields turned into `bytes`, and those fields' names."""
    from .proto import REQUEST_TYPES
    pool = descriptor_pool.DescriptorPool()
    strings: set[str] = set()
    added: set[str] = set()

    def add(file) -> None:
        if file.name in added:
            return
        for dependency in file.dependencies:
            add(dependency)
        proto = descriptor_pb2.FileDescriptorProto()
        file.CopyToProto(proto)
        for message in proto.message_type:
            _strings_as_bytes(message, proto.package, strings)
        pool.Add(proto)
        added.add(file.name)
    for request_type in REQUEST_TYPES.values():
        add(request_type.DESCRIPTOR.file)
    return pool, frozenset(strings)


def _strings_as_bytes(message: descriptor_pb2.DescriptorProto, scope: str, strings: set[str]) -> None:
    name = f"{scope}.{message.name}"
    for field in message.field:
        if field.type == _STRING:
            field.type = _BYTES
            strings.add(f"{name}.{field.name}")
    for nested in message.nested_type:
        _strings_as_bytes(nested, name, strings)
