"""A checkout trace as the OpenTelemetry Python SDK records it: frontend → payments → database, payments
failing. Only SDK imports, so tests/fixtures/zipkin_proto3/make.py can run it in a venv of its own."""
from __future__ import annotations

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode


def sdk_checkout_trace(exporter) -> str:
    """Record the trace into `exporter` (one tracer provider per service); its trace id in hex."""
    tracers = {}
    for name in ("frontend", "payments"):
        provider = TracerProvider(resource=Resource.create({"service.name": name, "service.version": "1.2.3"}))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        tracers[name] = provider.get_tracer("shop.http", "0.9")
    with tracers["frontend"].start_as_current_span("GET /checkout", kind=SpanKind.SERVER) as root:
        with tracers["frontend"].start_as_current_span(
                "POST /charge", kind=SpanKind.CLIENT, attributes={"server.address": "payments"}):
            with tracers["payments"].start_as_current_span("POST /charge", kind=SpanKind.SERVER) as pay:
                with tracers["payments"].start_as_current_span(
                        "INSERT charges", kind=SpanKind.CLIENT, attributes={"db.system": "postgresql"}):
                    pass
                pay.add_event("retry", {"attempt": 2})
                pay.set_status(Status(StatusCode.ERROR, "card declined"))
        root.set_status(Status(StatusCode.ERROR))
    return format(root.get_span_context().trace_id, "032x")
