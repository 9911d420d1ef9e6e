"""Plain records shared by every layer: time ranges, span kinds and statuses, ingest results and the
errors users see. What an investigation answers with is in `model_results`.

This module imports nothing of ours, so everything else can import it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


@dataclass(frozen=True, slots=True)
class TimeRange:
    """A window of time in unix nanoseconds: since (inclusive) to until (exclusive); None is open."""

    since_ns: int | None = None
    until_ns: int | None = None


class InterplayError(Exception):
    """An error a user caused or can fix; its message says what was wrong and where."""

    http_status = 400


class InvalidInput(InterplayError):
    """Telemetry or a change event that could not be decoded or failed validation."""


class PayloadTooLarge(InterplayError):
    http_status = 413


class UnsupportedMediaType(InterplayError):
    http_status = 415


class Overloaded(InterplayError):
    """The write queue is full; the client should retry later."""

    http_status = 503


class StoreUnavailable(InterplayError):
    """The database cannot be opened (held by another process, missing, corrupt)."""

    http_status = 503


class NotFound(InterplayError):
    http_status = 404


class NotSupported(InterplayError):
    """A feature this store backend does not offer (yet)."""

    http_status = 501


class SpanKind(str, Enum):
    UNSPECIFIED = "UNSPECIFIED"
    INTERNAL = "INTERNAL"
    SERVER = "SERVER"
    CLIENT = "CLIENT"
    PRODUCER = "PRODUCER"
    CONSUMER = "CONSUMER"


# Index = the OTLP protobuf enum value.
SPAN_KINDS: tuple[str, ...] = tuple(k.value for k in SpanKind)


class StatusCode(str, Enum):
    UNSET = "UNSET"
    OK = "OK"
    ERROR = "ERROR"


STATUS_CODES: tuple[str, ...] = tuple(s.value for s in StatusCode)

CHANGE_KINDS: tuple[str, ...] = ("deploy", "config", "flag", "infra", "commit")


@dataclass(frozen=True, slots=True)
class Rejection:
    """Records dropped from an otherwise accepted batch, and why."""

    count: int
    reason: str


@dataclass(slots=True)
class IngestResult:
    spans: int = 0
    logs: int = 0
    metric_points: int = 0
    changes: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)   # stored, but repaired (e.g. invalid UTF-8)

    @property
    def rejected_count(self) -> int:
        return sum(r.count for r in self.rejected)

    def add(self, other: IngestResult) -> None:
        self.spans += other.spans
        self.logs += other.logs
        self.metric_points += other.metric_points
        self.changes += other.changes
        self.rejected.extend(other.rejected)
        self.warnings.extend(other.warnings)

    def to_dict(self) -> dict[str, Any]:
        return {
            "spans": self.spans,
            "logs": self.logs,
            "metric_points": self.metric_points,
            "changes": self.changes,
            "rejected": [{"count": r.count, "reason": r.reason} for r in self.rejected],
            **({"warnings": self.warnings} if self.warnings else {}),
        }
