"""The MCP server: Interplay's tools (`interplay.mcp_tools`) over stdio or streamable HTTP at /mcp.

`build_server(tools)` registers the tools on an `mcp` SDK server; `mcp_endpoint(state)` gives the
route and lifespan that `create_app` mounts, so /mcp sits behind the same bearer-token middleware
as the rest of the API.
"""
from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import ToolAnnotations

from ..mcp_tools import LIMIT, TOOL_NAMES, Tools
from ..model import InterplayError

INSTRUCTIONS = f"""Interplay answers why production broke from traces, logs, metrics and change events.
Start coarse, then ask for detail: list_services → service_graph(service) → investigate(symptom?) →
cause_evidence(investigation_id, rank) → trace_summary(trace_id); search_logs(trace_id=..., like=...) for the
log records behind a trace or a log-template evidence item. For AI agents: agent_runs → agent_run(run_id);
agent_sessions groups runs by conversation. Before a change: impact(service), recent_changes().
Every answer is JSON of at most {LIMIT} bytes; a cut answer has "truncated" with the call that shows more.
Times: RFC3339, unix seconds, or relative like -15m."""

_READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)


def build_server(tools: Tools, name: str = "interplay") -> MCPServer:
    """An MCP server exposing each tool with its docstring as the description."""
    server = MCPServer(name, instructions=INSTRUCTIONS, log_level="WARNING")
    for tool_name in TOOL_NAMES:
        fn = _user_errors(getattr(tools, tool_name))
        server.add_tool(fn, name=tool_name, description=_describe(fn), annotations=_READ_ONLY,
                        structured_output=False)
    return server


def _user_errors(fn: Callable[..., str]) -> Callable[..., str]:
    """Errors the caller can fix reach the model as their one-line message, not as a crash."""
    @functools.wraps(fn)
    def tool(*args: Any, **kwargs: Any) -> str:
        try:
            return fn(*args, **kwargs)
        except InterplayError as exc:
            raise ToolError(str(exc)) from None
    return tool


def _describe(fn: Any) -> str:
    doc = (fn.__doc__ or "").strip()
    return f"{doc} Answer: JSON, at most {LIMIT} bytes."


@dataclass
class McpEndpoint:
    """The /mcp route and the lifespan that runs its session manager, for the API's Starlette app."""

    routes: list
    server: MCPServer

    def lifespan(self, app: Any) -> contextlib.AbstractAsyncContextManager[None]:
        return self._run()

    @contextlib.asynccontextmanager
    async def _run(self) -> AsyncIterator[None]:
        async with self.server.session_manager.run():
            yield


def mcp_endpoint(state: Any, path: str = "/mcp") -> McpEndpoint:
    """Tools over the server's hub, writing kept investigations through its writer queue.

    Stateless JSON responses: no session to lose when a client reconnects. Host, Origin and the
    token are checked for /mcp by the app's AdmissionMiddleware, as on every other route (so
    --allowed-host names work here too); the SDK's own check would refuse those names.
    """
    tools = Tools(state.interplay, submit=state.writer.submit if state.writer else None)
    server = build_server(tools)
    security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    sub = server.streamable_http_app(streamable_http_path=path, stateless_http=True, json_response=True,
                                     transport_security=security)
    return McpEndpoint(routes=list(sub.routes), server=server)


def run_stdio(tools: Tools) -> None:
    """Serve the tools over stdin/stdout until the client closes them."""
    build_server(tools).run("stdio")
