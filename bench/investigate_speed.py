"""Time to investigate a window of about one million spans (target: under 3 s on 2 cores).

    python bench/investigate_speed.py [--spans 1000000] [--db /tmp/interplay-speed.duckdb]

Simulates a shop incident with the testbed (cached in the database file), then times
`Interplay.investigate()` with no symptom and no time, and with both given.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--db", default="/tmp/interplay-speed.duckdb")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from interplay.api import Interplay
    db = Path(args.db)
    if not db.exists():
        from interplay.testbed import simulate
        out = db.with_suffix(".jsonl")
        began = time.perf_counter()
        rate = args.spans / 1500 / 14  # about 14 spans per request in the shop topology
        truth = simulate("shop", "latency", 1, out, duration_s=1500, rate_per_s=rate, max_spans=args.spans)
        print(f"simulated {truth['spans']} spans in {time.perf_counter() - began:.1f} s")
        ip = Interplay.open(db)
        began = time.perf_counter()
        ip.ingest_file(out)
        ip.ingest_file(str(out) + ".changes.jsonl")
        print(f"ingested in {time.perf_counter() - began:.1f} s")
        ip.close()
    ip = Interplay.open(db, read_only=True)
    print(f"store: {ip.counts()}")
    for label, kw in (("no symptom, no time", {}), ("symptom given", {"symptom": "frontend"})):
        times = []
        for _ in range(args.repeat):
            began = time.perf_counter()
            result = ip.investigate(**kw)
            times.append(time.perf_counter() - began)
        top = result.root_causes[0].service if result.root_causes else None
        print(f"{label:22} best {min(times):.2f} s, median {sorted(times)[len(times) // 2]:.2f} s "
              f"(top cause {top}, onset {result.onset})")


if __name__ == "__main__":
    main()
