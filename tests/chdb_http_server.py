"""A ClickHouse HTTP interface on 127.0.0.1 for tests, backed by chDB.

A test double for the HTTP protocol layer only. The engine behind it is real ClickHouse (chDB, the
ClickHouse engine in this process): it parses and runs every statement, binds `{name:Type}`
parameters, reads and writes every format (Native, Arrow, ArrowStream, RowBinary, TSV…) and
raises every error. What this file emulates is what clickhouse-server's HTTP handler does around
the engine, as far as clickhouse-connect uses it:

- `GET /ping` and `GET /` → `Ok.`; queries by GET or POST on `/`.
- The query in the `query` URL parameter, the body, or both (the parameter, a newline, then the
  body); `INSERT … FORMAT F` with the data after it: the data goes to the engine through
  `INSERT … FROM INFILE`, so ClickHouse's own input format reads it into the table's types.
- `database`, `default_format` (TabSeparated otherwise), `param_<name>` query parameters, and every
  other URL parameter as a setting for that query; transport parameters (`session_id`, `query_id`,
  `compress`, `wait_end_of_query`, `client_protocol_version`…) are not settings.
- Basic auth (or `X-ClickHouse-User`/`-Key`, or `user`/`password` parameters): user `default`,
  empty password, else error 516.
- Request bodies in `Content-Encoding` gzip, deflate, zstd or lz4 (frame), chunked or not; responses
  compressed with the first of zstd, lz4, gzip, deflate the client accepts when
  `enable_http_compression=1`.
- Response headers `X-ClickHouse-Query-Id`, `-Format`, `-Timezone`, `-Summary`; errors as ClickHouse
  sends them: the exception code in `X-ClickHouse-Exception-Code`, `Code: N. DB::Exception: …` in
  the body, HTTP 400/403/404 for the codes ClickHouse maps to those, 500 otherwise.
- A `session_id` runs one query at a time (code 373, SESSION_IS_LOCKED, for a second one while the
  first is running or its response is being sent), as on a server.

- One statement per request (code 62 for a second one after `;`, which chDB alone would run).
- A TEMPORARY table belongs to the `session_id` that created it: other sessions get code 60; without a
  session it is dropped after the request.

Emulated loosely: one chDB session serves every request (serialised by a lock), so settings are
applied with `SET` before each query (and reset after), and two sessions cannot both hold a
TEMPORARY table of the same name. Not emulated: session expiry, `client_protocol_version` block info
(clients fall back to protocol 0), progress headers, mid-stream exceptions (results are sent
whole), users other than `default`, and http.server's 64 KiB request line (a server takes 1 MiB).

    python tests/chdb_http_server.py --port 0 [--path DIR]   # prints the port, serves until stopped
"""
from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

# URL parameters the server's HTTP handler consumes itself; every other one is a setting.
_TRANSPORT = {"query", "database", "default_format", "user", "password", "quota_key", "query_id",
              "session_id", "session_timeout", "session_check", "close_session", "compress", "decompress",
              "buffer_size", "wait_end_of_query", "client_protocol_version", "stacktrace", "role"}
# Some of the codes clickhouse-server answers with 4xx rather than 500 (its exceptionCodeToHTTPStatus):
# parse and syntax errors, bad arguments, type mismatches → 400; unknown table, database, function,
# identifier, type, format, setting → 404; failed authentication → 403.
_STATUS = {**dict.fromkeys((6, 26, 27, 36, 44, 53, 62, 117), 400),
           **dict.fromkeys((46, 47, 50, 60, 73, 81, 115), 404), 516: 403, 194: 401}
_INSERT = re.compile(rb"\A\s*(INSERT\s+INTO\s.+?)\s+FORMAT\s+(\w+)[ \t]*(?:\r?\n)?", re.I | re.S)
_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*\Z", re.I)
_RESULT = re.compile(r"\A\s*(SELECT|WITH|SHOW|DESC|DESCRIBE|EXPLAIN|EXISTS|\()", re.I)
_CREATE_TEMPORARY = re.compile(r"\A\s*CREATE\s+TEMPORARY\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?`?(\w+)", re.I)
_DROP = re.compile(r"\A\s*DROP\s+(?:TEMPORARY\s+)?TABLE\s+(?:IF\s+EXISTS\s+)?`?(\w+)", re.I)
USERS = {"default": ""}


class ClickHouseException(Exception):
    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code


class Engine:
    """One chDB session; queries run one at a time, each with its own database and settings."""

    def __init__(self, path: str) -> None:
        from chdb import session
        self.path = path
        self._session = session.Session(path)
        self._lock = threading.Lock()
        self._applied: dict[str, str] = {}  # settings the previous query SET
        self._temporary: dict[str, str | None] = {}  # TEMPORARY table → the session_id that created it
        self.version, self.timezone = self._session.query("SELECT version(), timezone()",
                                                          "TabSeparated").bytes().decode().split()
        self._session.query("SET implicit_select = 0")  # chDB's default is 1, a server's 0

    def run(self, sql: bytes, session: str | None, database: str, settings: dict[str, str],
            params: dict[str, str], default_format: str) -> tuple[bytes, str | None, dict[str, str]]:
        """(result bytes, output format or None, summary) of one statement."""
        insert = _INSERT.match(sql)
        data = sql[insert.end():] if insert else b""
        text = f"{insert.group(1).decode()} FORMAT {insert.group(2).decode()}" if insert else sql.decode()
        _refuse_multi_statements(text)
        with self._lock:
            self._scope_temporary(text, session)
            self._prepare(database, settings)
            if insert:  # no data, no rows (chDB would wait for them on its stdin)
                return b"", None, _summary(self._insert(insert.group(1).decode(), insert.group(2).decode(), data)
                                           if data else None)
            result = self._call(text, default_format, params)
            self._track_temporary(text, session)
        fmt = _FORMAT.search(text)
        out_format = fmt.group(1) if fmt else default_format if _RESULT.match(text) else None
        return result.bytes() or b"", out_format, _summary(result)

    def _scope_temporary(self, text: str, session: str | None) -> None:
        """A TEMPORARY table exists only in its session (chDB has one session for all of them)."""
        for name, owner in self._temporary.items():
            if owner != session and re.search(rf"\b{name}\b", text):
                raise ClickHouseException(60, f"Code: 60. DB::Exception: Unknown table expression identifier "
                                              f"'{name}' (a TEMPORARY table of another session). (UNKNOWN_TABLE)")

    def _track_temporary(self, text: str, session: str | None) -> None:
        if created := _CREATE_TEMPORARY.match(text):
            if session is None:  # without a session, a server drops it with the request
                self._call(f"DROP TEMPORARY TABLE IF EXISTS `{created.group(1)}`")
            else:
                self._temporary[created.group(1)] = session
        elif dropped := _DROP.match(text):
            self._temporary.pop(dropped.group(1), None)

    def _prepare(self, database: str, settings: dict[str, str]) -> None:
        self._call(f"USE `{database}`")
        for name in set(self._applied) - set(settings):
            self._call(f"SET {name} = DEFAULT")
            del self._applied[name]
        for name, value in settings.items():
            if self._applied.get(name) != value:
                if not re.fullmatch(r"\w+", name):
                    raise ClickHouseException(115, f"Unknown setting '{name}'. (UNKNOWN_SETTING)")
                self._call(f"SET {name} = '{_escape(value)}'")
                self._applied[name] = value

    def _insert(self, head: str, fmt: str, data: bytes):
        """The data read by ClickHouse's own input format, from a file as the server reads the body."""
        with tempfile.NamedTemporaryFile(dir=self.path, suffix=".insert", delete=False) as f:
            f.write(data)
        try:
            return self._call(f"{head} FROM INFILE '{_escape(f.name)}' FORMAT {fmt}")
        finally:
            os.unlink(f.name)

    def _call(self, sql: str, fmt: str = "TabSeparated", params: dict[str, str] | None = None):
        try:
            return self._session.query(sql, fmt, params=params or {})
        except Exception as exc:
            text = str(exc).strip()
            code = re.match(r"Code: (\d+)\.", text)
            raise ClickHouseException(int(code.group(1)) if code else 1001,
                                      text if code else f"Code: 1001. DB::Exception: {text}. (STD_EXCEPTION)") from None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clickhouse-connect pools its connections
    server: Server

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def log_message(self, format: str, *args) -> None:  # noqa: A002  (quiet, like the test output wants)
        pass

    def _handle(self) -> None:
        url = urlsplit(self.path)
        args = dict(parse_qsl(url.query, keep_blank_values=True))
        body = self._body()
        if url.path.rstrip("/") == "/ping" or ("query" not in args and not body):
            return self._reply(200, b"Ok.\n", {"Content-Type": "text/html; charset=UTF-8"})
        query_id = args.get("query_id") or str(uuid.uuid4())
        session = args.get("session_id")
        headers = {"X-ClickHouse-Query-Id": query_id, "X-ClickHouse-Timezone": self.server.engine.timezone,
                   "X-ClickHouse-Server-Display-Name": "chdb-http-shim"}
        try:
            self._authenticate(args)
            if session and not self.server.lock_session(session):
                raise ClickHouseException(373, f"Code: 373. DB::Exception: Session {session} is locked by a "
                                               "concurrent client. (SESSION_IS_LOCKED)")
        except ClickHouseException as exc:
            return self._error(exc, headers)
        try:
            self._query(args, body, headers)
        finally:
            if session:
                self.server.unlock_session(session)

    def _query(self, args: dict[str, str], body: bytes, headers: dict[str, str]) -> None:
        sql = (args["query"].encode() + b"\n" + body) if "query" in args else body
        settings = {k: v for k, v in args.items() if k not in _TRANSPORT and not k.startswith("param_")}
        params = {k[len("param_"):]: v for k, v in args.items() if k.startswith("param_")}
        try:
            out, fmt, summary = self.server.engine.run(sql, args.get("session_id"), args.get("database") or "default",
                                                       settings, params, args.get("default_format") or "TabSeparated")
        except ClickHouseException as exc:
            return self._error(exc, headers)
        headers["X-ClickHouse-Summary"] = json.dumps(summary)
        if fmt:
            headers["X-ClickHouse-Format"] = fmt
            headers["Content-Type"] = ("text/tab-separated-values; charset=UTF-8" if fmt.startswith("TabSeparated")
                                       else "application/octet-stream")
        if settings.get("enable_http_compression") in ("1", "true") and out:
            out = self._compress(out, headers)
        self._reply(200, out, headers)

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            data = b"".join(parts)
        else:
            data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        encoding = self.headers.get("Content-Encoding", "").lower()
        return _DECODE[encoding](data) if encoding in _DECODE else data

    def _authenticate(self, args: dict[str, str]) -> None:
        user, password = args.get("user", "default"), args.get("password", "")
        if self.headers.get("X-ClickHouse-User"):
            user, password = self.headers["X-ClickHouse-User"], self.headers.get("X-ClickHouse-Key", "")
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        if USERS.get(user) != password:
            raise ClickHouseException(516, f"Code: 516. DB::Exception: {user}: Authentication failed: password is "
                                           "incorrect, or there is no user with such name. (AUTHENTICATION_FAILED)")

    def _compress(self, data: bytes, headers: dict[str, str]) -> bytes:
        accepted = self.headers.get("Accept-Encoding", "").lower()
        for name, encode in _ENCODE.items():
            if name in accepted:
                headers["Content-Encoding"] = name
                return encode(data)
        return data

    def _error(self, exc: ClickHouseException, headers: dict[str, str]) -> None:
        headers.update({"X-ClickHouse-Exception-Code": str(exc.code), "Content-Type": "text/plain; charset=UTF-8"})
        body = f"{exc} (version {self.server.engine.version})\n".encode()
        self._reply(_STATUS.get(exc.code, 500), body, headers)

    def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, path: str) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.engine = Engine(path)
        self._sessions: set[str] = set()
        self._sessions_lock = threading.Lock()

    def lock_session(self, session: str) -> bool:
        with self._sessions_lock:
            if session in self._sessions:
                return False
            self._sessions.add(session)
            return True

    def unlock_session(self, session: str) -> None:
        with self._sessions_lock:
            self._sessions.discard(session)


def _summary(result) -> dict[str, str]:
    """X-ClickHouse-Summary: numbers as strings, as the server sends them."""
    if result is None:
        return {}
    return {"read_rows": str(result.rows_read()), "read_bytes": str(result.bytes_read()),
            "written_rows": str(getattr(result, "rows_written", lambda: 0)()),
            "written_bytes": str(getattr(result, "bytes_written", lambda: 0)()),
            "elapsed_ns": str(int(result.elapsed() * 1e9))}


def _refuse_multi_statements(sql: str) -> None:
    """A server runs one statement per request; chDB would run them all."""
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"`":
            i += 1
            while i < n and sql[i] != c:
                i += 2 if sql[i] == "\\" else 1
        elif sql.startswith("--", i):
            i = n if (end := sql.find("\n", i)) < 0 else end
        elif sql.startswith("/*", i):
            i = n if (end := sql.find("*/", i + 2)) < 0 else end + 1
        elif c == ";" and sql[i + 1:].strip():
            raise ClickHouseException(62, f"Code: 62. DB::Exception: Syntax error (Multi-statements are not "
                                          f"allowed): failed at position {i + 1} (;). (SYNTAX_ERROR)")
        i += 1


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _codecs() -> tuple[dict, dict]:
    encode, decode = {}, {}
    try:
        from backports import zstd
    except ImportError:
        zstd = None
    if zstd is not None:
        encode["zstd"], decode["zstd"] = zstd.compress, zstd.decompress
    try:
        import lz4.frame
    except ImportError:
        pass
    else:
        encode["lz4"], decode["lz4"] = lz4.frame.compress, lz4.frame.decompress
    encode["gzip"], decode["gzip"] = gzip.compress, gzip.decompress
    encode["deflate"], decode["deflate"] = zlib.compress, zlib.decompress
    return encode, decode


_ENCODE, _DECODE = _codecs()


# -- for tests: the server in a subprocess (chDB opens one database path per process) -------------
class ShimProcess:
    """A running `chdb_http_server.py`; `url(db)` is a clickhouse:// URL for Interplay. It stops with
    `stop()`, or by itself when this process goes away (its stdin closes)."""

    def __init__(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.log = path / "server.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen([sys.executable, __file__, "--port", "0", "--path", str(path),
                                             "--stop-on-eof"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=log, text=True)
        line = self.process.stdout.readline()
        if not line.strip().isdigit():
            self.stop()
            raise RuntimeError(f"chdb_http_server did not start: {line}{self.log.read_text()}")
        self.port = int(line)

    def url(self, database: str, user: str = "default", password: str = "") -> str:
        return f"clickhouse://{user}:{password}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            pipe.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="ClickHouse HTTP interface backed by chDB (tests only)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--path", default=None, help="chDB data directory (default: a temporary one)")
    parser.add_argument("--stop-on-eof", action="store_true", help="stop when stdin closes (the parent exited)")
    args = parser.parse_args()
    path = args.path or tempfile.mkdtemp(prefix="chdb-http-")
    server = Server(args.port, path)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if args.stop_on_eof:
        threading.Thread(target=lambda: (sys.stdin.read(), server.shutdown()), daemon=True).start()
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if not args.path:
            shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()
