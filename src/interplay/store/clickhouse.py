"""The scale store: ClickHouse, in the OpenTelemetry Collector exporter's own tables.

One SQL layer over two transports: a ClickHouse server over HTTP (clickhouse-connect) and chDB,
the ClickHouse engine inside this process (tests, embedded use). Interplay's `spans`, `logs`,
`metrics` and `changes` are SELECTs over whatever generation of `otel_traces`, `otel_logs` and
`otel_metrics_*` the database holds (see `_ch_sources`), defined in front of each query, so a database
the exporter already fills is read as is and a read-only store creates nothing. Interplay's own
tables (`interplay_changes`, kept investigations, staging tables) live in a database of their own
(`interplay` unless told otherwise), created only by a store opened for writing.

Atomicity. ClickHouse has no multi-statement transactions, so a transaction (one batch, or a whole
file) is written to staging tables first (`_interplay_stage_<id>_<table>`, on disk: memory stays
bounded however large the file). Nothing is visible to queries until commit, which moves each
staging table with one `INSERT ... SELECT` and drops it; an error before commit just drops the
staging tables. If a move itself fails (server gone, disk full), the rows already moved are
deleted again by key (trace/span id; time, service and name for logs and metrics) before the error
is raised. Staging tables a crashed process left behind are dropped after an hour.
"""
from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pyarrow as pa

from ..batch import SCHEMAS, TelemetryBatch
from . import _ch_schema as schema
from . import _ch_sources as sources
from . import clickhouse_sql
from ._ch_transport import ChdbTransport, HttpTransport, Transport, bind
from .base import EngineSQL

_STAGE_PREFIX = "_interplay_stage_"


def own_database_for(database: str) -> str:
    """Where Interplay keeps its own tables beside the exporter's `database`: `interplay` beside
    `default`, `interplay_<database>` beside any other (two exporter databases never share one)."""
    return "interplay" if database == "default" else f"interplay_{database}"
_ROW_RETURNING = ("SELECT", "WITH", "(", "SHOW", "DESCRIBE", "EXPLAIN", "VALUES")


class ClickHouseStore:
    """A Store on ClickHouse (a server URL) or chDB (a directory)."""

    sql: EngineSQL = clickhouse_sql

    def __init__(self, transport: Transport, *, read_only: bool = False,
                 own_database: str | None = None) -> None:
        self.transport = transport
        self.read_only = read_only
        self.path = transport.description
        self.database = getattr(transport, "database", "default")  # the exporter's tables
        self.own = own_database or own_database_for(self.database)
        self._write_lock = threading.Lock()
        try:
            self._open_schema()
        except BaseException:
            transport.close()  # chDB serves one path per process: let the next open have it
            raise

    @classmethod
    def chdb(cls, path: str | None = None, *, read_only: bool = False,
             own_database: str | None = None) -> ClickHouseStore:
        return cls(ChdbTransport(path), read_only=read_only, own_database=own_database)

    @classmethod
    def server(cls, url: str, *, read_only: bool = False, own_database: str | None = None) -> ClickHouseStore:
        return cls(HttpTransport(url, create=not read_only), read_only=read_only, own_database=own_database)

    def _open_schema(self) -> None:
        """Read which tables and columns exist; a store opened for writing creates what is missing
        (current exporter DDL), a read-only one nothing."""
        self.columns = sources.detect(self.transport, self.database, self.own)
        if not self.read_only:
            created = [*schema.own_ddl(self.own), *schema.exporter_ddl(self.database, self.columns)]
            for ddl in created:
                self.transport.command(ddl)
            self.columns = sources.detect(self.transport, self.database, self.own)
            self._drop_stale_stages()
        self.sources = sources.sources(self.columns, self.database, self.own)

    def _sql(self, sql: str) -> str:
        """A bound query with Interplay's tables in scope (see `_ch_sources.in_scope`)."""
        return sources.in_scope(sql, self.sources)

    # -- writing -------------------------------------------------------------------------------
    def append(self, batch: TelemetryBatch) -> None:
        with self.transaction() as tx:
            tx.append(batch)

    def bulk_transaction(self) -> AbstractContextManager[_Transaction]:
        """Every transaction here already stages on disk (see `transaction`)."""
        return self.transaction()

    @contextmanager
    def transaction(self) -> Iterator[_Transaction]:
        tx = _Transaction(self, uuid.uuid4().hex[:16])
        try:
            yield tx
            with self._write_lock:
                tx.commit()
        finally:
            tx.drop_stages()

    def delete_before(self, time_ns: int, after_ns: int | None = None) -> dict[str, int]:
        deleted = {}
        with self._write_lock:
            for name, tables in schema.TIME_COLUMNS.items():
                deleted[name] = 0
                for table, column in tables:
                    if table not in self.columns:
                        continue
                    cond = f"{column} < fromUnixTimestamp64Nano(toInt64({int(time_ns)}))"
                    if after_ns is not None:
                        cond = f"({cond} OR {column} >= fromUnixTimestamp64Nano(toInt64({int(after_ns)})))"
                    n = self._scalar(f"SELECT count() FROM {self._table(table)} WHERE {cond}")
                    if n:
                        self.transport.command(f"DELETE FROM {self._table(table)} WHERE {cond}")
                    deleted[name] += n
        return deleted

    # -- reading -------------------------------------------------------------------------------
    def query(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        return self.query_arrow(sql, params).to_pylist()

    def query_arrow(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        ch_sql, named = bind(sql, params or [])
        ch_sql = self._sql(ch_sql)
        if not ch_sql.lstrip().upper().startswith(_ROW_RETURNING):
            self.transport.command(ch_sql, named)
            return pa.table({})
        return self.transport.query_arrow(ch_sql, named)

    def stream_arrow(self, table: str, batch_rows: int = 65536) -> Iterator[pa.RecordBatch]:
        """Every row of a telemetry table in arrow batches of about batch_rows (bounded memory)."""
        maps = sources.MAP_COLUMNS.get(table, ())
        names = ", ".join(f"{self.sql.attrs_text(f.name)} AS `{f.name}`" if f.name in maps else f"`{f.name}`"
                          for f in SCHEMAS[table])
        yield from self.transport.stream_arrow(self._sql(f"SELECT {names} FROM {table}"), batch_rows)

    def counts(self) -> dict[str, int]:
        """Rows per table, counted on the exporter tables (ClickHouse answers count() from metadata)."""
        def total(tables) -> str:
            parts = [f"(SELECT count() FROM {self._table(t)})" for t in tables if t in self.columns]
            return " + ".join(parts) or "0"
        row = self.transport.query_arrow(
            f"SELECT {total([sources.TRACES])} AS spans, {total([sources.LOGS])} AS logs, "
            f"{total(sources.METRIC_TABLES.values())} AS metrics, {total([sources.CHANGES])} AS changes"
        ).to_pylist()[0]
        return {t: int(row[t]) for t in SCHEMAS}

    def size_bytes(self) -> int:
        """Bytes on disk of the active parts of the exporter's and Interplay's databases."""
        return self._scalar("SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND "
                            f"database IN ('{self.database}', '{self.own}')")

    def own_table(self, name: str) -> str:
        return f"{sources._ident(self.own)}.{name}"

    def checkpoint(self) -> None:
        """Nothing to do: every insert is durable once acknowledged."""

    def close(self) -> None:
        self.transport.close()

    # -- helpers -------------------------------------------------------------------------------
    def _scalar(self, sql: str) -> int:
        table = self.transport.query_arrow(sql)
        value = table.column(0)[0].as_py() if table.num_rows else 0
        return int(value or 0)

    def _table(self, table: str) -> str:
        """A table's qualified name: Interplay's own in its database, the exporter's in the user's."""
        db = self.own if table == sources.CHANGES else self.database
        return f"{sources._ident(db)}.{table}"

    def _drop_stale_stages(self) -> None:
        rows = self.transport.query_arrow(
            "SELECT name FROM system.tables WHERE database = {db:String} "
            f"AND startsWith(name, '{_STAGE_PREFIX}') "
            "AND metadata_modification_time < now() - INTERVAL 1 HOUR", {"db": self.own}).to_pylist()
        for r in rows:
            self.transport.command(f"DROP TABLE IF EXISTS {sources._ident(self.own)}.`{r['name']}`")


class _Cursor:
    """`tx.cursor.execute(sql, params)` for callers that write small records of their own
    (kept investigations): run at once, outside the staged telemetry."""

    def __init__(self, store: ClickHouseStore) -> None:
        self.store = store

    def execute(self, sql: str, params: list[Any] | None = None) -> _Cursor:
        self.store.query_arrow(sql, params)
        return self


class _Transaction:
    """Appends staged on disk; `commit` moves them into the exporter tables (see the module doc)."""

    def __init__(self, store: ClickHouseStore, ingest_id: str) -> None:
        self.store = store
        self.ingest_id = ingest_id
        self.stages: dict[str, str] = {}  # telemetry table → staging table
        self.metric_types: set[str] = set()
        self.cursor = _Cursor(store)

    def append(self, batch: TelemetryBatch) -> None:
        t = self.store.transport
        for name, table in batch.tables().items():
            stage = self.stages.get(name)
            if stage is None:
                stage = f"{sources._ident(self.store.own)}.{_STAGE_PREFIX}{self.ingest_id}_{name}"
                t.command(schema.staging_ddl(stage, name))
                self.stages[name] = stage
            t.insert_arrow(stage, table.select(SCHEMAS[name].names))
            if name == "metrics":
                self.metric_types.update(v for v in table.column("type").unique().to_pylist() if v)

    def commit(self) -> None:
        moved: list[tuple[str, str]] = []  # (exporter table, undo condition)
        store = self.store
        where: dict[str, Any] = dict(db=store.database, own=store.own, columns=store.columns)
        try:
            for name, stage in self.stages.items():
                if name == "metrics":
                    for type_ in sorted(self.metric_types & set(sources.METRIC_TABLES)):
                        target = sources.METRIC_TABLES[type_]
                        schema.check_writable(target, store.columns.get(target, {}), store.database)
                        moved.append((store._table(target), schema.METRIC_UNDO.format(stage=stage)))
                        store.transport.command(schema.move_sql(name, stage, type_, **where))
                else:
                    target, undo = schema.UNDO[name]
                    schema.check_writable(target, store.columns.get(target, {}), store.database)
                    moved.append((store._table(target), undo.format(stage=stage)))
                    store.transport.command(schema.move_sql(name, stage, **where))
        except BaseException:
            for target, cond in moved:
                try:
                    self.store.transport.command(f"DELETE FROM {target} WHERE {cond}")
                except Exception:
                    pass  # the original error matters more; the stage is dropped either way
            raise

    def drop_stages(self) -> None:
        for stage in self.stages.values():
            try:
                self.store.transport.command(f"DROP TABLE IF EXISTS {stage}")
            except Exception:
                pass  # dropped later as stale
        self.stages.clear()
