"""Failure modes of one agent run, each a small detector with one signature.

    detector(run, steps, baseline) -> FailureMode | None

`run` is a run's summary (an AgentRun, see runs.py), `steps` its ordered steps, `baseline` the agent's
normal (divergence.Baseline). A mode's evidence is JSON-ready data (the detector's own fields).
Detectors read only canonical step fields, never attribute names or agent/tool names, so they work on
systems never seen before. Add one by appending to DETECTORS.
"""
from __future__ import annotations

import difflib
import json
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from ..model_agents import AgentRun, FailureMode, Step
from ..model_results import to_json
from .divergence import Baseline, first_divergence

LOOP_MIN_CALLS = 4          # one tool this often with the same (or near-same) arguments
LOOP_SIMILARITY = 0.95      # SequenceMatcher ratio for "near-same" arguments of consecutive calls
RETRY_MIN = 3               # repeats of a failing call (plus transport resends) that make a storm
TOKEN_MIN_RUNS = 5          # runs of the agent with token counts before judging one of them
TOKEN_K = 5.0               # median + k · 1.4826 · MAD
TOKEN_MIN_RATIO = 2.0       # and at least this multiple of the median (a tiny MAD is no excuse)

# How frameworks say they stopped a run at its turn limit (openai-agents MaxTurnsExceeded, LangGraph
# GraphRecursionError / "need more steps", LangChain's "Agent stopped due to iteration limit", CrewAI's max_iter).
MAX_TURNS = re.compile(r"max(?:imum)?[ _-]?(?:turns|iterations|iter|steps)|recursion[ _-]?limit|iteration limit|"
                       r"need more steps|MaxTurnsExceeded|GraphRecursionError|MaxIterationsExceeded", re.I)

Detector = Callable[[AgentRun, list[Step], Baseline], FailureMode | None]


def detect(run: AgentRun, steps: list[Step], baseline: Baseline) -> list[FailureMode]:
    """Every failure mode the run shows, in DETECTORS order."""
    return [mode for detector in DETECTORS if (mode := detector(run, steps, baseline))]


def tool_loop(run: AgentRun, steps: list[Step], baseline: Baseline) -> FailureMode | None:
    """The same tool called again and again with identical or near-identical arguments, or a run the
    framework stopped at its turn limit."""
    calls = [s for s in steps if s.kind == "tool"]
    stopped = bool(run.error and MAX_TURNS.search(run.error))
    if stopped and calls and len(calls) < LOOP_MIN_CALLS:
        top = Counter(s.name for s in calls).most_common(1)[0][0]
        of_tool = [s for s in calls if s.name == top]
        identical = Counter(_normal(_arguments(s)) for s in of_tool).most_common(1)[0][1]
        return _mode("tool_loop", of_tool[0].index,
                     f"stopped at its turn limit ({(run.error or '')[:120]}) after {_count(len(calls), 'tool call')}",
                     {"tool": top, "calls": len(of_tool), "identical_calls": identical,
                      "longest_streak": _longest_similar_streak(calls)[0],
                      "first_step": of_tool[0].index, "last_step": of_tool[-1].index, "max_turns": True,
                      "arguments": _clip(_normal(_arguments(of_tool[0]))),
                      "failed_calls": sum(s.status == "error" for s in of_tool),
                      "downstream": sorted({d for s in of_tool for d in s.downstream})})
    if len(calls) < LOOP_MIN_CALLS:
        return None
    same = Counter((s.name, _normal(_arguments(s))) for s in calls)
    (tool, args), identical = same.most_common(1)[0]
    streak, streak_tool, best = _longest_similar_streak(calls)
    if max(identical, streak) < LOOP_MIN_CALLS and not stopped:
        return None
    if streak > identical:
        tool = streak_tool
        args = _normal(_arguments(best[0]))
    of_tool = [s for s in calls if s.name == tool]
    return _mode("tool_loop", of_tool[0].index,
                 f"tool {tool} called {len(of_tool)} times ({identical} with identical arguments, "
                 f"longest run of near-identical calls {streak})",
                 {"tool": tool, "calls": len(of_tool), "identical_calls": identical, "longest_streak": streak,
                  "first_step": of_tool[0].index, "last_step": of_tool[-1].index,
                  "arguments": _clip(args), "max_turns": stopped,
                  "failed_calls": sum(s.status == "error" for s in of_tool),
                  "downstream": sorted({d for s in of_tool for d in s.downstream})})


def retry_storm(run: AgentRun, steps: list[Step], baseline: Baseline) -> FailureMode | None:
    """A failing model or tool call repeated again and again (by the agent or by its HTTP client)."""
    attempts: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    retries: Counter[str] = Counter()
    resends: Counter[str] = Counter()
    errors: dict[str, Counter] = {}
    first: dict[str, int] = {}
    last_failed: dict[str, bool] = {}
    for s in steps:
        sig = s.signature
        attempts[sig] += 1
        first.setdefault(sig, s.index)
        if last_failed.get(sig):
            retries[sig] += 1
        last_failed[sig] = s.status == "error"
        resends[sig] += s.retries or 0
        if s.status == "error":
            failures[sig] += 1
            errors.setdefault(sig, Counter())[_error_label(s)] += 1
    scores = {sig: retries[sig] + resends[sig] for sig in attempts if failures[sig] >= 2 or resends[sig]}
    if not scores:
        return None
    sig, score = max(scores.items(), key=lambda kv: kv[1])
    if score < RETRY_MIN:
        return None
    return _mode("retry_storm", first[sig],
                 f"{sig} retried {_count(score, 'time')} after failures ({failures[sig]} of "
                 f"{_count(attempts[sig], 'attempt')} failed)",
                 {"signature": sig, "attempts": attempts[sig], "failures": failures[sig],
                  "retries_after_failure": retries[sig], "transport_resends": resends[sig],
                  "errors": dict(errors.get(sig, Counter()).most_common(5))})


def rate_limited(run: AgentRun, steps: list[Step], baseline: Baseline) -> FailureMode | None:
    """429s (or rate-limit errors) from a provider or backend anywhere in the run."""
    hit = [s for s in steps if s.rate_limited]
    total = run.signals.rate_limited
    if not hit and not total:
        return None
    sources = Counter(_source(s) for s in hit)
    count = sum(s.rate_limited for s in hit) or total  # beneath steps; else only the run's own span
    return _mode("rate_limited", hit[0].index if hit else None,
                 _count(count, "rate-limited response") + (f" from {', '.join(sources)}" if sources else ""),
                 {"responses": count, "steps": [s.index for s in hit][:20],
                  "sources": dict(sources), "run_recovered": run.status == "ok"})


def timeout(run: AgentRun, steps: list[Step], baseline: Baseline) -> FailureMode | None:
    """Timeouts / deadlines exceeded in a step or beneath it."""
    hit = [s for s in steps if s.timeouts]
    total = run.signals.timeouts
    if not hit and not total:
        return None
    where = Counter(_culprit(s) for s in hit)
    count = sum(s.timeouts for s in hit) or total
    return _mode("timeout", hit[0].index if hit else None,
                 _count(count, "timeout") + (f" at {', '.join(where)}" if where else ""),
                 {"timeouts": count, "steps": [s.index for s in hit][:20],
                  "where": dict(where),
                  "durations_ms": [s.duration_ms for s in hit][:20]})


def tool_error(run: AgentRun, steps: list[Step], baseline: Baseline) -> FailureMode | None:
    """Tool calls that failed, each traced to the deepest failing span beneath it."""
    failed = [s for s in steps if s.kind == "tool" and s.status == "error"]
    if not failed:
        return None
    culprits = Counter(_culprit(s) for s in failed)
    detail = [{"step": s.index, "tool": s.name, "error": _error_label(s),
               "caused_by": to_json(s.error.caused_by) if s.error else None} for s in failed[:10]]
    top = culprits.most_common(1)[0][0]
    return _mode("tool_error", failed[0].index,
                 f"{_count(len(failed), 'tool call')} failed; deepest failure in {top}",
                 {"failed_calls": len(failed), "tools": dict(Counter(s.name for s in failed)),
                  "caused_by": dict(culprits), "calls": detail})


def token_blowup(run: AgentRun, steps: list[Step], baseline: Baseline) -> FailureMode | None:
    """Tokens far above the agent's normal runs (median + k·MAD, robust to the outliers themselves)."""
    total = run.tokens.total
    if total is None or baseline.token_runs < TOKEN_MIN_RUNS or not baseline.token_median:
        return None
    median, mad = float(baseline.token_median), float(baseline.token_mad or 0.0)
    threshold = max(median + TOKEN_K * 1.4826 * mad, TOKEN_MIN_RATIO * median)
    if total <= threshold:
        return None
    heaviest = max((s for s in steps if s.call), default=None,
                   key=lambda s: (s.call.tokens.input or 0) + (s.call.tokens.output or 0) if s.call else 0)
    return _mode("token_blowup", None,
                 f"{total} tokens, {total / median:.1f}× the agent's median of {median:.0f}",
                 {"tokens": total, "median": median, "mad": mad, "threshold": round(threshold, 1),
                  "ratio": round(total / median, 2), "runs_compared": baseline.token_runs,
                  "model_calls": run.model_calls,
                  "heaviest_step": heaviest.index if heaviest else None})


def divergence(run: AgentRun, steps: list[Step], baseline: Baseline) -> FailureMode | None:
    """For a failed run: the first step where its path left every successful run's path."""
    if run.status != "error":
        return None
    found = first_divergence(run.path, baseline)
    if not found:
        return None
    expected = " or ".join(f"{e.signature} ({e.share:.0%})" for e in found.expected)
    return _mode("divergence", found.step,
                 f"left the usual path at step {found.step}: {found.happened} where successful runs "
                 f"did {expected}", to_json(found))


DETECTORS: list[Detector] = [tool_loop, retry_storm, rate_limited, timeout, tool_error, token_blowup, divergence]


# -- helpers -------------------------------------------------------------------------------------
def _mode(mode: str, step: int | None, summary: str, evidence: dict[str, Any]) -> FailureMode:
    return FailureMode(mode, summary, step, evidence)


def _count(n: int, noun: str) -> str:
    """'1 timeout', '3 timeouts': summaries are read as sentences."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _normal(args: str | None) -> str:
    """Arguments compared as data: JSON with sorted keys and no spacing, else stripped text."""
    if not args:
        return ""
    try:
        return json.dumps(json.loads(args), sort_keys=True, separators=(",", ":"))
    except ValueError:
        return " ".join(args.split())


def _arguments(s: Step) -> str | None:
    return s.tool_call.arguments if s.tool_call else None


def _longest_similar_streak(calls: list[Step]) -> tuple[int, str, list[Step]]:
    best: list[Step] = []
    cur: list[Step] = []
    for s in calls:
        if cur and s.name == cur[-1].name and _similar(_arguments(s), _arguments(cur[-1])):
            cur.append(s)
        else:
            cur = [s]
        if len(cur) > len(best):
            best = list(cur)
    return len(best), best[0].name if best else "", best


def _similar(a: str | None, b: str | None) -> bool:
    a, b = _normal(a)[:500], _normal(b)[:500]
    if a == b:
        return True
    m = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return m.quick_ratio() >= LOOP_SIMILARITY and m.ratio() >= LOOP_SIMILARITY


def _error_label(s: Step) -> str:
    e = s.error
    if e is None:
        return "error"
    return str(e.type or (f"HTTP {e.http_status}" if e.http_status else None) or e.message or "error")[:120]


def _culprit(s: Step) -> str:
    caused = s.error.caused_by if s.error else None
    return (caused.service if caused else None) or (s.downstream or [s.service])[-1]


def _source(s: Step) -> str:
    return (s.call.provider if s.call else None) or (s.peers[0] if s.peers else None) or _culprit(s)


def _clip(text: str | None, n: int = 300) -> str | None:
    return text if text is None or len(text) <= n else text[:n] + "…"
