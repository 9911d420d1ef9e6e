"""Transplant a known fault into the healthy part of recorded incidents: real traffic, known cause.

    python bench/transplant.py ../shared/realdata/nezha-ob /tmp/nezha-transplant [--per-service 2]

The recorded incidents hold one fault each, on six of their ten services. To see how an
investigation does on real traffic (its light load, its jitter, its odd spans) with a fault on any
service, this takes the part of each recording before its own injection (healthy; 5 s short of it), and from 55% of
the way through it delays one service:

  delay  its network: every message it sends (its answers, its own requests) waits 60-180 ms,
         so the time between a CLIENT span and the SERVER span grows on every edge of it;
  slow   its own work: each of its SERVER spans takes 2-4x its usual median longer.

Time is inserted into each trace at the point where the fault acts: spans that start after it move
later, the callers waiting across it last longer, spans that ended before it stay, and so do calls
made beside the wait (a concurrent call open across it, and all it calls). Each case folder holds
traces.jsonl.gz and truth.json (no metrics.csv: the recorded metrics do
not hold the transplanted fault), which `bench/accuracy.py --real` reads like a recorded incident.
"""
from __future__ import annotations

import argparse
import gzip
import json
import random
import statistics
from collections import defaultdict
from pathlib import Path

from interplay.timeutil import format_time, parse_time_ns

FAULT_AT = 0.55  # where in the healthy part the fault begins
# The recorded injection time is when the tool was started: its effect can show a second or two
# before. The healthy part ends this long before it.
MARGIN_NS = 5 * 10**9


def read_spans(case: Path, until_ns: int) -> tuple[list[dict], dict[str, list]]:
    """Spans that start before `until_ns`, each with its service; and each service's resource attributes."""
    spans, resources = [], {}
    with gzip.open(case / "traces.jsonl.gz", "rt") as inp:
        for line in inp:
            for rs in json.loads(line).get("resourceSpans", ()):
                attrs = rs.get("resource", {}).get("attributes", [])
                service = next((a["value"].get("stringValue") for a in attrs if a["key"] == "service.name"), "?")
                resources.setdefault(service, attrs)
                for ss in rs.get("scopeSpans", ()):
                    for s in ss.get("spans", ()):
                        if int(s["startTimeUnixNano"]) < until_ns:
                            spans.append({**s, "_service": service,
                                          "_start": int(s["startTimeUnixNano"]), "_end": int(s["endTimeUnixNano"])})
    return spans, resources


def insertion_points(trace: list[dict], target: str, kind: str, since_ns: int, rng: random.Random,
                     slow_ns: float) -> list[tuple[int, int, str]]:
    """(time, ns inserted, id of the span that waits first) where the fault acts in one trace."""
    by_id = {s["spanId"]: s for s in trace}
    children = defaultdict(list)
    for s in trace:
        children[s.get("parentSpanId", "")].append(s)

    def done(span: dict) -> int:  # when the span and all it started have ended (a child may end a hair later)
        return max([span["_end"]] + [done(c) for c in children[span["spanId"]]])

    points = []
    for s in trace:
        parent = by_id.get(s.get("parentSpanId", ""))
        if s["_start"] < since_ns:
            continue
        caller = parent["_service"] if parent else None  # None: a request from outside (a root)
        into_target = s["_service"] == target and caller != target
        out_of_target = caller == target and s["_service"] != target
        if kind == "delay" and into_target and parent:  # its answer leaves late (to outside: unseen)
            points.append((done(s), int(rng.uniform(60, 180) * 1e6), parent["spanId"]))
        elif kind == "delay" and out_of_target:  # its request leaves late
            points.append((s["_start"], int(rng.uniform(60, 180) * 1e6), parent["spanId"]))
        elif kind == "slow" and into_target:  # its own work takes longer, just before it answers
            # its children that end later wait too
            points.append((s["_end"] - 1, int(rng.uniform(2, 4) * slow_ns), s["spanId"]))
    return points


def insert_time(trace: list[dict], at: int, ns: int, waiting: str) -> None:
    """`ns` inserted at `at`: the span `waiting` and its ancestors, open across it, last `ns` longer;
    spans starting at or after it move later, unless they belong to a call that was open across it
    beside the wait (a concurrent call is not held up by a fault elsewhere, nor what it calls)."""
    by_id = {s["spanId"]: s for s in trace}
    chain = set()
    span = by_id.get(waiting)
    while span is not None and span["spanId"] not in chain:
        chain.add(span["spanId"])
        span = by_id.get(span.get("parentSpanId", ""))

    def beside(s: dict) -> bool:  # s, or an ancestor of s, was open across `at` and is not waiting
        seen = set()
        while s is not None and s["spanId"] not in seen:
            seen.add(s["spanId"])
            if s["spanId"] not in chain and s["_start"] < at < s["_end"]:
                return True
            s = by_id.get(s.get("parentSpanId", ""))
        return False

    unheld = {s["spanId"] for s in trace if beside(s)}
    for s in trace:
        if s["spanId"] in unheld:
            continue
        if s["_start"] >= at:
            s["_start"] += ns
            s["_end"] += ns
        elif s["_end"] > at:
            s["_end"] += ns


def transplant(case: Path, out: Path, target: str, kind: str, seed: int) -> dict:
    truth = json.loads((case / "truth.json").read_text())
    injected = parse_time_ns(truth["inject_time"], where=f"{case}/truth.json") - MARGIN_NS
    spans, resources = read_spans(case, injected)
    first = min(s["_start"] for s in spans)
    fault_at = first + int(FAULT_AT * (injected - first))
    rng = random.Random(f"{case.name}-{target}-{kind}-{seed}")
    own = [s["_end"] - s["_start"] for s in spans if s["_service"] == target and s.get("kind") == 2]
    slow_ns = max(statistics.median(own) if own else 0.0, 5e6)
    traces = defaultdict(list)
    for s in spans:
        traces[s["traceId"]].append(s)
    touched = 0
    for trace in traces.values():
        points = insertion_points(trace, target, kind, fault_at, rng, slow_ns)
        touched += bool(points)
        for at, ns, waiting in sorted(points, reverse=True):  # latest first: an earlier insertion moves the later ones
            insert_time(trace, at, ns, waiting)
    out.mkdir(parents=True, exist_ok=True)
    by_service = defaultdict(list)
    for s in spans:
        by_service[s["_service"]].append({k: v for k, v in s.items() if not k.startswith("_")}
                                         | {"startTimeUnixNano": str(s["_start"]), "endTimeUnixNano": str(s["_end"])})
    with gzip.open(out / "traces.jsonl.gz", "wt") as f:
        for service, items in sorted(by_service.items()):
            f.write(json.dumps({"resourceSpans": [{"resource": {"attributes": resources[service]},
                                                   "scopeSpans": [{"scope": {"name": "transplant"}, "spans": items}]}]},
                               separators=(",", ":")) + "\n")
    meta = {"root_cause_service": target, "fault": f"transplant_{kind}", "inject_time": format_time(fault_at),
            "baseline_trace_seconds": round((fault_at - first) / 1e9), "system": truth.get("system", "recorded"),
            "source_case": case.name, "traces_touched": touched}
    (out / "truth.json").write_text(json.dumps(meta, indent=1))
    return meta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src", type=Path, help="folder of recorded incidents (each with traces.jsonl.gz, truth.json)")
    parser.add_argument("out", type=Path)
    parser.add_argument("--per-service", type=int, default=2, help="source recordings per service and kind")
    parser.add_argument("--kinds", default="delay,slow")
    args = parser.parse_args()
    cases = sorted(p for p in args.src.iterdir() if (p / "truth.json").exists())
    if not cases:
        parser.error(f"{args.src}: no case folders with truth.json")
    services = set()
    for case in cases:
        spans, _ = read_spans(case, parse_time_ns(json.loads((case / "truth.json").read_text())["inject_time"]))
        services |= {s["_service"] for s in spans}
    n = 0
    for i, target in enumerate(sorted(services)):
        for kind in args.kinds.split(","):
            for j in range(args.per_service):
                case = cases[(i * args.per_service + j) % len(cases)]
                meta = transplant(case, args.out / f"{case.name}-{target}-{kind}", target, kind, j)
                n += 1
                print(f"{case.name} {target} {kind}: {meta['traces_touched']} traces touched, "
                      f"baseline {meta['baseline_trace_seconds']} s")
    print(f"{n} cases in {args.out}")


if __name__ == "__main__":
    main()
