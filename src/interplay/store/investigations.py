"""Kept investigations, stored: one row per investigation (from the CLI, the API, MCP or an alert), with its
result. The hub (`Interplay.kept`) is the one way in; `interplay.investigations` summarises records.

The table lives in the same DuckDB file as the telemetry; this module creates it on first write. A
store opened read-only (a stdio MCP server beside a file nobody serves) keeps new investigations in
memory instead, so ids handed out still resolve for the life of the process.

    >>> from interplay.api import Interplay
    >>> kept = Interplay.open(":memory:").kept
    >>> rec = kept.create(source="cli", service="shop", started_ns=0, summary="s", result={"root_causes": []})
    >>> kept.get(rec["id"])["status"]
    'open'
"""
from __future__ import annotations

import builtins
import json
import threading
import time
import uuid
from typing import Any

from ..model import InvalidInput, NotFound
from .base import Store

SOURCES = ("cli", "api", "mcp", "alertmanager", "generic")
STATUSES = ("open", "resolved")
_COLUMNS = ("id", "created_ns", "updated_ns", "status", "source", "group_key", "service", "started_ns",
            "summary", "result")
_TYPES = {"created_ns": "BIGINT", "updated_ns": "BIGINT", "started_ns": "BIGINT"}  # the others VARCHAR

# Read-only stores: records made in this process, by store identity.
_memory: dict[int, dict[str, dict[str, Any]]] = {}
_memory_lock = threading.Lock()


class Investigations:
    """Create, update and list kept investigations on one store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.persistent = not store.read_only
        self.table = store.own_table("investigations")
        self._ready = False

    # -- writing -------------------------------------------------------------------------------
    def create(self, *, source: str, service: str | None, started_ns: int | None, summary: str,
               result: dict[str, Any] | None, group_key: str | None = None, status: str = "open") -> dict[str, Any]:
        """A new investigation record (id: 16 hex characters)."""
        if source not in SOURCES:
            raise InvalidInput(f"source {source!r}: expected one of {', '.join(SOURCES)}")
        now = time.time_ns()
        rec = {"id": uuid.uuid4().hex[:16], "created_ns": now, "updated_ns": now, "status": _status(status),
               "source": source, "group_key": group_key, "service": service, "started_ns": started_ns,
               "summary": summary, "result": result}
        self._write(f"INSERT INTO {self.table} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", _row(rec), rec)
        return rec

    def update(self, inv_id: str, **fields: Any) -> dict[str, Any]:
        """Change some fields (status, summary, result, service, started_ns) of a record; bump updated_ns."""
        rec = self.get(inv_id)
        unknown = set(fields) - {"status", "summary", "result", "service", "started_ns"}
        if unknown:
            raise InvalidInput(f"cannot update {', '.join(sorted(unknown))} of an investigation")
        if "status" in fields:
            fields["status"] = _status(fields["status"])
        rec.update(fields, updated_ns=time.time_ns())
        sets = ", ".join(f"{k} = ?" for k in [*fields, "updated_ns"])
        values = [json.dumps(v, default=str) if k == "result" and v is not None else v
                  for k, v in [*fields.items(), ("updated_ns", rec["updated_ns"])]]
        self._write(self.store.sql.update(self.table, sets, "id = ?"), [*values, inv_id], rec)
        return rec

    def by_group(self, group_key: str) -> dict[str, Any] | None:
        """The investigation started for an alert group (newest, if several), or None."""
        rows = self._select("group_key = ?", [group_key], limit=1, with_result=True)
        return rows[0] if rows else None

    # -- reading -------------------------------------------------------------------------------
    def get(self, inv_id: str) -> dict[str, Any]:
        rows = self._select("id = ?", [inv_id], limit=1, with_result=True)
        if not rows:
            raise NotFound(f"investigation {inv_id} not found")
        return rows[0]

    def list(self, status: str | None = None, source: str | None = None, service: str | None = None,
             limit: int = 50, with_result: bool = False) -> builtins.list[dict[str, Any]]:
        """Records newest first, without their full result unless asked (see `compact`)."""
        if limit < 1 or limit > 10_000:
            raise InvalidInput(f"limit {limit}: must be between 1 and 10000")
        clauses, params = [], []
        for column, value in (("status", status), ("source", source), ("service", service)):
            if value:
                clauses.append(f"{column} = ?")
                params.append(value)
        return self._select(" AND ".join(clauses) or "TRUE", params, limit=limit, with_result=with_result)

    # -- storage -------------------------------------------------------------------------------
    def _write(self, sql: str, params: builtins.list[Any], rec: dict[str, Any]) -> None:
        if not self.persistent:
            with _memory_lock:
                _memory.setdefault(id(self.store), {})[rec["id"]] = dict(rec)
            return
        with self.store.transaction() as tx:
            if not self._ready:
                columns = [(c, _TYPES.get(c, "VARCHAR")) for c in _COLUMNS]
                tx.cursor.execute(self.store.sql.create_table(self.table, columns, key="id"))
                self._ready = True
            tx.cursor.execute(sql, params)

    def _select(self, where: str, params: builtins.list[Any], *, limit: int,
                with_result: bool) -> builtins.list[dict[str, Any]]:
        rows: builtins.list[dict[str, Any]] = []
        if self._table_exists():
            cols = ", ".join(_COLUMNS if with_result else _COLUMNS[:-1])
            rows = self.store.query(f"SELECT {cols} FROM {self.table} WHERE {where} "
                                    f"ORDER BY created_ns DESC LIMIT {int(limit)}", params)
            for r in rows:
                if with_result:
                    r["result"] = json.loads(r["result"]) if r["result"] else None
        if not self.persistent:
            rows += [_public(r, with_result) for r in _memory_matches(id(self.store), where, params)]
            rows.sort(key=lambda r: -r["created_ns"])
            rows = rows[:limit]
        for r in rows:
            r["created"] = _fmt(r["created_ns"])
            r["updated"] = _fmt(r["updated_ns"])
            r["started"] = _fmt(r["started_ns"])
        return rows

    def _table_exists(self) -> bool:
        if self._ready:
            return True
        rows = self.store.query("SELECT count(*) AS n FROM information_schema.tables "
                                "WHERE table_name = 'investigations'")
        self._ready = self.persistent and rows[0]["n"] > 0
        return rows[0]["n"] > 0


def _status(value: str) -> str:
    if value not in STATUSES:
        raise InvalidInput(f"status {value!r}: expected open or resolved")
    return value


def _row(rec: dict[str, Any]) -> list[Any]:
    return [json.dumps(rec[c], default=str) if c == "result" and rec[c] is not None else rec[c]
            for c in _COLUMNS]


def _public(rec: dict[str, Any], with_result: bool) -> dict[str, Any]:
    out = dict(rec)
    if not with_result:
        out.pop("result", None)
    return out


def _memory_matches(key: int, where: str, params: list[Any]) -> list[dict[str, Any]]:
    """Filter in-memory records by the simple `col = ? AND ...` conditions this module writes."""
    with _memory_lock:
        records = list(_memory.get(key, {}).values())
    if where == "TRUE":
        return records
    columns = [c.split("=")[0].strip() for c in where.split(" AND ")]
    return [r for r in records if all(r.get(c) == v for c, v in zip(columns, params))]


def _fmt(ns: int | None) -> str | None:
    from ..timeutil import format_time
    return format_time(ns) if ns else None
