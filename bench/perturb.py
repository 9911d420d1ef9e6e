"""Copy recorded incidents as other tracers and hosts would have recorded them.

    python bench/perturb.py no-clients ../shared/realdata/nezha-ob /tmp/nezha-noclient
    python bench/perturb.py skew ../shared/realdata/nezha-ob /tmp/nezha-skew50 --ms 50
    python bench/perturb.py raw-urls ../shared/realdata/nezha-ob /tmp/nezha-ids --ids 1000
    python bench/perturb.py drop ../shared/realdata/nezha-ob /tmp/nezha-drop10 --share 0.1
    python bench/perturb.py sample ../shared/realdata/nezha-ob /tmp/nezha-quarter --share 0.25

no-clients  every CLIENT span dropped, its children re-parented to its parent: tracers that record
            only the server side (an inbound-only mesh, some agents) hang each SERVER span right
            under its caller's own span, and no span times the exchange;
skew        each service's clock off by a fixed amount drawn from [-ms, +ms] (per case and service,
            by a seeded generator): hosts whose clocks disagree put a callee's span anywhere around
            the call that caused it;
raw-urls    every root span named `GET /item/<id>`, the id one of N random tokens per request:
            tracers that name server spans by the raw path;
drop        each span lost with probability `--share` (its children keep their parent's id, now
            missing): collectors and exporters that drop under load leave broken traces;
sample      each whole trace kept with probability `--share`: head sampling, light traffic.

Each case folder (traces.jsonl.gz; truth.json and metrics.csv copied as they are) is written under
OUT with the same name, so `bench/accuracy.py --real OUT` measures an investigation on it.
"""
from __future__ import annotations

import argparse
import gzip
import json
import random
import shutil
import string
from collections.abc import Callable
from pathlib import Path

CLIENT = 3  # OTLP SpanKind
Docs = list[dict]


def _spans(docs: Docs):
    for d in docs:
        for rs in d.get("resourceSpans", ()):
            for ss in rs.get("scopeSpans", ()):
                yield rs, ss


def _service(rs: dict) -> str:
    return next((a["value"].get("stringValue", "?") for a in rs.get("resource", {}).get("attributes", ())
                 if a.get("key") == "service.name"), "?")


def no_clients(docs: Docs, rng: random.Random, args: argparse.Namespace) -> int:
    """Drop CLIENT spans, re-parenting their children; returns how many were dropped."""
    parent_of = {s["spanId"]: s.get("parentSpanId", "") for _, ss in _spans(docs) for s in ss.get("spans", ())
                 if s.get("kind") == CLIENT}

    def above(span_id: str) -> str:  # the nearest ancestor that is not a CLIENT span
        for _ in range(64):
            if span_id not in parent_of:
                break
            span_id = parent_of[span_id]
        return span_id

    for _, ss in _spans(docs):
        kept = [s for s in ss.get("spans", ()) if s.get("kind") != CLIENT]
        for s in kept:
            if s.get("parentSpanId"):
                s["parentSpanId"] = above(s["parentSpanId"])
        ss["spans"] = kept
    return len(parent_of)


def skew(docs: Docs, rng: random.Random, args: argparse.Namespace) -> int:
    """Shift each service's spans by its own clock offset; returns how many services were shifted."""
    offset: dict[str, int] = {}
    for rs, ss in _spans(docs):
        ns = offset.setdefault(_service(rs), int(rng.uniform(-args.ms, args.ms) * 1e6))
        for s in ss.get("spans", ()):
            s["startTimeUnixNano"] = str(int(s["startTimeUnixNano"]) + ns)
            s["endTimeUnixNano"] = str(int(s["endTimeUnixNano"]) + ns)
    return len(offset)


def raw_urls(docs: Docs, rng: random.Random, args: argparse.Namespace) -> int:
    """Name each root span by a raw URL with one of `args.ids` ids; returns how many were renamed."""
    ids = ["".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(10)) for _ in range(args.ids)]
    renamed = 0
    for _, ss in _spans(docs):
        for s in ss.get("spans", ()):
            if not s.get("parentSpanId"):
                s["name"] = f"GET /item/{rng.choice(ids)}"
                renamed += 1
    return renamed


def drop(docs: Docs, rng: random.Random, args: argparse.Namespace) -> int:
    """Lose each span with probability `args.share`; returns how many were lost."""
    lost = 0
    for _, ss in _spans(docs):
        kept = [s for s in ss.get("spans", ()) if rng.random() >= args.share]
        lost += len(ss.get("spans", ())) - len(kept)
        ss["spans"] = kept
    return lost


def sample(docs: Docs, rng: random.Random, args: argparse.Namespace) -> int:
    """Keep each whole trace with probability `args.share`; returns how many traces were kept."""
    keep: dict[str, bool] = {}
    for _, ss in _spans(docs):
        ss["spans"] = [s for s in ss.get("spans", ())
                       if keep.setdefault(s["traceId"], rng.random() < args.share)]
    return sum(keep.values())


MODES: dict[str, tuple[Callable[[Docs, random.Random, argparse.Namespace], int], str]] = {
    "no-clients": (no_clients, "CLIENT spans dropped"),
    "skew": (skew, "services' clocks shifted"),
    "raw-urls": (raw_urls, "root spans renamed"),
    "drop": (drop, "spans lost"),
    "sample": (sample, "traces kept"),
}


def perturb_case(case: Path, out: Path, mode: str, args: argparse.Namespace) -> int:
    """Write `case` perturbed by `mode` to `out`; returns the count `mode` reports."""
    out.mkdir(parents=True, exist_ok=True)
    for name in ("truth.json", "metrics.csv"):
        if (case / name).exists():
            shutil.copy(case / name, out / name)
    with gzip.open(case / "traces.jsonl.gz", "rt") as inp:
        docs = [json.loads(line) for line in inp if line.strip()]
    changed = MODES[mode][0](docs, random.Random(f"{mode}-{case.name}"), args)
    with gzip.open(out / "traces.jsonl.gz", "wt") as dst:
        for d in docs:
            dst.write(json.dumps(d) + "\n")
    return changed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("mode", choices=sorted(MODES))
    ap.add_argument("source", type=Path, help="a folder of case folders, each with traces.jsonl.gz")
    ap.add_argument("out", type=Path, help="where to write the perturbed copies")
    ap.add_argument("--ms", type=float, default=50.0, help="skew: the largest clock offset, in ms (default 50)")
    ap.add_argument("--ids", type=int, default=1000, help="raw-urls: how many distinct ids (default 1000)")
    ap.add_argument("--share", type=float, default=0.1,
                    help="drop: the share of spans lost; sample: of traces kept (default 0.1)")
    args = ap.parse_args()
    cases = sorted(p for p in args.source.iterdir() if (p / "traces.jsonl.gz").exists()) \
        if args.source.is_dir() else []
    if not cases:
        raise SystemExit(f"{args.source}: no case folders with traces.jsonl.gz")
    for case in cases:
        changed = perturb_case(case, args.out / case.name, args.mode, args)
        print(f"{case.name}: {changed} {MODES[args.mode][1]}")


if __name__ == "__main__":
    main()
