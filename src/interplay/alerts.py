"""Alerts in, investigations out: Alertmanager (webhook version 4) and a plain generic JSON form.

An alert group maps to one kept investigation (`interplay.investigations`): the same group key
fires again → the same record, updated; the group resolves → the record is closed. Results can be
forwarded as JSON to a URL (`Notifier`), off the request path.

    >>> g = parse_generic({"service": "checkout", "started_at": "2026-01-01T01:12:00Z", "summary": "5xx"})[0]
    >>> g.service, g.status, g.group_key
    ('checkout', 'firing', 'generic:checkout:5xx')
"""
from __future__ import annotations

import json
import logging
import queue
import threading
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .investigations import summary_of
from .model import InterplayError, InvalidInput, TimeRange
from .model_results import FailedInvestigation, Investigation, KeptInvestigation, to_json
from .store.investigations import Investigations, summarise
from .store.telemetry import first_span_ns
from .timeutil import parse_time_ns

if TYPE_CHECKING:
    from .api import Interplay

log = logging.getLogger("interplay.alerts")

SERVICE_LABELS = ("service", "service_name", "job", "app")
LOOKBACK_NS = 3600 * 10**9  # the baseline an alert's investigation looks at, before it started
_ZERO_TIME = "0001-01-01T00:00:00Z"  # Alertmanager's "no end yet"


@dataclass(frozen=True)
class AlertGroup:
    """One group of alerts as Interplay sees it: what to investigate, from when, and its state."""

    source: str          # alertmanager | generic
    group_key: str
    status: str          # firing | resolved
    service: str | None
    started_ns: int | None
    summary: str
    labels: dict[str, str] = field(default_factory=dict)
    alerts: int = 1


# -- parsing ---------------------------------------------------------------------------------------
def parse_alertmanager(doc: Any) -> AlertGroup:
    """An Alertmanager webhook body (version 4) → its alert group; InvalidInput names the bad field."""
    if not isinstance(doc, dict):
        raise InvalidInput("body: expected an Alertmanager webhook object {version, groupKey, status, alerts, ...}")
    version = str(doc.get("version", "4"))
    if version != "4":
        raise InvalidInput(f"version {version!r}: only Alertmanager webhook version 4 is understood")
    alerts = doc.get("alerts")
    if not isinstance(alerts, list):
        raise InvalidInput("alerts: expected a list of alerts")
    for i, a in enumerate(alerts):
        if not isinstance(a, dict) or not isinstance(a.get("labels", {}), dict):
            raise InvalidInput(f"alerts[{i}]: expected an object with labels")
    status = doc.get("status") or ("firing" if any(a.get("status") == "firing" for a in alerts) else "resolved")
    if status not in ("firing", "resolved"):
        raise InvalidInput(f"status {status!r}: expected firing or resolved")
    common = _labels(doc.get("commonLabels"), "commonLabels")
    group_labels = _labels(doc.get("groupLabels"), "groupLabels")
    firing = [a for a in alerts if a.get("status", status) == "firing"] or alerts
    starts = [parse_time_ns(a["startsAt"], where=f"alerts[{i}].startsAt")
              for i, a in enumerate(firing) if a.get("startsAt") and a["startsAt"] != _ZERO_TIME]
    group_key = doc.get("groupKey") or "labels:" + json.dumps(group_labels or common, sort_keys=True)
    return AlertGroup(source="alertmanager", group_key=str(group_key), status=status,
                      service=_service(common, group_labels, [a.get("labels") or {} for a in firing]),
                      started_ns=min(starts) if starts else None,
                      summary=_alert_summary(doc, common, group_labels, len(firing)),
                      labels={**group_labels, **common}, alerts=len(alerts))


def parse_generic(doc: Any) -> list[AlertGroup]:
    """`{service, started_at, summary[, status, key]}` (or a list of them) → alert groups."""
    items = doc if isinstance(doc, list) else [doc]
    groups = []
    for i, item in enumerate(items):
        where = f"body[{i}]" if isinstance(doc, list) else "body"
        if not isinstance(item, dict):
            raise InvalidInput(f"{where}: expected an object {{service, started_at, summary}}")
        service = item.get("service")
        if not isinstance(service, str) or not service.strip():
            raise InvalidInput(f"{where}.service: required, the service that alerted")
        summary = item.get("summary") or f"alert on {service}"
        if not isinstance(summary, str):
            raise InvalidInput(f"{where}.summary: expected text")
        status = item.get("status", "firing")
        if status not in ("firing", "resolved"):
            raise InvalidInput(f"{where}.status {status!r}: expected firing or resolved")
        started = item.get("started_at")
        started_ns = parse_time_ns(started, where=f"{where}.started_at") if started not in (None, "") else None
        key = item.get("key") or f"generic:{service.strip()}:{summary}"
        groups.append(AlertGroup(source="generic", group_key=str(key), status=status, service=service.strip(),
                                 started_ns=started_ns, summary=summary))
    return groups


def _labels(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"{where}: expected an object of labels")
    return {str(k): str(v) for k, v in value.items()}


def _service(common: dict[str, str], group: dict[str, str], each: list[dict[str, Any]]) -> str | None:
    for labels in (common, group, *each):
        for name in SERVICE_LABELS:
            if labels.get(name):
                return str(labels[name])
    return None


def _alert_summary(doc: dict[str, Any], common: dict[str, str], group: dict[str, str], firing: int) -> str:
    annotations = doc.get("commonAnnotations")
    notes = annotations if isinstance(annotations, dict) else {}
    name = common.get("alertname") or group.get("alertname") or "alert"
    text = notes.get("summary") or notes.get("description") or ""
    count = f" ({firing} alerts)" if firing > 1 else ""
    return f"{name}{count}" + (f": {text}" if text else "")


# -- handling (the server runs `record` on its writer thread, `investigate` in a worker thread) ----
def record(kept: Investigations, group: AlertGroup) -> tuple[KeptInvestigation | None, str]:
    """Open, update or close the group's investigation → (record, action).

    action: opened | reopened | restarted (earlier start) | updated | resolved | ignored. The first
    three need an investigation run.
    """
    rec = kept.by_group(group.group_key)
    if group.status == "resolved":
        if rec is None:
            return None, "ignored"
        if rec.status == "resolved":
            return rec, "ignored"
        return kept.update(rec.id, status="resolved"), "resolved"
    if rec is None:
        rec = kept.create(source=group.source, service=group.service, started_ns=group.started_ns,
                          summary=f"{group.summary}: investigating", result=None, group_key=group.group_key)
        return rec, "opened"
    if rec.status == "resolved":
        return kept.update(rec.id, status="open", started_ns=group.started_ns,
                           summary=f"{group.summary}: investigating"), "reopened"
    if group.started_ns is not None and (rec.started_ns is None or group.started_ns < rec.started_ns):
        return kept.update(rec.id, started_ns=group.started_ns), "restarted"
    return kept.update(rec.id, service=rec.service or group.service), "updated"


NEEDS_RUN = ("opened", "reopened", "restarted")


def investigate(hub: Interplay, group: AlertGroup) -> Investigation | FailedInvestigation:
    """Investigate the group's service around its start; without the symptom if that fails; never raise.

    The answer is kept on the alert's record (an error instead of causes when both attempts failed)."""
    at = group.started_ns
    window = _lookback(hub, at)
    try:
        return hub.investigate(symptom=group.service, at_ns=at, window=window)
    except InterplayError as exc:
        first = str(exc)
    if group.service:
        try:
            result = hub.investigate(symptom=None, at_ns=at, window=window)
            note = f"symptom {group.service}: {first}; investigated whatever changed instead"
            return replace(result, note=note)
        except InterplayError as exc:
            first = f"{first}; without a symptom: {exc}"
    return FailedInvestigation(first)


def _lookback(hub: Interplay, at: int | None) -> TimeRange:
    """From LOOKBACK_NS before the alert, or from the first span after that.

    A window starting before the data would count empty time as baseline and make every rate
    look like a surge.
    """
    if at is None:
        return TimeRange()
    since = at - LOOKBACK_NS
    first = first_span_ns(hub.store, since)
    return TimeRange(max(since, first or since), None)


def finish(kept: Investigations, inv_id: str, group: AlertGroup,
           result: Investigation | FailedInvestigation) -> KeptInvestigation:
    """Store the result on the record (writer thread)."""
    return kept.update(inv_id, result=result, summary=summary_of(result, group.summary))


def notification(event: str, rec: KeptInvestigation) -> dict[str, Any]:
    """The JSON forwarded to --notify-url: the record and its top causes with their chains."""
    result = rec.result
    causes = [{"rank": c.rank, "service": c.service, "operation": c.operation, "summary": c.summary,
               "chain": [f"{h.service}: {h.effect}" for h in c.chain]}
              for c in (result.root_causes if result is not None else [])[:3]]
    return {"event": f"investigation.{event}", "investigation": to_json(summarise(rec)), "root_causes": causes,
            "onset": result.onset if isinstance(result, Investigation) else None}


# -- forwarding --------------------------------------------------------------------------------------
class Notifier:
    """POSTs JSON to one URL from a background thread; failures are logged, never raised."""

    def __init__(self, url: str, timeout: float = 10.0, max_pending: int = 1000) -> None:
        self.url, self.timeout = url, timeout
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=max_pending)
        self._thread = threading.Thread(target=self._run, name="interplay-notify", daemon=True)
        self._thread.start()

    def send(self, payload: dict[str, Any]) -> None:
        try:
            self._queue.put_nowait(payload)
        except queue.Full:
            log.warning("notify %s: %d notifications pending, dropping one", self.url, self._queue.qsize())

    def close(self, timeout: float = 10.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        import httpx
        with httpx.Client(timeout=self.timeout) as client:
            while (payload := self._queue.get()) is not None:
                try:
                    response = client.post(self.url, json=payload)
                    if response.status_code >= 400:
                        log.warning("notify %s: HTTP %d", self.url, response.status_code)
                except httpx.HTTPError as exc:
                    log.warning("notify %s failed: %s", self.url, exc)


_notifiers: dict[str, Notifier] = {}
_notifiers_lock = threading.Lock()


def notifier(url: str) -> Notifier:
    """The one notifier of a URL in this process."""
    with _notifiers_lock:
        if url not in _notifiers:
            _notifiers[url] = Notifier(url)
        return _notifiers[url]
