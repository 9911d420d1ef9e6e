"""Open a store from a URL or a path: the one place that knows the spellings.

    duckdb:PATH, or a plain path, or :memory:        → DuckDBStore (embedded default)
    chdb:PATH, chdb://PATH, chdb: (in memory)        → ClickHouse engine in this process (chDB)
    clickhouse://user:pass@host:8123/db              → ClickHouse server over HTTP
    clickhouses://… or https://… (TLS, default port 8443)

On ClickHouse, Interplay keeps its own tables in a database of its own: `interplay` beside the
exporter's `default`, `interplay_<db>` beside another; `?interplay_db=NAME` on either URL names it.

    >>> open_store(":memory:").sql.ENGINE
    'duckdb'
"""
from __future__ import annotations

import os

from ..model import InvalidInput
from .base import Store

_SERVER_SCHEMES = ("clickhouse://", "clickhouses://", "http://", "https://")


def open_store(url_or_path: str | os.PathLike[str], *, read_only: bool = False) -> Store:
    """A Store for `url_or_path` (see the module doc)."""
    target = os.fspath(url_or_path)
    kind, location = parse_store_url(target)
    if kind == "duckdb":
        from .duckdb import DuckDBStore
        return DuckDBStore(location, read_only=read_only)
    from .clickhouse import ClickHouseStore
    location, own = _own_database(location)
    if kind == "chdb":
        return ClickHouseStore.chdb(location or None, read_only=read_only, own_database=own)
    return ClickHouseStore.server(location, read_only=read_only, own_database=own)


def _own_database(location: str) -> tuple[str, str | None]:
    """(location without `?interplay_db=NAME`, NAME or None for the default)."""
    from urllib.parse import parse_qsl
    base, _, query = location.partition("?")
    params = dict(parse_qsl(query))
    own = params.pop("interplay_db", None)
    if own is not None and not own.replace("_", "").isalnum():
        raise InvalidInput(f"interplay_db={own!r}: expected letters, digits and _")
    rest = "&".join(f"{k}={v}" for k, v in params.items())
    return (f"{base}?{rest}" if rest else base), own


def parse_store_url(target: str) -> tuple[str, str]:
    """('duckdb' | 'chdb' | 'clickhouse', path or URL)."""
    low = target.lower()
    if low.startswith("duckdb:"):
        return "duckdb", _strip_slashes(target[len("duckdb:"):]) or ":memory:"
    if low.startswith("chdb:"):
        return "chdb", _strip_slashes(target[len("chdb:"):])
    if low.startswith(_SERVER_SCHEMES):
        return "clickhouse", target
    if "://" in target:
        raise InvalidInput(f"store {target!r}: expected a path, duckdb:PATH, chdb:PATH or clickhouse://host/db")
    return "duckdb", target


def _strip_slashes(rest: str) -> str:
    """chdb://data/x → data/x; chdb:///abs/x → /abs/x."""
    return rest[2:] if rest.startswith("//") else rest


def is_store_url(target: str) -> bool:
    """True for a URL naming a non-file store (what a --db option should pass through unchanged)."""
    return parse_store_url(target)[0] != "duckdb" or target.lower().startswith("duckdb:")
