"""The embedded default store: one DuckDB file, appended to with arrow batches."""
from __future__ import annotations

import os
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from ..batch import SCHEMAS, TelemetryBatch
from ..model import StoreUnavailable
from . import duckdb_sql
from .base import EngineSQL
from .schema import duckdb_ddl

_TIME_COLUMN = {"spans": "start_ns", "logs": "time_ns", "metrics": "time_ns"}


class DuckDBStore:
    """A Store on a DuckDB database file (or ':memory:').

    DuckDB lets one process write a file; inside that process, each thread gets its own cursor.
    """

    sql: EngineSQL = duckdb_sql

    def __init__(self, path: str | os.PathLike[str] = "interplay.duckdb", *, read_only: bool = False) -> None:
        self.path = str(path)
        self.read_only = read_only
        self._local = threading.local()
        self._write_lock = threading.Lock()
        if self.path != ":memory:" and read_only and not Path(self.path).exists():
            raise StoreUnavailable(f"database {self.path} does not exist yet: ingest something first "
                                   "(interplay ingest FILE, or run interplay serve and send OTLP)")
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._con = _connect(self.path, read_only)
        if not read_only:
            for statement in duckdb_ddl():
                self._con.execute(statement)
            self._drop_stale_stages()  # left by a crash in the middle of a bulk ingest

    # -- writing -------------------------------------------------------------------------------
    def append(self, batch: TelemetryBatch) -> None:
        with self.transaction() as tx:
            tx.append(batch)

    @contextmanager
    def transaction(self) -> Iterator[_Transaction]:
        with self._write_lock:
            cur = self._con.cursor()
            cur.execute("BEGIN TRANSACTION")
            try:
                yield _Transaction(cur)
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            finally:
                cur.close()

    @contextmanager
    def bulk_transaction(self) -> Iterator[_StagedTransaction]:
        """All or nothing for appends larger than memory: stage on disk, then move in one transaction.

        DuckDB keeps a transaction's uncommitted appends in memory, so a 1 GB file appended in one
        transaction grows the process by about as much. Staging tables are committed chunk by chunk
        (memory stays at the buffer pool's size) and moved with one INSERT ... SELECT at the end;
        readers never see them, and a crash leaves only staging tables, dropped on the next open.
        """
        with self._write_lock:
            cur = self._con.cursor()
            staged = _StagedTransaction(cur, f"{_STAGE_PREFIX}{uuid.uuid4().hex[:12]}_")
            try:
                yield staged
                staged.commit()
            finally:
                staged.drop()
                cur.close()

    def _drop_stale_stages(self) -> None:
        for (name,) in self._con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE starts_with(table_name, ?)", [_STAGE_PREFIX]).fetchall():
            self._con.execute(f'DROP TABLE IF EXISTS "{name}"')

    def delete_before(self, time_ns: int, after_ns: int | None = None) -> dict[str, int]:
        deleted = {}
        with self.transaction() as tx:
            for table, column in _TIME_COLUMN.items():
                cond, params = (f"{column} < ?", [time_ns]) if after_ns is None else \
                    (f"({column} < ? OR {column} >= ?)", [time_ns, after_ns])
                row = tx.cursor.execute(f"DELETE FROM {table} WHERE {cond}", params).fetchone()
                deleted[table] = int(row[0]) if row else 0
        return deleted

    # -- reading -------------------------------------------------------------------------------
    def _cursor(self) -> duckdb.DuckDBPyConnection:
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._local.cursor = self._con.cursor()
        return cur

    def query(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        cur = self._cursor().execute(sql, params or [])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    def query_arrow(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        relation = self._cursor().sql(sql, params=params or None)  # a relation streams to arrow directly
        if relation is None:  # a statement that returns no rows
            return pa.table({})
        table = relation.to_arrow_table() if hasattr(relation, "to_arrow_table") else relation.arrow()
        return table if isinstance(table, pa.Table) else table.read_all()

    def stream_arrow(self, table: str, batch_rows: int = 65536) -> Iterator[pa.RecordBatch]:
        """Every row of a telemetry table in arrow batches of about batch_rows (bounded memory)."""
        cursor = self._con.cursor()
        try:
            names = ", ".join(f'"{f.name}"' for f in SCHEMAS[table])
            rel = cursor.sql(f"SELECT {names} FROM {table}")
            reader = (rel.to_arrow_reader(batch_rows) if hasattr(rel, "to_arrow_reader")  # duckdb >= 2
                      else rel.fetch_arrow_reader(batch_rows))
            yield from reader
        finally:
            cursor.close()

    def counts(self) -> dict[str, int]:
        return {t: self.query(f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in SCHEMAS}

    def own_table(self, name: str) -> str:
        return name

    def checkpoint(self) -> None:
        if not self.read_only:
            with self._write_lock:
                self._con.execute("CHECKPOINT")

    def close(self) -> None:
        self._con.close()


class _Transaction:
    def __init__(self, cursor: duckdb.DuckDBPyConnection) -> None:
        self.cursor = cursor

    def append(self, batch: TelemetryBatch) -> None:
        for name, table in batch.tables().items():
            self.cursor.register("_incoming", table)
            try:
                self.cursor.execute(f"INSERT INTO {name} BY NAME SELECT * FROM _incoming")
            finally:
                self.cursor.unregister("_incoming")


_STAGE_PREFIX = "_interplay_stage_"


class _StagedTransaction:
    """Appends go to staging tables, each committed at once; `commit` moves them all atomically."""

    def __init__(self, cursor: duckdb.DuckDBPyConnection, prefix: str) -> None:
        self.cursor, self.prefix = cursor, prefix
        self.tables: list[str] = []

    def append(self, batch: TelemetryBatch) -> None:
        for name, table in batch.tables().items():
            stage = self.prefix + name
            if name not in self.tables:
                self.cursor.execute(f'CREATE TABLE "{stage}" AS SELECT * FROM {name} LIMIT 0')
                self.tables.append(name)
            self.cursor.register("_incoming", table)
            try:
                self.cursor.execute(f'INSERT INTO "{stage}" BY NAME SELECT * FROM _incoming')
            finally:
                self.cursor.unregister("_incoming")

    def commit(self) -> None:
        self.cursor.execute("BEGIN TRANSACTION")
        try:
            for name in self.tables:
                self.cursor.execute(f'INSERT INTO {name} BY NAME SELECT * FROM "{self.prefix + name}"')
            self.cursor.execute("COMMIT")
        except BaseException:
            self.cursor.execute("ROLLBACK")
            raise

    def drop(self) -> None:
        for name in self.tables:
            self.cursor.execute(f'DROP TABLE IF EXISTS "{self.prefix + name}"')


def _connect(path: str, read_only: bool) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(path, read_only=read_only)
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" in text.lower():
            pid = re.search(r"PID (\d+)", text)
            holder = f"process {pid.group(1)}" if pid else "another process"
            raise StoreUnavailable(
                f"database {path} is held by {holder} (DuckDB allows one writer); if that is "
                f"`interplay serve`, query through it with --url, or stop it first") from None
        raise StoreUnavailable(f"cannot open database {path}: {text.splitlines()[0]}") from None
    except duckdb.Error as exc:
        raise StoreUnavailable(f"cannot open database {path}: {str(exc).splitlines()[0]}") from None

