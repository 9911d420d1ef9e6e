"""Kept investigations summarised: a result in one line.

The records themselves live in the store (`store.investigations`), reached through the hub (`Interplay.kept`).

    >>> from interplay.model_results import FailedInvestigation
    >>> summary_of(FailedInvestigation("no spans"), "checkout")
    'checkout: investigation failed: no spans'
"""
from __future__ import annotations

from .model_results import FailedInvestigation, Investigation


def summary_of(result: Investigation | FailedInvestigation | None, fallback: str = "") -> str:
    """One line: the top cause of a result, or why there is none."""
    if result is None:
        return fallback or "investigating"
    lead = f"{fallback}: " if fallback else ""
    if isinstance(result, FailedInvestigation):
        return f"{lead}investigation failed: {result.error}"
    if not result.root_causes:
        return f"{lead}no root cause found"
    top = result.root_causes[0]
    return f"{lead}most likely {top.service}: {top.summary}"
