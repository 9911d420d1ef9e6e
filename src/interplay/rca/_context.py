"""What every evidence extractor receives: the store, the windows, the graph and the blame."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..model import TimeRange
from ..model_results import Evidence, Graph
from ..store.base import Store
from ._attribution import Blame
from ._backlog import QueueBacklog
from ._errors import ErrorSurge
from ._gaps import EdgeGap
from ._paths import PathShift


@dataclass
class Context:
    store: Store
    baseline: TimeRange
    incident: TimeRange
    onset_ns: int
    groups: list[dict[str, Any]]           # the symptom's entry groups with their stats
    graph: Graph = field(default_factory=Graph)
    blame: Blame = field(default_factory=Blame)
    services: set[str] = field(default_factory=set)
    paths: list[PathShift] = field(default_factory=list)  # services whose requests newly stop early
    errors: list[ErrorSurge] = field(default_factory=list)  # exceptions / error logs without span status
    gaps: dict[tuple[str, str, str], EdgeGap] = field(default_factory=dict)  # per (caller, callee, how)
    backlogs: list[QueueBacklog] = field(default_factory=list)  # consumers newly leaving messages untaken
    resources: list[Any] = field(default_factory=list)  # _metrics.ResourceShift: CPU/memory that rose
    lags: list[Any] = field(default_factory=list)  # _metrics.ResourceShift: consumer lag metrics that rose
    surges: dict[str, Any] = field(default_factory=dict)  # _surge.RateSurge per service (no trace baseline)
    peer: bool = False  # no baseline in time: requests and edges compared with their peers instead


def evidence(service: str, type_: str, summary: str, *, operation: str | None = None,
             before: Any = None, after: Any = None, weight: float = 0.0, **extra: Any) -> Evidence:
    """One piece of evidence about a node: what was seen, before and after, and how much it counts;
    `extra`: the fields of its type."""
    return Evidence(service, operation, type_, summary, before, after, round(weight, 4), extra)
