"""The Store interface: what every backend (DuckDB, ClickHouse) offers to the layers above."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Any, Protocol

import pyarrow as pa

from ..batch import TelemetryBatch
from ..model import TimeRange


class Appender(Protocol):
    def append(self, batch: TelemetryBatch) -> None: ...


class Cursor(Protocol):
    def execute(self, sql: str, params: Any = ..., /) -> Any: ...


class Transaction(Appender, Protocol):
    """Appends committed together; `cursor` runs small writes of Interplay's own tables in it."""

    @property
    def cursor(self) -> Cursor: ...


class EngineSQL(Protocol):
    """An engine's SQL vocabulary (`duckdb_sql`, `clickhouse_sql`): same names, each engine's spelling."""

    ENGINE: str
    ENTRY: str
    SYSTEM_ENTRY: str
    TEXT_LIST_PARAM: str
    STAGES_AS_CTES: bool

    def entry(self, alias: str = "") -> str: ...
    def window_where(self, window: TimeRange, column: str = "start_ns") -> tuple[str, list[Any]]: ...
    def quantile(self, expr: str, q: float) -> str: ...
    def arg_min(self, value: str, key: str) -> str: ...
    def arg_max(self, value: str, key: str) -> str: ...
    def any_value(self, expr: str) -> str: ...
    def bool_or(self, expr: str) -> str: ...
    def idiv(self, a: str, b: str) -> str: ...
    def hash(self, *exprs: str) -> str: ...
    def isfinite(self, expr: str) -> str: ...
    def chr(self, code: int) -> str: ...
    def try_double(self, expr: str) -> str: ...
    def try_bigint(self, expr: str) -> str: ...
    def literal(self, text: str) -> str: ...
    def regexp_matches(self, expr: str, pattern: str) -> str: ...
    def regexp_replace(self, expr: str, pattern: str, replacement: str, every: bool = True) -> str: ...
    def json_text(self, column: str, path: str) -> str: ...
    def json_list_texts(self, column: str, field: str) -> str: ...
    # A span's attributes and resource attributes: JSON text on DuckDB, maps on ClickHouse.
    NO_ATTRS: str
    def attr(self, column: str, key: str) -> str: ...
    def attrs_text(self, column: str) -> str: ...
    def attrs_of(self, text: str) -> str: ...
    def attr_struct(self, column: str, keys: list[str]) -> str: ...
    def struct_attr(self, struct: str, key: str) -> str: ...
    def attr_keys_match(self, column: str, prefixes: list[str]) -> str: ...
    def attrs_contain(self, column: str) -> str: ...
    def ordered_list(self, value: str, keys: list[str], where: str | None = None) -> str: ...
    def ordered_join(self, value: str, sep: str, keys: list[str], where: str | None = None) -> str: ...
    def star_except(self, columns: str) -> str: ...
    def create_temp_table(self, name: str, select: str) -> str: ...
    def update(self, table: str, sets: str, where: str) -> str: ...
    def create_table(self, name: str, columns: list[tuple[str, str]], key: str) -> str: ...


class Store(Protocol):
    """Append columnar batches atomically; answer parameterised SQL over the telemetry tables.

    Tables: spans, logs, metrics, changes (columns as in `interplay.batch`).
    """

    sql: EngineSQL  # the engine's SQL vocabulary: question modules compose statements from it
    read_only: bool  # opened for reading only (a query command beside a file nobody serves)

    def append(self, batch: TelemetryBatch) -> None:
        """Store every table of the batch in one transaction: all or nothing."""

    def transaction(self) -> AbstractContextManager[Transaction]:
        """Several appends committed together, or none on error."""

    def bulk_transaction(self) -> AbstractContextManager[Appender]:
        """Like transaction, for appends too large to hold in memory (a whole file): all or nothing."""

    def query(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        """Rows as dicts."""

    def query_arrow(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        """Rows as an arrow table (for large results)."""

    def stream_arrow(self, table: str, batch_rows: int = 65536) -> Iterator[pa.RecordBatch]:
        """Every row of a telemetry table in arrow batches of about batch_rows (bounded memory)."""

    def delete_before(self, time_ns: int, after_ns: int | None = None) -> dict[str, int]:
        """Drop telemetry older than time_ns (and, given after_ns, dated at or after it: retention);
        returns rows deleted per table."""

    def counts(self) -> dict[str, int]:
        """Rows per table."""

    def own_table(self, name: str) -> str:
        """How SQL names a table of Interplay's own (kept investigations): beside the telemetry on
        DuckDB, in Interplay's own database on ClickHouse."""

    def checkpoint(self) -> None:
        """Make what is committed durable without a log to replay (DuckDB: CHECKPOINT; ClickHouse: nothing)."""

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
    store.query(store.sql.create_temp_table(name, select_sql), params)
    try:
        yield name
    finally:
        store.query(f"DROP TABLE IF EXISTS {name}")


class Stages:
    """Named intermediate results that later SQL reads, as each engine does them best.

    On ClickHouse each stage is a temporary table (it evaluates a CTE again at every reference and
    plans long chains of them slowly); on DuckDB, a MATERIALIZED CTE of the final statement (its
    optimizer then skips whatever the final query does not read). `stages[name]` is what SQL
    calls a stage; `query` runs a statement that reads them. Use as a context manager.
    """

    def __init__(self, store: Store, prefix: str = "_ip") -> None:
        self.store, self.prefix = store, prefix
        self._as_ctes = store.sql.STAGES_AS_CTES
        self._ctes: list[str] = []
        self._params: list[Any] = []
        self._names: dict[str, str] = {}
        self._tables = ExitStack()

    def add(self, name: str, sql: str, params: list[Any] | None = None) -> str:
        if self._as_ctes:
            self._ctes.append(f"{name} AS MATERIALIZED ({sql})")
            self._params += params or []
            self._names[name] = name
        else:
            self._names[name] = self._tables.enter_context(
                scratch_table(self.store, sql, params, f"{self.prefix}_{name}"))
        return self._names[name]

    def __getitem__(self, name: str) -> str:
        return self._names[name]

    def query(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        """Run `sql` (a SELECT, or WITH [RECURSIVE] ... SELECT) with the stages in scope."""
        return self.store.query(self._statement(sql), self._params + list(params or []))

    def table(self, sql: str, params: list[Any] | None = None, prefix: str = "_ip_tmp") -> str:
        """A temporary table of what `sql` returns, the stages in scope; dropped with them."""
        return self._tables.enter_context(
            scratch_table(self.store, self._statement(sql), self._params + list(params or []), prefix))

    def _statement(self, sql: str) -> str:
        if not self._ctes:
            return sql
        body, head = sql.lstrip(), "WITH "
        words = body.split(None, 2)
        if words and words[0].upper() == "WITH":
            if len(words) > 1 and words[1].upper() == "RECURSIVE":
                head, body = "WITH RECURSIVE ", words[2]
            else:
                body = body[4:].lstrip()
            return head + ", ".join(self._ctes) + ", " + body
        return head + ", ".join(self._ctes) + " " + body

    def __enter__(self) -> Stages:
        return self

    def __exit__(self, *exc: object) -> None:
        self._tables.close()
