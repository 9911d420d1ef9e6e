"""The investigation pipeline: windows → graph → blame → evidence → ranked causes with chains."""
from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Any

from ..graph import interaction_graph, sample_share, window_spans
from ..model import InvalidInput, NotFound, TimeRange
from ..model_results import (
    DataCompleteness,
    EntryPoint,
    Evidence,
    EvidenceStrength,
    Exemplars,
    Explains,
    Hop,
    Investigation,
    LoadMove,
    OtherSymptom,
    RootCause,
    Signals,
    Symptom,
    Window,
    Windows,
)
from ..store import entry_points, evidence
from ..store.base import Store
from ..timeutil import format_time
from ._attribution import attribute
from ._backlog import backlog_onset, deliveries, queue_backlogs
from ._context import Context
from ._errors import ErrorSurge, error_surges, exception_onset, peer_error_origins
from ._evidence import EXTRACTORS
from ._gaps import compare_with_peers, edge_gaps, mark_tails_among_peers, queue_onset
from ._metrics import MIN_BEFORE_NS, investigate_metrics, lag_shifts, resource_shifts
from ._paths import MIN_Z as PATH_MIN_Z
from ._paths import THIN_Z as PATH_THIN_Z
from ._paths import path_onset, path_shifts, peer_path_stops, unit_paths
from ._rank import (
    GAP_SYMPTOM,
    STRENGTH_CAP,
    blame_shares,
    causal_chain,
    fuse_other_symptoms,
    hand_back_load,
    hand_back_waiting,
    other_symptoms,
)
from ._surge import rate_surges
from ._windows import SYSTEM_ENTRY, UNIT, Group, anomalous_groups, data_range, find_onset, parse_symptom, peer_groups

MAX_CAUSES = 8
SAMPLE_SPANS = 300_000  # window-wide statistics read about this many spans, whole traces by hash
REFINE_BEFORE_NS = 5 * 60 * 10**9  # a given onset is moved to a clearer shift at most this much earlier
REFINE_AFTER_NS = 60 * 10**9       # ... or this much later
MIN_BASELINE_S = 60  # a shorter baseline is said to be short
# With less trace baseline than this, requests are compared with their peers instead: a few seconds
# of requests before the onset is no before at all (5 s and 15 s did alike on real cuts; 15 s a little
# better on the simulated late-start corpus).
PEER_BELOW_NS = 15 * 10**9
# A change inside that moved no entry point, found after less before than this, may be a batch job or
# a neighbour beside a fault already running when the data begins (tried on befores of 30 s to 2 min).
INSIDE_ONLY_BEFORE_NS = 5 * 60 * 10**9
INSIDE_ONE_SERVICE = 0.75  # ... unless one service holds this share of the blame for that change
LOCALISED = 0.5  # a change whose likeliest cause holds less of it is explained by no one service
# With less trace baseline than this, how often each service was called before the onset is read off
# its request metrics too, where the traces' own rates found no surge (a few minutes of light traffic
# hold too few calls to call a rise sure).
METRIC_RATES_BELOW_NS = 5 * 60 * 10**9
PATH_SHIFT = 2.0   # a drop in calls per request this strong dates the onset when the entry points are quieter
PEER_GAP_WEIGHT = 0.5  # a gap standing out from its peers, against a change in time
QUEUE_SHIFT = 3.0  # a queue's wait shift this strong dates the onset when the entry points are quieter
UNIT_SHIFT = 2.0  # ... and so does a service's own requests' shift this strong
EXCEPTION_SHIFT = 1.0  # ... and so does a rise in a service's exception events or error logs
# A change whose second half shifted less than this share of its first half did not last.
LASTING_SHARE = 0.5
# A change to the service first blamed this close to the onset dates it (minutes before / after).
CHANGE_BEFORE_MIN, CHANGE_AFTER_MIN = 5.0, 2.0
BONUS_TYPES = ("change", "log_template", "metric_shift", "saturation")


def investigate(store: Store, symptom: str | None = None, at_ns: int | None = None,
                window: TimeRange = TimeRange()) -> Investigation:
    """Rank root causes of the symptom (or of whatever entry points went wrong) around the onset."""
    span_range = data_range(store, window)
    if span_range is None:
        return investigate_metrics(store, symptom, at_ns, window)
    return _investigate(store, span_range, parse_symptom(symptom), at_ns)


def _investigate(store: Store, span_range: tuple[int, int], wanted: Group | None, at_ns: int | None,
                 dated_by: str | None = None) -> Investigation:
    began = time.perf_counter()
    result = _investigate_at(store, span_range, wanted, at_ns, dated_by)
    mine = result.evidence_strength
    assert mine is not None  # from traces: always said
    strength = _strongest(mine)
    faded = None
    if (at_ns is None and mine.rankable and strength < STRENGTH_CAP and strength <= mine.symptom
            and not _lasted(store, span_range, result)):
        # A change that went away again while the data runs on (a batch job's run, a burst) dates
        # no fault: faults last until someone acts. Nothing is clear then, and the readings below
        # weigh it so. Only a change of the entry points themselves: a queue's lag or an edge's gap
        # that is the clearest is read for what it is.
        faded = (f"the change at {result.onset} (strength {strength:.2f}) did not last: in the second half of "
                 "the time since, it is mostly gone")
        mine = replace(mine, rankable=False, note="; ".join(filter(None, [mine.note, faded])))
        result = replace(result, evidence_strength=mine)
    # Given the onset, the second reading is for when the first has nothing to rank: a short
    # before (a minute of light traffic) can hold too few requests to show any change at all.
    # A reading whose only change is inside (no entry point moved, nothing else behind it) explains
    # something users did not meet: worth a second look even at an onset given.
    # Only after a short before: minutes of it, with the entry points as they are after, are a before.
    # Unless one service's own work holds most of what changed inside: that is a fault there, not
    # the ripple of something running all along (ripples spread over the services requests pass).
    inside_only = (wanted is None and mine.rankable and not mine.other_symptoms and strength < STRENGTH_CAP
                   and mine.baseline_seconds * 1e9 < INSIDE_ONLY_BEFORE_NS
                   and not (result.root_causes and result.root_causes[0].score >= INSIDE_ONE_SERVICE)
                   and _entry_points_quiet(store, span_range, result))
    if (at_ns is None or not mine.rankable or inside_only) and strength < STRENGTH_CAP:
        # Two readings of the data: something changed at the onset found, or the fault was already
        # running when the data begins (then that "onset" splits the fault in two, and the change
        # found there is noise). Compare requests and edges with their peers too, and keep the
        # reading with the stronger evidence. Only peer evidence of its own counts (an edge or a
        # resource that stands out): the slow tenth of requests alone differs from the rest in
        # some service in any data. Past the cap nothing can be stronger: no second look.
        # marks that were there before the onset found, as often, are background in either reading;
        # a detected onset where nothing changed is noise: then only the data's first seconds are a before
        before_ends = result.windows.incident.since_ns
        if at_ns is None and not mine.rankable and before_ends is not None:
            before_ends = min(before_ends, span_range[0] + PEER_BELOW_NS)
        peer = _investigate_at(store, span_range, wanted, span_range[0], peer=True, background_until=before_ends)
        theirs = peer.evidence_strength
        assert theirs is not None
        # requests that stop after one answer while their peers go on may be the code's own branch:
        # they order the peers' guess, they do not stand out from the peers
        others = [o for o in theirs.other_symptoms if o.kind != "path"]
        # A gap that stands out from its peers is weaker evidence of a fault running since the data
        # began than a change in time is of one at the onset: healthy edges differ by nature (a far
        # proxy, a busy sidecar, all day long), as services that log errors all day stand out too.
        standing_out = max((o.strength * (PEER_GAP_WEIGHT if o.kind == GAP_SYMPTOM else 1.0) for o in others),
                           default=0.0)
        if peer.root_causes and others and standing_out > strength:
            if mine.rankable or at_ns is not None or faded:
                why = (f"{faded}; what stands out from its peers over the whole data (strength "
                       f"{standing_out:.2f}) is ranked instead" if faded else
                       f"at the onset given, {result.onset}, nothing changed clearly (strength {strength:.2f}); "
                       f"what stands out from its peers over the whole data (strength {standing_out:.2f}) is "
                       "ranked instead, with marks already there before that onset taken as background"
                       if at_ns is not None else
                       f"a change at {result.onset} (strength {strength:.2f}) was weaker than what stands out "
                       f"from the data's start (strength {standing_out:.2f}): read as a fault already running "
                       "when the data begins")
                note = "; ".join(filter(None, [theirs.note, why]))
                peer = replace(peer, evidence_strength=replace(theirs, note=note))
            result = peer
        elif inside_only and peer.root_causes and theirs.symptom >= 1.0:
            # The change moved no entry point: only some service's own requests inside did (a batch
            # job, a noisy neighbour), with nothing else behind it. Meanwhile the entry points'
            # requests lie far out of line with their peers over the whole data: what users meet
            # was there before that change, so that is what to explain (not requests cut short).
            if len(theirs.other_symptoms) > len(others):
                peer = _investigate_at(store, span_range, wanted, span_range[0], peer=True,
                                       background_until=before_ends, guess_by_stops=False)
                theirs = peer.evidence_strength
                assert theirs is not None
            where = f"at the onset given ({result.onset})" if at_ns is not None else f"at {result.onset}"
            note = "; ".join(filter(None, [theirs.note, (
                f"the change {where} (strength {strength:.2f}) moved no entry point, while the entry points' "
                "requests stand far out of line over the whole data: read as a fault already running when "
                "the data begins")]))
            result = replace(peer, evidence_strength=replace(theirs, note=note))
        elif (at_ns is None and mine.rankable and not mine.other_symptoms
              and (mine.baseline_seconds < MIN_BASELINE_S
                   or (others and mine.baseline_seconds * 1e9 < INSIDE_ONLY_BEFORE_NS))
              and result.root_causes and peer.root_causes and result.root_causes[0].score < LOCALISED
              and peer.root_causes[0].score > result.root_causes[0].score):
            # A change of the entry points alone, dated within the data's first minute, that no one
            # service explains: what changed is spread thin, as where the seconds before already
            # held the fault. Compared with their peers, the requests put more of it on one
            # service: that is the reading. So it is after a few minutes of before where something
            # stands out from its peers on its own (an edge, a resource), if weaker than the change.
            note = "; ".join(filter(None, [theirs.note, (
                f"the change at {result.onset} (strength {strength:.2f}), {mine.baseline_seconds:.0f} s into the "
                f"data, is explained by no one service (the likeliest holds {result.root_causes[0].score:.0%} of "
                "it), while compared with their peers the requests point at one more clearly: read as a fault "
                "already running when the data begins")]))
            result = replace(peer, evidence_strength=replace(theirs, note=note))
        elif ((at_ns is None or mine.baseline_seconds * 1e9 < PEER_BELOW_NS) and peer.root_causes
              and not mine.rankable and not mine.other_symptoms and not _changed_at_onset(result)):
            # Neither reading has evidence of its own. Data someone investigates usually holds a
            # fault, and with no change in it anywhere, it most likely holds the fault throughout:
            # the peers' order is the better guess, and still said to be one. So it is at an onset
            # given in the data's first seconds, where the symptom's own requests were too few to
            # compare with their peers: the seconds before it are no before.
            nothing = ("nothing changed clearly anywhere and" if at_ns is None else
                       f"the {mine.baseline_seconds:.0f} s before the onset given are no before, and")
            stands = (f"what stands out from its peers (strength {standing_out:.2f}) is no surer" if others
                      else "nothing stands out from its peers")
            note = "; ".join(filter(None, [theirs.note, (
                f"{faded + ';' if faded else nothing} {stands}: the evidence is too thin to rank, the order "
                "below (requests compared with their peers) is a guess")]))
            result = replace(peer, evidence_strength=replace(theirs, rankable=False, note=note))
    return replace(result, seconds=round(time.perf_counter() - began, 3))


def _investigate_at(store: Store, span_range: tuple[int, int], wanted: Group | None, at_ns: int | None,
                    dated_by: str | None = None, peer: bool = False,
                    background_until: int | None = None,
                    dated_groups: list[dict[str, Any]] | None = None, guess_by_stops: bool = True) -> Investigation:
    lo, hi = span_range
    if peer:
        onset = lo
        onset_source = "the data's start (read as a fault already running then: requests compared with their peers)"
        groups = peer_groups(store, TimeRange(lo, hi), [wanted] if wanted else None) \
            or peer_groups(store, TimeRange(lo, hi), None, scope=UNIT)
    elif dated_by:
        assert at_ns is not None  # the redated onset
        onset, onset_source = at_ns, f"detected from {dated_by}"
        groups = dated_groups or anomalous_groups(store, TimeRange(lo, onset), TimeRange(onset, hi), None)[:1]
    else:
        onset, groups, onset_source = _symptom(store, lo, hi, wanted, at_ns)
    given_at_start = at_ns is not None and not peer and not dated_by and any(g.get("peer") for g in groups)
    peer = peer or any(g.get("peer") for g in groups)
    trace_baseline = TimeRange(lo, onset)
    # With no trace baseline the time before the onset still holds what reaches further back
    # (metrics, changes); spans there are simply absent.
    baseline = TimeRange(onset - max(hi - lo, 10 * 60 * 10**9), onset) if peer else trace_baseline
    incident = TimeRange(onset, hi)
    ctx = Context(store, baseline, incident, onset, groups, peer=peer)
    windows = {"baseline": trace_baseline, "incident": incident}  # spans; metrics may reach further back
    share = sample_share(store, windows, SAMPLE_SPANS)
    with window_spans(store, windows, share) as sampled:  # read once for both
        ctx.graph = interaction_graph(store, windows=windows, sample=share, spans_table=sampled)
        completeness = data_completeness(store, baseline, incident, share, spans_table=sampled)
        ctx.gaps = edge_gaps(store, sampled)
        call_ms = {(e.caller, e.callee): float(e.stats["incident"].p50_ms)
                   for e in ctx.graph.edges if e.mode == "sync" and "incident" in e.stats}
        (compare_with_peers if peer else mark_tails_among_peers)(ctx.gaps, call_ms)
        messages = deliveries(store, sampled)
        ctx.backlogs = queue_backlogs(messages, hi, peer=peer)
        ctx.errors = error_surges(store, sampled, ctx.graph.edges)
        if peer:  # too little before to trust a rise alone: where marks begin, against the peers, too
            ctx.errors = _stronger_per_service(ctx.errors, peer_error_origins(store, sampled, background_until))
        with unit_paths(store, sampled) as units:
            shifts = path_shifts(store, units, min_z=PATH_THIN_Z)
            ctx.paths = [p for p in shifts if p.z >= PATH_MIN_Z]
            if peer and guess_by_stops:
                # with no before, requests split into those taking the whole path and those
                # stopping right after one answer are all the call paths can say
                ctx.paths = peer_path_stops(store, sampled)
            thin_paths = [p for p in shifts if p.z < PATH_MIN_Z]  # counted only where nothing is clear
            if not peer and guess_by_stops and not shifts and _strength(groups) < 1.0:
                # too few requests before to compare paths with: those after, split among
                # themselves, as thin as a path shift counts (they order a guess, never make it clear)
                thin_paths = [replace(p, z=min(p.z, PATH_THIN_Z)) for p in peer_path_stops(store, sampled)]
            redate = None
            if at_ns is None and wanted is None and not dated_by and not peer:
                redate = _redate(store, units, sampled, messages, span_range, ctx, groups)
            elif at_ns is not None and given_at_start and wanted is None:
                redate = _paths_after(store, units, at_ns)
    if redate:
        # the entry points barely moved, but requests of some service suddenly make fewer calls (a
        # code fault cutting paths short), a queue fell far behind, or some service's own requests
        # shifted far more clearly: investigate again from then
        return _investigate_at(store, span_range, wanted, redate[0], dated_by=redate[1], dated_groups=redate[2])
    ctx.services = {n.id for n in ctx.graph.nodes if n.kind == "service"}
    # the services' own metrics, read once, reaching back as far as they go (past the traces' before)
    points = evidence.metric_points(store, TimeRange(onset - max(hi - lo, MIN_BEFORE_NS), hi))
    ctx.resources = resource_shifts(points, onset, ctx.services)
    ctx.lags = lag_shifts(points, onset, ctx.services)
    if onset - lo < METRIC_RATES_BELOW_NS:
        ctx.surges = rate_surges(store, TimeRange(onset - max(hi - lo, MIN_BEFORE_NS), onset), incident)
    if groups:
        ctx.blame = attribute(store, groups, baseline, incident, peer=peer)
    if thin_paths and max([_strength(groups)] + [w for w, _, _ in other_symptoms(ctx)]) < 1.0:
        ctx.paths = thin_paths  # nothing is clear: the ranking is a guess, these are the likeliest
    shares, node_shares = blame_shares(ctx)
    load_moves = hand_back_waiting(ctx, shares) + hand_back_load(ctx, shares)
    fuse_other_symptoms(ctx, shares)
    found = [e for extract in EXTRACTORS for e in extract(ctx, node_shares)]
    causes = _name_agent_runs(store, _rank(ctx, shares, found), incident)
    return Investigation(
        symptom=_symptom_summary(wanted, groups),
        onset=format_time(onset),
        onset_source=onset_source,
        windows=Windows(window_of(baseline), window_of(incident)),
        method="traces",
        root_causes=causes,
        load_moves=[LoadMove(m["from"], m["to"], m["share"], m.get("why")) for m in load_moves],
        data_completeness=completeness,
        evidence_strength=_evidence_strength(ctx, trace_baseline),
        exemplars=Exemplars(causes[0].exemplar_trace if causes else None, ctx.blame.healthy_trace),
    )


def _entry_points_quiet(store: Store, span_range: tuple[int, int], reading: Investigation) -> bool:
    """Whether no entry point shifted clearly (strength 1) at the reading's onset."""
    onset = reading.windows.incident.since_ns
    assert onset is not None  # a reading from traces always has its onset
    moved = anomalous_groups(store, TimeRange(span_range[0], onset), TimeRange(onset, span_range[1]), None)
    return _strength(moved) < 1.0


def _lasted(store: Store, span_range: tuple[int, int], reading: Investigation) -> bool:
    """Whether the reading's symptom, if it shifted clearly in the first half of its incident window,
    still shifted in the second (each against the same before; the halves hold alike few requests,
    so a shift on light traffic is not read as gone for being counted over half the time)."""
    onset, hi = reading.windows.incident.since_ns, span_range[1]
    assert onset is not None  # a reading from traces always has its onset
    mid = onset + (hi - onset) // 2
    before = TimeRange(span_range[0], onset)
    wanted = [Group(e.service, e.operation) for e in reading.symptom.entry_points]
    for scope in (SYSTEM_ENTRY, UNIT):  # the symptom is entry points or, where they stayed put, units
        first = anomalous_groups(store, before, TimeRange(onset, mid), wanted, scope=scope)
        second = anomalous_groups(store, before, TimeRange(mid, hi), wanted, scope=scope)
        if first or second:
            early, late = _strength(first), _strength(second)
            return early < 1.0 or late >= 1.0 or late >= LASTING_SHARE * early
    return True


def _changed_at_onset(reading: Investigation) -> bool:
    """Whether the service a reading blames first was changed (a deploy, a config change, a new
    version) shortly before its onset, or as it began: then that onset is no noise, even where the
    change it made is too faint to rank (a handful of failures on light traffic), and the reading
    is a better guess than the peers' order."""
    top = reading.root_causes[0] if reading.root_causes else None
    return top is not None and any(
        e.type == "change" and -CHANGE_AFTER_MIN <= e.details.get("minutes_before_onset", math.inf) <= CHANGE_BEFORE_MIN
        for e in top.evidence)


def _stronger_per_service(*readings: list[ErrorSurge]) -> list[ErrorSurge]:
    """Per service, the surge of marks with the larger z over the readings given."""
    best: dict[str, ErrorSurge] = {}
    for e in (e for reading in readings for e in reading):
        if e.service not in best or e.z > best[e.service].z:
            best[e.service] = e
    return sorted(best.values(), key=lambda e: (-e.z, e.service))


def _name_agent_runs(store: Store, causes: list[RootCause], incident: TimeRange, top: int = 3,
                     limit: int = 20) -> list[RootCause]:
    """Name the agent runs that pass through each leading cause in the incident window.

    An agent whose loop is the cause, or agent runs failed by a backend that is, are what a reader
    needs to open next; `agent_runs` lists their ids (run id = trace_id:agent span id).
    """
    from ..agents.boundary import runs_touching_each
    touching = runs_touching_each(store, list(dict.fromkeys(c.service for c in causes[:top])), incident, limit=limit)
    return [replace(cause, agent_runs=touching[cause.service])
            if i < top and touching.get(cause.service) else cause for i, cause in enumerate(causes)]


def _symptom(store: Store, lo: int, hi: int, wanted: Group | None,
             at_ns: int | None) -> tuple[int, list[dict[str, Any]], str]:
    """The onset, the entry groups that make up the symptom (each with its p99 threshold), and
    where the onset came from: 'detected', 'given', or 'refined' (a clearer shift close before
    the given time: alerts and reports lag the moment things went wrong)."""
    _check_request(store, lo, hi, wanted, at_ns)
    if at_ns is not None and at_ns - lo < PEER_BELOW_NS:
        # the fault was already running when the data begins: nothing before it to compare with
        groups = peer_groups(store, TimeRange(lo, hi), [wanted] if wanted else None)
        if not groups and wanted is None:
            groups = peer_groups(store, TimeRange(lo, hi), None, scope=UNIT)
        if groups:
            return max(at_ns, lo), groups, "given (no baseline: requests compared with their peers)"
    if at_ns is None:
        onset, groups = _detect(store, lo, hi, wanted, None)
        return onset, groups, "detected"
    onset, groups = _detect(store, lo, hi, wanted, at_ns)
    # never to where the before would be too short to be one (then the data's start is the onset
    # read as a fault already running, above)
    near_lo = max(lo + PEER_BELOW_NS, at_ns - REFINE_BEFORE_NS)
    near_hi = min(hi, at_ns + REFINE_AFTER_NS)
    try:
        seen, seen_groups = _detect(store, lo, hi, wanted, None)
    except NotFound:
        return onset, groups, "given"
    if near_lo <= seen < near_hi and seen != onset and _strength(seen_groups) > 1.5 * max(_strength(groups), 0.5):
        return seen, seen_groups, "refined"
    return onset, groups, "given"


def _redate(store: Store, units: str, spans: str, messages: list[dict[str, Any]], span_range: tuple[int, int],
            ctx: Context, groups: list[dict[str, Any]]) -> tuple[int, str, list[dict[str, Any]]] | None:
    """A clearer onset than the entry points give: from call paths, queue waits, exception marks,
    messages left waiting or a service's own requests, if strong enough; with the requests that
    changed there when they, not the entry points, are the symptom."""
    # Call paths and queue waits are indirect (a shift in them need not be a failure): they must be
    # twice as clear as the entry points. Exception events and error logs are the failures
    # themselves where no span status says so: clearer is enough.
    symptom = _strength(groups)
    candidates: list[tuple[float, int, str, list[dict[str, Any]]]] = []
    path = path_onset(store, units)
    if path and path[1] >= PATH_SHIFT and path[1] > 2 * symptom:
        candidates.append((path[1], path[0], "call paths", []))
    queue = queue_onset(ctx.gaps)
    if queue and queue[1] >= QUEUE_SHIFT and queue[1] > 2 * symptom:
        candidates.append((queue[1], queue[0], "queue waits", []))
    marks = exception_onset(store, spans, *span_range)
    if marks and marks[1] >= EXCEPTION_SHIFT and marks[1] > symptom:
        candidates.append((marks[1], marks[0], f"exception events and error logs in {marks[2]}", []))
    # messages left untaken are the failure itself, as exceptions are: clearer is enough
    backlog = backlog_onset(messages)
    if backlog and backlog[1] >= EXCEPTION_SHIFT and backlog[1] > symptom:
        candidates.append((backlog[1], backlog[0], "messages left waiting", []))
    # A service's own requests that shifted far more clearly than the entry points: where a few of
    # the entry points' requests pass that service, their change is dated by noise.
    unit_onset, unit_group, _ = find_onset(store, *span_range, None, scope=UNIT)
    if unit_group is not None and unit_onset != ctx.onset_ns:
        inside = anomalous_groups(store, TimeRange(span_range[0], unit_onset), TimeRange(unit_onset, span_range[1]),
                                  [unit_group], scope=UNIT)
        if inside and inside[0]["score"] >= UNIT_SHIFT and inside[0]["score"] > 2 * symptom:
            candidates.append((inside[0]["score"], unit_onset,
                               f"the own requests of {unit_group.service} {unit_group.operation or ''}".rstrip(),
                               inside[:1]))
    best = max(candidates, default=None, key=lambda c: (c[0], c[1]))
    return (best[1], best[2], best[3]) if best else None


def _paths_after(store: Store, units: str, at_ns: int) -> tuple[int, str, list[dict[str, Any]]] | None:
    """At an onset given in the data's first seconds there is no before: requests are compared with
    their peers. Call paths cut short have no such reading (all requests alike stop early). Where
    the call paths themselves fall clearly within REFINE_AFTER_NS after the time given, with enough
    requests before it to compare (busy traffic leaves dozens in seconds), that is the onset."""
    path = path_onset(store, units)
    if path and path[1] >= PATH_SHIFT and at_ns <= path[0] < at_ns + REFINE_AFTER_NS:
        return path[0], "call paths, seconds after the onset given", []
    return None


def _strength(groups: list[dict[str, Any]]) -> float:
    return max((g["score"] for g in groups), default=0.0)


def _check_request(store: Store, lo: int, hi: int, wanted: Group | None, at_ns: int | None) -> None:
    """A time outside the data or a symptom with no requests is a mistake to report, not an
    empty window to rank noise in."""
    # A fault that began shortly before the data did is the common case of a window exported
    # around an alert; a time further off than the data is long is a mistake.
    if at_ns is not None and not lo - (hi - lo) <= at_ns < hi:
        raise InvalidInput(f"--at {format_time(at_ns)} is outside the data ({format_time(lo)} to "
                           f"{format_time(hi)}): nothing before or after it to compare")
    if wanted is not None:
        if not entry_points.has_requests(store, lo, hi, wanted.service, wanted.operation):
            raise NotFound(f"symptom {wanted.label()!r}: no requests of it in the data "
                           f"({format_time(lo)} to {format_time(hi)}); `interplay services` lists what there is")


def _detect(store: Store, lo: int, hi: int, wanted: Group | None,
            at_ns: int | None) -> tuple[int, list[dict[str, Any]]]:
    given = [wanted] if wanted else None
    onset = at_ns if at_ns is not None else find_onset(store, lo, hi, given)[0]
    groups = anomalous_groups(store, TimeRange(lo, onset), TimeRange(onset, hi), given)
    if wanted:
        return onset, [g for g in groups if g["score"] >= 0.5] or groups
    if not groups or groups[0]["score"] < 1.0:
        # the entry points barely moved: look inside, at every service's requests
        if at_ns is None:
            onset = find_onset(store, lo, hi, None, scope=UNIT)[0]
        groups = anomalous_groups(store, TimeRange(lo, onset), TimeRange(onset, hi), None, scope=UNIT)
    chosen = [g for g in groups if g["score"] >= 1.0] or groups[:1]
    if at_ns is None and chosen and chosen[0]["score"] >= 1.0:  # a faint group's change point is noise
        # date the onset again on the chosen entry points together: a weak shift spread over
        # several of them is clearer pooled than in the one group that happened to look strongest
        pooled = [Group(g["service"], g["operation"]) for g in chosen]
        onset2 = find_onset(store, lo, hi, pooled, pooled=True)[0]
        if onset2 != onset:
            regroup = {(g["service"], g["operation"]): g for g in
                       anomalous_groups(store, TimeRange(lo, onset2), TimeRange(onset2, hi), pooled)}
            moved = [regroup[k] for k in ((g["service"], g["operation"]) for g in chosen) if k in regroup]
            if moved and sum(g["score"] for g in moved) > sum(g["score"] for g in chosen):
                onset, chosen = onset2, moved
    return onset, chosen


def _rank(ctx: Context, shares: dict[str, dict[str, Any]], found: list[Evidence]) -> list[RootCause]:
    by_service: dict[str, list[Evidence]] = {}
    for e in found:
        by_service.setdefault(e.service, []).append(e)
    candidates = set(shares) | {s for s, ev in by_service.items()
                                if any(e.type in BONUS_TYPES and e.weight > 0 for e in ev)}
    ranked = []
    for name in candidates:
        s = shares.get(name, {"score": 0.0, "error": 0.0, "latency": 0.0, "kind": "service", "operations": []})
        ev = by_service.get(name, [])
        bonus = min(sum(e.weight for e in ev if e.type in BONUS_TYPES), 0.1)
        score = s["score"] + (bonus if s["score"] >= 0.02 else 0.3 * bonus)
        if score <= 0.001:
            continue
        ranked.append((score, name, s, ev))
    ranked.sort(key=lambda r: (-r[0], r[1]))
    symptom_services = {g["service"] for g in ctx.groups}
    out = []
    for rank, (score, name, s, ev) in enumerate(ranked[:MAX_CAUSES], 1):
        op = s["operations"][0][1] if s["operations"] else None
        exemplar = s["operations"][0][2] if s["operations"] else None
        effect = _effect(name, s, ev)
        kind = s.get("kind", "service") if name not in ctx.services else "service"
        out.append(RootCause(
            rank=rank, service=name, operation=op, kind=kind, score=round(score, 4), summary=effect,
            explains=Explains(errors=round(s.get("error", 0.0), 4), latency=round(s.get("latency", 0.0), 4),
                              load=round(s.get("load", 0.0), 4), call_paths=round(s.get("path", 0.0), 4),
                              queue_lag=round(s.get("lag", 0.0), 4), exceptions=round(s.get("exceptions", 0.0), 4),
                              resources=round(s.get("resources", 0.0), 4)),
            chain=_chain(ctx, name, effect, symptom_services,
                         by_paths=s.get("path", 0.0) > s.get("error", 0.0) + s.get("latency", 0.0)),
            evidence=sorted(ev, key=_strongest_first)[:12],
            exemplar_trace=exemplar))
    return out


def _effect(name: str, s: dict[str, Any], ev: list[Evidence]) -> str:
    ev = sorted(ev, key=_strongest_first)  # max() keeps the first of equals
    for field, kind in (("path", "path_shift"), ("lag", "queue_lag"), ("exceptions", "exception_surge"),
                        ("resources", "resource_shift")):
        if s.get(field, 0.0) > max(s.get("error", 0.0), s.get("latency", 0.0), s.get("load", 0.0)):
            own = [e for e in ev if e.type == kind]
            if own:
                return max(own, key=lambda e: e.weight).summary
    if s.get("load", 0.0) > max(s.get("error", 0.0), s.get("latency", 0.0)):
        surge = [e for e in ev if e.type == "rate_shift"]
        return f"{name}: sends a surge of calls" + (f" ({surge[0].summary})" if surge else "")
    kind = "error_origin" if s.get("error", 0.0) >= s.get("latency", 0.0) else "self_time"
    own = [e for e in ev if e.type == kind]
    if own:
        return max(own, key=lambda e: e.weight).summary  # the operation that explains the most
    other = [e for e in ev if e.weight > 0]
    return max(other, key=lambda e: e.weight).summary if other else f"{name}: anomalous"


def _strongest_first(e: Evidence) -> tuple[float, str, str]:
    """Evidence by weight, heaviest first; ties in a fixed order (by type, then summary) on every engine."""
    return -e.weight, e.type, e.summary


def _chain(ctx: Context, name: str, effect: str, symptom_services: set[str],
           by_paths: bool = False) -> list[Hop]:
    chain = causal_chain(ctx, name, effect, symptom_services, by_paths)
    out = []
    for hop in chain:
        entry = hop.get("entry_operation")
        mine = [g for g in ctx.groups if g["service"] == hop["service"]]
        g = next((g for g in mine if g["operation"] == entry), mine[0] if mine else None)
        operation, effect = hop["operation"], hop["effect"]
        if g and hop is chain[-1] and len(chain) > 1:
            b, i = g["baseline"], g["incident"]
            operation = g["operation"]
            effect = (f"{g['service']} {g['operation']}: errors {b['error_rate']:.1%} → "
                      f"{i['error_rate']:.1%}, p90 {b['p90_ms']:.0f} ms → {i['p90_ms']:.0f} ms")
        out.append(Hop(hop["service"], operation, effect, hop.get("traces")))
    return out


def _strongest(evidence_strength: EvidenceStrength) -> float:
    """The strongest shift an investigation saw: its symptom's or any other symptom's."""
    return max([evidence_strength.symptom] + [o.strength for o in evidence_strength.other_symptoms])


def _evidence_strength(ctx: Context, baseline: TimeRange) -> EvidenceStrength:
    """How much there was to compare, and whether it is enough to rank: said plainly when not."""
    seconds = max((baseline.until_ns or 0) - (baseline.since_ns or 0), 0) / 1e9
    symptom = max((g["score"] for g in ctx.groups), default=0.0)
    others = [OtherSymptom(kind, suspect, round(w, 3)) for w, suspect, kind in other_symptoms(ctx)]
    strongest = max([symptom] + [o.strength for o in others])
    notes = []
    if ctx.peer:
        notes.append(f"no baseline: the traces begin {seconds:.0f} s before the onset, so each entry point's "
                     "failing and slowest tenth of requests were compared with the rest of its own requests")
        failing = [f"{g['service']} {g['operation']}" for g in ctx.groups if g.get("fails_far_more")]
        if failing:
            notes.append(f"only {', '.join(failing)}: {'it fails' if len(failing) == 1 else 'they fail'} far more "
                         "often than the other entry points (their slow tenth is background)")
    elif seconds < MIN_BASELINE_S:
        notes.append(f"the baseline before the onset is only {seconds:.0f} s long: every comparison rests on "
                     f"few requests")
    if strongest < 1.0:
        notes.append("nothing changed clearly at the onset (strongest shift "
                     f"{strongest:.2f}, 1 is clear): the evidence is too thin to rank, the order below is a guess")
    return EvidenceStrength(baseline_seconds=round(seconds, 1), symptom=round(symptom, 3), other_symptoms=others,
                            rankable=strongest >= 1.0, note="; ".join(notes) or None)


def _symptom_summary(wanted: Group | None, groups: list[dict[str, Any]]) -> Symptom:
    strength = max((g["score"] for g in groups), default=0.0)
    return Symptom(given=wanted.label() if wanted else None,
                   # below ~1 the symptom barely moved: the ranking then explains noise
                   shift_strength=round(strength, 3), significant=strength >= 1.0,
                   entry_points=[EntryPoint(g["service"], g["operation"], g["baseline"], g["incident"])
                                 for g in groups])


def window_of(w: TimeRange) -> Window:
    """A window as an investigation reports it: RFC 3339 and nanoseconds."""
    return Window(format_time(w.since_ns), format_time(w.until_ns), w.since_ns, w.until_ns)


def data_completeness(store: Store, baseline: TimeRange, incident: TimeRange,
                      share: float = 1.0, spans_table: str | None = None) -> DataCompleteness:
    """What evidence was there to look at: signals present, and how many traces are whole.

    With share < 1, trace counts are estimated from that share of traces (chosen by hash).
    `spans_table`: the same spans, already read by `graph.window_spans`."""
    lo, hi = baseline.since_ns, incident.until_ns
    rng = TimeRange(lo, hi)
    if spans_table is None:
        with window_spans(store, {"all": rng}, share) as table:
            return data_completeness(store, baseline, incident, share, table)
    t = evidence.trace_completeness(store, spans_table)
    counts = evidence.signal_counts(store, rng)
    scale = 1.0 / share
    traces = int((t["traces"] or 0) * scale)
    return DataCompleteness(
        traces=traces, spans=int((t["spans"] or 0) * scale), complete_traces=int((t["complete"] or 0) * scale),
        estimated=share < 1.0, complete_share=round((t["complete"] or 0) / t["traces"], 4) if t["traces"] else 0.0,
        logs=counts["logs"], metric_points=counts["metrics"], changes=counts["changes"],
        signals=Signals(traces=traces > 0, logs=counts["logs"] > 0, metrics=counts["metrics"] > 0,
                        changes=counts["changes"] > 0))
