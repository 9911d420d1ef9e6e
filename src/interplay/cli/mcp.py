"""Commands for agents and on-call: `interplay mcp` (MCP over stdio) and `interplay investigations`."""
from __future__ import annotations

import click

from .. import output
from ..model_results import to_json
from . import _backend, backend_options, main, out


@main.command()
@backend_options
def mcp(db: str, url: str | None, token: str | None) -> None:
    """Serve Interplay's tools to an AI agent over MCP (stdio).

    Reads the database file read-only, or asks the `interplay serve` that holds it (or --url).
    Add to an MCP client as: {"command": "interplay", "args": ["mcp", "--db", "PATH"]}.
    """
    from ..mcp_tools import Tools
    from ..server.mcp import run_stdio
    backend = _backend(db, url, token)
    try:
        run_stdio(Tools(backend))
    finally:
        backend.close()


@main.command()
@click.option("--status", type=click.Choice(["open", "resolved"]), default=None, help="Only these.")
@click.option("--source", type=click.Choice(["cli", "api", "mcp", "alertmanager", "generic"]), default=None)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@backend_options
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def investigations(status, source, limit, db, url, token, fmt) -> None:
    """Kept investigations (from alerts, MCP and the API), newest first."""
    backend = _backend(db, url, token)
    try:
        rows = backend.investigations(status=status, source=source, limit=limit)
    finally:
        backend.close()
    if fmt == "json":
        output.print_json(out, rows)
        return
    output.table(out, to_json(rows), [("id", "id"), ("status", "status"), ("source", "source"), ("service", "service"),
                             ("started", "started"), ("updated", "updated"), ("summary", "summary")],
                 empty="no investigations kept yet")
