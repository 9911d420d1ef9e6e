"""Cut a recorded-incident folder so its traces begin at the fault: no trace baseline.

    python bench/late_start.py ../shared/realdata/nezha-ob /tmp/nezha-late [--lead 0]

Real data of this shape (the fault already running when the traces begin) is common: a window
exported around an alert. Each case keeps its metrics.csv whole (metrics often reach further back
than traces) and its truth.json (with `baseline_trace_seconds` set to the lead kept); spans that
start more than `--lead` seconds before the injection are dropped. bench/accuracy.py --real reads
the result like the original.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
from pathlib import Path

from interplay.timeutil import parse_time_ns


def cut_case(src: Path, dst: Path, lead_s: float) -> tuple[int, int]:
    """Write `src`'s case to `dst` keeping spans that start at most `lead_s` before the injection."""
    truth = json.loads((src / "truth.json").read_text())
    cut_ns = parse_time_ns(truth["inject_time"], where=f"{src}/truth.json") - int(lead_s * 1e9)
    dst.mkdir(parents=True, exist_ok=True)
    kept = total = 0
    with gzip.open(src / "traces.jsonl.gz", "rt") as inp, gzip.open(dst / "traces.jsonl.gz", "wt") as out:
        for line in inp:
            doc = json.loads(line)
            for rs in doc.get("resourceSpans", ()):
                for ss in rs.get("scopeSpans", ()):
                    spans = ss.get("spans", [])
                    total += len(spans)
                    ss["spans"] = [s for s in spans if int(s["startTimeUnixNano"]) >= cut_ns]
                    kept += len(ss["spans"])
            out.write(json.dumps(doc, separators=(",", ":")) + "\n")
    for name in ("metrics.csv",):
        if (src / name).exists():
            shutil.copy(src / name, dst / name)
    truth["baseline_trace_seconds"] = lead_s
    (dst / "truth.json").write_text(json.dumps(truth, indent=1))
    return kept, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src", help="a folder of cases, each with traces.jsonl.gz and truth.json")
    parser.add_argument("dst")
    parser.add_argument("--lead", type=float, default=0.0, help="seconds of traces kept before the injection")
    args = parser.parse_args()
    for case in sorted(p.parent for p in Path(args.src).glob("*/truth.json")):
        kept, total = cut_case(case, Path(args.dst) / case.name, args.lead)
        print(f"{case.name}: kept {kept:,} of {total:,} spans")


if __name__ == "__main__":
    main()
