"""Small agent apps built with real frameworks and their real instrumentation, for the tests.

    python tests/agent_apps.py FRAMEWORK OTLP_URL MODEL_URL [SCENARIO ...]

Each app is what a user would write: an order-support agent with one tool, `get_order`, instrumented
the way the library's docs say, exporting OTLP/HTTP with the OpenTelemetry SDK. The model is the
scripted stub (tests/stub_llm.py) at MODEL_URL; the scenario word in the user's message picks what it
does (healthy, loop, ratelimit, toolfail). The tool asks the `orders` backend first (a traced
service of its own: its span is a child of the tool's), which fails for order BAD.

Frameworks: openai-agents (OpenInference), langgraph (OpenInference LangChain), openai-v2-agent
(the OpenAI instrumentation plus util-genai's invoke_agent / execute_tool), openai-v2-loop (the same
without an agent span: the app's own tool loop under its request span), langgraph+openai-v2 (both
instrumentations at once: each model call is two stacked spans), llama-index (a LlamaIndex
FunctionAgent on a local Ollama model, OpenInference's LlamaIndex instrumentation; Ollama, not
OpenAI, because llama-index-llms-openai requires openai<3 and openai-agents openai>=3).
Runs go one after another in one conversation (`session-<framework>`); prints one line per run.
"""
from __future__ import annotations

import asyncio
import json
import os
import sys

SCENARIOS = ("healthy", "loop", "ratelimit", "toolfail")
MAX_TURNS = 10  # openai-agents' default; the openai-v2 apps stop at the same number


def main() -> None:
    framework, otlp, model_url, *scenarios = sys.argv[1:]
    os.environ.setdefault("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "SPAN_ONLY")
    os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    def provider(service: str) -> TracerProvider:
        p = TracerProvider(resource=Resource.create({"service.name": service}))
        p.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{otlp}/v1/traces")))
        return p
    app, orders = provider(f"{framework}-app"), provider("orders")
    trace.set_tracer_provider(app)
    backend = Backend(orders.get_tracer("orders"))
    run = {"openai-agents": run_openai_agents, "langgraph": run_langgraph, "langgraph+openai-v2": run_langgraph,
           "openai-v2-agent": run_openai_v2, "openai-v2-loop": run_openai_v2, "llama-index": run_llama_index}[framework]
    try:
        run(framework, app, model_url, backend, scenarios or SCENARIOS)
    finally:
        app.shutdown()
        orders.shutdown()


class Backend:
    """The orders service the tool calls: a SERVER span of its own service under the tool's span."""

    def __init__(self, tracer) -> None:
        self.tracer = tracer

    def get_order(self, order_id: str) -> str:
        from opentelemetry.trace import SpanKind, Status, StatusCode
        with self.tracer.start_as_current_span("GET /orders/{id}", kind=SpanKind.SERVER,
                                               attributes={"http.request.method": "GET",
                                                           "http.route": "/orders/{id}"}) as span:
            if order_id == "BAD":
                span.set_attribute("http.response.status_code", 500)
                span.set_status(Status(StatusCode.ERROR, "orders database unavailable"))
                raise ValueError(f"order service returned 500 for {order_id}")
            span.set_attribute("http.response.status_code", 200)
            return f"order {order_id}: shipped"


def _labels(framework: str, scenario: str) -> dict:
    """What OpenInference apps label a run with (session.id, user.id, metadata, tag.tags on every span)."""
    return {"session_id": f"session-{framework}", "user_id": "user-7",
            "metadata": {"scenario": scenario, "tenant": "acme"}, "tags": ["orders", scenario]}


def _report(scenario: str, outcome: str) -> None:
    print(f"{scenario}: {' '.join(outcome.split())[:160]}", flush=True)


# -- openai-agents + openinference-instrumentation-openai-agents --------------------------------------
def run_openai_agents(framework, provider, model_url, backend, scenarios) -> None:
    from openinference.instrumentation import using_attributes
    from openinference.instrumentation.openai_agents import OpenAIAgentsInstrumentor
    OpenAIAgentsInstrumentor().instrument(tracer_provider=provider)
    from agents import Agent, Runner, function_tool, set_default_openai_client
    from openai import AsyncOpenAI

    @function_tool
    def get_order(order_id: str) -> str:
        """Look up an order's status."""
        return backend.get_order(order_id)

    set_default_openai_client(AsyncOpenAI(base_url=model_url, api_key="stub", max_retries=0),
                              use_for_tracing=False)
    agent = Agent(name="order-agent", instructions="Answer questions about orders.", tools=[get_order],
                  model="gpt-4o-mini")
    # scenario `handoff`: a triage agent hands the question to order-agent (a real hand-off: a sub-agent)
    triage = Agent(name="triage-agent", instructions="Hand order questions to the order agent.", handoffs=[agent],
                   model="gpt-4o-mini")

    async def go() -> None:
        for scenario in scenarios:
            with using_attributes(**_labels(framework, scenario)):
                try:
                    result = await Runner.run(triage if scenario == "handoff" else agent,
                                              f"{scenario}: where is my order?", max_turns=MAX_TURNS)
                    _report(scenario, str(result.final_output))
                except Exception as exc:  # noqa: BLE001 (the run's failure is the point)
                    _report(scenario, f"raised {type(exc).__name__}: {exc}")
    asyncio.run(go())


# -- LangGraph + openinference-instrumentation-langchain -------------------------------------------
def run_langgraph(framework, provider, model_url, backend, scenarios) -> None:
    import warnings
    warnings.simplefilter("ignore")  # create_react_agent's deprecation notice
    from openinference.instrumentation import using_attributes
    from openinference.instrumentation.langchain import LangChainInstrumentor
    LangChainInstrumentor().instrument(tracer_provider=provider)
    if "openai-v2" in framework:
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
        OpenAIInstrumentor().instrument(tracer_provider=provider)
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI
    from langgraph.prebuilt import create_react_agent

    @tool
    def get_order(order_id: str) -> str:
        """Look up an order's status."""
        return backend.get_order(order_id)

    llm = ChatOpenAI(model="gpt-4o-mini", base_url=model_url, api_key="stub", max_retries=0)
    graph = create_react_agent(llm, [get_order], name="order-graph")
    for scenario in scenarios:
        with using_attributes(**_labels(framework, scenario)):
            try:
                # LangGraph's own default is 10,000 steps: apps set a limit (one model and one tool step a turn)
                out = graph.invoke({"messages": [("user", f"{scenario}: where is my order?")]},
                                   {"recursion_limit": 2 * MAX_TURNS})
                _report(scenario, str(out["messages"][-1].content))
            except Exception as exc:  # noqa: BLE001
                _report(scenario, f"raised {type(exc).__name__}: {exc}")


# -- LlamaIndex FunctionAgent on Ollama + openinference-instrumentation-llama-index -------------------
OLLAMA_MODEL = "llama3.1:8b"


def run_llama_index(framework, provider, model_url, backend, scenarios) -> None:
    from openinference.instrumentation import using_attributes
    from openinference.instrumentation.llama_index import LlamaIndexInstrumentor
    LlamaIndexInstrumentor().instrument(tracer_provider=provider)
    from llama_index.core.agent.workflow import FunctionAgent
    from llama_index.core.tools import FunctionTool
    from llama_index.llms.ollama import Ollama

    def get_order(order_id: str) -> str:
        """Look up an order's status."""
        return backend.get_order(order_id)

    llm = Ollama(model=OLLAMA_MODEL, base_url=model_url.removesuffix("/v1"), request_timeout=30,
                 context_window=8192)
    agent = FunctionAgent(name="order-agent", description="Answers questions about orders.",
                          system_prompt="Answer questions about orders.", llm=llm,
                          tools=[FunctionTool.from_defaults(get_order)], streaming=False)

    async def go() -> None:
        for scenario in scenarios:
            with using_attributes(**_labels(framework, scenario)):
                try:
                    result = await agent.run(user_msg=f"{scenario}: where is my order?", max_iterations=MAX_TURNS)
                    _report(scenario, str(result))
                except Exception as exc:  # noqa: BLE001
                    _report(scenario, f"raised {type(exc).__name__}: {exc}")
    asyncio.run(go())


# -- openai + opentelemetry-instrumentation-openai-v2 (+ util-genai agent and tool spans) -----------
TOOLS = [{"type": "function", "function": {
    "name": "get_order", "description": "Look up an order's status.",
    "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}}]


def run_openai_v2(framework, provider, model_url, backend, scenarios) -> None:
    from openai import OpenAI
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
    from opentelemetry.trace import SpanKind
    from opentelemetry.util.genai.handler import TelemetryHandler
    OpenAIInstrumentor().instrument(tracer_provider=provider)
    handler = TelemetryHandler(tracer_provider=provider)
    tracer = provider.get_tracer("order-app")
    client = OpenAI(base_url=model_url, api_key="stub", max_retries=0)
    session = f"session-{framework}"
    for scenario in scenarios:
        try:
            if framework == "openai-v2-agent":
                with handler.invoke_local_agent(agent_name="order-agent", request_model="gpt-4o-mini") as inv:
                    inv.conversation_id = session
                    _report(scenario, _tool_loop(client, handler, backend, scenario))
            else:
                with tracer.start_as_current_span("POST /support/ask", kind=SpanKind.SERVER,
                                                  attributes={"gen_ai.conversation.id": session}):
                    _report(scenario, _tool_loop(client, handler, backend, scenario))
        except Exception as exc:  # noqa: BLE001
            _report(scenario, f"raised {type(exc).__name__}: {exc}")


def _tool_loop(client, handler, backend, scenario: str) -> str:
    """The loop apps write by hand: ask, run the tools the model asks for, ask again, at most MAX_TURNS times."""
    messages = [{"role": "system", "content": "Answer questions about orders."},
                {"role": "user", "content": f"{scenario}: where is my order?"}]
    for _ in range(MAX_TURNS):
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=TOOLS)
        message = reply.choices[0].message
        if not message.tool_calls:
            return message.content or ""
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls:
            with handler.tool(call.function.name, tool_call_id=call.id, tool_type="function") as inv:
                inv.arguments = call.function.arguments
                result = backend.get_order(**json.loads(call.function.arguments))
                inv.tool_result = result
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
    raise RuntimeError(f"max turns ({MAX_TURNS}) exceeded")


if __name__ == "__main__":
    main()
