"""Copy recorded incidents with every CLIENT span removed: traces as some instrumentations give them.

    python bench/strip_clients.py ../shared/realdata/nezha-ob /tmp/nezha-noclient

Not every tracer records the caller's side of a call: with only server spans (an inbound-only mesh,
some agents), each SERVER span hangs right under its caller's own span and no CLIENT span times the
exchange. This writes each case folder (traces.jsonl.gz, with truth.json and metrics.csv copied
as they are) with the CLIENT spans dropped and their children re-parented to the CLIENT span's
parent, so `bench/accuracy.py --real` can measure how an investigation does without them.
"""
from __future__ import annotations

import argparse
import gzip
import json
import shutil
from pathlib import Path

CLIENT = 3  # OTLP SpanKind


def strip_case(case: Path, out: Path) -> int:
    """Write `case` without CLIENT spans to `out`; returns how many spans were dropped."""
    out.mkdir(parents=True, exist_ok=True)
    for name in ("truth.json", "metrics.csv"):
        if (case / name).exists():
            shutil.copy(case / name, out / name)
    with gzip.open(case / "traces.jsonl.gz", "rt") as inp:
        docs = [json.loads(line) for line in inp if line.strip()]
    spans = [s for d in docs for rs in d.get("resourceSpans", ()) for ss in rs.get("scopeSpans", ())
             for s in ss.get("spans", ())]
    parent_of = {s["spanId"]: s.get("parentSpanId", "") for s in spans if s.get("kind") == CLIENT}

    def above(span_id: str) -> str:  # the nearest ancestor that is not a CLIENT span
        seen = 0
        while span_id in parent_of and seen < 64:
            span_id, seen = parent_of[span_id], seen + 1
        return span_id

    with gzip.open(out / "traces.jsonl.gz", "wt") as dst:
        for d in docs:
            for rs in d.get("resourceSpans", ()):
                for ss in rs.get("scopeSpans", ()):
                    kept = [s for s in ss.get("spans", ()) if s.get("kind") != CLIENT]
                    for s in kept:
                        if s.get("parentSpanId"):
                            s["parentSpanId"] = above(s["parentSpanId"])
                    ss["spans"] = kept
            dst.write(json.dumps(d) + "\n")
    return len(parent_of)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", type=Path, help="a folder of case folders, each with traces.jsonl.gz")
    ap.add_argument("out", type=Path, help="where to write the stripped copies")
    args = ap.parse_args()
    cases = sorted(p for p in args.source.iterdir() if (p / "traces.jsonl.gz").exists())
    if not cases:
        raise SystemExit(f"{args.source}: no case folders with traces.jsonl.gz")
    for case in cases:
        dropped = strip_case(case, args.out / case.name)
        print(f"{case.name}: {dropped} CLIENT spans dropped")


if __name__ == "__main__":
    main()
