"""The plain Python API: what the CLI, the HTTP server and users' own scripts call.

    >>> from interplay.api import Interplay
    >>> ip = Interplay.open(":memory:")
    >>> ip.services()
    []
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from .batch import TelemetryBatch
from .changes import add_change_event
from .investigations import summary_of
from .model import IngestResult, InvalidInput, TimeRange
from .model_agents import AgentRun, AgentSpend, BackendLoad, Session
from .model_results import Evidence, Graph, Impact, Investigation, InvestigationSummary, KeptInvestigation
from .model_telemetry import (
    Anomalies,
    Change,
    LogRecord,
    Series,
    Service,
    ServiceOperation,
    SymptomSeries,
    Trace,
    TraceSummary,
)
from .otlp.columns import ColumnBuilder
from .otlp.files import read_file
from .store import telemetry
from .store.base import Store
from .store.investigations import Investigations
from .store.open import open_store


class Interplay:
    """One store and everything Interplay can do with it."""

    def __init__(self, store: Store, *, content: bool = True, prices: str | Path | None = None) -> None:
        """content=False drops prompt, completion and tool payloads of what is ingested (privacy);
        prices: a model price file for agent-run costs (see interplay.agents.cost; else $INTERPLAY_PRICES)."""
        from .agents.cost import PriceTable
        self.store = store
        self.content = content
        self.prices = PriceTable.load(prices)

    @classmethod
    def open(cls, db: str | Path = "interplay.duckdb", *, read_only: bool = False, content: bool = True,
             prices: str | Path | None = None) -> Interplay:
        """A DuckDB file (PATH, duckdb:PATH) or a store URL: chdb:PATH, clickhouse://user:pass@host:8123/db."""
        return cls(open_store(db, read_only=read_only), content=content, prices=prices)

    def close(self) -> None:
        self.store.close()

    def checkpoint(self) -> None:
        """Write everything committed into the store itself, so the next open need not replay a log
        (DuckDB folds its write-ahead log into the file; ClickHouse has nothing to do)."""
        self.store.checkpoint()

    # -- ingest --------------------------------------------------------------------------------
    def ingest_file(self, path: str | Path, *, skip_invalid: bool = False,
                    on_progress: Callable[[int], None] | None = None,
                    name: str | None = None, workers: int = 1, max_bytes: int | None = None,
                    max_record: int | None = None) -> IngestResult:
        """Store one file atomically: on a bad record (without skip_invalid) nothing of it is kept.

        workers > 1 decodes large files in forked processes (see `read_file`); max_bytes caps the
        decompressed file and max_record one line or document (the server sets both).
        """
        result = IngestResult()
        with self.store.bulk_transaction() as tx:
            for batch in read_file(path, skip_invalid=skip_invalid, on_progress=on_progress, name=name,
                                   workers=workers, max_bytes=max_bytes, max_record=max_record):
                tx.append(self.admit(batch))
                result.add(batch.result())
        return result

    def ingest_batch(self, batch: TelemetryBatch) -> IngestResult:
        self.store.append(self.admit(batch))
        return batch.result()

    def ingest_batches(self, batches: list[TelemetryBatch]) -> list[IngestResult]:
        """Store several batches in one transaction: all of them or none."""
        with self.store.transaction() as tx:
            for batch in batches:
                tx.append(self.admit(batch))
        return [batch.result() for batch in batches]

    def admit(self, batch: TelemetryBatch) -> TelemetryBatch:
        """The batch as it is stored: without GenAI content when the hub keeps none."""
        if self.content:
            return batch
        from .agents.content import strip
        return strip(batch)

    def add_changes(self, events: Iterable[dict[str, Any]] | dict[str, Any]) -> IngestResult:
        """Validate and store change events (all or none)."""
        return self.ingest_batch(changes_batch(events))

    def apply_retention(self, keep_ns: int, now_ns: int | None = None) -> dict[str, int]:
        """Delete telemetry older than keep_ns before now, or before the newest data if that is older.

        Measuring from the newest data keeps a replayed or imported incident from vanishing the
        moment it is stored, while still bounding the file for live traffic. Data dated more than
        keep_ns after now is dropped too.
        """
        now_ns = now_ns or time.time_ns()
        newest = telemetry.newest_span_ns(self.store)
        reference = min(now_ns, newest) if newest else now_ns
        # Data dated more than one retention period ahead (a bad clock, a hostile sender) would
        # otherwise never age out: the same bound holds on that side.
        return self.store.delete_before(reference - keep_ns, after_ns=now_ns + keep_ns)

    # -- queries -------------------------------------------------------------------------------
    def services(self, window: TimeRange = TimeRange()) -> list[Service]:
        """Every service seen in the window, by name, with its requests, errors and latency."""
        return telemetry.services(self.store, window)

    def traces(self, window: TimeRange = TimeRange(), **filters: Any) -> list[TraceSummary]:
        """Traces matching the filters, newest first (service, operation, errors_only, min_duration_ns,
        attributes, limit)."""
        return telemetry.traces(self.store, window, **filters)

    def trace(self, trace_id: str) -> Trace:
        """One trace as a tree of spans (NotFound when no span of it is stored)."""
        return telemetry.trace(self.store, trace_id)

    def changes(self, window: TimeRange = TimeRange(), **filters: Any) -> list[Change]:
        """Change events, newest first (filters: service, limit)."""
        return telemetry.changes(self.store, window, **filters)

    def logs(self, window: TimeRange = TimeRange(), **filters: Any) -> list[LogRecord]:
        """Log records, newest first (filters: service, severity, text, trace_id, span_id, similar_to, limit)."""
        return telemetry.logs(self.store, window, **filters)

    def series(self, service: str, operation: str | None = None, window: TimeRange = TimeRange(),
               buckets: int = 60) -> Series:
        """Requests, rate, errors and p50/p95/p99 of a service's (or operation's) entry spans per time bucket."""
        return telemetry.series(self.store, service, operation, window, buckets)

    def operations(self, service: str, window: TimeRange = TimeRange()) -> list[ServiceOperation]:
        """A service's operations with calls, errors and latency percentiles."""
        return telemetry.operations(self.store, service, window)

    def anomalies(self, window: TimeRange = TimeRange()) -> Anomalies:
        """Services whose latest quarter of the window shifted from its first half (see interplay.health)."""
        from .health import anomalies
        return anomalies(self.store, window)

    def counts(self) -> dict[str, int]:
        return self.store.counts()

    # -- investigation (rca/, graph.py) --------------------------------------------------------
    def investigate(self, symptom: str | None = None, at_ns: int | None = None,
                    window: TimeRange = TimeRange()) -> Investigation:
        """Ranked root causes of a symptom ('service[:operation]', or None: find it) near at_ns (or find it)."""
        from .rca import investigate
        return with_units(self.store, investigate(self.store, symptom, at_ns, window))

    def symptom_series(self, entry_points: list[dict[str, Any]], window: TimeRange,
                       buckets: int = 60) -> SymptomSeries:
        """The symptom's entry points per time bucket (requests, errors, p90) and the changes in the window."""
        return telemetry.entry_series(self.store, entry_points, window, buckets)

    @property
    def kept(self) -> Investigations:
        """Kept investigations: the one place they live (a table beside the telemetry)."""
        return Investigations(self.store)

    def keep_investigation(self, result: Investigation, *, source: str, symptom: str | None = None,
                           at_ns: int | None = None) -> str:
        """Keep a result this hub produced; its id (16 hex characters) finds it again."""
        service = symptom.split(":")[0] if symptom else None
        rec = self.kept.create(source=source, service=service, started_ns=at_ns,
                               summary=summary_of(result, symptom or ""), result=result)
        return rec.id

    def kept_investigation(self, investigation_id: str) -> KeptInvestigation:
        """A kept investigation's record, with its full result (NotFound otherwise)."""
        return self.kept.get(investigation_id)

    def investigations(self, status: str | None = None, source: str | None = None, service: str | None = None,
                       limit: int = 50) -> list[InvestigationSummary]:
        """Kept investigations, newest first, each with its top cause instead of the full result."""
        return self.kept.list(status=status, source=source, service=service, limit=limit)

    def graph(self, window: TimeRange = TimeRange()) -> Graph:
        """The interaction graph of the window: services, resources, caller→callee edges."""
        from .graph import interaction_graph
        return interaction_graph(self.store, window)

    def impact(self, target: str, window: TimeRange = TimeRange()) -> Impact:
        """Blast radius of 'service[:operation]': who depends on it, and how much of their traffic.

        An unknown service or operation is NotFound; with an operation, the direct callers are
        those of that operation (not of the whole service).
        """
        from .graph import impact
        from .model import NotFound
        result = impact(self.store, target, window)
        service, operation = result.target.service, result.target.operation
        nothing = not (result.direct_callers or result.entry_points or result.upstream)
        if nothing and not telemetry.known_target(self.store, service, None):
            names = ", ".join(s.service for s in telemetry.services(self.store)[:20])
            raise NotFound(f"impact {target}: no service or resource {service!r} seen (services: {names or 'none'})")
        if operation:
            if not telemetry.known_target(self.store, service, operation) and not result.entry_points:
                ops = sorted({o.operation for o in telemetry.operations(self.store, service)})[:20] \
                    if telemetry.known_target(self.store, service, None) else []
                raise NotFound(f"impact {target}: {service} has no operation {operation!r}"
                               + (f" (its operations: {', '.join(ops)})" if ops else ""))
            result = replace(result, direct_callers=telemetry.operation_callers(self.store, service, operation,
                                                                                window))
        return result

    # -- agents --------------------------------------------------------------------------------
    def agent_runs(self, agent: str | None = None, failed: bool = False, window: TimeRange = TimeRange(),
                   limit: int = 100) -> list[AgentRun]:
        """Agent runs, newest first, with steps, tokens, cost and failure modes (see interplay.agents)."""
        from .agents import list_runs
        return list_runs(self.store, agent=agent, failed=failed, window=window, limit=limit, prices=self.prices)

    def agent_run(self, run_id: str, full: bool = False) -> AgentRun:
        """One agent run with its ordered steps (content cut unless full; tracebacks only when full)."""
        from .agents import get_run
        return get_run(self.store, run_id, full=full, prices=self.prices)

    def agent_sessions(self, window: TimeRange = TimeRange(), limit: int = 50) -> list[Session]:
        """Agent runs grouped by conversation / session id, most recently active first."""
        from .agents import list_sessions
        return list_sessions(self.store, window, limit, prices=self.prices)

    def agent_session(self, session_id: str) -> Session:
        """One session's runs in order, with divergence within the session."""
        from .agents import get_session
        return get_session(self.store, session_id, prices=self.prices)

    def agent_spend(self, window: TimeRange = TimeRange()) -> list[AgentSpend]:
        """Model calls, tokens and cost per agent and model."""
        from .agents import spend
        return spend(self.store, window, prices=self.prices)

    def agent_load(self, window: TimeRange = TimeRange()) -> list[BackendLoad]:
        """Per (agent, backend): the calls agent runs made to it and their share of its load."""
        from .agents import agent_load_by_backend
        return agent_load_by_backend(self.store, window)

    def agent_runs_touching(self, service: str, window: TimeRange = TimeRange(), limit: int = 1000) -> list[str]:
        """Ids of agent runs with a span in `service` that started in the window, earliest first."""
        from .agents import runs_touching
        return runs_touching(self.store, service, window, limit=limit)


# The unit of before/after of each evidence type whose numbers are not a metric's (UCUM-like; {x} counts x).
EVIDENCE_UNITS = {"self_time": "ms", "network_gap": "ms", "queue_lag": "s", "path_shift": "1",
                  "rate_shift": "{call}/s", "error_origin": "{error}", "log_template": "{record}",
                  "exception_surge": "{span}"}


def with_units(store: Store, result: Investigation) -> Investigation:
    """Each evidence item gets the unit of its before/after (a metric shift its metric's unit), so
    reports can say 0.008 s → 0.47 s."""
    metrics = any(e.type == "metric_shift" and e.details.get("metric")
                  for c in result.root_causes for e in c.evidence)
    units = telemetry.metric_units(store) if metrics else {}

    def unit_of(e: Evidence) -> str | None:
        unit = e.unit or EVIDENCE_UNITS.get(e.type)
        if e.type == "metric_shift" and e.details.get("metric"):
            unit = units.get((e.service, e.details["metric"])) or unit
        return unit
    causes = [replace(c, evidence=[replace(e, unit=unit_of(e)) for e in c.evidence]) for c in result.root_causes]
    return replace(result, root_causes=causes)


def changes_batch(events: Iterable[dict[str, Any]] | dict[str, Any], where: str = "body") -> TelemetryBatch:
    """Change events (one object or a list) → a batch; InvalidInput names the bad one."""
    if isinstance(events, dict):
        events = [events]
    if not isinstance(events, list):
        raise InvalidInput(f"{where}: expected a change event object or a list of them")
    builder = ColumnBuilder()
    for i, event in enumerate(events):
        add_change_event(event, builder, f"{where}[{i}]")
    return builder.build()
