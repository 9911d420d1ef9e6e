"""Late start: the trace recording begins seconds before the fault, as when nobody recorded a baseline.

Real datasets of this shape put the fault in the first seconds of the trace window, while metrics
(scraped all along) still cover a long stretch before it. So the simulation still runs its whole
duration (the load model and worker pools calibrate on the baseline, and metrics cover it); only the
export of spans and logs is cut. A trace is exported whole or not at all: whole when its root span
starts at or after the cut, so no trace is left half-recorded at the edge.
"""

from __future__ import annotations

import random

MAX_LEAD_S = 10.0


def trace_lead_s(topology: str, fault: str | None, seed: int) -> float:
    """Seconds between the first exported span and the onset, by seed (0-10 s, to the tenth)."""
    # Its own generator: the late case is the same simulation as its full counterpart.
    return round(random.Random(f"lead-{topology}-{fault}-{seed}").uniform(0.0, MAX_LEAD_S), 1)


class TraceWindow:
    """Which spans and log records a late export keeps: those of traces rooted at or after `cut_ns`."""

    def __init__(self, cut_ns: int):
        self.cut = cut_ns
        self.dropped: set[int] = set()  # trace ids whose root started before the cut

    def on_start(self, span) -> None:
        if span.parent is None and span.start_time < self.cut:
            self.dropped.add(span.context.trace_id)

    def keeps_span(self, span) -> bool:
        return span.context.trace_id not in self.dropped

    def keeps_log(self, record) -> bool:
        rec = record.log_record
        return rec.timestamp >= self.cut and rec.trace_id not in self.dropped
