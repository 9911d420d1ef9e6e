"""Bare export: telemetry as many real systems record it, or as a converter rebuilds it.

No span status, no `http.*`/`rpc.*`/`peer.*`/`db.*` (nor `url.*`, `server.*`, `network.*`, `error.*`)
attributes, and span kinds inferred from the tree: SERVER where the parent is missing or in another
service, CLIENT where a child is in another service, else INTERNAL. Errors survive only as exception
events, error logs and timing. Kinds need whole traces, so spans are handed over a trace at a time.
"""

from __future__ import annotations

from collections import defaultdict

from ._otlp_json import BufferingSpanProcessor

STRIPPED = ("http.", "rpc.", "peer.", "db.", "url.", "server.", "network.", "net.", "error.")
INTERNAL, SERVER, CLIENT = 1, 2, 3


class TraceSpanProcessor(BufferingSpanProcessor):
    """Like BufferingSpanProcessor, but a trace is written only once its root span has ended."""

    def __init__(self, writer, batch: int = 4096):
        super().__init__(writer, batch)
        self.pending: dict[int, list] = defaultdict(list)

    def on_end(self, span) -> None:
        if self.skipped and span.context.span_id in self.skipped:
            self.skipped.discard(span.context.span_id)
            return
        if self.window is not None and not self.window.keeps_span(span):
            return
        trace = self.pending[span.context.trace_id]
        trace.append(span)
        if span.parent is None:
            self.buffer.extend(self.pending.pop(span.context.trace_id))
            if len(self.buffer) >= self.batch:
                self.force_flush()

    def shutdown(self) -> None:
        for spans in self.pending.values():
            self.buffer.extend(spans)
        self.pending.clear()
        self.force_flush()


def bare_spans(doc: dict) -> None:
    """Strip status and protocol attributes, and infer kinds, in one ExportTraceServiceRequest dict."""
    spans = [(_service(rs), span) for rs in doc.get("resourceSpans", ())
             for ss in rs.get("scopeSpans", ()) for span in ss.get("spans", ())]
    service_of = {span["spanId"]: svc for svc, span in spans}
    child_services = defaultdict(set)
    for svc, span in spans:
        if span.get("parentSpanId"):
            child_services[span["parentSpanId"]].add(svc)
    for svc, span in spans:
        parent = span.get("parentSpanId")
        if not parent or service_of.get(parent) != svc:
            span["kind"] = SERVER
        elif child_services[span["spanId"]] - {svc}:
            span["kind"] = CLIENT
        else:
            span["kind"] = INTERNAL
        span["status"] = {}
        _strip(span)


def bare_logs(doc: dict) -> None:
    """Strip protocol attributes from the log records of one ExportLogsServiceRequest dict."""
    for rl in doc.get("resourceLogs", ()):
        for sl in rl.get("scopeLogs", ()):
            for rec in sl.get("logRecords", ()):
                _strip(rec)


def statusless(services: set[str]):
    """A span transform that drops the status of `services`' spans (instrumentation that records only exceptions)."""
    def transform(doc: dict) -> None:
        for rs in doc.get("resourceSpans", ()):
            if _service(rs) in services:
                for ss in rs.get("scopeSpans", ()):
                    for span in ss.get("spans", ()):
                        span["status"] = {}
    return transform


def _service(resource_spans: dict) -> str:
    for attr in resource_spans.get("resource", {}).get("attributes", ()):
        if attr["key"] == "service.name":
            return attr["value"].get("stringValue", "")
    return ""


def _strip(obj: dict) -> None:
    attrs = obj.get("attributes")
    if attrs:
        kept = [a for a in attrs if not a["key"].startswith(STRIPPED)]
        if kept:
            obj["attributes"] = kept
        else:
            del obj["attributes"]
