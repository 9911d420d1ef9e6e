"""Generate the simulated RCA corpus to bench/out/corpus and print timings.

    python bench/corpus.py [--seeds 0,1,2] [--workers N] [--kinds classic|new|all]
                           [--bare no|yes|both | --export normal,bare,codes] [--late no|yes|both]
                           [--topologies shop,agentic,travel] [--out DIR]

The default is the 48-case benchmark corpus (the classic fault kinds, normal export). The kinds of
issue 17 (network delay, consumer lag, timeout amplification, pool cascade, code faults) and the bare
export are asked for, e.g. `--kinds new --bare both --out /tmp/corpus-new`; bench/accuracy.py reads
any of these directories.

Shapes of real exports:
  --export codes   no span status, but http.response.status_code / rpc.grpc.status_code kept (the
                   shop's backends speak gRPC); the same simulation as the normal case
  --late yes       no trace baseline: traces and logs start 0-10 s (by seed) before the onset, metrics
                   still cover the whole duration (a late bare case exports them too); cases `*-late-*`
e.g. `--kinds all --export normal,bare --late yes --seeds 0,1 --out /work/corpus-late`.

Topologies: shop and agentic unless --topologies names others; travel (a ticket-booking system with
deeper chains and shared services) is a holdout the investigation was not developed against, e.g.
`--topologies travel --kinds all --export normal,bare --seeds 0,1 --out /work/corpus-travel`.
"""

from __future__ import annotations

import argparse
import collections
import time
from pathlib import Path

from interplay.testbed import (
    CLASSIC_FAULTS,
    DEFAULT_TOPOLOGIES,
    EXPORTS,
    FAULTS,
    NEW_FAULTS,
    TOPOLOGIES,
    simulate_corpus,
)

KINDS = {"classic": CLASSIC_FAULTS, "new": NEW_FAULTS, "all": FAULTS}
BARE = {"no": (False,), "yes": (True,), "both": (False, True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(Path(__file__).parent / "out" / "corpus"))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--kinds", choices=list(KINDS), default="classic", help="fault kinds (default: classic)")
    parser.add_argument("--bare", choices=list(BARE), default="no",
                        help="export mode: normal (no), bare (yes) or both (default: no)")
    parser.add_argument("--export", default=None, metavar="MODES",
                        help=f"comma-separated export modes from {', '.join(EXPORTS)} (instead of --bare)")
    parser.add_argument("--late", choices=list(BARE), default="no",
                        help="no trace baseline: traces start 0-10 s before the onset (yes), or both (default: no)")
    parser.add_argument("--topologies", default=None, metavar="NAMES",
                        help=f"comma-separated topologies from {', '.join(TOPOLOGIES)} "
                             f"(default: {','.join(DEFAULT_TOPOLOGIES)})")
    args = parser.parse_args()
    topologies = args.topologies.split(",") if args.topologies is not None else None
    unknown = [name for name in topologies or () if name not in TOPOLOGIES]
    if unknown:
        parser.error(f"--topologies: unknown topology {unknown[0]!r}; valid: {', '.join(TOPOLOGIES)}")
    exports = args.export.split(",") if args.export else None
    if exports and args.bare != "no":
        parser.error("give --export or --bare, not both")
    if exports and set(exports) - set(EXPORTS):
        parser.error(f"--export: unknown mode in {args.export!r}; valid: {', '.join(EXPORTS)}")
    began = time.perf_counter()
    truths = simulate_corpus(args.out, seeds=[int(s) for s in args.seeds.split(",")], workers=args.workers,
                             faults=KINDS[args.kinds], bare=BARE[args.bare], exports=exports, late=BARE[args.late],
                             topologies=topologies)
    wall = time.perf_counter() - began
    spans = sum(t["spans"] for t in truths)
    cpu = sum(t["seconds"] for t in truths)
    roots = collections.Counter(t["service"] for t in truths)
    print(f"cases: {len(truths)}  spans: {spans:,}  wall: {wall:.1f} s  "
          f"spans/s (wall): {spans / wall:,.0f}  spans/s per worker: {spans / cpu:,.0f}")
    print(f"spans per case: min {min(t['spans'] for t in truths):,} max {max(t['spans'] for t in truths):,}")
    print("root causes:", dict(roots.most_common()))
    print(f"wrote {args.out}/index.json")


if __name__ == "__main__":
    main()
