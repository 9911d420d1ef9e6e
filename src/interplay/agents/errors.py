"""An error as people read it: `Type: message`, with the traceback kept apart (shown on request).

Instrumentations put errors in different places: OpenInference's LangChain tracer sets the status
description to `ValueError('…')` followed by the whole traceback; the OpenAI instrumentation sets
`error.type` to `<class 'openai.RateLimitError'>`; the SDK records an `exception` event with type,
message and stacktrace.

    >>> describe("ValueError('no such order')Traceback (most recent call last):\\n  File ...", None)
    {'message': 'ValueError: no such order', 'traceback': 'Traceback (most recent call last):\\n  File ...'}
"""
from __future__ import annotations

import json
import re
from typing import Any

_TRACEBACK = "Traceback (most recent call last)"
_REPR = re.compile(r"^([A-Za-z_][\w.]*)\((['\"])(.*)\2,?\)$", re.S)
_CLASS = re.compile(r"^<class '([\w.]+)'>$")
_EXC_NAME = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Exceeded|Timeout|Interrupt|Exit)$")


def describe(message: str | None, error_type: str | None, exc_events: str | None = None) -> dict[str, Any]:
    """{"message": one line-ish text, "traceback": the stack or None} of a failed span."""
    event = _last_exception(exc_events)
    kind = type_name(error_type) or type_name(event.get("exception.type"))
    text = (message or "").strip()
    traceback = None
    if _TRACEBACK in text:
        text, traceback = text.split(_TRACEBACK, 1)
        text, traceback = text.strip(), _TRACEBACK + traceback
    traceback = traceback or event.get("exception.stacktrace") or None
    m = _REPR.match(text)
    if m:
        kind, text = kind or m.group(1), m.group(3)
    if not text:
        text = str(event.get("exception.message") or "")
    if kind and _EXC_NAME.match(kind) and not text.startswith(kind) and not text.startswith(kind.rsplit(".", 1)[-1]):
        text = f"{kind}: {text}" if text else kind
    return {"message": text or kind or None, "traceback": traceback}


def type_name(t: Any) -> str | None:
    if not t:
        return None
    t = str(t)
    m = _CLASS.match(t)
    return m.group(1) if m else t


def _last_exception(events: str | None) -> dict[str, Any]:
    if not events:
        return {}
    try:
        decoded = json.loads(events)
    except ValueError:
        return {}
    found = [e.get("attributes") or {} for e in decoded if isinstance(e, dict) and e.get("name") == "exception"]
    return found[-1] if found else {}
