"""Simulated agent runs: invoke_agent → chat / execute_tool spans after the OTel GenAI conventions."""

from __future__ import annotations

from opentelemetry.trace import SpanKind

from ._faults import NS

MS = 1_000_000


def agent_run(sim, t: int) -> None:
    """One agent run rooted at an `invoke_agent` span in the agent service."""
    topo, plan, rng = sim.topo, sim.plan, sim.rng
    agent = rng.choice(topo.agents)
    svc = topo.agent_service
    conv = f"conv_{rng.getrandbits(48):012x}"
    root = sim._start(svc, f"invoke_agent {agent.name}", SpanKind.INTERNAL, t, None, {
        "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": agent.name, "gen_ai.agent.id": agent.agent_id,
        "gen_ai.conversation.id": conv, "gen_ai.provider.name": "openai", "gen_ai.request.model": agent.model})
    looping = (plan.fault == "agent_tool_loop" and agent.name == plan.agent and t >= plan.start_ns
               and rng.random() < 0.85)
    cur, ok = t + int(rng.uniform(0.5, 2) * MS), True
    if looping:
        n = rng.randint(60, 160) * plan.magnitude
        args = topo.tools[plan.tool].args.format(n=rng.randint(100, 999))
        steps = [(plan.tool, args)] * int(n)
    else:
        steps = []
        for _ in range(rng.choice((1, 1, 2, 2, 3))):
            tool = rng.choice(agent.tools)
            steps.append((tool, topo.tools[tool].args.format(n=rng.randint(100, 999))))
    in_tokens = rng.randint(400, 1200)
    for tool, args in steps:
        cur, ok = _chat(sim, agent, root, cur, in_tokens, "tool_calls", fast=looping)
        if not ok:
            break
        in_tokens += rng.randint(80, 300)
        cur = _tool(sim, root, tool, args, cur) + int(rng.uniform(0.2, 1) * MS)
    if ok and not looping:
        cur, ok = _chat(sim, agent, root, cur, in_tokens, "stop")
    if not ok:
        sim._fail(root, cur, "RateLimitError", "LLM provider rate limit exceeded after retries")
        sim._log(svc, cur, root, "ERROR", f"agent run {agent.name} failed: RateLimitError: "
                                           "LLM provider rate limit exceeded after retries")
    elif looping:
        sim._fail(root, cur, "MaxIterationsExceeded", f"agent stopped after {len(steps)} iterations")
        sim._log(svc, cur, root, "ERROR", f"agent run {agent.name} stopped: maximum iterations reached")
    elif rng.random() < 0.1:
        sim._log(svc, cur, root, "INFO", f"agent run {agent.name} finished in {(cur - t) // MS} ms")
    root.end(end_time=cur + int(0.5 * MS))


def _chat(sim, agent, parent, t: int, in_tokens: int, finish: str, fast: bool = False):
    """One chat completion (with up to two retries on 429); return (end, ok)."""
    plan, rng = sim.plan, sim.rng
    provider = sim.topo.llm_service
    for attempt in range(3):
        out_tokens = rng.randint(15, 60) if finish == "tool_calls" else rng.randint(120, 600)
        span = sim._start(sim.topo.agent_service, f"chat {agent.model}", SpanKind.CLIENT, t, parent, {
            "gen_ai.operation.name": "chat", "gen_ai.request.model": agent.model, "gen_ai.provider.name": "openai",
            "server.address": provider, "server.port": 443, "gen_ai.request.max_tokens": 1024,
            "gen_ai.conversation.id": parent.attributes["gen_ai.conversation.id"]})
        if attempt:
            span.set_attribute("http.request.resend_count", attempt)
        st = t + int(rng.uniform(2, 8) * MS)
        limited = plan.fault == "llm_rate_limit" and plan.on(provider, t) and rng.random() < 0.65 * plan.magnitude
        server = sim._start(provider, "POST /v1/chat/completions", SpanKind.SERVER, st, span, {
            "http.request.method": "POST", "http.route": "/v1/chat/completions", "url.path": "/v1/chat/completions",
            "url.scheme": "https", "server.address": provider, "server.port": 443})
        if limited:
            se = st + int(sim._lognormal(4, 0.3) * MS)
            server.set_attribute("http.response.status_code", 429)
            if rng.random() < 0.1:
                sim._log(provider, st, server, "WARN", "rate limit exceeded for org org-testbed: "
                                                       f"{rng.randint(500, 900)} requests in window")
            server.end(end_time=se)
            end = se + int(rng.uniform(2, 8) * MS)
            span.set_attribute("http.response.status_code", 429)
            span.set_attribute("error.type", "429")
            sim._fail(span, end, "RateLimitError", "Error code: 429 - Rate limit reached for requests")
            span.end(end_time=end)
            sim._log(sim.topo.agent_service, end, span, "WARN",
                     f"rate limited by {provider} (429), retrying in {attempt + 1} s")
            t = end + (attempt + 1) * NS
            continue
        median = (90 if fast else 250) + out_tokens * (3 if fast else 4)
        factor = sim._self_factor(provider, "POST /v1/chat/completions", st)
        se = st + int(sim._lognormal(median, 0.3) * factor * MS)
        server.set_attribute("http.response.status_code", 200)
        server.end(end_time=se)
        end = se + int(rng.uniform(2, 8) * MS)
        span.set_attributes({
            "http.response.status_code": 200, "gen_ai.response.model": f"{agent.model}-2024-08-06",
            "gen_ai.response.id": f"chatcmpl-{rng.getrandbits(64):016x}", "gen_ai.usage.input_tokens": in_tokens,
            "gen_ai.usage.output_tokens": out_tokens, "gen_ai.response.finish_reasons": [finish]})
        span.end(end_time=end)
        return end, True
    return t, False


def _tool(sim, parent, tool_name: str, args: str, t: int) -> int:
    """An execute_tool span around the backend call of the tool; return its end."""
    tool = sim.topo.tools[tool_name]
    svc = sim.topo.agent_service
    span = sim._start(svc, f"execute_tool {tool_name}", SpanKind.INTERNAL, t, parent, {
        "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": tool_name, "gen_ai.tool.type": "function",
        "gen_ai.tool.call.id": f"call_{sim.rng.getrandbits(64):016x}", "gen_ai.tool.call.arguments": args})
    end, failure = sim._call(svc, tool.call, t + int(0.3 * MS), span)
    end += int(0.3 * MS)
    if failure and failure[0] != "client":  # a 4xx answer is the tool's result, not its failure
        sim._fail(span, end, failure[1], failure[2])
        span.set_attribute("error.type", failure[1])
    span.end(end_time=end)
    return end


__all__ = ["agent_run"]
