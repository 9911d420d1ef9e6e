"""Errors without span status: exception events and error logs tied to spans, per service.

Much real telemetry sets no span status: a failure shows as an exception event on the span or an
ERROR log carrying its trace and span ids. Counted per service as the share of the requests
through it (its spans in one trace) with either, and compared between the windows, so errors
some services log all day long (before the onset too) are background, not cause. Where a
service and one of its callees both surge, the callee is where the failure begins: the caller
is only reporting it; so is a caller whose calls to a callee (a service or a resource such as an
LLM provider) newly fail by their own status or code.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..detect import exact_proportion_z, proportion_z
from ..model_results import Edge, EdgeStats
from ..store import evidence
from ..store.base import Store

MIN_Z = 4.0
MIN_RISE = 0.02
ERROR_SEVERITY = 17  # OTLP SEVERITY_NUMBER_ERROR and above
ONSET_BUCKETS = 40   # the exception onset is dated to one of this many slices of the data
MIN_SIDE = 10        # spans on either side of a split before a share can be compared


@dataclass(frozen=True)
class ErrorSurge:
    service: str
    before: tuple[int, int]  # (requests through the service with a mark, requests through it)
    after: tuple[int, int]
    z: float
    reported_by_callee: bool = False  # a callee surged too: this service is likely reporting its failure
    gave_up_on: str | None = None  # the callee most of these marks are timeouts on, which worked on
    peer: bool = False  # no before: `before` is every other service's visits, `after` this one's
    given_up: int = 0  # peer: of the marks, the callers' timeouts logged while this service worked on

    @property
    def reported(self) -> bool:
        """Marks that report a failure or slowness rather than begin one: a callee's that surged too,
        or mostly the callers' timeouts on this service (its slowness as they met it, whatever
        kept it busy: a full pool waits on another callee)."""
        return self.reported_by_callee or 2 * self.given_up >= self.after[0] > 0

    def summary(self) -> str:
        (kb, nb), (ki, ni) = self.before, self.after
        if self.peer:
            timeouts = (f", {self.given_up} of them timeouts its callers logged while it worked on"
                        if self.given_up else "")
            return (f"{self.service}: exception events or error logs begin in {ki / max(ni, 1):.1%} of the "
                    f"requests through it ({ki} of {ni}{timeouts}), against {kb / max(nb, 1):.1%} in the other "
                    f"services ({kb} of {nb}), no error status on them; no before to compare with")
        return (f"{self.service}: requests through it with an exception event or an error log "
                f"{kb / max(nb, 1):.1%} → {ki / max(ni, 1):.1%} ({kb} of {nb} → {ki} of {ni}), no span status")



def error_surges(store: Store, spans_table: str, edges: list[Edge]) -> list[ErrorSurge]:
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
        if e.mode == "sync":
            callees.setdefault(e.caller, set()).add(e.callee)
            eb, ei = e.stats.get("baseline") or EdgeStats(), e.stats.get("incident") or EdgeStats()
            # failed calls, or calls retried (a refusal such as a 429 that a later try got past)
            bad_i = ei.errors + (ei.retries or 0)
            bad_b = eb.errors + (eb.retries or 0)
            if bad_i >= 5 and bad_i / max(ei.calls, 1) - bad_b / max(eb.calls, 1) >= 5 * MIN_RISE:
                failing_calls.add(e.caller)
    gave_up = _gave_up_on(store, spans_table, {svc: i[0] for svc, (_, i, _) in surged.items()}) if surged else {}
    out = [ErrorSurge(svc, b, i, z, reported_by_callee=bool(callees.get(svc, set()) & (set(surged) - {svc}))
                      or svc in failing_calls or svc in gave_up, gave_up_on=gave_up.get(svc))
           for svc, (b, i, z) in surged.items()]
    out.sort(key=lambda e: -e.z)
    return out


def _gave_up_on(store: Store, spans_table: str, marked: dict[str, int]) -> dict[str, str]:
    """Per service most of whose marked requests in the incident (`marked`: how many) stopped
    waiting for one callee that worked on: that callee. The marks are its timeouts, which report
    the callee's slowness."""
    most: dict[str, tuple[int, str]] = {}
    for r in evidence.abandoned_calls(store, spans_table, ERROR_SEVERITY):
        n, caller = int(r["marked"]), r["caller"]
        if r["w"] == "incident" and 2 * n > marked.get(caller, 0) and (n, r["callee"]) > most.get(caller, (0, "")):
            most[caller] = (n, r["callee"])
    return {caller: callee for caller, (_, callee) in most.items()}


def peer_error_origins(store: Store, spans_table: str, background_until: int | None = None) -> list[ErrorSurge]:
    """With no before to compare with: services where marked requests begin far more often than in
    the other services of the same data, strongest first.

    A mark begins in a service when none of the services it called in that trace was marked or
    failed, or worked on after it stopped waiting (else it reports that callee's failure or
    slowness). Services that log errors all day stand out
    too, so this is weaker evidence than a rise in time; where the few seconds before the onset
    already show a service's marks at half its later rate or more, they are its background and it is left out
    (`background_until`: the end of that before, where it is not the spans' own baseline window:
    an onset another reading found)."""
    origins: dict[str, dict[str, tuple[int, int]]] = {}
    # per service: visits, marked visits, visits whose caller was marked, of them marked too
    reach: dict[str, list[int]] = {}
    given_up: dict[str, int] = {}
    for r in evidence.error_mark_origins(store, spans_table, ERROR_SEVERITY, background_until):
        if int(r["n"]):
            # a caller's timeout logged while this service worked on begins here, as the callers'
            # timeouts in time do (`gave_up_on`): a mark of this service's that reached its caller
            dropped = int(r["given_up"])
            origins.setdefault(r["service"], {})[r["w"]] = (int(r["k"]) - int(r["reported"]) + dropped, int(r["n"]))
            given_up[r["service"]] = given_up.get(r["service"], 0) + dropped
            tally = reach.setdefault(r["service"], [0, 0, 0, 0])
            for j, column in enumerate(("n", "k", "caller_marked", "passed_on")):
                tally[j] += int(r[column]) + (dropped if column in ("k", "passed_on") else 0)
    total = {s: (sum(k for k, _ in w.values()), sum(n for _, n in w.values())) for s, w in origins.items()}
    k_all, n_all = sum(k for k, _ in total.values()), sum(n for _, n in total.values())
    out = []
    for service, (k, n) in sorted(total.items()):
        rest = (k_all - k, n_all - n)
        if n < MIN_SIDE or rest[1] < MIN_SIDE or k / n - rest[0] / rest[1] < MIN_RISE:
            continue
        (kb, nb), (ki, ni) = origins[service].get("baseline", (0, 0)), origins[service].get("incident", (0, 0))
        # Marked before the onset at half the rate or more is background, unless the failures reach
        # the callers: errors logged all day are caught where they happen; a fault running since
        # the data began fails its callers' requests too.
        if kb and ni and kb / nb >= 0.5 * ki / ni and not _reaches_callers(*reach[service]):
            continue
        # Callers that do fail, but no more often when this service marked the visit than when it
        # did not, meet something else: marks that change nothing for anyone are what errors logged
        # all day look like, and with no before that is all that tells them from a fault's.
        if _callers_fail_apart(*reach[service]):
            continue
        z = exact_proportion_z(rest[0], rest[1], k, n)  # a handful of marks in light traffic: exact
        if z >= MIN_Z:
            out.append(ErrorSurge(service, rest, (k, n), z, peer=True, given_up=given_up.get(service, 0)))
    out.sort(key=lambda e: (-e.z, e.service))
    return out


def _reaches_callers(visits: int, marked: int, caller_marked: int, passed_on: int) -> bool:
    """Whether a service's marks fail its callers' requests: most of its marked visits have a marked
    caller, at least twice as often as its unmarked visits do (else the caller met something else)."""
    unmarked = visits - marked
    return 2 * passed_on >= marked > 0 and (
        unmarked == 0 or passed_on / marked >= 2 * (caller_marked - passed_on) / unmarked)


def _callers_fail_apart(visits: int, marked: int, caller_marked: int, passed_on: int) -> bool:
    """Whether a service's callers fail in some of its visits, yet no more often in those it marked
    than in those it did not (where they never fail, nothing tells: a caller may handle it quietly)."""
    unmarked, apart = visits - marked, caller_marked - passed_on
    return marked > 0 and unmarked > 0 and apart > 0 and passed_on / marked <= apart / unmarked


def exception_onset(store: Store, spans_table: str, lo: int, hi: int) -> tuple[int, float, str] | None:
    """(time, strength, service) of the clearest rise in any service's share of spans with exception
    events or error logs, over the whole data; strength is the proportion z / 4 (the scale of the
    other onsets). Where no span status says a request failed, these marks are the failures, and
    the entry points may not move at all (the caller handles the exception and answers)."""
    width = max((hi - lo) // ONSET_BUCKETS, 1)
    series: dict[str, list[tuple[int, int]]] = {}
    for r in evidence.error_mark_buckets(store, spans_table, ERROR_SEVERITY, lo, width, ONSET_BUCKETS):
        counts = series.setdefault(r["service"], [(0, 0)] * ONSET_BUCKETS)
        counts[int(r["w"])] = (int(r["k"]), int(r["n"]))
    best: tuple[int, float, str] | None = None
    for service, counts in sorted(series.items()):
        k_all, n_all = sum(k for k, _ in counts), sum(n for _, n in counts)
        kb = nb = 0
        for j in range(1, ONSET_BUCKETS):
            kb, nb = kb + counts[j - 1][0], nb + counts[j - 1][1]
            ki, ni = k_all - kb, n_all - nb
            if nb < MIN_SIDE or ni < MIN_SIDE or ki / ni - kb / nb < MIN_RISE:
                continue
            z = proportion_z(kb, nb, ki, ni)
            if z >= MIN_Z and (best is None or z / 4 > best[1]):
                best = (lo + j * width, z / 4, service)
    return best
