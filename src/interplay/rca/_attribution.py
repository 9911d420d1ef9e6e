"""Where the symptom originates: per unit of work (an entry span and its synchronous subtree),
blame its failure or its extra latency on the nodes below it, in SQL (store/unit_blame.py).

* error origin: the erroring spans with no erroring child. A CLIENT span that failed while its callee
  did not is blamed on the callee when the callee answered (an error status it passed on), and
  counts as latency when the client gave up first (a timeout: the callee's slowness is the cause);
  a CLIENT span without a callee span is blamed on the resource it called.
* latency origin: self time (duration minus the union of its children) on the critical path
  (a child is critical when no sibling is still running at its end; async children are cut off),
  compared with the baseline: a slower span is blamed on its own node, more spans than usual
  (loops, retries, fan-out) on the node that made the extra calls.

Units are sampled uniformly by hash (capped, per window) so the cost does not grow with the window.
Error blame counts failing units; latency blame is the mean excess critical self time per unit
over all sampled units (not only the slow ones: picking the slowest would favour whatever has a
heavy tail anyway).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from scipy.stats import mannwhitneyu, norm

from ..detect import z_of
from ..model import TimeRange
from ..store.base import Store
from ..store.unit_blame import GAP, UnitBlameRows, unit_blame

CAP = 1500
SURE_Z = float(norm.isf(0.01))  # a node's latency blame counts fully when its shift is this sure
__all__ = ["CAP", "GAP", "Blame", "BlameShares", "NodeBlame", "NodeShare", "Period", "attribute"]


class Period(Enum):
    """The window a unit's counts belong to (with `peer`: its failing or slowest requests, and the rest).
    The store's rows spell them 'b' and 'i'; `attribute` turns them into these once."""

    BASELINE = "b"
    INCIDENT = "i"


@dataclass
class NodeBlame:
    """One node's blame weight per kind of harm (error, latency, ...) in each period, and a trace it hurt."""

    baseline: dict[str, float] = field(default_factory=dict)
    incident: dict[str, float] = field(default_factory=dict)
    exemplar: str | None = None


@dataclass
class Blame:
    """Blame per node (service, operation, kind) and the unit counts it is relative to."""

    nodes: dict[tuple[str, str, str], NodeBlame] = field(default_factory=dict)
    units: dict[Period, dict[str, int]] = field(default_factory=dict)  # total, anomalous, sampled, ...
    # per node and period: spans, p90_self_ms, own_errors
    self_time: dict[tuple[str, str, str], dict[Period, dict[str, Any]]] = field(default_factory=dict)
    healthy_trace: str | None = None
    # node service -> [(services from the entry down to it, units it hurt, all units, entry operation)],
    # commonest first
    paths: dict[str, list[tuple[list[str], int, int, str]]] = field(default_factory=dict)
    # per node: how surely its units' latency blame shifted, 0..1 (a rank test; see `_shift_confidence`)
    latency_confidence: dict[tuple[str, str, str], float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NodeShare:
    """A node's share of the symptom's excess: of the failing requests (error) and of the extra
    latency (latency), and a trace it hurt."""

    error: float
    latency: float
    exemplar: str | None


@dataclass(frozen=True, slots=True)
class BlameShares:
    """What `_rank.blame_shares` hands on to the evidence extractors: each node's share, by
    (service, operation, kind); a node the symptom's excess was not shared with (no units to
    compare) is absent."""

    nodes: dict[tuple[str, str, str], NodeShare] = field(default_factory=dict)


def attribute(store: Store, groups: list[dict[str, Any]], baseline: TimeRange, incident: TimeRange,
              cap: int = CAP, peer: bool = False) -> Blame:
    """Blame anomalous units of the given entry groups ({service, operation, threshold_ns}).

    `peer`: no baseline in time. The windows are then one, and each group's failing and slowest
    requests (over its `p90_ns`) are compared with the rest of its own requests instead."""
    rows = unit_blame(store, [(g["service"], g["operation"], int(g["threshold_ns"] or 0),
                               int(g.get("p90_ns") or g["threshold_ns"] or 0)) for g in groups],
                      baseline, incident, cap, peer)
    blame = Blame()
    for r in rows.units:
        blame.units[Period(r["w"])] = {"total": r["total"], "anomalous": r["anom"]}
    if Period.INCIDENT not in blame.units or Period.BASELINE not in blame.units:
        return blame
    _aggregate(rows, blame)
    return blame


def _aggregate(rows: UnitBlameRows, blame: Blame) -> None:
    for r in rows.sampled:
        blame.units[Period(r["w"])].update(sampled=r["n"], error_units=r["err"], slow_units=r["slow"],
                                           slow90_units=r["slow90"])
    # Ties in weight and the engine's row order must not pick the exemplar: the trace id breaks ties
    # inside a group, and the strongest kind of blame (then its name) picks among groups.
    exemplar_weight: dict[tuple, tuple] = {}
    for r in rows.blame:
        key = (r["bs"], r["bop"], r["bk"])
        node = blame.nodes.setdefault(key, NodeBlame())
        incident = Period(r["w"]) is Period.INCIDENT
        weights = node.incident if incident else node.baseline
        weights[r["how"]] = weights.get(r["how"], 0.0) + float(r["weight"])
        if incident and (float(r["weight"]), r["how"]) > exemplar_weight.get(key, (float("-inf"), "")):
            exemplar_weight[key] = (float(r["weight"]), r["how"])
            node.exemplar = r["exemplar"]
    for r in rows.self_time:
        blame.self_time.setdefault((r["ns"], r["nop"], r["nk"]), {})[Period(r["w"])] = {
            "spans": r["n"], "p90_self_ms": round(r["p90"] / 1e6, 3), "own_errors": r["own_errors"]}
    # The services each blamed node's requests really went through, from the symptom's entry down:
    # a causal chain drawn from these is a path traces took, not a walk on the aggregate graph.
    # A path's weight is its bad requests in which the node itself failed or was slow; its entry
    # operation is the one most of those came in by.
    by_path: dict[tuple[str, str], list[tuple[int, int, int, str]]] = {}
    for r in rows.paths:
        by_path.setdefault((r["node"], r["via"]), []).append(
            (int(r["hit"]), int(r["bad"]), int(r["units"]), str(r["gop"])))
    for (name, via), ops in sorted(by_path.items()):
        entry = min(ops, key=lambda o: (-o[0], -o[1], -o[2], o[3]))[3]
        hit, bad = sum(o[0] for o in ops), sum(o[1] for o in ops)
        blame.paths.setdefault(name, []).append((via.split(" > "), hit or bad, sum(o[2] for o in ops), entry))
    for options in blame.paths.values():
        options.sort(key=lambda o: (-o[1], -o[2], len(o[0]), o[0]))
    blame.healthy_trace = rows.healthy_trace
    blame.latency_confidence = _shift_confidence(rows)


def _shift_confidence(rows: UnitBlameRows) -> dict[tuple[str, str, str], float]:
    """Per node, how surely its latency blame per unit rose: a one-sided rank test of the units
    through it, incident against baseline, as z / SURE_Z capped at 1 (1 where fewer than two
    baseline units say nothing).

    The blame is a mean excess, and a mean from a short baseline misses the rare pause (a GC, a
    noisy host) that a longer incident catches: that mean rises with no unit typically slower.
    A delay on every call shifts every unit and is sure at a few dozen calls."""
    samples: dict[tuple[str, str, str], tuple[list[float], list[float]]] = {}
    for r in rows.unit_latency:
        before, after = samples.setdefault((r["bs"], r["bop"], r["bk"]), ([], []))
        (after if Period(r["w"]) is Period.INCIDENT else before).append(float(r["weight"]))
    out = {}
    for key, (before, after) in samples.items():
        if len(before) < 2 or not after:
            out[key] = 1.0
            continue
        p = float(mannwhitneyu(after, before, alternative="greater").pvalue)
        out[key] = min(max(z_of(p) / SURE_Z, 0.0), 1.0)
    return out
