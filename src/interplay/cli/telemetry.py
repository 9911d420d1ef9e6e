"""Telemetry commands: serve, ingest, change events, services, traces, one trace."""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .. import output
from ..api import Interplay
from ..client import RemoteInterplay
from ..model import InvalidInput, TimeRange
from ..model_results import to_json
from ..store.telemetry import parse_attributes, severity_name
from ..timeutil import parse_duration_ns, parse_time_ns
from . import (
    _backend,
    _window,
    _writable_backend,
    backend_options,
    db_option,
    err,
    format_option,
    main,
    out,
    since_option,
    token_option,
    until_option,
)

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

no_content_option = click.option(
    "--no-content", is_flag=True, envvar="INTERPLAY_NO_CONTENT",
    help="Drop prompts, completions and tool arguments/results (GenAI and OpenInference content "
         "attributes and message events) before storing; spans and everything else are kept.")


# -- serve ---------------------------------------------------------------------------------------
@main.command()
@db_option
@click.option("--host", envvar="INTERPLAY_HOST", default="127.0.0.1", show_default=True,
              help="Address to listen on; non-loopback requires --token.")
@click.option("--port", envvar="INTERPLAY_PORT", default=4318, show_default=True, type=int,
              help="OTLP/HTTP and API port.")
@click.option("--grpc-port", envvar="INTERPLAY_GRPC_PORT", default=4317, show_default=True, type=int,
              help="OTLP/gRPC port; -1 disables gRPC.")
@token_option
@click.option("--retention", envvar="INTERPLAY_RETENTION", default="7d", show_default=True,
              help="Drop telemetry older than this (e.g. 24h, 7d); 0 keeps everything.")
@click.option("--max-body", default="16MiB", show_default=True, help="Largest request body after decompression.")
@click.option("--max-pending", default=256, show_default=True, type=click.IntRange(1),
              help="Batches queued for writing before clients are told to retry (503).")
@click.option("--notify-url", envvar="INTERPLAY_NOTIFY_URL", default=None,
              help="POST each alert investigation's result as JSON to this URL (env INTERPLAY_NOTIFY_URL).")
@click.option("--max-upload", default="1GiB", show_default=True,
              help="Largest file POST /api/ingest takes (streamed to disk), also after decompression.")
@click.option("--body-budget", default="128MiB", show_default=True,
              help="Request-body bytes held in memory by all requests together; past it, 503 + Retry-After.")
@click.option("--body-timeout", default="30s", show_default=True,
              help="A request body that stalls this long is refused (408); a whole body gets 4x this; "
                   "a connection with no whole request head after 1-2x this is closed.")
@click.option("--max-requests", default=256, show_default=True, type=click.IntRange(1),
              help="Requests in flight; past it, 503 + Retry-After (connections are capped at twice this).")
@click.option("--allowed-host", "allowed_hosts", multiple=True, envvar="INTERPLAY_ALLOWED_HOSTS",
              help="A Host name the server answers to besides loopback names and the bound address "
                   "(repeatable; '*' for any; env INTERPLAY_ALLOWED_HOSTS, space-separated).")
@click.option("--cors-origin", "cors_origins", multiple=True, envvar="INTERPLAY_CORS_ORIGINS",
              help="A browser origin (https://host:port) allowed to call the API cross-origin (repeatable).")
@no_content_option
@click.option("--prices", envvar="INTERPLAY_PRICES", default=None, type=click.Path(dir_okay=False, exists=True),
              help="Model prices for agent-run costs: JSON of model → USD per million input/output tokens "
                   "(env INTERPLAY_PRICES; see README).")
def serve(db: str, host: str, port: int, grpc_port: int, token: str | None, retention: str,
          max_body: str, max_pending: int, notify_url: str | None, max_upload: str, body_budget: str,
          body_timeout: str, max_requests: int, allowed_hosts: tuple[str, ...],
          cors_origins: tuple[str, ...], no_content: bool, prices: str | None) -> None:
    """Receive OTLP (HTTP and gRPC) and serve the API, until Ctrl-C or SIGTERM."""
    from ..server.bodies import BodyLimits
    from ..server.run import serve as run_server
    keep = parse_duration_ns(retention)
    idle_s = parse_duration_ns(body_timeout) / 1e9
    if idle_s <= 0:
        raise click.BadParameter("must be more than 0", param_hint="--body-timeout")
    limits = BodyLimits(budget=_parse_size(body_budget, "--body-budget"),
                        max_upload=_parse_size(max_upload, "--max-upload"), idle_timeout_s=idle_s,
                        total_timeout_s=4 * idle_s, max_requests=max_requests)
    run_server(db, host=host, port=port, grpc_port=None if grpc_port < 0 else grpc_port, token=token,
               retention_ns=keep or None, max_body=_parse_size(max_body), max_pending=max_pending,
               notify_url=notify_url, limits=limits, allowed_hosts=allowed_hosts, cors_origins=cors_origins,
               content=not no_content, prices=prices,
               echo=lambda line: out.print(output.safe(line)))


def _parse_size(text: str, option: str = "--max-body") -> int:
    units = {"": 1, "b": 1, "kib": 1024, "kb": 1000, "mib": 1024**2, "mb": 1000**2, "gib": 1024**3, "gb": 1000**3}
    t = text.strip().lower()
    num = t.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = t[len(num):].strip()
    if unit not in units or not num:
        raise click.BadParameter(f"{text!r}: expected a size like 16MiB", param_hint=option)
    try:
        size = int(float(num) * units[unit])
    except (ValueError, OverflowError):
        raise click.BadParameter(f"{text!r}: expected a size like 16MiB", param_hint=option) from None
    if size <= 0:
        raise click.BadParameter(f"{text!r}: must be more than 0", param_hint=option)
    return size


# -- ingest --------------------------------------------------------------------------------------
@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@backend_options
@click.option("--skip-invalid", is_flag=True, help="Store the valid records and report the rest.")
@click.option("--input-format", "input_format", type=click.Choice(["auto", "rcaeval"]), default="auto",
              show_default=True, help="auto: detect each file's format by its content; rcaeval: RCAEval "
                                      "metrics CSVs (`time` + `<service>_<metric>` columns).")
@no_content_option
@click.option("--format", "fmt", type=click.Choice(["text", "json", "rcaeval"]), default="text",
              show_default=True, help="How to report what was stored (rcaeval: the old spelling of "
                                      "--input-format rcaeval).")
def ingest(paths: tuple[str, ...], db: str, url: str | None, token: str | None, skip_invalid: bool,
           input_format: str, no_content: bool, fmt: str) -> None:
    """Store telemetry files: OTLP JSON lines, OTLP JSON/protobuf messages, change events, .gz.

    Each file is stored whole or not at all.
    """
    if fmt == "rcaeval":  # kept so existing scripts still work
        input_format, fmt = "rcaeval", "text"
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

    from ..model import IngestResult
    target = _writable_backend(db, url, token)
    local = not isinstance(target, RemoteInterplay)
    if no_content:
        if not isinstance(target, Interplay):
            target.close()
            raise InvalidInput("--no-content: a running server stores what it receives as it was started: "
                               "use `interplay serve --no-content`, or ingest into a file that no server holds")
        target.content = False
    if input_format == "rcaeval":
        _ingest_rcaeval(target, paths, local)
        return
    workers = (os.cpu_count() or 1) if local else 1  # this process holds nothing fork breaks
    total = IngestResult()
    summaries = []
    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), TimeRemainingColumn(), console=err, transient=True,
                  disable=not err.is_terminal) as progress:
        for path in paths:
            task = progress.add_task(Path(path).name, total=os.path.getsize(path))
            result = target.ingest_file(path, skip_invalid=skip_invalid, on_progress=_progress(progress, task),
                                        workers=workers)
            total.add(result)
            summaries.append({"file": path, **result.to_dict()})
    target.close()
    if fmt == "json":
        output.print_json(out, {"files": summaries, "total": total.to_dict()})
        return
    for s in summaries:
        out.print(output.safe(f"{s['file']}: {s['spans']} spans, {s['logs']} logs, "
                              f"{s['metric_points']} metric points, {s['changes']} changes"))
        for r in s["rejected"]:
            out.print(output.safe(f"  skipped {r['count']}: {r['reason']}"), style="yellow")


def _ingest_rcaeval(target, paths: tuple[str, ...], local: bool) -> None:
    from ..metrics_csv import ingest_rcaeval_csv
    from ..model import InterplayError
    if not local:
        target.close()
        raise InterplayError("RCAEval CSVs are read from the database file directly: stop `interplay serve` "
                             "holding it first (or use another --db)")
    try:
        for path in paths:
            result = ingest_rcaeval_csv(target, path)
            out.print(output.safe(f"{path}: {result.metric_points} metric points"))
    finally:
        target.close()


# -- changes -------------------------------------------------------------------------------------
@main.group()
def change() -> None:
    """Record change events (deploys, config, flags, infra, commits)."""


@change.command("add")
@click.option("--service", required=True)
@click.option("--kind", type=click.Choice(["deploy", "config", "flag", "infra", "commit"]), default="deploy",
              show_default=True)
@click.option("--description", "-m", required=True)
@click.option("--version", "version_", default="", help="The version deployed, if any.")
@click.option("--time", "when", default="now", show_default=True, help="When it happened.")
@backend_options
def change_add(service: str, kind: str, description: str, version_: str, when: str, db: str,
               url: str | None, token: str | None) -> None:
    """Record one change event."""
    from ..timeutil import format_time
    event = {"time": format_time(parse_time_ns(when, where="--time")), "service": service, "kind": kind,
             "description": description, "version": version_}
    target = _writable_backend(db, url, token)
    target.add_changes(event)
    target.close()
    out.print(output.safe(f"recorded {kind} of {service} at {event['time']}"))


@main.command()
@backend_options
@since_option
@until_option
@click.option("--service", default=None)
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, 100_000))
@format_option
def changes(db, url, token, since, until, service, limit, fmt) -> None:
    """List change events, newest first."""
    backend = _backend(db, url, token)
    rows = backend.changes(_window(since, until), service=service, limit=limit)
    if fmt == "json":
        output.print_json(out, rows)
        return
    output.table(out, to_json(rows), [("time", "time"), ("service", "service"), ("kind", "kind"),
                             ("version", "version"), ("description", "description")],
                 empty="no change events recorded")


# -- queries -------------------------------------------------------------------------------------
@main.command()
@backend_options
@since_option
@until_option
@format_option
def services(db, url, token, since, until, fmt) -> None:
    """Services seen: spans, request rate, error rate, p50/p99 latency, first/last seen."""
    backend = _backend(db, url, token)
    rows = backend.services(_window(since, until))
    if fmt == "json":
        output.print_json(out, rows)
        return
    table = [{**to_json(r), "error_pct": output.pct(r.error_rate), "rate_s": f"{r.request_rate:.2f}"} for r in rows]
    output.table(out, table, [("service", "service"), ("spans", "spans"), ("rate_s", "req/s"),
                             ("error_pct", "errors"), ("p50_ms", "p50 ms"), ("p99_ms", "p99 ms"),
                             ("first_seen", "first seen"), ("last_seen", "last seen")],
                 empty="no telemetry yet: point OTLP at http://127.0.0.1:4318 (interplay serve) "
                       "or run `interplay ingest FILE`",
                 caption="req/s, errors, p50/p99: of the requests a service serves (its SERVER and CONSUMER "
                         "spans, or all its spans when it has none), between its first and last span")


@main.command()
@backend_options
@since_option
@until_option
@click.option("--service", default=None, help="Traces that touch this service.")
@click.option("--operation", default=None, help="Traces with a span of this name.")
@click.option("--errors", is_flag=True, help="Only traces with an error span (matching the filters).")
@click.option("--min-duration", default=None, help="Only traces at least this long, e.g. 500ms.")
@click.option("--attr", "attrs", multiple=True, metavar="KEY=VALUE",
              help="Only traces with a span carrying this attribute (span or resource); repeat for several, "
                   "all on one span.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 100_000))
@format_option
def traces(db, url, token, since, until, service, operation, errors, min_duration, attrs, limit, fmt) -> None:
    """Find traces, newest first."""
    attributes = parse_attributes(attrs)
    backend = _backend(db, url, token)
    rows = backend.traces(_window(since, until), service=service, operation=operation, errors_only=errors,
                          min_duration_ns=parse_duration_ns(min_duration) if min_duration else None,
                          attributes=attributes or None, limit=limit)
    if not rows and service:
        _check_service(backend, service)
    if fmt == "json":
        output.print_json(out, rows)
        return
    output.table(out, to_json(rows), [("trace_id", "trace id"), ("start", "start"), ("root_service", "root service"),
                             ("root_operation", "root operation"), ("duration_ms", "ms"),
                             ("spans", "spans"), ("errors", "errors"), ("services", "services")],
                 empty="no traces match",
                 caption="ms: the trace from its first span's start to its last span's end; errors: spans with "
                         "error status; `interplay trace ID` shows one")


@main.command()
@backend_options
@since_option
@until_option
@click.option("--service", default=None, help="Only this service's records.")
@click.option("--severity", default=None, metavar="LEVEL",
              help="At least this severity: TRACE, DEBUG, INFO, WARN, ERROR, FATAL.")
@click.option("--grep", "text", default=None, metavar="TEXT", help="Only records whose body contains TEXT (any case).")
@click.option("--trace-id", default=None, help="Only the records of this trace.")
@click.option("--span-id", default=None, help="Only the records of this span.")
@click.option("--like", "similar_to", default=None, metavar="LINE",
              help="Records with the same template as LINE (numbers, ids and quoted strings masked).")
@click.option("--limit", default=100, show_default=True, help="The newest this many records.")
@format_option
def logs(db, url, token, since, until, service, severity, text, trace_id, span_id, similar_to, limit, fmt) -> None:
    """Read log records: the newest --limit of those matching, printed oldest first (json: newest first)."""
    backend = _backend(db, url, token)
    rows = backend.logs(_window(since, until), service=service, severity=severity, text=text,
                        trace_id=trace_id, span_id=span_id, similar_to=similar_to, limit=limit)
    if not rows and service and not backend.logs(TimeRange(), service=service, limit=1):  # logs-only services count
        _check_service(backend, service)
    if fmt == "json":
        output.print_json(out, rows)
        return
    if not rows:
        out.print("no log records match")
        return
    styles = {"WARN": "yellow", "ERROR": "red", "FATAL": "bold red"}
    for r in reversed(rows):
        level = severity_name(r.severity_number, None)
        line = f"{r.time}  {r.service:<16} {r.severity:<5} {r.body}"
        if r.trace_id:
            line += f"  [trace {r.trace_id}]"
        out.print(output.safe(line), style=styles.get(level), soft_wrap=True)


def _check_service(backend, service: str) -> None:
    """Nothing matched a --service filter: say so plainly when no such service was ever seen (a typo),
    naming the services there are; an existing service with nothing in the window is no error."""
    from ..model import NotFound
    names = sorted(r.service for r in backend.services(TimeRange()))
    if service not in names:
        shown = ", ".join(names[:20]) + (", …" if len(names) > 20 else "")
        raise NotFound(f"no service {service!r} seen (services: {shown or 'none yet'})")


@main.command("trace")
@click.argument("trace_id")
@backend_options
@click.option("--depth", default=None, type=click.IntRange(0), metavar="N",
              help="Fold subtrees below this depth (default: all of a trace up to 300 spans, else what fits).")
@click.option("--all", "show_all", is_flag=True, help="Every span: no folded subtrees or ×N runs.")
@click.option("--attributes", is_flag=True, help="Each span's attributes too.")
@format_option
def trace_cmd(trace_id, db, url, token, depth, show_all, attributes, fmt) -> None:
    """Show one trace as a tree: durations, self time, errors (✗), span events, links; then each
    service's resource attributes and scopes. Repeated sibling calls print as one ×N line."""
    from ..model import NotFound
    from ._trace_text import print_trace
    backend = _backend(db, url, token)
    tree = backend.trace(trace_id)
    if fmt == "json":
        output.print_json(out, tree)
        return

    def stored(other: str) -> bool:
        try:
            backend.trace(other)
        except (NotFound, InvalidInput):
            return False
        return True
    print_trace(out, tree, depth=depth, show_all=show_all, attributes=attributes, stored=stored)


# -- demo ----------------------------------------------------------------------------------------
@main.command()
@click.option("--scenario", default=None, help="A live scenario (see `interplay testbed list`).")
@click.option("--baseline", default=35.0, show_default=True, help="Seconds of healthy traffic first.")
@click.option("--incident", default=25.0, show_default=True, help="Seconds of traffic after the fault.")
@click.option("--workdir", default=None, type=click.Path(file_okay=False),
              help="Keep the database here (default: a new temporary folder).")
@format_option
def demo(scenario, baseline, incident, workdir, fmt) -> None:
    """Run a live failing system against a real server, then show what Interplay finds."""
    from ..demo import run_demo
    result = run_demo(scenario, baseline_s=baseline, incident_s=incident, workdir=workdir,
                      say=lambda line: err.print(output.safe(line), style="dim"))
    if fmt == "json":
        output.print_json(out, {k: result[k] for k in ("scenario", "truth", "investigation")})
        return
    truth = result["truth"]
    out.print(output.safe(f"Scenario {result['scenario']}: injected {truth['fault']} into "
                          f"{truth['service']} at {truth['injected_at']}"), style="bold")
    services = [{**to_json(r), "error_pct": output.pct(r.error_rate)} for r in result["services"]]
    output.table(out, services, [("service", "service"), ("spans", "spans"),
                                           ("error_pct", "errors"), ("p50_ms", "p50 ms"),
                                           ("p99_ms", "p99 ms")], title="What was ingested")
    if result["investigation"] is not None:
        from ..report import render
        out.print(output.safe(render(result["investigation"], "text"), multiline=True))
    exe = _command_name()
    out.print(output.safe(f"Database kept at {result['db']}. Next:"))
    out.print(output.safe(f"  {exe} serve --db {result['db']}       # then open http://127.0.0.1:4318/ for the UI"),
              soft_wrap=True)
    out.print(output.safe(f"  {exe} services --db {result['db']}"), soft_wrap=True)


def _command_name() -> str:
    """How to run interplay again as printed: its name when on PATH, else its path (e.g. .venv/bin/interplay)."""
    import shutil
    import sys
    here = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    found = shutil.which("interplay")
    if here and found and Path(found).resolve() == here:
        return "interplay"
    if here and here.name == "interplay" and here.exists():
        try:
            return str(here.relative_to(Path.cwd()))
        except ValueError:
            return str(here)
    return "interplay"


def _progress(progress: Progress, task: TaskID) -> Callable[[int], None]:
    return lambda n: progress.update(task, completed=n)
