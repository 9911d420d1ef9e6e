"""Messages waiting: a consumer that falls far behind, or stops, leaves messages it never took.

The queue wait (producer end → consumer start) is measured only for the messages a consumer did
take; the ones still waiting when the data ends have no consumer span at all, and under a
consumer that stopped or fell minutes behind they are most of them. Per route (a sender's
operation and a consumer of its messages), the share of messages the consumer has not taken is
compared between the windows with a proportion test; with no baseline in time, with the other
consumers of the same messages (every consumer group of a topic reads every message).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scipy.stats import norm

from ..detect import change_point, proportion_z
from ..store import evidence
from ..store.base import Store

PER_WINDOW = 400          # messages per route and window: enough for a proportion, bounded at any scale
SURE_Z = float(norm.isf(0.01))  # the waiting share must rise this surely ...
MIN_RISE = 0.3            # ... and by this much of the messages
MIN_MESSAGES = 3          # on either side


@dataclass(frozen=True)
class QueueBacklog:
    sender: str
    operation: str          # the sender's operation that sends the messages
    consumer: str
    before: tuple[int, int]  # (messages not taken, messages) in the baseline, or of the other consumers
    after: tuple[int, int]
    waiting: int            # messages not taken in the incident, estimated over all of them
    behind_s: float         # how long the oldest of them had waited when the data ends
    z: float
    peer: bool = False

    @property
    def grew(self) -> bool:
        (kb, nb), (ki, ni) = self.before, self.after
        return (nb >= MIN_MESSAGES and ni >= MIN_MESSAGES and self.z >= SURE_Z
                and ki / ni - kb / nb >= MIN_RISE)


def deliveries(store: Store, spans_table: str) -> list[dict[str, Any]]:
    """The messages of the windows' spans and whether each consumer took them, read once for
    `queue_backlogs` and `backlog_onset`."""
    return evidence.queue_deliveries(store, spans_table, PER_WINDOW)


def queue_backlogs(rows: list[dict[str, Any]], end_ns: int, peer: bool = False) -> list[QueueBacklog]:
    """Routes whose consumer newly leaves messages untaken, strongest first (`rows`: `deliveries`;
    `end_ns`: where the data ends)."""
    by: dict[tuple[str, str, str], dict[str, list[tuple[int, bool]]]] = {}
    totals: dict[tuple[str, str, str, str], int] = {}
    for r in rows:
        key = (r["sender"], r["operation"], r["consumer"])
        by.setdefault(key, {}).setdefault(r["w"], []).append((int(r["sent_ns"]), bool(r["consumed"])))
        totals[key + (r["w"],)] = int(r["total"])
    out = []
    for key, windows in sorted(by.items()):
        after = windows.get("incident", [])
        if peer:
            before = [m for other, w in by.items() if other[:2] == key[:2] and other != key
                      for m in w.get("incident", [])]
        else:
            before = windows.get("baseline", [])
        kb, ki = sum(not c for _, c in before), sum(not c for _, c in after)
        if not after or not before:
            continue
        untaken = [t for t, c in after if not c]
        waiting = round(ki / len(after) * totals.get(key + ("incident",), len(after)))
        backlog = QueueBacklog(*key, before=(kb, len(before)), after=(ki, len(after)), waiting=waiting,
                               behind_s=(end_ns - min(untaken)) / 1e9 if untaken else 0.0,
                               z=proportion_z(kb, len(before), ki, len(after)), peer=peer)
        if backlog.grew:
            out.append(backlog)
    out.sort(key=lambda b: (-b.z, b.sender, b.operation, b.consumer))
    return out


def backlog_onset(rows: list[dict[str, Any]]) -> tuple[int, float] | None:
    """(time, strength) of the clearest turn from messages taken to messages left waiting on any
    route, over both windows (`rows`: `deliveries`); the strength is a proportion z / 4, on the
    scale of the other onsets."""
    routes: dict[tuple[str, str, str], list[tuple[int, bool]]] = {}
    for r in rows:
        routes.setdefault((r["sender"], r["operation"], r["consumer"]), []).append(
            (int(r["sent_ns"]), bool(r["consumed"])))
    best: tuple[int, float] | None = None
    for messages in routes.values():
        messages.sort()
        flags = [0.0 if c else 1.0 for _, c in messages]
        k = change_point(flags, min_segment=MIN_MESSAGES)
        if k is None:
            continue
        kb, ki = sum(flags[:k]), sum(flags[k:])
        nb, ni = k, len(flags) - k
        if ki / ni - kb / nb < MIN_RISE:
            continue
        z = proportion_z(kb, nb, ki, ni)
        if best is None or z / 4 > best[1]:
            best = (messages[k][0], z / 4)
    return best
