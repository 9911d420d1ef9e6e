"""The Store interface: what every backend (DuckDB, ClickHouse) offers to the layers above."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
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
