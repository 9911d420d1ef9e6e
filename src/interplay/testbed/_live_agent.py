"""Live agent runtime and LLM provider endpoints (OTel GenAI conventions)."""

from __future__ import annotations

import asyncio
import json

import httpx
from opentelemetry import propagate
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, set_span_in_context
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ._live_service import LIVE_SCALE, Failure, Service, db_call, fail, http_attempt, http_call


async def trigger(svc: Service, request: Request) -> Response:
    """Start one agent run in the background (the run's invoke_agent span is a trace root)."""
    body = await request.json() if await request.body() else {}
    agents = svc.topo.agents
    agent = next((a for a in agents if a.name == body.get("agent")), None) or svc.rng.choice(agents)
    task = asyncio.create_task(agent_run(svc, agent))
    svc.__dict__.setdefault("runs", set()).add(task)
    task.add_done_callback(svc.runs.discard)
    return JSONResponse({"agent": agent.name}, status_code=202)


async def agent_run(svc: Service, agent) -> None:
    conv = f"conv_{svc.rng.getrandbits(48):012x}"
    attrs = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": agent.name,
             "gen_ai.agent.id": agent.agent_id, "gen_ai.conversation.id": conv, "gen_ai.provider.name": "openai",
             "gen_ai.request.model": agent.model}
    looping = svc.on("agent_tool_loop") and svc.fault.get("agent") == agent.name
    with svc.tracer.start_as_current_span(f"invoke_agent {agent.name}", context=Context(), kind=SpanKind.INTERNAL,
                                          attributes=attrs, record_exception=False,
                                          set_status_on_exception=False) as root:
        if looping:
            tool = svc.fault.get("tool") or agent.tools[0]
            args = svc.topo.tools[tool].args.format(n=svc.rng.randint(100, 999))
            steps = [(tool, args)] * 40
        else:
            steps = [(t, svc.topo.tools[t].args.format(n=svc.rng.randint(100, 999)))
                     for t in svc.rng.sample(agent.tools, svc.rng.choice((1, 2)))]
        try:
            for tool, args in steps:
                await chat(svc, agent, root, conv, "tool_calls", fast=looping)
                await run_tool(svc, root, tool, args)
            if looping:
                fail(root, "MaxIterationsExceeded", f"agent stopped after {len(steps)} iterations")
                svc.log(root, "ERROR", f"agent run {agent.name} stopped: maximum iterations reached")
            else:
                await chat(svc, agent, root, conv, "stop")
        except Failure as f:
            fail(root, f.exc_type, f.message)
            svc.log(root, "ERROR", f"agent run {agent.name} failed: {f.exc_type}: {f.message}")


async def chat(svc: Service, agent, parent, conv: str, finish: str, fast: bool = False) -> None:
    port = svc.ports[svc.topo.llm_service]
    for attempt in range(3):
        attrs = {"gen_ai.operation.name": "chat", "gen_ai.request.model": agent.model,
                 "gen_ai.provider.name": "openai", "gen_ai.conversation.id": conv,
                 "server.address": svc.topo.llm_service, "server.port": port}
        with http_attempt(svc, f"chat {agent.model}", parent, attrs, attempt) as (span, headers):
            try:
                resp = await svc.http.post(f"http://127.0.0.1:{port}/v1/chat/completions", headers=headers,
                                           json={"model": agent.model, "finish": finish, "fast": fast}, timeout=30)
            except httpx.HTTPError as exc:
                fail(span, "ConnectError", str(exc) or "connection failed")
                raise Failure(502, "APIConnectionError", "LLM provider unreachable", "") from None
            span.set_attribute("http.response.status_code", resp.status_code)
            if resp.status_code == 200:
                data = resp.json()
                span.set_attributes({"gen_ai.response.model": data["model"], "gen_ai.response.id": data["id"],
                                     "gen_ai.usage.input_tokens": data["usage"]["input_tokens"],
                                     "gen_ai.usage.output_tokens": data["usage"]["output_tokens"],
                                     "gen_ai.response.finish_reasons": [finish]})
                return
            span.set_attribute("error.type", str(resp.status_code))
            fail(span, "RateLimitError", f"Error code: {resp.status_code} - Rate limit reached for requests")
            svc.log(span, "WARN", f"rate limited by {svc.topo.llm_service} ({resp.status_code}), "
                                  f"retrying in {0.5 * (attempt + 1)} s")
        await asyncio.sleep(0.5 * (attempt + 1))
    raise Failure(500, "RateLimitError", "LLM provider rate limit exceeded after retries", "")


async def run_tool(svc: Service, parent, tool_name: str, args: str) -> None:
    tool = svc.topo.tools[tool_name]
    attrs = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": tool_name, "gen_ai.tool.type": "function",
             "gen_ai.tool.call.id": f"call_{svc.rng.getrandbits(64):016x}", "gen_ai.tool.call.arguments": args}
    with svc.tracer.start_as_current_span(f"execute_tool {tool_name}", context=set_span_in_context(parent),
                                          kind=SpanKind.INTERNAL, attributes=attrs, record_exception=False,
                                          set_status_on_exception=False) as span:
        try:
            if tool.call.kind == "http":
                await http_call(svc, tool.call, span)
            else:
                await db_call(svc, tool.call.op, span)
        except Failure as f:
            fail(span, f.exc_type, f.message)
            span.set_attribute("error.type", f.exc_type)


async def completions(svc: Service, request: Request) -> Response:
    """The LLM provider's SERVER endpoint: a fake chat completion with token counts."""
    ctx = propagate.extract(request.headers)
    body = json.loads(await request.body() or b"{}")
    attrs = {"http.request.method": "POST", "http.route": "/v1/chat/completions", "url.path": "/v1/chat/completions",
             "url.scheme": "http", "server.address": "127.0.0.1", "server.port": svc.cfg["port"]}
    with svc.tracer.start_as_current_span("POST /v1/chat/completions", context=ctx, kind=SpanKind.SERVER,
                                          attributes=attrs) as span:
        if svc.on("llm_rate_limit") and svc.rng.random() < 0.65:
            await asyncio.sleep(0.004)
            span.set_attribute("http.response.status_code", 429)
            return JSONResponse({"error": {"type": "rate_limit_exceeded"}}, status_code=429)
        out_tokens = svc.rng.randint(15, 60) if body.get("finish") == "tool_calls" else svc.rng.randint(120, 600)
        median = (90 if body.get("fast") else 250) + out_tokens * (3 if body.get("fast") else 4)
        ms = svc.lognormal(median, 0.3) * LIVE_SCALE * (6 if svc.on("llm_slow") else 1)
        await asyncio.sleep(ms / 1000)
        span.set_attribute("http.response.status_code", 200)
        return JSONResponse({"id": f"chatcmpl-{svc.rng.getrandbits(64):016x}",
                             "model": f"{body.get('model')}-2024-08-06",
                             "usage": {"input_tokens": svc.rng.randint(400, 1500), "output_tokens": out_tokens}})
