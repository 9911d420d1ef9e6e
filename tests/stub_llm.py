"""A scripted OpenAI-compatible model server on 127.0.0.1, for driving real agent frameworks in tests.

Speaks Chat Completions (`POST /v1/chat/completions`), Responses (`POST /v1/responses`) and Ollama's
chat (`POST /api/chat`, the local model server LlamaIndex apps often use), not streamed. What it answers depends on a scenario word in the conversation's first user message:

- `healthy`: call `get_order` with `{"order_id": "A1"}`, then answer once the tool's result is in;
- `loop`:    call `get_order` with `{"order_id": "L1"}` every time (the agent stops at its max turns);
- `ratelimit`: call `get_order` with `{"order_id": "R1"}`, then answer 429 (as OpenAI does when a rate
  limit is hit: the run stops mid-way);
- `toolfail`: call `get_order` with `{"order_id": "BAD"}` (the tool raises), then answer;
- `handoff`: while the request offers a `transfer_to_*` tool (a triage agent's hand-off), call it; then
  as `healthy` (the agent handed to looks the order up and answers).

    >>> with StubModel() as stub:
    ...     stub.url.startswith("http://127.0.0.1:")
    True
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ORDER_IDS = {"healthy": "A1", "loop": "L1", "toolfail": "BAD", "ratelimit": "R1", "handoff": "H1"}
USAGE_IN, USAGE_OUT = 120, 20


class StubModel:
    """The server, running in a daemon thread while the context is open; `requests` counts calls."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> StubModel:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()


def scenario_of(texts: list[str]) -> str:
    first = next((t for t in texts if t), "")
    return next((s for s in ("loop", "ratelimit", "toolfail", "handoff") if s in first), "healthy")


def _handler(stub: StubModel) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the OpenAI clients expect
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
            try:
                self._answer()
            except Exception as exc:  # a broken script must show, not hang the client
                stub.errors.append(repr(exc))
                self._send(500, {"error": {"message": f"stub failed: {exc!r}", "type": "server_error"}})

        def _answer(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
            stub.requests.append(body)
            responses = self.path.rstrip("/").endswith("/responses")
            ollama = self.path.rstrip("/").endswith("/api/chat")
            users, tool_results = _read(body, responses)
            scenario = scenario_of(users)
            if scenario == "ratelimit" and tool_results:
                message = "Rate limit reached for gpt-4o-mini: 3 RPM"
                return self._send(429, {"error": message} if ollama else {"error": {
                    "message": message, "type": "requests", "code": "rate_limit_exceeded"}})
            transfer = next((n for n in _tool_names(body) if n.startswith("transfer_to_")), None)
            if scenario == "handoff" and transfer:
                call, text = (transfer, "{}"), None
            elif scenario == "loop" or not tool_results:
                call = ("get_order", json.dumps({"order_id": ORDER_IDS[scenario]}))
                text = None
            else:
                call, text = None, f"Order status: {tool_results[-1][:60]}"
            make = _ollama_answer if ollama else _responses_answer if responses else _chat_answer
            self._send(200, make(body.get("model") or "gpt-4o-mini", call, text, len(stub.requests)))

        def _send(self, status: int, doc: dict[str, Any]) -> None:
            data = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            if status == 429:
                self.send_header("retry-after", "0")
            self.end_headers()
            self.wfile.write(data)
    return Handler


def _tool_names(body: dict[str, Any]) -> list[str]:
    """The names of the tools a request offers (Chat Completions nests them under `function`)."""
    return [t.get("name") or (t.get("function") or {}).get("name") or "" for t in body.get("tools") or []]


def _read(body: dict[str, Any], responses: bool) -> tuple[list[str], list[str]]:
    """The user texts and the tool results of a request, in order (not a hand-off's: it looked nothing up)."""
    users, results = [], []
    items = body.get("input") if responses else body.get("messages")
    if isinstance(items, str):
        return [items], []
    for m in items or []:
        role, kind = m.get("role"), m.get("type")
        if role == "user":
            content = m.get("content")
            users.append(content if isinstance(content, str) else
                         " ".join(p.get("text", "") for p in content or [] if isinstance(p, dict)))
        elif kind == "function_call_output" and str(m.get("output")).startswith("{\"assistant\""):
            continue  # openai-agents' answer to a transfer_to_* call: {"assistant": "<agent>"}
        elif role == "tool" or kind == "function_call_output":
            out = m.get("content") if role == "tool" else m.get("output")
            results.append(out if isinstance(out, str) else json.dumps(out))
    return users, results


def _chat_answer(model: str, call: tuple[str, str] | None, text: str | None, n: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if call:
        message["tool_calls"] = [{"id": f"call_{n:04d}", "type": "function",
                                  "function": {"name": call[0], "arguments": call[1]}}]
    return {"id": f"chatcmpl-{n:04d}", "object": "chat.completion", "created": 1767225600, "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if call else "stop"}],
            "usage": {"prompt_tokens": USAGE_IN, "completion_tokens": USAGE_OUT,
                      "total_tokens": USAGE_IN + USAGE_OUT}}


def _responses_answer(model: str, call: tuple[str, str] | None, text: str | None, n: int) -> dict[str, Any]:
    if call:
        output = [{"type": "function_call", "id": f"fc_{n:04d}", "call_id": f"call_{n:04d}", "name": call[0],
                   "arguments": call[1], "status": "completed"}]
    else:
        output = [{"type": "message", "id": f"msg_{n:04d}", "role": "assistant", "status": "completed",
                   "content": [{"type": "output_text", "text": text, "annotations": []}]}]
    return {"id": f"resp_{n:04d}", "object": "response", "created_at": 1767225600, "model": model,
            "status": "completed", "output": output, "parallel_tool_calls": True, "tool_choice": "auto",
            "tools": [], "error": None, "incomplete_details": None, "instructions": None, "metadata": {},
            "temperature": 1.0, "top_p": 1.0,
            "usage": {"input_tokens": USAGE_IN, "output_tokens": USAGE_OUT, "total_tokens": USAGE_IN + USAGE_OUT,
                      "input_tokens_details": {"cached_tokens": 0},
                      "output_tokens_details": {"reasoning_tokens": 0}}}


def _ollama_answer(model: str, call: tuple[str, str] | None, text: str | None, n: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text or ""}
    if call:  # Ollama sends a tool call's arguments as an object, not JSON text
        message["tool_calls"] = [{"function": {"name": call[0], "arguments": json.loads(call[1])}}]
    return {"model": model, "created_at": "2026-01-01T00:00:00Z", "message": message, "done": True,
            "done_reason": "stop", "total_duration": 1000000, "prompt_eval_count": USAGE_IN, "eval_count": USAGE_OUT}
