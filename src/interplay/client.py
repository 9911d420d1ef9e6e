"""A client for a running `interplay serve`, with the same query methods as `Interplay`."""
from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from .model import IngestResult, InterplayError, InvalidInput, NotFound, Rejection, StoreUnavailable, TimeRange
from .model_agents import AgentRun, AgentSpend, BackendLoad, Session
from .model_results import Graph, Impact, Investigation, InvestigationSummary, KeptInvestigation, from_json
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
from .timeutil import format_time


class RemoteInterplay:
    def __init__(self, url: str, token: str | None = None, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        headers = {"X-Interplay-Client": "cli"}  # a write no web page could send (server/admission.py)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def checkpoint(self) -> None:
        """Nothing to ask: the server checkpoints the store it holds (as it shuts down)."""

    def _request(self, method: str, path: str, **kw: Any) -> Any:
        try:
            response = self._http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise StoreUnavailable(f"cannot reach interplay server at {self.url}: {exc}") from None
        if response.status_code >= 400:
            try:
                message = response.json().get("error", response.text)
            except ValueError:
                message = response.text
            cls = NotFound if response.status_code == 404 else InterplayError
            raise cls(f"server {self.url}: {message}")
        return response.json()

    def _get(self, path: str, window: TimeRange = TimeRange(), **params: Any) -> Any:
        q = {k: v for k, v in params.items() if v not in (None, False)}
        if window.since_ns is not None:
            q["since"] = str(window.since_ns)
        if window.until_ns is not None:
            q["until"] = str(window.until_ns)
        return self._request("GET", path, params=q)

    def services(self, window: TimeRange = TimeRange()) -> list[Service]:
        return [from_json(Service, r) for r in self._get("/api/services", window)]

    def traces(self, window: TimeRange = TimeRange(), *, service=None, operation=None,
               errors_only=False, min_duration_ns=None, attributes=None, limit=20) -> list[TraceSummary]:
        return [from_json(TraceSummary, r) for r in self._get(
            "/api/traces", window, service=service, operation=operation, errors="true" if errors_only else None,
            min_duration=f"{min_duration_ns}ns" if min_duration_ns else None, limit=limit,
            attr=[f"{k}={v}" for k, v in (attributes or {}).items()] or None)]

    def trace(self, trace_id: str) -> Trace:
        return from_json(Trace, self._request("GET", f"/api/traces/{trace_id}"))

    def changes(self, window: TimeRange = TimeRange(), *, service=None, limit=200) -> list[Change]:
        return [from_json(Change, r) for r in self._get("/api/changes", window, service=service, limit=limit)]

    def logs(self, window: TimeRange = TimeRange(), *, service=None, severity=None, text=None, trace_id=None,
             span_id=None, similar_to=None, limit=100) -> list[LogRecord]:
        return [from_json(LogRecord, r) for r in self._get(
            "/api/logs", window, service=service, severity=severity, text=text, trace_id=trace_id,
            span_id=span_id, similar_to=similar_to, limit=limit)]

    def series(self, service: str, operation: str | None = None, window: TimeRange = TimeRange(),
               buckets: int = 60) -> Series:
        return from_json(Series, self._get("/api/series", window, service=service, operation=operation,
                                           buckets=buckets))

    def operations(self, service: str, window: TimeRange = TimeRange()) -> list[ServiceOperation]:
        return [from_json(ServiceOperation, r) for r in self._get("/api/operations", window, service=service)]

    def anomalies(self, window: TimeRange = TimeRange()) -> Anomalies:
        return from_json(Anomalies, self._get("/api/anomalies", window))

    def investigate(self, symptom: str | None = None, at_ns: int | None = None,
                    window: TimeRange = TimeRange()) -> Investigation:
        """The server runs and keeps it: the result carries the id it is kept under."""
        return from_json(Investigation, self._request("POST", "/api/investigations", json={
            "symptom": symptom, "at": at_ns, "since": window.since_ns, "until": window.until_ns}))

    def symptom_series(self, entry_points: list[dict[str, Any]], window: TimeRange,
                       buckets: int = 60) -> SymptomSeries:
        entry = [e["service"] + (f":{e['operation']}" if e.get("operation") else "") for e in entry_points]
        return from_json(SymptomSeries, self._get("/api/symptom-series", window, entry=entry or None,
                                                  buckets=buckets))

    def keep_investigation(self, result: Investigation, *, source: str, symptom: str | None = None,
                           at_ns: int | None = None) -> str:
        """The id a result from this server's `investigate` is kept under (the server keeps what it runs)."""
        if not result.id:
            raise InvalidInput("a server keeps only the investigations it ran: this result has no id")
        return result.id

    def kept_investigation(self, investigation_id: str) -> KeptInvestigation:
        """A kept investigation's record (from the CLI, the API, MCP or an alert), with its full result."""
        return from_json(KeptInvestigation, self._request("GET", "/api/investigations",
                                                          params={"id": investigation_id}))

    def investigations(self, status: str | None = None, source: str | None = None, service: str | None = None,
                       limit: int = 50) -> list[InvestigationSummary]:
        rows = self._get("/api/investigations", status=status, source=source, service=service,
                         limit=limit)["investigations"]
        return [from_json(InvestigationSummary, r) for r in rows]

    def graph(self, window: TimeRange = TimeRange()) -> Graph:
        return from_json(Graph, self._get("/api/graph", window))

    def impact(self, target: str, window: TimeRange = TimeRange()) -> Impact:
        return from_json(Impact, self._get("/api/impact", window, target=target))

    def agent_runs(self, agent: str | None = None, failed: bool = False, window: TimeRange = TimeRange(),
                   limit: int = 100) -> list[AgentRun]:
        return [from_json(AgentRun, r) for r in self._get(
            "/api/agents/runs", window, agent=agent, failed="true" if failed else None, limit=limit)["runs"]]

    def agent_run(self, run_id: str, full: bool = False) -> AgentRun:
        return from_json(AgentRun, self._request("GET", f"/api/agents/runs/{run_id}",
                                                 params={"full": "true"} if full else None))

    def agent_sessions(self, window: TimeRange = TimeRange(), limit: int = 50) -> list[Session]:
        return [from_json(Session, s) for s in self._get("/api/agents/sessions", window, limit=limit)["sessions"]]

    def agent_session(self, session_id: str) -> Session:
        return from_json(Session, self._request("GET", f"/api/agents/sessions/{quote(session_id, safe='')}"))

    def agent_spend(self, window: TimeRange = TimeRange()) -> list[AgentSpend]:
        return [from_json(AgentSpend, s) for s in self._get("/api/agents/spend", window)["spend"]]

    def agent_load(self, window: TimeRange = TimeRange()) -> list[BackendLoad]:
        return [from_json(BackendLoad, r) for r in self._get("/api/agents/load", window)["load"]]

    def agent_runs_touching(self, service: str, window: TimeRange = TimeRange(), limit: int = 1000) -> list[str]:
        return self._get("/api/agents/touching", window, service=service, limit=limit)["runs"]

    def add_changes(self, events: Any) -> IngestResult:
        return _result(self._request("POST", "/v1/changes", json=events))

    def ingest_file(self, path: str | Path, *, skip_invalid: bool = False, on_progress=None,
                    workers: int = 1) -> IngestResult:
        """Send a file to the server, which stores it atomically, as a local ingest would (and decodes it:
        `workers` is for local ingest)."""
        path = Path(path)
        with open(path, "rb") as f:
            data = self._request("POST", "/api/ingest", content=f,
                                 headers={"Content-Type": "application/octet-stream"},
                                 params={"skip_invalid": "true" if skip_invalid else "false",
                                         "name": path.name}, timeout=None)
        if on_progress:
            on_progress(path.stat().st_size)
        return _result(data)


def _result(d: dict[str, Any]) -> IngestResult:
    return IngestResult(spans=d.get("spans", 0), logs=d.get("logs", 0),
                        metric_points=d.get("metric_points", 0), changes=d.get("changes", 0),
                        rejected=[Rejection(r["count"], r["reason"]) for r in d.get("rejected", [])])


__all__ = ["RemoteInterplay", "format_time"]
