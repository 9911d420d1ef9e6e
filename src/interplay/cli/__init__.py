"""The `interplay` command: parse arguments, call the Python API, print. Nothing else.

Each submodule adds the commands of one area to `main`."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from .. import output
from ..backend import Backend
from ..model import InterplayError, StoreUnavailable, TimeRange
from ..timeutil import parse_time_ns

DEFAULT_DB = "interplay.duckdb"
out = Console(highlight=False, soft_wrap=False)
if not out.is_terminal:
    out.width = 160  # pipes and files get full rows, not an 80-column wrap
err = Console(stderr=True, highlight=False, soft_wrap=True)

db_option = click.option("--db", "--store", "db", envvar=["INTERPLAY_STORE", "INTERPLAY_DB"], default=DEFAULT_DB,
                         show_default=True, type=click.Path(dir_okay=False),
                         help="DuckDB file, or a store URL: chdb:PATH, clickhouse://user:pass@host:8123/db "
                              "(env INTERPLAY_STORE or INTERPLAY_DB).")
url_option = click.option("--url", envvar="INTERPLAY_URL", default=None,
                          help="Query a running `interplay serve` at this URL instead of the file.")
def token_option(command):
    """--token (env INTERPLAY_TOKEN) or --token-file (env INTERPLAY_TOKEN_FILE), which `ps` does not show."""
    command = click.option("--token-file", envvar="INTERPLAY_TOKEN_FILE", default=None, expose_value=False,
                           type=click.Path(dir_okay=False), callback=_token_from_file,
                           help="Read the bearer token from this file (env INTERPLAY_TOKEN_FILE).")(command)
    return click.option("--token", envvar="INTERPLAY_TOKEN", default=None, callback=_keep_token,
                        help="Bearer token for the server (env INTERPLAY_TOKEN; visible in `ps`, "
                             "prefer the environment or --token-file).")(command)


def _token_from_file(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value and not ctx.params.get("token"):
        try:
            token = Path(value).read_text().strip()
        except OSError as exc:
            raise click.BadParameter(f"cannot read {value}: {exc.strerror}", param_hint="--token-file") from None
        if not token:
            raise click.BadParameter(f"{value} is empty", param_hint="--token-file")
        ctx.params["token"] = token


def _keep_token(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    return value or ctx.params.get("token")  # --token-file may have been read first


def backend_options(command):
    """--db, --url and --token: where a query command reads from."""
    return db_option(url_option(token_option(command)))


format_option = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
                             show_default=True)
since_option = click.option("--since", default=None, help="Start of the window: RFC3339, unix seconds, or -15m.")
until_option = click.option("--until", default=None, help="End of the window (default: now / all).")


class _Group(click.Group):
    """Turns InterplayError into one line on stderr and exit code 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InterplayError as exc:
            err.print(output.safe(f"error: {exc}"), style="red")
            sys.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(None, "-V", "--version", package_name="interplay")
def main() -> None:
    """Interplay: find why production broke from how services and AI agents interact.

    Start a receiver with `interplay serve`, point OpenTelemetry at it (OTLP on
    127.0.0.1:4318 / :4317), then ask `interplay services`, `interplay traces`, ...
    """


# -- backends ------------------------------------------------------------------------------------
def _backend(db: str, url: str | None, token: str | None) -> Backend:
    """A running server (explicit --url, or found beside the db file), else the file read-only."""
    from ..client import RemoteInterplay
    from ..discovery import running_server
    if url:
        return RemoteInterplay(url, token)
    info = running_server(db)
    if info:
        return RemoteInterplay(info["url"], token or info.get("token"))
    from ..store.open import is_store_url
    if not is_store_url(db) and not Path(db).exists():
        raise StoreUnavailable(f"no database at {db}: run `interplay serve` and send telemetry, "
                               "or `interplay ingest FILE` (or pass --db / --url)")
    from ..api import Interplay
    return Interplay.open(db, read_only=True)


def _writable_backend(db: str, url: str | None, token: str | None) -> Backend:
    """Where writes go: a running server (it holds the file), else the file itself."""
    from ..discovery import running_server
    if url or running_server(db):
        return _backend(db, url, token)
    from ..api import Interplay
    return Interplay.open(db)


def _window(since: str | None, until: str | None) -> TimeRange:
    return TimeRange(parse_time_ns(since, where="--since") if since else None,
                     parse_time_ns(until, where="--until") if until else None)


# Each area's module adds its commands to `main` when imported; imported last, since they import `main`.
from ..testbed import cli as _testbed_cli  # noqa: E402
from . import agents, investigate, mcp, store, telemetry  # noqa: E402,F401

main.add_command(_testbed_cli.testbed)
main.add_command(_testbed_cli.simulate_cmd)
