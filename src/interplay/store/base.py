"""The Store interface: what every backend (DuckDB, ClickHouse) offers to the layers above."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

import pyarrow as pa

from ..batch import TelemetryBatch


class Appender(Protocol):
    def append(self, batch: TelemetryBatch) -> None: ...


class Store(Protocol):
    """Append columnar batches atomically; answer parameterised SQL over the telemetry tables.

    Tables: spans, logs, metrics, changes (columns as in `interplay.batch`).
    """

    dialect: str  # "duckdb" | "clickhouse": lets query builders pick function spellings

    def append(self, batch: TelemetryBatch) -> None:
        """Store every table of the batch in one transaction: all or nothing."""

    def transaction(self) -> AbstractContextManager[Appender]:
        """Several appends committed together, or none on error."""

    def bulk_transaction(self) -> AbstractContextManager[Appender]:
        """Like transaction, for appends too large to hold in memory (a whole file): all or nothing."""

    def query(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        """Rows as dicts."""

    def query_arrow(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        """Rows as an arrow table (for large results)."""

    def delete_before(self, time_ns: int) -> dict[str, int]:
        """Drop telemetry older than time_ns (retention); returns rows deleted per table."""

    def counts(self) -> dict[str, int]:
        """Rows per table."""

    def close(self) -> None: ...


def rows_of(table: pa.Table) -> Iterator[dict[str, Any]]:
    yield from table.to_pylist()


@contextmanager
def scratch_table(store: Store, select_sql: str, params: list[Any] | None = None,
                  prefix: str = "_ip_tmp") -> Iterator[str]:
    """A temporary table of the rows `select_sql` returns, dropped on exit; yields its name.

    For a subset that a query reads several times: ClickHouse evaluates a CTE again at every
    reference (DuckDB may too), a table is computed once.
    """
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    store.query(f"CREATE TEMP TABLE {name} AS {select_sql}", params)
    try:
        yield name
    finally:
        store.query(f"DROP TABLE IF EXISTS {name}")
