"""OTLP/gRPC receiver on the same writer as OTLP/HTTP."""
from __future__ import annotations

import logging
from concurrent import futures

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from ..model import InterplayError, Overloaded
from ..otlp import proto
from .writer import Writer

log = logging.getLogger("interplay.grpc")
MAX_MESSAGE = 16 * 1024 * 1024


def start_grpc(writer: Writer, host: str, port: int, token: str | None = None,
               max_message: int = MAX_MESSAGE) -> tuple[grpc.Server, int]:
    """Start the gRPC server; returns it and the port it bound (port 0 picks one)."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="otlp-grpc"),
        options=[("grpc.max_receive_message_length", max_message)],
        interceptors=[_TokenInterceptor(token)] if token else None)
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(
        _Servicer(writer, "traces", trace_service_pb2.ExportTraceServiceResponse, "rejected_spans"), server)
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(
        _Servicer(writer, "logs", logs_service_pb2.ExportLogsServiceResponse, "rejected_log_records"), server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(
        _Servicer(writer, "metrics", metrics_service_pb2.ExportMetricsServiceResponse,
                  "rejected_data_points"), server)
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise InterplayError(f"cannot listen for OTLP/gRPC on {host}:{port} (address in use?)")
    server.start()
    return server, bound


class _Servicer:
    def __init__(self, writer: Writer, signal: str, response_cls, field: str) -> None:
        self.writer, self.signal, self.response_cls, self.field = writer, signal, response_cls, field

    def Export(self, request, context):  # noqa: N802 - the generated stub's name
        try:
            batch = proto.decode_request(self.signal, request)
            result = self.writer.submit(batch).result()
        except Overloaded as exc:
            context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        except InterplayError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        response = self.response_cls()
        if result.rejected:
            setattr(response.partial_success, self.field, result.rejected_count)
            response.partial_success.error_message = "; ".join(
                f"{r.count}× {r.reason}" for r in result.rejected[:5])
        return response


class _TokenInterceptor(grpc.ServerInterceptor):
    def __init__(self, token: str) -> None:
        self.expected = f"Bearer {token}"

        def deny(request, context):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")
        self._deny = grpc.unary_unary_rpc_method_handler(deny)

    def intercept_service(self, continuation, handler_call_details):
        metadata = dict(handler_call_details.invocation_metadata or ())
        if metadata.get("authorization") != self.expected:
            return self._deny
        return continuation(handler_call_details)
