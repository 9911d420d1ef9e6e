"""What rca/ still imports from here until the lead's rewrite moves its SQL into store/ (issue 16).

Everything else asks `store.telemetry` (and the other read modules under store/) and takes
`model.TimeRange`.
"""
from __future__ import annotations

from typing import Any

from . import model
from .store.predicates import window_where


class TimeRange(model.TimeRange):
    """The window with `.where()`, for rca/ until it asks the store typed questions."""

    __slots__ = ()

    def where(self, column: str = "start_ns") -> tuple[str, list[Any]]:
        return window_where(self, column)
