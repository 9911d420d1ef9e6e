"""Kept investigations, stored: one row per investigation (from the CLI, the API, MCP or an alert), with its
result. The hub (`Interplay.kept`) is the one way in. Records come back as `KeptInvestigation`s (their
result an `Investigation`, or a `FailedInvestigation` when it could not run), a list's entries as
`InvestigationSummary`s (`summarise`).

The table lives in the same DuckDB file as the telemetry; this module creates it on first write. A
store opened read-only (a stdio MCP server beside a file nobody serves) keeps new investigations in
memory instead, so ids handed out still resolve for the life of the process.

    >>> from interplay.api import Interplay
    >>> kept = Interplay.open(":memory:").kept
    >>> rec = kept.create(source="cli", service="shop", started_ns=0, summary="s",
    ...                   result=FailedInvestigation("no spans"))
    >>> kept.get(rec.id).status, kept.get(rec.id).result
    ('open', FailedInvestigation(error='no spans', root_causes=[]))
    >>> summarise(kept.get(rec.id)).error
    'no spans'
"""
from __future__ import annotations

import builtins
import json
import threading
import time
import uuid
from typing import Any

from ..model import InvalidInput, NotFound
from ..model_results import (
    FailedInvestigation,
    Investigation,
    InvestigationSummary,
    KeptInvestigation,
    TopCause,
    from_json,
    to_json,
)
from .base import Store

Result = Investigation | FailedInvestigation

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
               result: Result | None, group_key: str | None = None, status: str = "open") -> KeptInvestigation:
        """A new investigation record (id: 16 hex characters)."""
        if source not in SOURCES:
            raise InvalidInput(f"source {source!r}: expected one of {', '.join(SOURCES)}")
        now = time.time_ns()
        rec = {"id": uuid.uuid4().hex[:16], "created_ns": now, "updated_ns": now, "status": _status(status),
               "source": source, "group_key": group_key, "service": service, "started_ns": started_ns,
               "summary": summary, "result": _json(result)}
        self._write(f"INSERT INTO {self.table} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", _row(rec), rec)
        return _record(rec)

    def update(self, inv_id: str, **fields: Any) -> KeptInvestigation:
        """Change some fields (status, summary, result, service, started_ns) of a record; bump updated_ns."""
        rec = self._row_of(inv_id)
        unknown = set(fields) - {"status", "summary", "result", "service", "started_ns"}
        if unknown:
            raise InvalidInput(f"cannot update {', '.join(sorted(unknown))} of an investigation")
        if "status" in fields:
            fields["status"] = _status(fields["status"])
        if "result" in fields:
            fields["result"] = _json(fields["result"])
        rec.update(fields, updated_ns=time.time_ns())
        sets = ", ".join(f"{k} = ?" for k in [*fields, "updated_ns"])
        values = [json.dumps(v, default=str) if k == "result" and v is not None else v
                  for k, v in [*fields.items(), ("updated_ns", rec["updated_ns"])]]
        self._write(self.store.sql.update(self.table, sets, "id = ?"), [*values, inv_id], rec)
        return _record(rec)

    def by_group(self, group_key: str) -> KeptInvestigation | None:
        """The investigation started for an alert group (newest, if several), or None."""
        rows = self._select("group_key = ?", [group_key], limit=1)
        return _record(rows[0]) if rows else None

    # -- reading -------------------------------------------------------------------------------
    def get(self, inv_id: str) -> KeptInvestigation:
        return _record(self._row_of(inv_id))

    def list(self, status: str | None = None, source: str | None = None, service: str | None = None,
             limit: int = 50) -> builtins.list[InvestigationSummary]:
        """Records newest first, each summarised (its top cause instead of the full result)."""
        if limit < 1 or limit > 10_000:
            raise InvalidInput(f"limit {limit}: must be between 1 and 10000")
        clauses, params = [], []
        for column, value in (("status", status), ("source", source), ("service", service)):
            if value:
                clauses.append(f"{column} = ?")
                params.append(value)
        rows = self._select(" AND ".join(clauses) or "TRUE", params, limit=limit)
        return [summarise(_record(r)) for r in rows]

    def _row_of(self, inv_id: str) -> dict[str, Any]:
        rows = self._select("id = ?", [inv_id], limit=1)
        if not rows:
            raise NotFound(f"investigation {inv_id} not found")
        return rows[0]

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

    def _select(self, where: str, params: builtins.list[Any], *, limit: int) -> builtins.list[dict[str, Any]]:
        rows: builtins.list[dict[str, Any]] = []
        if self._table_exists():
            rows = self.store.query(f"SELECT {', '.join(_COLUMNS)} FROM {self.table} WHERE {where} "
                                    f"ORDER BY created_ns DESC LIMIT {int(limit)}", params)
            for r in rows:
                r["result"] = json.loads(r["result"]) if r["result"] else None
        if not self.persistent:
            rows += [dict(r) for r in _memory_matches(id(self.store), where, params)]
            rows.sort(key=lambda r: -r["created_ns"])
            rows = rows[:limit]
        return rows

    def _table_exists(self) -> bool:
        if self._ready:
            return True
        rows = self.store.query("SELECT count(*) AS n FROM information_schema.tables "
                                "WHERE table_name = 'investigations'")
        self._ready = self.persistent and rows[0]["n"] > 0
        return rows[0]["n"] > 0


def summarise(rec: KeptInvestigation) -> InvestigationSummary:
    """A record for lists: no full result, just the top cause (or why there is none)."""
    result = rec.result
    causes = result.root_causes if result is not None else []
    return InvestigationSummary(
        rec.id, rec.status, rec.source, rec.service, rec.started, rec.created, rec.updated, rec.summary,
        rec.group_key, top_cause=TopCause(causes[0].service, causes[0].summary) if causes else None,
        error=result.error if isinstance(result, FailedInvestigation) else None)


def _record(row: dict[str, Any]) -> KeptInvestigation:
    """The record of a row, its times formatted from the row's own (so an update's are current)."""
    return from_json(KeptInvestigation, {**row, "created": _fmt(row["created_ns"]),
                                         "updated": _fmt(row["updated_ns"]), "started": _fmt(row["started_ns"])})


def _json(result: Result | None) -> dict[str, Any] | None:
    """A result as the table keeps it: its JSON."""
    return None if result is None else to_json(result)


def _status(value: str) -> str:
    if value not in STATUSES:
        raise InvalidInput(f"status {value!r}: expected open or resolved")
    return value


def _row(rec: dict[str, Any]) -> list[Any]:
    return [json.dumps(rec[c], default=str) if c == "result" and rec[c] is not None else rec[c]
            for c in _COLUMNS]


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
