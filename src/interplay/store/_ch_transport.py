"""How ClickHouse SQL reaches an engine: a server over HTTP (clickhouse-connect) or chDB in-process.

Both take the same SQL with `{name:Type}` parameters and speak arrow both ways, so the store above
holds one SQL layer for both.
"""
from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import pyarrow as pa

from ..model import StoreUnavailable

# Standard-SQL behaviour the DuckDB-flavoured queries above rely on: a LEFT JOIN miss is NULL (not
# the type's default), an aggregate over no rows is NULL (coalesce(... FILTER ..., fallback) works).
SETTINGS: dict[str, Any] = {"join_use_nulls": 1, "aggregate_functions_null_for_empty": 1,
                            "mutations_sync": 2, "output_format_arrow_string_as_string": 1,
                            "output_format_json_quote_64bit_integers": 0,
                            "output_format_json_escape_forward_slashes": 0,
                            # DuckDB reads a column, not a same-named SELECT alias, in WHERE
                            "prefer_column_name_to_alias": 1}
# clickhouse-connect's warnings ("Unexpected Http Driver Exception") go where the application's
# logging sends them, not to stderr by default: the error HttpTransport raises says what happened.
logging.getLogger("clickhouse_connect").addHandler(logging.NullHandler())


def bind(sql: str, params: list[Any]) -> tuple[str, dict[str, Any]]:
    """`?` parameters → ClickHouse's named, typed ones: each `?` outside literals, quoted names and
    comments becomes `{pN:Type}`; returns the SQL and the parameters by name.

    >>> bind("SELECT '?' AS q, ? AS a FROM t WHERE s IN ?", [1, ["x"]])
    ("SELECT '?' AS q, {p0:Int64} AS a FROM t WHERE s IN {p1:Array(String)}", {'p0': 1, 'p1': ['x']})
    """
    out, named, i = [], {}, 0
    for m in _SCAN.finditer(sql):
        if m.group() != "?":
            out.append(m.group())
            continue
        if i >= len(params):
            raise ValueError(f"SQL has more ? placeholders than the {len(params)} parameters given")
        name = f"p{i}"
        out.append(f"{{{name}:{ch_type(params[i])}}}")
        named[name] = params[i]
        i += 1
    if i != len(params):
        raise ValueError(f"SQL has {i} ? placeholders but {len(params)} parameters were given")
    return "".join(out), named


def ch_type(value: Any) -> str:
    """The ClickHouse type a Python parameter value binds as."""
    if value is None:
        return "Nullable(String)"
    if isinstance(value, bool):
        return "Bool"
    if isinstance(value, int):
        return "Int64" if -(2**63) <= value < 2**63 else "UInt64"
    if isinstance(value, float):
        return "Float64"
    if isinstance(value, (list, tuple)):
        inner = {ch_type(v) for v in value if v is not None}
        return f"Array({inner.pop() if len(inner) == 1 else 'String'})"
    return "String"


# What `bind` steps over whole: literals, quoted names, comments, bound parameters; else one character.
_SCAN = re.compile(r"""'(?:[^'\\]|''|\\.)*'|"(?:[^"]|"")*"|`[^`]*`|--[^\n]*|/\*.*?\*/"""
                   r"""|\{[A-Za-z_]\w*:[^{}]*\}|[^'"`/{?-]+|.""", re.S)


class Transport(Protocol):
    description: str

    def command(self, sql: str, params: dict[str, Any] | None = None) -> None: ...
    def query_arrow(self, sql: str, params: dict[str, Any] | None = None) -> pa.Table: ...
    def stream_arrow(self, sql: str, batch_rows: int = 65536) -> Iterator[pa.RecordBatch]: ...
    def insert_arrow(self, table: str, data: pa.Table) -> None: ...
    def close(self) -> None: ...


class ChdbTransport:
    """ClickHouse in this process (chDB); with a path, the data persists there."""

    def __init__(self, path: str | None) -> None:
        try:
            from chdb import session
        except ImportError:
            raise StoreUnavailable("chDB is not installed: pip install chdb") from None
        if path and path != ":memory:":
            Path(path).mkdir(parents=True, exist_ok=True)
        self.description = f"chdb:{path or ':memory:'}"
        try:
            self._session = session.Session(path if path and path != ":memory:" else None)
        except Exception as exc:  # chDB raises plain RuntimeErrors
            raise StoreUnavailable(f"cannot open {self.description}: {_first_line(exc)} "
                                   "(chDB serves one database path per process)") from None
        for name, value in SETTINGS.items():
            self._session.query(f"SET {name} = {value}")

    def command(self, sql: str, params: dict[str, Any] | None = None) -> None:
        self._run(sql, params, "CSV")

    def query_arrow(self, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
        return _strings(self._run(sql, params, "ArrowTable"))

    def stream_arrow(self, sql: str, batch_rows: int = 65536) -> Iterator[pa.RecordBatch]:
        result = self._session.send_query(sql, "Arrow")
        try:
            yield from result.record_batch(rows_per_batch=batch_rows)
        finally:
            result.close()

    def insert_arrow(self, table: str, data: pa.Table) -> None:
        _interplay_rows = data  # noqa: F841  (chDB's Python() table function finds it by name)
        self._run(f"INSERT INTO {table} SELECT * FROM Python(_interplay_rows)", None, "CSV")

    def close(self) -> None:
        self._session.close()

    def _run(self, sql: str, params: dict[str, Any] | None, fmt: str) -> Any:
        try:
            return self._session.query(sql, fmt, params={k: _chdb_value(v) for k, v in (params or {}).items()})
        except Exception as exc:
            raise ClickHouseError(exc, sql) from None


class HttpTransport:
    """A ClickHouse server over HTTP; one client (and server session) per thread: a session runs one
    query at a time, and a TEMPORARY table lives in the session that created it."""

    def __init__(self, url: str, *, create: bool = True) -> None:
        try:
            import clickhouse_connect  # noqa: F401
        except ImportError:
            raise StoreUnavailable("clickhouse-connect is not installed: pip install clickhouse-connect") from None
        parts = urlsplit(url)
        self._args: dict[str, Any] = {
            "host": parts.hostname or "localhost",
            "port": parts.port or (8443 if parts.scheme in ("clickhouses", "https") else 8123),
            "username": unquote(parts.username or "default"), "password": unquote(parts.password or ""),
            "secure": parts.scheme in ("clickhouses", "https"),
        }
        self.database = parts.path.strip("/") or "default"
        self.description = f"clickhouse://{self._args['host']}:{self._args['port']}/{self.database}"
        self._local = threading.local()
        self._clients: list[Any] = []
        self._clients_lock = threading.Lock()
        if self.database != "default" and create:
            self._create_database()

    def command(self, sql: str, params: dict[str, Any] | None = None) -> None:
        try:
            self._client().command(sql, parameters=params or None)
        except Exception as exc:
            raise self._error(exc, sql) from None

    def query_arrow(self, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
        try:
            return _strings(self._client().query_arrow(sql, parameters=params or None, use_strings=True))
        except Exception as exc:
            raise self._error(exc, sql) from None

    def stream_arrow(self, sql: str, batch_rows: int = 65536) -> Iterator[pa.RecordBatch]:
        try:
            stream = self._client().query_arrow_stream(sql, settings={"max_block_size": batch_rows},
                                                       use_strings=True)
        except Exception as exc:
            raise self._error(exc, sql) from None
        with stream:
            blocks = iter(stream)
            while True:
                try:
                    block = next(blocks)
                except StopIteration:
                    return
                except Exception as exc:  # the connection or the server failed mid-stream
                    raise self._error(exc, sql) from None
                yield from (block.to_batches() if isinstance(block, pa.Table) else [block])

    def insert_arrow(self, table: str, data: pa.Table) -> None:
        try:
            self._client().insert_arrow(table, data)
        except Exception as exc:
            raise self._error(exc, f"INSERT INTO {table}") from None

    def close(self) -> None:
        """Close every thread's client (a thread that queries again gets a new one)."""
        with self._clients_lock:
            clients, self._clients = self._clients, []
        self._local = threading.local()
        for client in clients:
            client.close()

    def _create_database(self) -> None:
        """The URL's database, created when missing (a read-only user may open one that exists)."""
        client = self._connect("default")
        sql = "SELECT count() FROM system.databases WHERE name = {db:String}"
        try:
            if not client.command(sql, parameters={"db": self.database}):
                sql = f"CREATE DATABASE IF NOT EXISTS {_identifier(self.database)}"
                client.command(sql)
        except Exception as exc:
            raise self._error(exc, sql) from None
        finally:
            client.close()

    def _client(self):
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self._connect(self.database)
            with self._clients_lock:
                self._clients.append(client)
        return client

    def _connect(self, database: str):
        import clickhouse_connect
        try:
            return clickhouse_connect.get_client(database=database, settings=SETTINGS,
                                                 session_id=f"interplay-{uuid.uuid4().hex}", **self._args)
        except Exception as exc:
            if _unreachable(exc):
                raise StoreUnavailable(f"cannot reach {self.description}: {_reason(exc)}") from None
            raise StoreUnavailable(f"cannot connect to {self.description}: {_reason(exc)}") from None

    def _error(self, exc: BaseException, sql: str) -> StoreUnavailable:
        """A refused statement is a ClickHouseError; a server gone away is named."""
        if isinstance(exc, StoreUnavailable):  # connecting failed, already said how
            return exc
        if _unreachable(exc):
            return StoreUnavailable(f"cannot reach {self.description}: {_reason(exc)}")
        return ClickHouseError(_reason(exc), sql)


class ClickHouseError(StoreUnavailable):
    """A statement ClickHouse refused; the message keeps ClickHouse's first line and the SQL's start."""

    def __init__(self, exc: BaseException | str, sql: str) -> None:
        message = exc if isinstance(exc, str) else _first_line(exc)
        super().__init__(f"ClickHouse: {message} (in: {' '.join(sql.split())[:160]})")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _unreachable(exc: BaseException) -> bool:
    """clickhouse-connect's error for no HTTP answer at all (refused, reset, timed out): no server code."""
    from clickhouse_connect.driver.exceptions import OperationalError
    return isinstance(exc, OperationalError) and getattr(exc, "code", None) is None


def _reason(exc: BaseException) -> str:
    """ClickHouse's own message (`Code: 60. DB::Exception: …`) without clickhouse-connect's wrapping,
    the server version and the URL; for a connection failure, the OS's reason."""
    text = _first_line(exc)
    os_error = re.search(r"\[Errno -?\d+\] ([^\"')]+)", text)
    if os_error and _unreachable(exc):
        return os_error.group(1).strip()
    text = re.sub(r" \(for url [^)]*\)$", "", text.partition("server response: ")[2] or text)
    return re.sub(r" \(version [^()]*(\([^()]*\))?\)$", "", text).strip()


def _identifier(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def _chdb_value(value: Any) -> str:
    """chDB parses parameter values as TSV fields (escaped, NULL as \\N)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_literal(v) for v in value) + "]"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    for raw, esc in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"), ("\0", "\\0")):
        text = text.replace(raw, esc)
    return text


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _strings(table: pa.Table) -> pa.Table:
    """Binary or dictionary/large string columns as plain strings, so rows compare with DuckDB's."""
    changed = False
    columns = []
    for column in table.columns:
        t = column.type
        if pa.types.is_dictionary(t):
            column, t, changed = column.cast(t.value_type), t.value_type, True
        if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_large_string(t):
            column, changed = column.cast(pa.string()), True
        columns.append(column)
    return pa.table(columns, names=table.column_names) if changed else table
