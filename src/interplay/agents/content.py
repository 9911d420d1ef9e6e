"""What a step said and got back: prompts, completions, tool arguments and results, from any convention.

Read from one step's attributes (small data, Python): the GenAI `gen_ai.input.messages` /
`gen_ai.output.messages` (parts), OpenInference's flattened `llm.input_messages.N.message.*`, or the
plain `input.value` / `output.value`. Each text is cut at `cap` characters unless asked for in full.

`strip` is the other side: an ingest option that drops every content attribute (privacy) before
anything is stored, keeping the span and all its other attributes.

    >>> step_content("tool", {"gen_ai.tool.call.arguments": '{"id": 7}', "gen_ai.tool.call.result": "ok"})
    {'input': {'id': 7}, 'output': 'ok', 'truncated': False}
"""
from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from ..store import genai as c

if TYPE_CHECKING:
    from ..batch import TelemetryBatch

CAP = 2000  # characters of one text shown before "…" unless full content is asked for

# Attribute keys (exact) and prefixes that carry prompt, completion or tool payloads.
CONTENT_KEYS: frozenset[str] = frozenset(
    k for f in ("input_messages", "output_messages", "system_instructions", "input_value", "output_value",
                "tool_args", "tool_result") for k in c.ALIASES[f]) | {"gen_ai.tool.definitions", "llm.prompts"}
CONTENT_PREFIXES: tuple[str, ...] = ("llm.input_messages.", "llm.output_messages.", "gen_ai.prompt.",
                                     "gen_ai.completion.", "llm.prompts.", "llm.prompt_template.")
# Log / span events whose attributes or body are content (GenAI message events).
CONTENT_EVENT = re.compile(r"^gen_ai\.(?:user|system|assistant|tool|choice)\.message$|^gen_ai\.choice$|"
                           r"^gen_ai\.client\.inference\.operation\.details$|^gen_ai\.content\.")

_FLAT = re.compile(r"^llm\.(input|output)_messages\.(\d+)\.message\.(.+)$")
_FLAT_CALL = re.compile(r"^tool_calls\.(\d+)\.tool_call\.(?:function\.)?(name|arguments|id)$")


def is_content_key(key: str) -> bool:
    return key in CONTENT_KEYS or key.startswith(CONTENT_PREFIXES)


def step_content(kind: str | None, attrs: dict[str, Any], full: bool = False) -> dict[str, Any]:
    """{"input", "output", "truncated"} of one step (None where the span carries no content)."""
    if kind == "tool":
        raw_in, raw_out = c.field(attrs, "tool_args"), c.field(attrs, "tool_result")
    elif kind in ("llm", "embedding"):
        raw_in = _messages(attrs, "input") or c.field(attrs, "input_value")
        raw_out = _messages(attrs, "output") or c.field(attrs, "output_value")
    else:
        raw_in, raw_out = c.field(attrs, "input_value"), c.field(attrs, "output_value")
    cut = [False]
    out = {"input": _cap(_decode(raw_in), full, cut), "output": _cap(_decode(raw_out), full, cut)}
    out["truncated"] = cut[0]
    return out


def _messages(attrs: dict[str, Any], side: str) -> list[dict[str, Any]] | None:
    """Messages of one side, as [{role, content?, tool_calls?, tool_call_id?}]."""
    genai = c.field(attrs, f"{side}_messages")
    if genai is not None:
        decoded = _decode(genai)
        if isinstance(decoded, list):
            msgs = [_from_parts(m) for m in decoded if isinstance(m, dict)]
            system = _decode(c.field(attrs, "system_instructions")) if side == "input" else None
            if isinstance(system, list):
                text = "\n".join(str(p.get("content", "")) for p in system if isinstance(p, dict))
                msgs.insert(0, {"role": "system", "content": text})
            return msgs
        return [{"role": "user" if side == "input" else "assistant", "content": decoded}]
    flat: dict[int, dict[str, Any]] = {}
    for key, value in attrs.items():
        m = _FLAT.match(key)
        if not m or m.group(1) != side:
            continue
        msg = flat.setdefault(int(m.group(2)), {})
        rest = m.group(3)
        call = _FLAT_CALL.match(rest)
        if call:
            calls = msg.setdefault("_calls", {})
            calls.setdefault(int(call.group(1)), {})[call.group(2)] = _decode(value)
        elif rest in ("role", "content", "name", "tool_call_id"):
            msg[rest] = value
        elif rest.startswith("contents.") and rest.endswith("message_content.text"):
            msg["content"] = (msg.get("content") or "") + str(value)
    if not flat:
        return None
    out = []
    for _, msg in sorted(flat.items()):
        calls = msg.pop("_calls", None)
        if calls:
            msg["tool_calls"] = [calls[i] for i in sorted(calls)]
        out.append(msg)
    return out


def _from_parts(m: dict[str, Any]) -> dict[str, Any]:
    """A GenAI message ({role, parts: [...]}) as {role, content, tool_calls, tool_call_id}."""
    if "parts" not in m:
        return m
    msg: dict[str, Any] = {"role": m.get("role")}
    texts, calls = [], []
    for p in m.get("parts") or []:
        if not isinstance(p, dict):
            continue
        kind = p.get("type")
        if kind == "tool_call":
            calls.append({"id": p.get("id"), "name": p.get("name"), "arguments": p.get("arguments")})
        elif kind == "tool_call_response":
            msg["tool_call_id"] = p.get("id")
            result = p.get("result")
            texts.append(result if isinstance(result, str) else json.dumps(result))
        elif "content" in p:
            texts.append(str(p["content"]))
    if texts:
        msg["content"] = "\n".join(texts)
    if calls:
        msg["tool_calls"] = calls
    if m.get("finish_reason"):
        msg["finish_reason"] = m["finish_reason"]
    return msg


def _decode(v: Any) -> Any:
    """JSON text (as conventions send structured values on spans) decoded; other text as it is."""
    if isinstance(v, str) and v[:1] in ("[", "{"):
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


def _cap(v: Any, full: bool, cut: list[bool]) -> Any:
    """Every text in v cut at CAP characters (marking `cut`), unless full."""
    if full or v is None:
        return v
    if isinstance(v, str):
        if len(v) > CAP:
            cut[0] = True
            return v[:CAP] + "…"
        return v
    if isinstance(v, list):
        return [_cap(x, full, cut) for x in v]
    if isinstance(v, dict):
        return {k: _cap(x, full, cut) for k, x in v.items()}
    return v


def preview(v: Any, n: int = 100) -> str:
    """One line of a step's input or output: the last message's text, or the value as compact JSON."""
    if isinstance(v, list) and v and isinstance(v[-1], dict) and ("content" in v[-1] or "tool_calls" in v[-1]):
        last = v[-1]
        if last.get("tool_calls"):
            text = ", ".join(f"{t.get('name')}({_compact(t.get('arguments'))})" for t in last["tool_calls"])
        else:
            text = f"{last.get('role') or ''}: {last.get('content') or ''}".strip(": ")
    else:
        text = v if isinstance(v, str) else _compact(v)
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[:n] + "…"


def _compact(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, separators=(",", ":"), default=str)


# -- ingest: drop content (privacy) ----------------------------------------------------------------
_MARKERS = ('"gen_ai.', '"input.value"', '"output.value"', '"llm.', '"traceloop.entity.', '"tool_call.function.')


def strip(batch: TelemetryBatch) -> TelemetryBatch:
    """The batch without prompt, completion and tool payloads: content attributes of spans and of
    their events, and the body and attributes of GenAI content log events. Everything else stays."""
    import dataclasses

    import orjson
    import pyarrow as pa

    def clean_attrs(text: str | None) -> str | None:
        if not text or not any(m in text for m in _MARKERS):
            return text
        attrs = orjson.loads(text)
        kept = {k: v for k, v in attrs.items() if not is_content_key(k)}
        return text if len(kept) == len(attrs) else orjson.dumps(kept).decode()

    def clean_events(text: str | None) -> str | None:
        if not text or text == "[]" or not any(m in text for m in _MARKERS):
            return text
        events = orjson.loads(text)
        for ev in events:
            attrs = ev.get("attributes") or {}
            if CONTENT_EVENT.match(str(ev.get("name") or "")):
                ev["attributes"] = {k: v for k, v in attrs.items() if k in ("gen_ai.system", "gen_ai.provider.name")}
            else:
                ev["attributes"] = {k: v for k, v in attrs.items() if not is_content_key(k)}
        return orjson.dumps(events).decode()

    def column(table: pa.Table, name: str, fn) -> pa.Table:
        i = table.schema.get_field_index(name)
        values = [fn(v) for v in table.column(name).to_pylist()]
        return table.set_column(i, table.schema.field(i), pa.array(values, type=pa.string()))

    spans, logs = batch.spans, batch.logs
    if spans is not None and spans.num_rows:
        spans = column(column(spans, "attributes", clean_attrs), "events", clean_events)
    if logs is not None and logs.num_rows:
        names = [_event_name(a) for a in logs.column("attributes").to_pylist()]
        if any(CONTENT_EVENT.match(n) for n in names if n):
            bodies = logs.column("body").to_pylist()
            bodies = [None if n and CONTENT_EVENT.match(n) else b for n, b in zip(names, bodies)]
            logs = logs.set_column(logs.schema.get_field_index("body"), logs.schema.field("body"),
                                   pa.array(bodies, type=pa.string()))
        logs = column(logs, "attributes", clean_attrs)
    return dataclasses.replace(batch, spans=spans, logs=logs)


def _event_name(attrs_text: str | None) -> str | None:
    if not attrs_text or "event.name" not in attrs_text:
        return None
    return json.loads(attrs_text).get("event.name")
