"""`interplay serve`: OTLP/HTTP and OTLP/gRPC receivers plus the API, on one store."""
from __future__ import annotations

import logging
import os
import signal
import socket
import sys
from collections.abc import Callable

import uvicorn

from ..api import Interplay
from ..discovery import remove_server_file, write_server_file
from ..model import InterplayError
from .admission import Admission, is_loopback
from .app import ServerState, create_app
from .bodies import BodyLimits
from .connections import head_timeout_protocol
from .otlp_grpc import start_grpc
from .writer import Writer

log = logging.getLogger("interplay.serve")


def serve(db: str, *, host: str = "127.0.0.1", port: int = 4318, grpc_port: int | None = 4317,
          token: str | None = None, retention_ns: int | None = None,
          max_body: int = 16 * 1024 * 1024, max_pending: int = 256, notify_url: str | None = None,
          limits: BodyLimits | None = None, allowed_hosts: tuple[str, ...] = (),
          cors_origins: tuple[str, ...] = (), content: bool = True, prices: str | None = None,
          echo: Callable[[str], None] = print) -> None:
    """Run until SIGTERM / Ctrl-C; every acknowledged batch is committed before this returns.

    `limits` bound request bodies (size, time, bytes in flight, requests in flight); Host must be
    a loopback name, the bound address or one of `allowed_hosts`; browsers of other origins are
    refused unless listed in `cors_origins`.
    """
    limits = limits or BodyLimits()
    limits.max_body = max_body
    if not is_loopback(host) and not token:
        raise InterplayError(f"refusing to listen on non-loopback address {host} without a token: "
                             "set --token or INTERPLAY_TOKEN")
    sock = _bind(host, port)
    interplay = Interplay.open(db, content=content, prices=prices)
    writer = Writer(interplay, max_pending=max_pending, retention_ns=retention_ns)
    grpc_server = None
    try:
        if grpc_port is not None:
            grpc_server, grpc_port = start_grpc(writer, host, grpc_port, token, max_body,
                                                max_concurrent=max(4, limits.budget // max_body))
        port = sock.getsockname()[1]
        url = f"http://{_url_host(host)}:{port}"
        write_server_file(db, {"url": url, "pid": os.getpid(), "grpc_port": grpc_port,
                               "token": token, "db": os.path.abspath(db)})
        echo(f"Interplay serving {str(db).split('@')[-1]}")  # never print a URL's password
        echo(f"  OTLP/HTTP  {url}  (POST /v1/traces, /v1/logs, /v1/metrics)")
        if grpc_port is not None:
            echo(f"  OTLP/gRPC  {_url_host(host)}:{grpc_port}")
        echo(f"  API        {url}/api/  (described at {url}/api/openapi.json)")
        echo(f"  Web UI     {url}/")
        echo(f"  MCP        {url}/mcp  (streamable HTTP)")
        echo("Press Ctrl-C to stop.")
        sys.stdout.flush()
        admission = Admission.for_bind(host, token=token, allowed=allowed_hosts, cors_origins=cors_origins)
        app = create_app(ServerState(interplay, writer, token, max_body, notify_url, limits, admission))
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                                timeout_graceful_shutdown=10,
                                http=head_timeout_protocol(limits.idle_timeout_s),
                                limit_concurrency=limits.max_connections)
        # uvicorn re-raises the signal it caught once it has stopped; a quiet handler of ours
        # receives it, so the shutdown below still runs instead of the process dying mid-flush.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: None)
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        if grpc_server is not None:
            grpc_server.stop(grace=5).wait()
        writer.close()
        try:
            interplay.checkpoint()
        except Exception:
            log.exception("checkpoint on shutdown failed")
        interplay.close()
        remove_server_file(db)
        echo("Interplay stopped; all acknowledged data is stored.")


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise InterplayError(f"cannot listen on {host}:{port}: {exc.strerror} "
                             "(another server running? pick another --port)") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
