"""Kept investigations summarised: a record for lists, and a result in one line.

The records themselves live in the store (`store.investigations`), reached through the hub (`Interplay.kept`).

    >>> summary_of({"root_causes": [{"service": "db", "summary": "slow"}]}, "checkout")
    'checkout: most likely db: slow'
"""
from __future__ import annotations

from typing import Any


def compact(rec: dict[str, Any]) -> dict[str, Any]:
    """A record for lists: no full result, just the top cause."""
    out = {k: rec.get(k) for k in ("id", "status", "source", "service", "started", "created", "updated",
                                    "summary", "group_key")}
    result = rec.get("result") or {}
    causes = result.get("root_causes") or []
    if causes:
        out["top_cause"] = {"service": causes[0].get("service"), "summary": causes[0].get("summary")}
    if result.get("error"):
        out["error"] = result["error"]
    return out


def summary_of(result: dict[str, Any] | None, fallback: str = "") -> str:
    """One line: the top cause of a result, or why there is none."""
    if not result:
        return fallback or "investigating"
    if result.get("error"):
        return f"{fallback + ': ' if fallback else ''}investigation failed: {result['error']}"
    causes = result.get("root_causes") or []
    if not causes:
        return f"{fallback + ': ' if fallback else ''}no root cause found"
    top = causes[0]
    return f"{fallback + ': ' if fallback else ''}most likely {top.get('service')}: {top.get('summary')}"
