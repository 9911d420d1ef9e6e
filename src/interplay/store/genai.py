"""The one alias table from GenAI telemetry conventions to the fields agent analysis reads, and the SQL
that reads those fields (here in store/, beside `agent_runs`, which builds on it; `agents` reads the
same table in Python).

The OpenTelemetry GenAI conventions are still "development" and rename keys between releases
(`gen_ai.system` → `gen_ai.provider.name`, `gen_ai.usage.prompt_tokens` → `input_tokens`,
`cache_creation` → `cache_write`); OpenInference (Arize) and OpenLLMetry (Traceloop) spell the
same ideas differently. Every key the analysis reads is listed here, newest spelling first, and
nothing else in `interplay.agents` names an attribute. Unknown keys are never a reason to skip a
span: a span is classified by the first marker it has, and its other attributes travel with it.

Sources: the GenAI registry of open-telemetry/semantic-conventions-genai (`model/gen-ai/registry.yaml`:
operations incl. `plan` and the memory operations, `gen_ai.workflow.name`, `gen_ai.agent.version`,
`gen_ai.tool.*`, `gen_ai.usage.cache_creation.input_tokens`, `reasoning.output_tokens`), the OpenInference
semantic conventions (`openinference-semantic-conventions` 0.1.42: `llm.request.model_name`,
`llm.cost.*`, `graph.node.*`, `user.id`, `metadata`, `tag.tags`, the DECISION and UNKNOWN span kinds with
`decision.*`), OpenLLMetry's `traceloop.*`.
"""
from __future__ import annotations

import re
from typing import Any

from .base import EngineSQL

# canonical field → attribute keys, most current spelling first.
ALIASES: dict[str, tuple[str, ...]] = {
    "operation": ("gen_ai.operation.name",),
    "openinference_kind": ("openinference.span.kind",),
    "traceloop_kind": ("traceloop.span.kind",),
    # graph.node.id: openai-agents names each agent span's node after the agent.
    "agent_name": ("gen_ai.agent.name", "agent.name", "graph.node.name", "graph.node.id",
                   "traceloop.entity.name"),
    "agent_id": ("gen_ai.agent.id",),
    "agent_version": ("gen_ai.agent.version",),
    "workflow_name": ("gen_ai.workflow.name", "traceloop.workflow.name"),
    "conversation_id": ("gen_ai.conversation.id", "session.id", "gen_ai.session.id", "langfuse.session.id"),
    "user_id": ("user.id", "enduser.id", "langfuse.user.id"),
    "tags": ("tag.tags", "langfuse.trace.tags"),
    "metadata": ("metadata",),
    "tool_name": ("gen_ai.tool.name", "tool.name", "tool_call.function.name"),
    "tool_type": ("gen_ai.tool.type",),
    "tool_description": ("gen_ai.tool.description", "tool.description"),
    "tool_call_id": ("gen_ai.tool.call.id", "tool_call.id", "tool.id"),
    # OpenInference puts a TOOL span's arguments in input.value; read it on tool steps only.
    "tool_args": ("gen_ai.tool.call.arguments", "tool_call.function.arguments", "input.value",
                  "traceloop.entity.input"),
    "tool_result": ("gen_ai.tool.call.result", "output.value", "traceloop.entity.output"),
    # decision.*: OpenInference's DECISION spans (a decision model: typed answers, not text) spell a model call so.
    "request_model": ("gen_ai.request.model", "llm.request.model_name", "llm.model_name", "embedding.model_name",
                      "llm.request.model", "decision.request.model_name", "decision.model_name"),
    "response_model": ("gen_ai.response.model", "llm.response.model_name", "llm.response.model", "llm.model_name",
                       "decision.response.model_name", "decision.model_name"),
    "response_id": ("gen_ai.response.id",),
    "provider": ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system", "decision.provider"),
    "input_tokens": ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt",
                     "llm.usage.prompt_tokens", "decision.token_count.input"),
    "output_tokens": ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens",
                      "llm.token_count.completion", "llm.usage.completion_tokens", "decision.token_count.output"),
    "total_tokens": ("gen_ai.usage.total_tokens", "llm.token_count.total", "llm.usage.total_tokens"),
    "cache_read_tokens": ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens",
                          "llm.token_count.prompt_details.cache_read"),
    "cache_write_tokens": ("gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_write.input_tokens",
                           "gen_ai.usage.cache_write_input_tokens", "gen_ai.usage.cache_creation_input_tokens",
                           "llm.token_count.prompt_details.cache_write"),
    "reasoning_tokens": ("gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.reasoning_tokens",
                         "llm.token_count.completion_details.reasoning"),
    # Cost in USD as the instrumentation computed it (OpenInference; Langfuse-style gen_ai.usage.cost).
    "cost_total": ("llm.cost.total", "gen_ai.usage.cost"),
    "cost_input": ("llm.cost.prompt", "gen_ai.usage.input_cost"),
    "cost_output": ("llm.cost.completion", "gen_ai.usage.output_cost"),
    "finish_reasons": ("gen_ai.response.finish_reasons", "llm.finish_reason"),
    "input_messages": ("gen_ai.input.messages", "gen_ai.prompt"),
    "output_messages": ("gen_ai.output.messages", "gen_ai.completion"),
    "system_instructions": ("gen_ai.system_instructions",),
    "input_value": ("input.value", "traceloop.entity.input", "gen_ai.retrieval.query.text",
                    "gen_ai.memory.query.text"),
    "output_value": ("output.value", "traceloop.entity.output", "gen_ai.retrieval.documents", "gen_ai.memory.records"),
    "error_type": ("error.type", "exception.type"),
    "http_status": ("http.response.status_code", "http.status_code"),
    "grpc_status": ("rpc.grpc.status_code", "rpc.response.status_code"),
    "resend_count": ("http.request.resend_count", "http.resend_count"),
    "server_address": ("server.address", "net.peer.name", "peer.service"),
}

# Key prefixes whose every attribute is usage accounting: shown whole on a step, known or not
# (the modality breakdowns gen_ai.usage.text/audio/image.*, llm.cost.prompt_details.*, ...).
USAGE_PREFIXES: tuple[str, ...] = ("gen_ai.usage.", "llm.token_count.", "llm.usage.", "llm.cost.",
                                   "decision.token_count.")

# What a span is, from the first marker it carries. Values not listed keep their own lowercased
# name as kind (a new operation is still a step, never dropped).
KIND_OF_OPERATION: dict[str, str] = {
    "invoke_agent": "agent", "create_agent": "create_agent", "chat": "llm", "text_completion": "llm",
    "generate_content": "llm", "embeddings": "embedding", "execute_tool": "tool", "retrieval": "retrieval",
    "invoke_workflow": "workflow", "plan": "plan",
    "search_memory": "memory", "create_memory": "memory", "update_memory": "memory", "upsert_memory": "memory",
    "delete_memory": "memory", "create_memory_store": "memory", "delete_memory_store": "memory",
}
KIND_OF_OPENINFERENCE: dict[str, str] = {
    "AGENT": "agent", "LLM": "llm", "TOOL": "tool", "CHAIN": "chain", "RETRIEVER": "retrieval",
    "EMBEDDING": "embedding", "RERANKER": "reranker", "GUARDRAIL": "guardrail", "EVALUATOR": "evaluator",
    "PROMPT": "prompt", "DECISION": "llm", "UNKNOWN": "unknown",
}
KIND_OF_TRACELOOP: dict[str, str] = {"agent": "agent", "tool": "tool", "workflow": "workflow", "task": "chain"}

# Kinds that only group other work: walked through, never a step of their own (OpenInference's UNKNOWN
# says nothing of what the span did: neither a step nor a reason to drop what is below it).
PASS_THROUGH: tuple[str, ...] = ("chain", "workflow", "prompt", "unknown")

# Step signatures: kind → verb shown in paths such as `chat:gpt-4o` or `tool:get_order`.
SIGNATURE_VERB: dict[str, str] = {"llm": "chat", "tool": "tool", "agent": "agent", "embedding": "embeddings",
                                  "retrieval": "retrieval", "memory": "memory"}

_SAFE_KEY = re.compile(r"^[A-Za-z0-9_.\-]+$")
assert all(_SAFE_KEY.match(k) for keys in ALIASES.values() for k in keys)


# -- SQL ---------------------------------------------------------------------------------------------
# The fields SQL reads. `sql_parse` reads all their keys in one pass over the JSON text into a
# struct (one json_extract_string per key costs a lookup and a string each: twice as slow).
SQL_FIELDS: tuple[str, ...] = (
    "operation", "openinference_kind", "traceloop_kind", "agent_name", "agent_id", "conversation_id",
    "workflow_name", "user_id", "finish_reasons", "cost_total",
    "tool_name", "request_model", "response_model", "input_tokens", "output_tokens", "total_tokens",
    "error_type", "http_status", "grpc_status", "resend_count", "server_address")
KIND_FIELDS: tuple[str, ...] = ("operation", "openinference_kind", "traceloop_kind", "tool_name", "request_model",
                                "response_model", "input_tokens", "output_tokens")


def sql_parse(sql: EngineSQL, column: str = "attributes", fields: tuple[str, ...] = SQL_FIELDS) -> str:
    """A struct of every key of these fields, as text (as `sql.attr` reads them); see sql_field."""
    keys = dict.fromkeys(k for f in fields for k in ALIASES[f])
    return sql.attr_struct(column, list(keys))


def sql_field(sql: EngineSQL, field: str, column: str = "attributes", parsed: str | None = None) -> str:
    """An expression reading the first present alias of field as text (NULL if none).

    parsed: the name of a sql_parse column (with this field) to read instead of parsing `column` again.
    """
    if parsed is not None:
        parts = [sql.struct_attr(parsed, key) for key in ALIASES[field]]
    else:
        parts = [sql.attr(column, key) for key in ALIASES[field]]
    return parts[0] if len(parts) == 1 else f"coalesce({', '.join(parts)})"


def sql_int(sql: EngineSQL, field: str, column: str = "attributes", parsed: str | None = None) -> str:
    """The field as BIGINT (numbers sent as strings or doubles too); NULL when absent or not a number."""
    return sql.try_bigint(sql.try_double(sql_field(sql, field, column, parsed)))


def sql_kind(sql: EngineSQL, column: str = "attributes", parsed: str | None = None) -> str:
    """An expression for a span's GenAI kind ('agent', 'llm', 'tool', ...), NULL for other spans."""
    def f(name: str) -> str:
        return sql_field(sql, name, column, parsed)
    op = f"lower({f('operation')})"
    oi = f"upper({f('openinference_kind')})"
    tl = f"lower({f('traceloop_kind')})"
    return f"""(CASE
        WHEN {op} IS NOT NULL THEN {_case(op, KIND_OF_OPERATION)}
        WHEN {oi} IS NOT NULL THEN {_case(oi, KIND_OF_OPENINFERENCE, lower=True)}
        WHEN {tl} IS NOT NULL THEN {_case(tl, KIND_OF_TRACELOOP)}
        WHEN {f('tool_name')} IS NOT NULL THEN 'tool'
        WHEN coalesce({f('request_model')}, {f('response_model')},
                      {f('input_tokens')}, {f('output_tokens')}) IS NOT NULL
             THEN 'llm'
    END)"""


def sql_prefilter(sql: EngineSQL, column: str = "attributes") -> str:
    """A cheap test that every span sql_kind recognises passes (skips reading the keys of the rest):
    a key in the namespace of a key sql_kind reads."""
    namespaces = sorted({k.split(".")[0] for f in KIND_FIELDS for k in ALIASES[f]})
    return sql.attr_keys_match(column, [f"{n}." for n in namespaces])


def _case(expr: str, mapping: dict[str, str], lower: bool = False) -> str:
    whens = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in mapping.items())
    fallback = f"lower({expr})" if lower else expr
    return f"(CASE {expr} {whens} ELSE {fallback} END)"


def sql_in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


# -- Python (small data: the attributes of one step) ----------------------------------------------------
def field(attributes: dict[str, Any], name: str) -> Any:
    """The first present alias of a canonical field in a decoded attribute map."""
    for key in ALIASES[name]:
        if key in attributes and attributes[key] not in (None, ""):
            return attributes[key]
    return None


def usage(attributes: dict[str, Any]) -> dict[str, Any]:
    """Every usage-accounting attribute as sent, including keys this table does not know yet."""
    return {k: v for k, v in attributes.items() if k.startswith(USAGE_PREFIXES)}


def signature(kind: str | None, name: str | None, operation: str) -> str:
    """A step's identity in a path: `chat:<model>`, `tool:<name>`, `agent:<name>`, `<kind>:<span name>`."""
    verb = SIGNATURE_VERB.get(kind or "", kind or "span")
    return f"{verb}:{name or operation}"


def sql_step_name(sql: EngineSQL, kind: str = "gkind", column: str = "attributes", operation: str = "operation",
                  parsed: str | None = None) -> str:
    """The name a step is known by: the model of a model call, the tool's name, the agent's name."""
    def f(name: str) -> str:
        return sql_field(sql, name, column, parsed)
    return f"""(CASE {kind}
        WHEN 'llm' THEN coalesce({f('request_model')}, {f('response_model')}, {operation})
        WHEN 'embedding' THEN coalesce({f('request_model')}, {operation})
        WHEN 'tool' THEN coalesce({f('tool_name')}, {operation})
        WHEN 'agent' THEN coalesce({f('agent_name')}, {f('agent_id')}, {operation})
        ELSE {operation} END)"""


def sql_signature(kind: str = "gkind", name: str = "step_name") -> str:
    whens = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in SIGNATURE_VERB.items())
    return f"((CASE {kind} {whens} ELSE {kind} END) || ':' || {name})"
