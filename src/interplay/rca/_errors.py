"""Errors without span status: exception events and error logs tied to spans, per service.

Much real telemetry sets no span status: a failure shows as an exception event on the span or an
ERROR log carrying its trace and span ids. Counted per service as the share of its spans with
either, and compared between the windows, so errors some services log all day long (before the
onset too) are background, not cause. Where a service and one of its callees both surge, the
callee is where the failure begins: the caller is only reporting it; so is a caller whose calls to
a callee (a service or a resource such as an LLM provider) newly fail by their own status or code.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..detect import proportion_z
from ..store import evidence
from ..store.base import Store

MIN_Z = 4.0
MIN_RISE = 0.02
ERROR_SEVERITY = 17  # OTLP SEVERITY_NUMBER_ERROR and above


@dataclass(frozen=True)
class ErrorSurge:
    service: str
    before: tuple[int, int]  # (failing spans, spans)
    after: tuple[int, int]
    z: float
    reported_by_callee: bool = False  # a callee surged too: this service is likely reporting its failure

    def summary(self) -> str:
        (kb, nb), (ki, ni) = self.before, self.after
        return (f"{self.service}: spans with an exception event or an error log "
                f"{kb / max(nb, 1):.1%} → {ki / max(ni, 1):.1%} ({kb} of {nb} → {ki} of {ni}), no span status")



def error_surges(store: Store, spans_table: str, edges: list[dict[str, Any]]) -> list[ErrorSurge]:
    """Services whose spans newly carry exception events or error logs, strongest first."""
    rows = evidence.error_marks(store, spans_table, ERROR_SEVERITY)
    by: dict[str, dict[str, tuple[int, int]]] = {}
    for r in rows:
        by.setdefault(r["service"], {})[r["w"]] = (int(r["k"]), int(r["n"]))
    surged = {}
    for service, w in by.items():
        b, i = w.get("baseline", (0, 0)), w.get("incident", (0, 0))
        if b[1] < 5 or i[1] < 5:
            continue
        z = proportion_z(b[0], b[1], i[0], i[1])
        if z >= MIN_Z and i[0] / i[1] - b[0] / b[1] >= MIN_RISE:
            surged[service] = (b, i, z)
    callees: dict[str, set[str]] = {}
    failing_calls: set[str] = set()  # callers whose calls to some callee (a service or a resource) newly fail
    for e in edges:
        if e.get("mode") == "sync":
            callees.setdefault(e["caller"], set()).add(e["callee"])
            eb, ei = e["stats"].get("baseline") or {}, e["stats"].get("incident") or {}
            # failed calls, or calls retried (a refusal such as a 429 that a later try got past)
            bad_i = ei.get("errors", 0) + ei.get("retries", 0)
            bad_b = eb.get("errors", 0) + eb.get("retries", 0)
            if bad_i >= 5 and bad_i / max(ei.get("calls", 0), 1) - bad_b / max(eb.get("calls", 0), 1) >= 5 * MIN_RISE:
                failing_calls.add(e["caller"])
    out = [ErrorSurge(svc, b, i, z, reported_by_callee=bool(callees.get(svc, set()) & (set(surged) - {svc}))
                      or svc in failing_calls)
           for svc, (b, i, z) in surged.items()]
    out.sort(key=lambda e: -e.z)
    return out
