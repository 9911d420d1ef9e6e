"""Store commands: migrate a store to another backend."""
from __future__ import annotations

import time

import click

from .. import output
from . import err, format_option, main, out


@main.command()
@click.option("--from", "source", required=True,
              help="Store to read: a DuckDB file (PATH or duckdb:PATH), chdb:PATH or clickhouse://…")
@click.option("--to", "dest", required=True,
              help="Store to write: clickhouse://user:pass@host:8123/db, chdb:PATH or duckdb:PATH.")
@click.option("--batch-rows", default=50_000, show_default=True, type=click.IntRange(1000),
              help="Rows per arrow batch (bounds memory).")
@click.option("--append", is_flag=True,
              help="Add to a destination that already holds telemetry (refused otherwise: rows would double).")
@format_option
def migrate(source: str, dest: str, batch_rows: int, append: bool, fmt: str) -> None:
    """Copy spans, logs, metrics and changes from one store to another, all or nothing."""
    from ..migrate import migrate as run
    from ..store.open import open_store
    src = open_store(source, read_only=True)
    try:
        dst = open_store(dest)
        try:
            began = time.perf_counter()
            copied = run(src, dst, batch_rows=batch_rows, append=append,
                         on_progress=lambda t, n: err.print(f"{t}: {n} rows", style="dim")
                         if err.is_terminal else None)
            seconds = round(time.perf_counter() - began, 2)
            counts = dst.counts()
        finally:
            dst.close()
    finally:
        src.close()
    if fmt == "json":
        output.print_json(out, {"copied": copied, "destination_counts": counts, "seconds": seconds})
        return
    for table, n in copied.items():
        out.print(output.safe(f"{table}: {n} rows copied ({counts[table]} now in {dest.split('@')[-1]})"))
    out.print(f"done in {seconds} s")
