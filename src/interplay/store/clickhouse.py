"""The scale store: ClickHouse, in the OpenTelemetry Collector exporter's own tables.

One SQL layer over two transports: a ClickHouse server over HTTP (clickhouse-connect) and chDB,
the ClickHouse engine inside this process (tests, embedded use). Interplay's `spans`, `logs`,
`metrics` and `changes` are views over `otel_traces`, `otel_logs`, `otel_metrics_*` and
`interplay_changes` (see `_ch_schema`), so a database the exporter already fills is read as is.

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
from ._ch_dialect import translate
from ._ch_transport import ChdbTransport, ClickHouseError, HttpTransport, Transport

_STAGE_PREFIX = "_interplay_stage_"
_ROW_RETURNING = ("SELECT", "WITH", "(", "SHOW", "DESCRIBE", "EXPLAIN", "VALUES")


class ClickHouseStore:
    """A Store on ClickHouse (a server URL) or chDB (a directory)."""

    dialect = "clickhouse"

    def __init__(self, transport: Transport, *, read_only: bool = False) -> None:
        self.transport = transport
        self.read_only = read_only
        self.path = transport.description
        self._write_lock = threading.Lock()
        self._ensure_schema()

    @classmethod
    def chdb(cls, path: str | None = None, *, read_only: bool = False) -> "ClickHouseStore":
        return cls(ChdbTransport(path), read_only=read_only)

    @classmethod
    def server(cls, url: str, *, read_only: bool = False) -> "ClickHouseStore":
        return cls(HttpTransport(url), read_only=read_only)

    def _ensure_schema(self) -> None:
        """Create the exporter tables and the views when missing (a read-only user may not: then the
        views must already exist)."""
        try:
            for ddl in [*schema.TABLES.values(), *schema.VIEWS.values()]:
                self.transport.command(ddl)
        except ClickHouseError:
            if not self.read_only:
                raise
        if not self.read_only:
            self._drop_stale_stages()

    # -- writing -------------------------------------------------------------------------------
    def append(self, batch: TelemetryBatch) -> None:
        with self.transaction() as tx:
            tx.append(batch)

    def bulk_transaction(self) -> AbstractContextManager["_Transaction"]:
        """Every transaction here already stages on disk (see `transaction`)."""
        return self.transaction()

    @contextmanager
    def transaction(self) -> Iterator["_Transaction"]:
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
                    cond = f"{column} < fromUnixTimestamp64Nano(toInt64({int(time_ns)}))"
                    if after_ns is not None:
                        cond = f"({cond} OR {column} >= fromUnixTimestamp64Nano(toInt64({int(after_ns)})))"
                    n = self._scalar(f"SELECT count() FROM {table} WHERE {cond}")
                    if n:
                        self.transport.command(f"DELETE FROM {table} WHERE {cond}")
                    deleted[name] += n
        return deleted

    # -- reading -------------------------------------------------------------------------------
    def query(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        return self.query_arrow(sql, params).to_pylist()

    def query_arrow(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        ch_sql, named = translate(sql, params)
        if not ch_sql.lstrip().upper().startswith(_ROW_RETURNING):
            self.transport.command(ch_sql, named)
            return pa.table({})
        return self.transport.query_arrow(ch_sql, named)

    def stream_arrow(self, table: str, batch_rows: int = 65536) -> Iterator[pa.RecordBatch]:
        """Every row of a telemetry table in arrow batches of about batch_rows (bounded memory)."""
        names = ", ".join(f"`{f.name}`" for f in SCHEMAS[table])
        yield from self.transport.stream_arrow(f"SELECT {names} FROM {table}", batch_rows)

    def counts(self) -> dict[str, int]:
        """Rows per table, counted on the exporter tables (ClickHouse answers count() from metadata)."""
        metrics = " + ".join(f"(SELECT count() FROM {t})" for t in schema.METRIC_TABLES.values())
        row = self.transport.query_arrow(
            "SELECT (SELECT count() FROM otel_traces) AS spans, (SELECT count() FROM otel_logs) AS logs, "
            f"{metrics} AS metrics, (SELECT count() FROM interplay_changes) AS changes").to_pylist()[0]
        return {t: int(row[t]) for t in SCHEMAS}

    def size_bytes(self) -> int:
        """Bytes on disk of this database's active parts."""
        return self._scalar("SELECT sum(bytes_on_disk) FROM system.parts "
                            "WHERE active AND database = currentDatabase()")

    def checkpoint(self) -> None:
        """Nothing to do: every insert is durable once acknowledged."""

    def close(self) -> None:
        self.transport.close()

    # -- helpers -------------------------------------------------------------------------------
    def _scalar(self, sql: str) -> int:
        table = self.transport.query_arrow(sql)
        value = table.column(0)[0].as_py() if table.num_rows else 0
        return int(value or 0)

    def _drop_stale_stages(self) -> None:
        rows = self.transport.query_arrow(
            "SELECT name FROM system.tables WHERE database = currentDatabase() "
            f"AND startsWith(name, '{_STAGE_PREFIX}') "
            "AND metadata_modification_time < now() - INTERVAL 1 HOUR").to_pylist()
        for r in rows:
            self.transport.command(f"DROP TABLE IF EXISTS `{r['name']}`")


class _Cursor:
    """`tx.cursor.execute(sql, params)` for callers that write small records of their own
    (kept investigations): run at once, translated, outside the staged telemetry."""

    def __init__(self, store: ClickHouseStore) -> None:
        self.store = store

    def execute(self, sql: str, params: list[Any] | None = None) -> "_Cursor":
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
                stage = f"{_STAGE_PREFIX}{self.ingest_id}_{name}"
                t.command(schema.staging_ddl(stage, name))
                self.stages[name] = stage
            t.insert_arrow(stage, table.select(SCHEMAS[name].names))
            if name == "metrics":
                self.metric_types.update(v for v in table.column("type").unique().to_pylist() if v)

    def commit(self) -> None:
        moved: list[tuple[str, str]] = []  # (exporter table, undo condition)
        try:
            for name, stage in self.stages.items():
                if name == "metrics":
                    for type_ in sorted(self.metric_types & set(schema.METRIC_TABLES)):
                        moved.append((schema.METRIC_TABLES[type_], schema.METRIC_UNDO.format(stage=stage)))
                        self.store.transport.command(schema.move_sql(name, stage, type_))
                else:
                    target, undo = schema.UNDO[name]
                    moved.append((target, undo.format(stage=stage)))
                    self.store.transport.command(schema.move_sql(name, stage))
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
