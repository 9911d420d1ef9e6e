"""OTLP/gRPC receiver on the same writer as OTLP/HTTP."""
from __future__ import annotations

import hmac
import logging
import threading
from concurrent import futures
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from ..model import InterplayError, Overloaded
from .otlp_http import DECODED, PROTOBUF, decode, partial_success_message
from .writer import Writer

log = logging.getLogger("interplay.grpc")
MAX_MESSAGE = 16 * 1024 * 1024
RETRY_DELAY_S = 2  # what an exporter told to come back waits (the HTTP side's Retry-After)
MAX_CALLS = 256     # calls at once, refused ones included (HTTP's --max-requests default)


def start_grpc(writer: Writer, host: str, port: int, token: str | None = None,
               max_message: int = MAX_MESSAGE, max_concurrent: int = 8) -> tuple[grpc.Server, int]:
    """Start the gRPC server; returns it and the port it bound (port 0 picks one).

    At most `max_concurrent` exports are held at once, so memory is bounded by max_concurrent x
    max_message. More are answered UNAVAILABLE with RetryInfo (OTLP's retryable code for
    backpressure), before their message is read. Requests arrive as bytes and are parsed here, so a
    body that is not protobuf is INVALID_ARGUMENT, not the INTERNAL gRPC gives a failed deserializer.
    """
    pool = _CountingPool(max_workers=max_concurrent + 4, thread_name_prefix="otlp-grpc")
    interceptors: list[grpc.ServerInterceptor] = [_TokenInterceptor(token)] if token else []
    interceptors.append(_AdmissionInterceptor(pool, max_concurrent))
    server = grpc.server(
        pool, options=[("grpc.max_receive_message_length", max_message)], interceptors=interceptors,
        # a last resort (RESOURCE_EXHAUSTED): calls waiting to be refused hold no message, but a
        # flood of them is still cut off somewhere
        maximum_concurrent_rpcs=max(MAX_CALLS, max_concurrent * 16))
    for signal, (service, response_cls, field) in _SERVICES.items():
        servicer = _Servicer(writer, signal, response_cls, field)
        handler = grpc.unary_unary_rpc_method_handler(
            servicer.Export, request_deserializer=None, response_serializer=response_cls.SerializeToString)
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, {"Export": handler}),))
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise InterplayError(f"cannot listen for OTLP/gRPC on {host}:{port} (address in use?)")
    server.start()
    return server, bound


_SERVICES: dict[str, tuple[str, Any, str]] = {  # protobuf response classes (untyped: no stubs)
    "traces": ("opentelemetry.proto.collector.trace.v1.TraceService",
               trace_service_pb2.ExportTraceServiceResponse, "rejected_spans"),
    "logs": ("opentelemetry.proto.collector.logs.v1.LogsService",
             logs_service_pb2.ExportLogsServiceResponse, "rejected_log_records"),
    "metrics": ("opentelemetry.proto.collector.metrics.v1.MetricsService",
                metrics_service_pb2.ExportMetricsServiceResponse, "rejected_data_points"),
}


class _Servicer:
    def __init__(self, writer: Writer, signal: str, response_cls, field: str) -> None:
        self.writer, self.signal, self.response_cls, self.field = writer, signal, response_cls, field

    def Export(self, data: bytes, context):  # noqa: N802 - the generated stub's name
        try:
            batch = decode(self.signal, data, PROTOBUF)  # one decode at a time, with OTLP/HTTP's
            del data
            held = DECODED.hold(batch)
            try:
                result = self.writer.submit(batch).result()
            finally:
                DECODED.release(held)
        except Overloaded as exc:
            unavailable(context, str(exc))
        except InterplayError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except Exception:  # a bug of ours, not the client's: say so, and keep the server up
            log.exception("gRPC %s export failed", self.signal)
            context.abort(grpc.StatusCode.INTERNAL, "internal error storing the export; see the server log")
        response = self.response_cls()
        if result.rejected or result.warnings:
            setattr(response.partial_success, self.field, result.rejected_count)
            response.partial_success.error_message = partial_success_message(result)
        return response


def unavailable(context, message: str) -> None:
    """Abort with UNAVAILABLE and RetryInfo, as OTLP/gRPC signals backpressure: in the standard
    status details, and under the key the OpenTelemetry Python exporter reads."""
    retry = error_details_pb2.RetryInfo()
    retry.retry_delay.FromSeconds(RETRY_DELAY_S)
    status = status_pb2.Status(code=grpc.StatusCode.UNAVAILABLE.value[0], message=message)
    status.details.add().Pack(retry)
    context.set_trailing_metadata((("grpc-status-details-bin", status.SerializeToString()),
                                   ("google.rpc.retryinfo-bin", retry.SerializeToString())))
    context.abort(grpc.StatusCode.UNAVAILABLE, message)


class _CountingPool(futures.ThreadPoolExecutor):
    """The RPC thread pool, counting the calls it holds (gRPC submits one job per call)."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._lock = threading.Lock()
        self.calls = 0

    def submit(self, fn, /, *args, **kwargs):
        with self._lock:
            self.calls += 1
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._done)
        return future

    def _done(self, _future) -> None:
        with self._lock:
            self.calls -= 1


class _AdmissionInterceptor(grpc.ServerInterceptor):
    """Past `limit` calls held, answer UNAVAILABLE + RetryInfo without reading the message.

    gRPC consults interceptors and then submits the call to the pool on one thread, under its own
    lock, so the count seen here includes every call admitted before this one.
    """

    def __init__(self, pool: _CountingPool, limit: int) -> None:
        self.pool, self.limit = pool, limit

        def refuse(request_iterator, context):  # a stream handler: the message is never read
            unavailable(context, f"{limit} exports in progress (the most this server holds); retry later")
        self._refuse = grpc.stream_unary_rpc_method_handler(refuse)

    def intercept_service(self, continuation, handler_call_details):
        if self.pool.calls >= self.limit:
            return self._refuse
        return continuation(handler_call_details)


class _TokenInterceptor(grpc.ServerInterceptor):
    def __init__(self, token: str) -> None:
        self.token = token

        def deny(request_iterator, context):  # a stream handler: the message is never read
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")
        self._deny = grpc.stream_unary_rpc_method_handler(deny)

    def intercept_service(self, continuation, handler_call_details):
        metadata = dict(handler_call_details.invocation_metadata or ())
        scheme, _, given = str(metadata.get("authorization", "")).strip().partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.token.encode()):
            return self._deny
        return continuation(handler_call_details)
